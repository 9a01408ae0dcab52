export {
  arrowColumnBuffers,
  arrowColumnSpecs,
  arrowToColumnBatch,
  arrowTypeOf,
  columnBatchToArrow,
  columnsToArrow,
  dataTypeOfArrow,
  int64ToTimestamps,
  ownColumn,
  recordBatchFromBuffers,
  timestampScale,
  transferListOf,
  type ArrowColumnBuffers,
  type ArrowColumnSpec,
} from "./arrow-convert.js";
export { concatBatches, concatColumns } from "./column-concat.js";
export { verifyChecksum, type ChecksumVerdict } from "./checksum.js";
export {
  defaultEncoderWorkerUrl,
  SstEncoderPool,
  type SstEncoderPoolOptions,
  type SstEncoderPoolStats,
} from "./encoder-pool.js";
export {
  ArrowConversionError,
  SstColumnNotFoundError,
  SstCorruptionError,
  SstDecodeError,
  SstEncodeError,
  SstEncoderClosedError,
  SstEncoderQueueFullError,
  SstInputError,
  SstMetaFormatError,
  SstNotFoundError,
  type SstInputContext,
} from "./errors.js";
export {
  encodeColumns,
  encodeParquet,
  type ColumnEncoding,
  type ParquetColumnSettings,
  type ParquetEncodeResult,
  type ParquetEncodeSettings,
} from "./parquet-encode.js";
export {
  fileMayMatch,
  rowGroupMayMatch,
  selectRowGroups,
  type SstPruneOptions,
  type TagFilter,
} from "./pruning.js";
export {
  readSst,
  readSstMeta,
  SstReader,
  SstScan,
  type SstReadOptions,
  type SstScanMetrics,
} from "./reader.js";
export {
  MAX_DISTINCT_TAG_VALUES,
  MAX_TAG_BLOOM_VALUES,
  parseSstMeta,
  SST_FORMAT_VERSION,
  SST_META_KEY,
  type ColumnStats,
  type RowGroupMeta,
  type SstColumnMeta,
  type SstMeta,
  type StatValue,
} from "./sst-meta.js";
export {
  encodeSst,
  SstWriter,
  writeSst,
  type EncodedSst,
  type SstWriteRequest,
  type SstWriterOptions,
} from "./writer.js";
