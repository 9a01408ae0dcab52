import { StatusCode, type common, type storage } from "@horaedb/proto";
import type { StorageEngine } from "../engine/index.js";
import { executeSql, type SqlOutcome } from "../interpreters/index.js";
import { QueryExecutionError, executeSelectStream, type CancellationSignal } from "../query/index.js";
import { parseStatement } from "../sql/index.js";
import { encodePlannedStream, planResultStreams, resultToIpcStreams } from "./arrow-ipc.js";
import { encodeSqlResultResponse, type EncodedMessage } from "./encoded-response.js";
import { compressPayload } from "./payload-compression.js";

/** Timeout of a statement whose request leaves `timeout_ms` at 0, unless configured otherwise. */
export const DEFAULT_SQL_TIMEOUT_MS = 30_000;
/**
 * Result payloads at most this large are sent uncompressed even when the client accepts a codec.
 * ZSTD level 1 (WebAssembly) compresses query results to about half at roughly 200 MB/s and
 * decompresses them at roughly 250 MB/s, so compressing saves time only on links slower than about
 * 500 Mbit/s; on a LAN or loopback it adds milliseconds to results of a few hundred KiB. Above the
 * bound, the payload's size matters more (gRPC message limits, slow links). The SDK uses the same
 * bound for writes.
 */
export const SQL_COMPRESSION_THRESHOLD_BYTES = 1024 * 1024;

const OK: common.ResponseHeader = { code: StatusCode.STATUS_CODE_OK, message: "" };

export interface SqlRequestLimits {
  readonly timeoutMs: number;
  readonly signal: CancellationSignal;
  readonly memoryLimitBytes?: number | undefined;
}

/**
 * The limits of one request: its `timeout_ms` (or `defaultTimeoutMs` when it leaves it at 0) and the
 * call's cancellation.
 */
export function requestLimits(
  request: storage.SqlQueryRequest__Output,
  signal: CancellationSignal,
  defaultTimeoutMs: number = DEFAULT_SQL_TIMEOUT_MS,
): SqlRequestLimits {
  return { timeoutMs: request.timeoutMs > 0 ? request.timeoutMs : defaultTimeoutMs, signal };
}

/** An Arrow payload, compressed with the codec the client accepts when larger than the threshold. */
export function arrowPayload(
  streams: readonly Uint8Array[],
  accepted: storage.Compression__Output,
): storage.ArrowPayload {
  if (!compresses(streams, accepted)) return { recordBatches: [...streams], compression: "COMPRESSION_NONE" };
  const compressed = streams.map((s) => compressPayload(s, accepted));
  return {
    recordBatches: compressed.map((c) => c.bytes),
    compression: compressed[0]?.compression ?? "COMPRESSION_NONE",
  };
}

/** The response for a statement's outcome, as an object. */
export function outcomeResponse(
  outcome: SqlOutcome,
  accepted: storage.Compression__Output,
): storage.SqlQueryResponse {
  if (outcome.kind === "affected") return { header: OK, affectedRows: String(outcome.rows) };
  const { columns, batches } = outcome.result;
  return { header: OK, arrow: arrowPayload(resultToIpcStreams(columns, batches), accepted) };
}

/**
 * The response of a unary SqlQuery for a statement's outcome: rows sent uncompressed come encoded
 * already, their Arrow streams written in place (see encoded-response.ts); the rest as objects.
 */
export function unaryOutcomeResponse(
  outcome: SqlOutcome,
  accepted: storage.Compression__Output,
): storage.SqlQueryResponse | EncodedMessage {
  if (outcome.kind === "affected") return outcomeResponse(outcome, accepted);
  const { columns, batches } = outcome.result;
  const streams = planResultStreams(columns, batches);
  if (!compresses(streams, accepted)) return encodeSqlResultResponse(streams);
  return { header: OK, arrow: arrowPayload(streams.map(encodePlannedStream), accepted) };
}

/** Whether streams of these sizes go compressed to a client that accepts `accepted`. */
function compresses(
  streams: readonly { readonly byteLength: number }[],
  accepted: storage.Compression__Output,
): boolean {
  let total = 0;
  for (const stream of streams) total += stream.byteLength;
  return accepted !== "COMPRESSION_NONE" && total > SQL_COMPRESSION_THRESHOLD_BYTES;
}

/** A StreamSqlQuery's responses share one schema, whatever the size of each (see IpcStreamOptions). */
const STABLE = { stableTagColumns: true } as const;

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
  for await (const batch of stream) {
    if (batch.numRows === 0) continue;
    send({ header: OK, arrow: arrowPayload(resultToIpcStreams(stream.columns, [batch], STABLE), accepted) });
    sent++;
  }
  if (sent === 0)
    send({ header: OK, arrow: arrowPayload(resultToIpcStreams(stream.columns, [], STABLE), accepted) });
}

/** Whether an error is the cancellation of the call itself (nothing to answer). */
export function isCancellation(error: unknown): boolean {
  return error instanceof QueryExecutionError && error.code === "cancelled";
}
