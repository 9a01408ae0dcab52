export { CatalogCorruptionError, invalidNameReason, type CatalogTable } from "./catalog.js";
export {
  StorageEngine,
  TableError,
  type EngineCompactionStats,
  type StorageEngineOptions,
  type TableInfo,
  type WriteResult,
} from "./engine.js";
export { WriteError, type WriteErrorKind } from "./errors.js";
export { StorageLayout } from "./layout.js";
export { filterRows, projectBatch, type RowPredicate, type TagFilter, type TimeRange } from "./row-filter.js";
export { TableScan, type ScanMetrics, type ScanRequest } from "./scan.js";
export { ReplayError } from "./shard.js";
export { openStandaloneEngine, STANDALONE_DEFAULTS, type StandaloneEngineOptions } from "./standalone.js";
export { prepareWrite, type PreparedWrite, type WritePolicy, type WriteRows } from "./write-validation.js";
export * as compaction from "./compaction/index.js";
