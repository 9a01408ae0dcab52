export {
  IncompatibleSchemaError,
  InvalidBatchError,
  InvalidScanOptionsError,
  MemtableError,
  MemtableFrozenError,
  MemtableNotFoundError,
  UnknownColumnError,
  type MemtableErrorContext,
} from "./errors.js";
export { ColumnGatherer, type RowLocations } from "./gather.js";
export { compareStrings } from "./key-lanes.js";
export {
  CHUNK_OVERHEAD_BYTES,
  COLUMN_OVERHEAD_BYTES,
  Memtable,
  checkSchemaSuccessor,
  type MemtableOptions,
} from "./memtable.js";
export { MemtableSet } from "./memtable-set.js";
export {
  DEFAULT_HARD_LIMIT_RATIO,
  MemoryTracker,
  type MemoryTrackerOptions,
  type TableMemoryUsage,
} from "./memory-tracker.js";
export {
  DEFAULT_SCAN_BATCH_SIZE,
  MemtableSnapshot,
  type ColumnReader,
  type MemtableScanOptions,
  type MemtableSnapshotInit,
  type RowSource,
  type SnapshotSegment,
  type TimeRange,
} from "./snapshot.js";
export type { MemtableChunk, SortedView } from "./sorted-view.js";
