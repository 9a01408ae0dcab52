/**
 * Arrow column buffers -> Arrow IPC stream -> sealed Parquet bytes. Self-contained, so it runs the
 * same in the encoder worker and in the calling thread.
 */
import { Table, tableToIPC } from "apache-arrow";
import type { SstCompression } from "../table/options.js";
import { recordBatchFromBuffers, type ArrowColumnBuffers } from "./arrow-convert.js";
import { sealChecksum } from "./checksum.js";
import {
  discardOnTrap,
  freeQuietly,
  parquetWasm,
  type ParquetWasm,
  type WasmTable,
  type WasmWriterProperties,
} from "./parquet-wasm.js";
import { SST_META_KEY } from "./sst-meta.js";

/** Parquet encodings we choose per column (the rest keep parquet-rs defaults). */
export type ColumnEncoding = "DELTA_BINARY_PACKED" | "BYTE_STREAM_SPLIT";

export interface ParquetColumnSettings {
  readonly name: string;
  readonly dictionary: boolean;
  readonly encoding?: ColumnEncoding | undefined;
  /** Write Parquet min/max statistics for this column (chunk level). */
  readonly statistics: boolean;
}

/** Everything the encoder needs besides the rows; structured-clone safe (sent to workers). */
export interface ParquetEncodeSettings {
  readonly compression: SstCompression;
  readonly maxRowGroupSize: number;
  /** The SstMeta JSON to embed, ending with the checksum placeholder. */
  readonly metaJson: string;
  readonly columns: readonly ParquetColumnSettings[];
}

export interface ParquetEncodeResult {
  readonly bytes: Uint8Array;
  readonly crc32c: string;
}

/** Encodes columns laid out by `arrowColumnBuffers` (see encodeParquet). */
export function encodeColumns(
  columns: readonly ArrowColumnBuffers[],
  settings: ParquetEncodeSettings,
): ParquetEncodeResult {
  // parquet-wasm takes its input as an Arrow IPC stream.
  const ipc = tableToIPC(new Table([recordBatchFromBuffers(columns)]), "stream");
  return encodeParquet(ipc, settings);
}

/**
 * Encodes an Arrow IPC stream to Parquet and seals the checksum. Throws what parquet-wasm throws;
 * after a wasm trap the instance is replaced so later calls work.
 */
export function encodeParquet(ipc: Uint8Array, settings: ParquetEncodeSettings): ParquetEncodeResult {
  const wasm = parquetWasm();
  let table: WasmTable | undefined;
  try {
    table = wasm.Table.fromIPCStream(ipc);
    const properties = writerProperties(wasm, settings);
    // writeParquet takes ownership of the table and the properties.
    const bytes = wasm.writeParquet(table, properties);
    table = undefined;
    return { bytes, crc32c: sealChecksum(bytes) };
  } catch (error) {
    discardOnTrap(error);
    throw error;
  } finally {
    freeQuietly(table);
  }
}

function writerProperties(wasm: ParquetWasm, settings: ParquetEncodeSettings): WasmWriterProperties {
  let builder = new wasm.WriterPropertiesBuilder()
    .setCompression(wasm.Compression[compressionName(settings.compression)])
    .setMaxRowGroupSize(settings.maxRowGroupSize)
    // Chunk-level min/max for other Parquet readers; our own pruning uses SstMeta, not these.
    .setStatisticsEnabled(wasm.EnabledStatistics.Chunk)
    .setKeyValueMetadata(new Map([[SST_META_KEY, settings.metaJson]]));
  for (const column of settings.columns) {
    builder = builder.setColumnDictionaryEnabled(column.name, column.dictionary);
    if (!column.statistics)
      builder = builder.setColumnStatisticsEnabled(column.name, wasm.EnabledStatistics.None);
    if (column.encoding !== undefined) {
      builder = builder.setColumnEncoding(column.name, wasm.Encoding[column.encoding]);
    }
  }
  return builder.build();
}

function compressionName(compression: SstCompression): keyof ParquetWasm["Compression"] {
  // Table options call it LZ4_RAW already; every other name is the same in parquet-wasm.
  return compression;
}
