import { StatusCode, type common, type storage } from "@horaedb/proto";
import { RecordBatchStreamWriter, type RecordBatch } from "apache-arrow";
import type { ColumnBatch } from "../batch/column-batch.js";
import type { StorageEngine } from "../engine/index.js";
import { executeSql, type SqlOutcome } from "../interpreters/index.js";
import { QueryExecutionError, executeSelectStream, resultToArrow } from "../query/index.js";
import { parseStatement } from "../sql/index.js";
import { compressPayload } from "./payload-compression.js";

/** Timeout of a statement whose request leaves `timeout_ms` at 0, unless configured otherwise. */
export const DEFAULT_SQL_TIMEOUT_MS = 30_000;
/** Result payloads at most this large are sent uncompressed even when the client accepts gzip. */
export const SQL_COMPRESSION_THRESHOLD_BYTES = 64 * 1024;

const OK: common.ResponseHeader = { code: StatusCode.STATUS_CODE_OK, message: "" };

export interface SqlRequestLimits {
  readonly timeoutMs: number;
  readonly signal: AbortSignal;
  readonly memoryLimitBytes?: number | undefined;
}

/**
 * The limits of one request: its `timeout_ms` (or `defaultTimeoutMs` when it leaves it at 0) and the
 * call's cancellation.
 */
export function requestLimits(
  request: storage.SqlQueryRequest__Output,
  signal: AbortSignal,
  defaultTimeoutMs: number = DEFAULT_SQL_TIMEOUT_MS,
): SqlRequestLimits {
  return { timeoutMs: request.timeoutMs > 0 ? request.timeoutMs : defaultTimeoutMs, signal };
}

/** Each Arrow record batch as one complete IPC stream (schema, batch, end-of-stream marker). */
export function arrowStreams(batches: readonly RecordBatch[]): Uint8Array[] {
  return batches.map((batch) => RecordBatchStreamWriter.writeAll([batch]).toUint8Array(true));
}

/** An Arrow payload, compressed with the codec the client accepts when larger than the threshold. */
export function arrowPayload(
  streams: readonly Uint8Array[],
  accepted: storage.Compression__Output,
): storage.ArrowPayload {
  const total = streams.reduce((sum, s) => sum + s.byteLength, 0);
  if (accepted === "COMPRESSION_NONE" || total <= SQL_COMPRESSION_THRESHOLD_BYTES) {
    return { recordBatches: [...streams], compression: "COMPRESSION_NONE" };
  }
  const compressed = streams.map((s) => compressPayload(s, accepted));
  return {
    recordBatches: compressed.map((c) => c.bytes),
    compression: compressed[0]?.compression ?? "COMPRESSION_NONE",
  };
}

/** The response of a unary SqlQuery for a statement's outcome. */
export function outcomeResponse(
  outcome: SqlOutcome,
  accepted: storage.Compression__Output,
): storage.SqlQueryResponse {
  if (outcome.kind === "affected") return { header: OK, affectedRows: String(outcome.rows) };
  return { header: OK, arrow: arrowPayload(arrowStreams(resultToArrow(outcome.result)), accepted) };
}

/**
 * Runs a statement for StreamSqlQuery, calling `send` with a response per result batch of a SELECT
 * (at least one, so the schema is known), or once with the outcome of any other statement.
 */
export async function streamSql(
  engine: StorageEngine,
  database: string,
  request: storage.SqlQueryRequest__Output,
  limits: SqlRequestLimits,
  send: (response: storage.SqlQueryResponse) => void,
): Promise<void> {
  const statement = parseStatement(request.sql);
  const accepted = request.acceptCompression;
  if (statement.kind !== "select") {
    send(outcomeResponse(await executeSql(engine, database, request.sql, limits), accepted));
    return;
  }
  const stream = executeSelectStream(engine, database, statement, limits);
  let sent = 0;
  const sendBatches = (batches: readonly ColumnBatch[]) => {
    const arrow = resultToArrow({ columns: stream.columns, batches });
    send({ header: OK, arrow: arrowPayload(arrowStreams(arrow), accepted) });
    sent++;
  };
  for await (const batch of stream) {
    if (batch.numRows === 0) continue;
    sendBatches([batch]);
  }
  if (sent === 0) sendBatches([]);
}

/** Whether an error is the cancellation of the call itself (nothing to answer). */
export function isCancellation(error: unknown): boolean {
  return error instanceof QueryExecutionError && error.code === "cancelled";
}
