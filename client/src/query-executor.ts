import type { ServiceError } from "@grpc/grpc-js";
import type { RecordBatch, Table } from "apache-arrow";
import { StatusCode, type storage } from "@horaedb/proto";
import { grpcCallError, type ChannelPool, type OpenStream } from "./channel-pool.js";
import { concatTables, decodeArrowPayload, loadPayloadCodec } from "./arrow-decoder.js";
import type { EndpointRotation } from "./endpoint-rotation.js";
import {
  HoraeDBClosedError,
  HoraeDBError,
  HoraeDBQueryError,
  HoraeDBTransportError,
  HoraeDBUnsupportedError,
} from "./errors.js";
import type { PayloadCompression } from "./options.js";
import { backoffMs, sleep, type RetryPolicy } from "./retry.js";
import type { Router } from "./router.js";

/** Options of one SQL call. */
export interface QueryOptions {
  /**
   * Tables the statement touches: the statement is sent to the leader of the first one (any
   * instance otherwise), and the server uses them to decide whether to forward it.
   */
  readonly tables?: readonly string[];
  /** Time limit of the statement, in milliseconds; the client's `queryTimeoutMs` by default. */
  readonly timeoutMs?: number;
  /** Schema (database); the client's by default. */
  readonly database?: string;
  /**
   * Whether to send the statement again after a transport failure (gRPC UNAVAILABLE or
   * DEADLINE_EXCEEDED), when it may already have run. By default only for statements that start
   * with SELECT, SHOW, DESCRIBE, DESC, EXPLAIN or WITH, which change nothing.
   */
  readonly retryTransportErrors?: boolean;
}

/** What a statement answered: rows, or the number of rows it affected (DDL, INSERT). */
export type QueryResult =
  | { readonly kind: "rows"; readonly table: Table }
  | { readonly kind: "affectedRows"; readonly affectedRows: number };

export interface QueryExecutorOptions {
  readonly router: Router;
  readonly channels: ChannelPool;
  readonly endpoints: EndpointRotation;
  readonly retry: RetryPolicy;
  readonly database: string;
  /** Default time limit of a statement, in milliseconds. */
  readonly queryTimeoutMs: number;
  /** The codec query results are asked for in. */
  readonly compression: PayloadCompression;
  readonly signal: AbortSignal;
}

const ACCEPTED_COMPRESSION: Readonly<Record<PayloadCompression, storage.Compression>> = {
  zstd: "COMPRESSION_ZSTD",
  gzip: "COMPRESSION_GZIP",
  none: "COMPRESSION_NONE",
};

/** Extra time the gRPC deadline allows past the statement's own limit, so the server's answer wins. */
const DEADLINE_GRACE_MS = 1_000;
const READ_ONLY_STATEMENT = /^\s*(select|show|describe|desc|explain|with)\b/i;

/** An attempt that failed retryably: the error, and the server's advice on when to retry. */
interface AttemptFailure {
  readonly retry: HoraeDBError;
  readonly retryAfterMs: number;
}

/** The answer of one attempt: done, or retry after a wait. */
type AttemptResult<T> = { readonly done: T } | AttemptFailure;

/** A StreamSqlQuery whose first response was OK. */
interface OpenedStream {
  readonly stream: OpenStream<storage.SqlQueryResponse__Output>;
  readonly iterator: AsyncIterator<storage.SqlQueryResponse__Output>;
  readonly first: storage.SqlQueryResponse__Output | undefined;
  readonly endpoint: string;
}

/**
 * Runs SQL statements on the leader of their first table (SqlQuery and StreamSqlQuery), retrying
 * ROUTE_STALE (after a route refresh), RESOURCE_EXHAUSTED and UNAVAILABLE with backoff, and transport
 * failures when the statement is safe to repeat. A method the server lacks ends in
 * HoraeDBUnsupportedError carrying the server's message.
 */
export class QueryExecutor {
  readonly #options: QueryExecutorOptions;

  constructor(options: QueryExecutorOptions) {
    this.#options = options;
  }

  /** Runs `sql` and returns its whole result. */
  async query(sql: string, options: QueryOptions = {}): Promise<QueryResult> {
    const call = this.#call(sql, options);
    return this.#withRetries<QueryResult>(call, async (endpoint) => {
      let response: storage.SqlQueryResponse__Output;
      try {
        response = await this.#options.channels.unary(
          endpoint,
          "SqlQuery",
          call.grpcDeadline(),
          call.request(),
        );
      } catch (error) {
        return this.#transportFailure(error, call);
      }
      const failure = this.#headerFailure(response.header, call, endpoint, "SqlQuery");
      if (failure !== undefined) return failure;
      if (response.output === "affectedRows") {
        return { done: { kind: "affectedRows", affectedRows: Number(response.affectedRows ?? "0") } };
      }
      const arrow = response.arrow ?? undefined;
      if (arrow !== undefined) await loadPayloadCodec(arrow);
      const tables = arrow === undefined ? [] : decodeArrowPayload(arrow);
      return { done: { kind: "rows", table: concatTables(tables) } };
    });
  }

  /**
   * Runs `sql` with StreamSqlQuery and yields record batches as the server produces them. Failures
   * before the first response are retried like `query`; a stream that fails later throws (its batches
   * already yielded cannot be taken back). Breaking out of the loop cancels the call.
   */
  async *stream(sql: string, options: QueryOptions = {}): AsyncGenerator<RecordBatch, void, undefined> {
    const call = this.#call(sql, options);
    const opened = await this.#withRetries<OpenedStream>(call, async (endpoint) => {
      let stream: OpenStream<storage.SqlQueryResponse__Output>;
      try {
        stream = await this.#options.channels.streamSqlQuery(endpoint, call.request(), call.grpcDeadline());
      } catch (error) {
        return this.#transportFailure(error, call);
      }
      const iterator = (stream.call as AsyncIterable<storage.SqlQueryResponse__Output>)[
        Symbol.asyncIterator
      ]();
      try {
        const first = await iterator.next();
        const response = first.done === true ? undefined : first.value;
        const failure = response && this.#headerFailure(response.header, call, endpoint, "StreamSqlQuery");
        if (failure !== undefined) {
          stream.call.cancel();
          stream.release();
          return failure;
        }
        return { done: { stream, iterator, first: response, endpoint } };
      } catch (error) {
        stream.call.cancel();
        stream.release();
        return this.#transportFailure(
          isServiceError(error) ? grpcCallError(error, endpoint, "StreamSqlQuery") : error,
          call,
        );
      }
    });
    const { stream, iterator, endpoint } = opened;
    let finished = false;
    try {
      let response = opened.first;
      while (response !== undefined) {
        const failure = this.#headerFailure(response.header, call, endpoint, "StreamSqlQuery");
        if (failure !== undefined) throw failure.retry;
        if (response.arrow !== null && response.arrow !== undefined) {
          await loadPayloadCodec(response.arrow);
          for (const table of decodeArrowPayload(response.arrow)) yield* table.batches;
        }
        let next: IteratorResult<storage.SqlQueryResponse__Output>;
        try {
          next = await iterator.next();
        } catch (error) {
          throw isServiceError(error) ? grpcCallError(error, endpoint, "StreamSqlQuery") : error;
        }
        response = next.done === true ? undefined : next.value;
      }
      finished = true;
    } finally {
      if (!finished) stream.call.cancel();
      stream.release();
    }
  }

  async #withRetries<T>(
    call: StatementCall,
    attempt: (endpoint: string) => Promise<AttemptResult<T>>,
  ): Promise<T> {
    const { retry, signal } = this.#options;
    for (let n = 1; ; n++) {
      if (signal.aborted) throw new HoraeDBClosedError("client");
      const result = await this.#attemptOnce(call, attempt);
      if ("done" in result) return result.done;
      const wait = backoffMs(retry, n, result.retryAfterMs);
      if (n >= retry.maxAttempts || Date.now() + wait >= call.deadline)
        throw finalError(result.retry, call.sql);
      await sleep(wait, signal);
    }
  }

  /** One attempt on the statement's endpoint; a route lookup that fails retryably counts as one. */
  async #attemptOnce<T>(
    call: StatementCall,
    attempt: (endpoint: string) => Promise<AttemptResult<T>>,
  ): Promise<AttemptResult<T>> {
    let endpoint: string;
    try {
      endpoint = await this.#endpointFor(call);
    } catch (error) {
      // Nothing was sent, so the lookup is retried whatever the statement.
      if (!(error instanceof HoraeDBError) || !error.retryable || error instanceof HoraeDBClosedError)
        throw error;
      return { retry: error, retryAfterMs: 0 };
    }
    return attempt(endpoint);
  }

  async #endpointFor(call: StatementCall): Promise<string> {
    const first = call.tables[0];
    if (first === undefined) return this.#options.endpoints.pick();
    const routes = await this.#options.router.resolve(call.database, [first], call.deadline);
    return routes.get(first) ?? this.#options.endpoints.pick();
  }

  /** An attempt's failure from a non-OK header, or undefined when the header is OK. */
  #headerFailure(
    header: storage.SqlQueryResponse__Output["header"],
    call: StatementCall,
    endpoint: string,
    method: "SqlQuery" | "StreamSqlQuery",
  ): AttemptFailure | undefined {
    if (header === null || header.code === StatusCode.STATUS_CODE_OK) return undefined;
    if (header.code === StatusCode.STATUS_CODE_UNIMPLEMENTED) {
      throw new HoraeDBUnsupportedError(header.message, method, endpoint);
    }
    const error = new HoraeDBQueryError(header.code, header.message, call.sql);
    if (!error.retryable) throw error;
    if (header.code === StatusCode.STATUS_CODE_ROUTE_STALE) {
      for (const table of call.tables) this.#options.router.invalidate(call.database, table);
    }
    return { retry: error, retryAfterMs: header.retryAfterMs };
  }

  #transportFailure(error: unknown, call: StatementCall): AttemptFailure {
    if (error instanceof HoraeDBTransportError && error.retryable && call.retryTransportErrors) {
      this.#options.endpoints.markFailed(error.endpoint);
      this.#options.router.invalidateLeader(error.endpoint);
      return { retry: error, retryAfterMs: 0 };
    }
    throw error;
  }

  #call(sql: string, options: QueryOptions): StatementCall {
    const timeoutMs = options.timeoutMs ?? this.#options.queryTimeoutMs;
    const deadline = Date.now() + timeoutMs;
    const database = options.database ?? this.#options.database;
    const tables = [...(options.tables ?? [])];
    return {
      sql,
      database,
      tables,
      deadline,
      retryTransportErrors: options.retryTransportErrors ?? READ_ONLY_STATEMENT.test(sql),
      grpcDeadline: () => deadline + DEADLINE_GRACE_MS,
      request: () => ({
        context: { database },
        tables,
        sql,
        timeoutMs: Math.max(1, deadline - Date.now()),
        acceptCompression: ACCEPTED_COMPRESSION[this.#options.compression],
      }),
    };
  }
}

/** One statement's settings, shared by its attempts. */
interface StatementCall {
  readonly sql: string;
  readonly database: string;
  readonly tables: readonly string[];
  /** Clock ms after which no attempt starts. */
  readonly deadline: number;
  readonly retryTransportErrors: boolean;
  readonly grpcDeadline: () => number;
  readonly request: () => storage.SqlQueryRequest;
}

/** The error to throw after the last attempt; a stale route is reported as UNAVAILABLE. */
function finalError(error: HoraeDBError, sql: string): HoraeDBError {
  if (error.code !== StatusCode.STATUS_CODE_ROUTE_STALE) return error;
  return new HoraeDBQueryError(
    StatusCode.STATUS_CODE_UNAVAILABLE,
    `the route stayed stale: ${error.message}`,
    sql,
  );
}

function isServiceError(error: unknown): error is ServiceError {
  return (
    error instanceof Error && typeof (error as { code?: unknown }).code === "number" && "details" in error
  );
}
