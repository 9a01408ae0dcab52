/**
 * Reading an SST: fetch the object, verify its checksum, prune row groups by SstMeta statistics,
 * then decode only the selected row groups and projected columns into ColumnBatches.
 *
 * The whole object is fetched with one `get` and verified before parquet-wasm sees any of it (a
 * damaged file can make parquet-wasm trap). Decoding then goes through parquet-wasm's async reader
 * over the in-memory bytes, which copies into WebAssembly only the column chunks it needs.
 */
import { tableFromIPC } from "apache-arrow";
import { nullColumn, type Column } from "../batch/column.js";
import type { ColumnBatch } from "../batch/column-batch.js";
import type { TimeRange } from "../memtable/snapshot.js";
import { ObjectNotFoundError } from "../object-store/errors.js";
import type { ObjectStore } from "../object-store/object-store.js";
import type { TableSchema } from "../table/schema.js";
import { arrowToColumnBatch } from "./arrow-convert.js";
import { verifyChecksum } from "./checksum.js";
import {
  SstColumnNotFoundError,
  SstCorruptionError,
  SstDecodeError,
  SstMetaFormatError,
  SstNotFoundError,
} from "./errors.js";
import { discardOnTrap, freeQuietly, parquetWasm, type WasmParquetFile } from "./parquet-wasm.js";
import { selectRowGroups, type TagFilter } from "./pruning.js";
import { parseSstMeta, SST_META_KEY, type SstMeta } from "./sst-meta.js";

type ParquetFile = WasmParquetFile;

export interface SstReadOptions {
  /** The file's SstMeta as the manifest recorded it; read from the file's footer when absent. */
  readonly meta?: SstMeta | undefined;
  /** Output columns, in this order; every column of the file when absent. */
  readonly projection?: readonly string[] | undefined;
  /**
   * The table's current schema: projected columns the file predates come out as nulls. Without it,
   * projecting a column the file lacks is an SstColumnNotFoundError.
   */
  readonly schema?: TableSchema | undefined;
  /** Only row groups that may hold `start <= timestamp < end`. */
  readonly timeRange?: TimeRange | undefined;
  /** Only row groups that may hold these tag values. */
  readonly tagFilter?: TagFilter | undefined;
  /** Rows per output batch; default: one batch per row group. */
  readonly batchSize?: number | undefined;
}

/**
 * Counters of one scan, for EXPLAIN ANALYZE. Pruning is by row group: rows of a selected row group
 * are all returned, including rows outside the time range or tag filter, which the caller filters.
 */
export interface SstScanMetrics {
  rowGroupsTotal: number;
  /** Skipped by statistics without decoding. */
  rowGroupsPruned: number;
  rowGroupsRead: number;
  rowsRead: number;
  /** Bytes fetched from the object store. */
  bytesRead: number;
}

/** One scan of one SST: iterate it once for the ColumnBatches; `metrics` fills in as it goes. */
export class SstScan implements AsyncIterable<ColumnBatch> {
  readonly key: string;
  readonly metrics: SstScanMetrics = {
    rowGroupsTotal: 0,
    rowGroupsPruned: 0,
    rowGroupsRead: 0,
    rowsRead: 0,
    bytesRead: 0,
  };
  readonly #store: ObjectStore;
  readonly #options: SstReadOptions;
  #started = false;

  constructor(store: ObjectStore, key: string, options: SstReadOptions = {}) {
    this.#store = store;
    this.key = key;
    this.#options = options;
  }

  [Symbol.asyncIterator](): AsyncIterator<ColumnBatch> {
    if (this.#started) throw new Error(`SST scan of ${this.key} can be iterated only once`);
    this.#started = true;
    return this.#scan();
  }

  async *#scan(): AsyncGenerator<ColumnBatch> {
    const options = this.#options;
    // With the manifest's meta, a file that pruning rules out entirely is not fetched at all.
    if (options.meta !== undefined && this.#prune(options.meta).length === 0) return;
    const bytes = await fetchSst(this.#store, this.key);
    this.metrics.bytesRead += bytes.length;
    checkIntegrity(this.key, bytes, options.meta);
    const file = await openParquet(this.key, bytes);
    try {
      const meta = options.meta ?? metaFromFooter(this.key, file, bytes.length);
      checkRowGroups(this.key, file, meta);
      const selected = this.#prune(meta);
      const plan = planColumns(this.key, meta, options);
      for (const group of selected) {
        const batchSize = options.batchSize ?? Math.max(1, meta.rowGroups[group]?.numRows ?? 1);
        const decoded = await decodeRowGroup(this.key, file, group, plan.read, batchSize);
        this.metrics.rowGroupsRead++;
        for (const batch of decoded) {
          this.metrics.rowsRead += batch.numRows;
          yield plan.shape(batch);
        }
      }
    } finally {
      freeQuietly(file);
    }
  }

  #prune(meta: SstMeta): number[] {
    const selected = selectRowGroups(meta, this.#options);
    this.metrics.rowGroupsTotal = meta.rowGroups.length;
    this.metrics.rowGroupsPruned = meta.rowGroups.length - selected.length;
    return selected;
  }
}

/** Reads SSTs from one object store. */
export class SstReader {
  readonly #store: ObjectStore;

  constructor(store: ObjectStore) {
    this.#store = store;
  }

  read(key: string, options?: SstReadOptions): SstScan {
    return new SstScan(this.#store, key, options);
  }

  /** The SstMeta stored in the file itself (after verifying the file). */
  async readMeta(key: string): Promise<SstMeta> {
    const bytes = await fetchSst(this.#store, key);
    checkIntegrity(key, bytes, undefined);
    const file = await openParquet(key, bytes);
    try {
      return metaFromFooter(key, file, bytes.length);
    } finally {
      freeQuietly(file);
    }
  }
}

/** Scans an SST (see SstScan). */
export function readSst(store: ObjectStore, key: string, options?: SstReadOptions): SstScan {
  return new SstScan(store, key, options);
}

/** The SstMeta stored in an SST's footer. */
export function readSstMeta(store: ObjectStore, key: string): Promise<SstMeta> {
  return new SstReader(store).readMeta(key);
}

async function fetchSst(store: ObjectStore, key: string): Promise<Uint8Array> {
  try {
    return await store.get(key);
  } catch (error) {
    if (error instanceof ObjectNotFoundError) throw new SstNotFoundError(key, error);
    throw error;
  }
}

function checkIntegrity(key: string, bytes: Uint8Array, meta: SstMeta | undefined): void {
  if (meta !== undefined && bytes.length !== meta.fileSize) {
    throw new SstCorruptionError(key, `object is ${bytes.length} bytes, the SST meta says ${meta.fileSize}`);
  }
  const verdict = verifyChecksum(bytes);
  if (!verdict.ok) throw new SstCorruptionError(key, verdict.problem);
  if (meta !== undefined && verdict.crc32c !== meta.crc32c) {
    throw new SstCorruptionError(
      key,
      `file checksum ${verdict.crc32c} differs from the SST meta's ${meta.crc32c}`,
    );
  }
}

/**
 * A Blob look-alike over bytes in memory. parquet-wasm's async reader uses only `size`,
 * `slice(start, end)` and `arrayBuffer()`; each slice copies just the requested range.
 */
function blobOver(bytes: Uint8Array): Blob {
  const copy = (start: number, end: number): ArrayBuffer =>
    bytes.buffer.slice(bytes.byteOffset + start, bytes.byteOffset + end) as ArrayBuffer;
  const handle = {
    size: bytes.length,
    slice: (start = 0, end = bytes.length) => ({ arrayBuffer: () => Promise.resolve(copy(start, end)) }),
    arrayBuffer: () => Promise.resolve(copy(0, bytes.length)),
  };
  // Structural stand-in: the rest of the Blob interface is never called.
  return handle as unknown as Blob;
}

async function wasmCall<T>(key: string, what: string, call: () => Promise<T> | T): Promise<T> {
  try {
    return await call();
  } catch (error) {
    discardOnTrap(error);
    const message = error instanceof Error ? error.message : String(error);
    throw new SstDecodeError(key, `${what}: ${message}`, { cause: error });
  }
}

function openParquet(key: string, bytes: Uint8Array): Promise<ParquetFile> {
  return wasmCall(key, "open", () => parquetWasm().ParquetFile.fromFile(blobOver(bytes)));
}

function metaFromFooter(key: string, file: ParquetFile, fileSize: number): SstMeta {
  let json: unknown;
  try {
    const metadata = file.metadata();
    const fileMetadata = metadata.fileMetadata();
    const keyValues = fileMetadata.keyValueMetadata() as Map<string, string>;
    freeQuietly(fileMetadata);
    freeQuietly(metadata);
    const raw = keyValues.get(SST_META_KEY);
    if (raw === undefined) throw new SstCorruptionError(key, `no ${SST_META_KEY} in the footer`);
    json = JSON.parse(raw);
  } catch (error) {
    discardOnTrap(error);
    if (error instanceof SstCorruptionError) throw error;
    throw new SstCorruptionError(key, `cannot read ${SST_META_KEY}`, { cause: error });
  }
  try {
    return parseSstMeta(json, fileSize);
  } catch (error) {
    if (error instanceof SstMetaFormatError)
      throw new SstCorruptionError(key, error.message, { cause: error });
    throw error;
  }
}

/** The file must have exactly the row groups the meta describes, or pruning would pick wrong ones. */
function checkRowGroups(key: string, file: ParquetFile, meta: SstMeta): void {
  const metadata = file.metadata();
  try {
    const groups = metadata.rowGroups();
    const counts = groups.map((g) => g.numRows());
    for (const g of groups) freeQuietly(g);
    if (counts.length !== meta.rowGroups.length) {
      throw new SstCorruptionError(
        key,
        `file has ${counts.length} row groups, the SST meta ${meta.rowGroups.length}`,
      );
    }
    counts.forEach((rows, i) => {
      const expected = meta.rowGroups[i]?.numRows;
      if (rows !== expected) {
        throw new SstCorruptionError(key, `row group ${i} has ${rows} rows, the SST meta says ${expected}`);
      }
    });
  } finally {
    freeQuietly(metadata);
  }
}

interface ColumnPlan {
  /** File columns to decode (never empty: Parquet cannot report row counts without a column). */
  readonly read: string[];
  /** Decoded batch -> output batch in projection order, with nulls for columns the file lacks. */
  readonly shape: (decoded: ColumnBatch) => ColumnBatch;
}

function planColumns(key: string, meta: SstMeta, options: SstReadOptions): ColumnPlan {
  const inFile = new Map(meta.columns.map((c) => [c.name, c]));
  const names = options.projection ?? meta.columns.map((c) => c.name);
  const read: string[] = [];
  for (const name of names) {
    if (inFile.has(name)) {
      if (!read.includes(name)) read.push(name);
    } else if (options.schema?.column(name) === undefined) {
      throw new SstColumnNotFoundError(key, name);
    }
  }
  if (read.length === 0) {
    const first = meta.columns[0];
    if (first === undefined) throw new SstCorruptionError(key, "SST meta lists no columns");
    read.push(first.name);
  }
  const shape = (decoded: ColumnBatch): ColumnBatch => {
    // Parquet returns projected columns in file order; reorder only when that differs.
    if (decoded.names.length === names.length && decoded.names.every((n, i) => n === names[i]))
      return decoded;
    const columns = names.map((name): Column => {
      const i = decoded.names.indexOf(name);
      if (i >= 0) return decoded.columns[i] as Column;
      const type = options.schema?.column(name)?.type;
      if (type === undefined) throw new SstColumnNotFoundError(key, name);
      return nullColumn(type, decoded.numRows);
    });
    return { names, columns, numRows: decoded.numRows };
  };
  return { read, shape };
}

async function decodeRowGroup(
  key: string,
  file: ParquetFile,
  group: number,
  columns: string[],
  batchSize: number,
): Promise<ColumnBatch[]> {
  const ipc = await wasmCall(key, `row group ${group}`, async () => {
    const table = await file.read({ rowGroups: [group], columns, batchSize });
    // intoIPCStream consumes the table.
    return table.intoIPCStream();
  });
  return tableFromIPC(ipc).batches.map((b) => arrowToColumnBatch(b));
}
