// Public API of @horaedb/client.
export {
  HoraeDBClient,
  tableRows,
  type ArrowWriteOptions,
  type ClientStats,
  type WriteOptions,
  type WriteResult,
} from "./client.js";
export {
  BatchingWriter,
  type BatchResult,
  type BatchSender,
  type WriterOptions,
  type WriterStats,
} from "./batching-writer.js";
export { DEFAULT_GRPC_PORT, normalizeEndpoint } from "./endpoint.js";
export {
  HoraeDBArgumentError,
  HoraeDBClosedError,
  HoraeDBError,
  HoraeDBQueryError,
  HoraeDBTransportError,
  HoraeDBUnsupportedError,
  HoraeDBWriteError,
  type HoraeDBErrorOptions,
  type TableWriteFailure,
  type TableWriteSummary,
} from "./errors.js";
export {
  resolveClientOptions,
  type HoraeDBClientOptions,
  type PayloadCompression,
  type ResolvedClientOptions,
} from "./options.js";
export { Point, TIMESTAMP_COLUMN, type FieldValue, type Int64Input, type TimestampInput } from "./point.js";
export type { QueryOptions } from "./query-executor.js";
export { backoffMs, DEFAULT_RETRY_POLICY, type RetryPolicy } from "./retry.js";
export { StatusCode } from "@horaedb/proto";
