export {
  horaeDBConfigDefinition,
  horaeDBModes,
  resolveHoraeDBConfig,
  type HoraeDBConfig,
  type HoraeDBConfigInput,
  type HoraeDBMode,
} from "./config.js";
export { DataDirectoryError, UnsupportedModeError } from "./errors.js";
export { HoraeDBServer, type HoraeDBServerOptions } from "./server.js";
export { SERVER_NODE_FLAGS } from "./node-flags.js";
export {
  STORAGE_SERVICE_NAME,
  storageServiceHandlers,
  storageServiceServerDefinition,
} from "./storage-service.js";
export * as engine from "./engine/index.js";
export { DataType, parseDataType, type CellValue } from "./table/data-type.js";
export {
  TableSchema,
  TSID_COLUMN,
  type ColumnSchema,
  type ColumnSchemaInput,
  type TableSchemaInput,
} from "./table/schema.js";
export {
  DEFAULT_TABLE_OPTIONS,
  parseTableOptions,
  formatTableOptions,
  type TableOptions,
} from "./table/options.js";
export { SchemaError } from "./table/errors.js";
export type { Column, ColumnValues } from "./batch/column.js";
export type { ColumnBatch } from "./batch/column-batch.js";
export * as sql from "./sql/index.js";
export * as query from "./query/index.js";
