import { tableFromArrays, type RecordBatch, type Table } from "apache-arrow";
import { encodeArrow } from "./arrow-encoder.js";
import { BatchingWriter, type BatchResult, type WriterOptions } from "./batching-writer.js";
import { ChannelPool } from "./channel-pool.js";
import { EndpointRotation } from "./endpoint-rotation.js";
import {
  HoraeDBArgumentError,
  HoraeDBClosedError,
  HoraeDBError,
  HoraeDBWriteError,
  type TableWriteSummary,
} from "./errors.js";
import { resolveClientOptions, type HoraeDBClientOptions, type ResolvedClientOptions } from "./options.js";
import { Point } from "./point.js";
import { QueryExecutor, type QueryOptions } from "./query-executor.js";
import { RouteCache } from "./route-cache.js";
import { Router } from "./router.js";
import { encodePoints } from "./series-encoder.js";
import type { TableWrite } from "./table-write.js";
import { WriteExecutor, type WriteOutcome } from "./write-executor.js";

/** Options of one write call. */
export interface WriteOptions {
  /** Schema (database) of the table names; the client's by default. */
  readonly database?: string;
  /** Time limit of the write, retries included, in ms; the client's `writeTimeoutMs` by default. */
  readonly timeoutMs?: number;
}

/** Options of `writeArrow`. */
export interface ArrowWriteOptions extends WriteOptions {
  /** Columns to store as TAG columns (Utf8). */
  readonly tags: readonly string[];
  /** Column holding the row timestamps: Arrow Timestamp, or Int64 ms. Default `timestamp`. */
  readonly timestamp?: string;
  /** IPC streams larger than this are compressed; the client's `compressAboveBytes` by default. */
  readonly compressAboveBytes?: number;
}

/** What a write stored: rows in total and per table. */
export interface WriteResult {
  /** Rows written over all tables. */
  readonly rows: number;
  /** Rows written per table, in the order the tables first appeared. */
  readonly tables: readonly TableWriteSummary[];
}

/** Counters of a client's work. */
export interface ClientStats {
  /** Route calls made (each looks up every table missing from the route cache at once). */
  readonly routeCalls: number;
  /** Write calls made (attempts included). */
  readonly writeCalls: number;
  /** Table requests sent again after a retryable failure. */
  readonly writeRetries: number;
}

/** How long an endpoint that failed at the transport level is passed over while others answer. */
const ENDPOINT_FAILURE_COOLDOWN_MS = 1_000;

/**
 * The horaedb SDK: writes (points, Arrow tables, a batching writer) and SQL queries over gRPC.
 *
 * It looks up each table's shard leader with Route and caches it (`routeCacheTtlMs`), sends each
 * request to the leader, refreshes the route and retries when a response says the route is stale,
 * and retries retryable failures with exponential backoff and full jitter (the README lists what
 * is retried and why). One gRPC channel per endpoint is opened on first use and reused.
 *
 * ```ts
 * const client = new HoraeDBClient({ endpoints: ["127.0.0.1:8831"] });
 * await client.write([client.point("cpu").tag("host", "a").field("usage", 0.5)]);
 * await client.close();
 * ```
 */
export class HoraeDBClient {
  /** The options in force, defaults filled in. */
  readonly options: ResolvedClientOptions;
  readonly #channels: ChannelPool;
  readonly #router: Router;
  readonly #writes: WriteExecutor;
  readonly #queries: QueryExecutor;
  readonly #abort = new AbortController();
  readonly #writers = new Set<BatchingWriter>();
  readonly #inFlight = new Set<Promise<unknown>>();
  #closing: Promise<void> | undefined;

  /** Opens no connection yet: channels are opened by the first call to each endpoint. */
  constructor(options: HoraeDBClientOptions) {
    this.options = resolveClientOptions(options);
    const o = this.options;
    this.#channels = new ChannelPool(o.channelOptions, o.maxInFlightPerEndpoint);
    const endpoints = new EndpointRotation(o.endpoints, ENDPOINT_FAILURE_COOLDOWN_MS);
    this.#router = new Router({
      cache: new RouteCache(o.routeCacheTtlMs),
      channels: this.#channels,
      endpoints,
      requestTimeoutMs: o.requestTimeoutMs,
    });
    const shared = { router: this.#router, channels: this.#channels, endpoints, retry: o.retry };
    this.#writes = new WriteExecutor({
      ...shared,
      requestTimeoutMs: o.requestTimeoutMs,
      maxRequestBytes: o.maxRequestBytes,
      idempotentWrites: o.idempotentWrites,
      signal: this.#abort.signal,
    });
    this.#queries = new QueryExecutor({
      ...shared,
      database: o.database,
      queryTimeoutMs: o.queryTimeoutMs,
      compression: o.compression,
      signal: this.#abort.signal,
    });
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /** Counters of the client's work so far. */
  get stats(): ClientStats {
    return {
      routeCalls: this.#router.routeCalls,
      writeCalls: this.#writes.writeCalls,
      writeRetries: this.#writes.retries,
    };
  }

  /** A new point (row) of `table`, timestamped now until `timestamp()` says otherwise. */
  point(table: string): Point {
    return new Point(table);
  }

  /**
   * Writes points, grouped by table and series into as few Write calls as the size limit allows.
   * Resolves with the rows written per table; rejects with HoraeDBWriteError listing each table
   * request that could not be written (after retries) and the tables that were.
   */
  write(points: Point | readonly Point[], options: WriteOptions = {}): Promise<WriteResult> {
    return this.#track(async () => {
      const list = Array.isArray(points) ? (points as readonly Point[]) : [points as Point];
      for (const point of list) {
        if (!(point instanceof Point)) throw new HoraeDBArgumentError("write() takes Point objects");
      }
      return resultOf(await this.#execute(encodePoints(list, this.options.maxRequestBytes), options));
    });
  }

  /**
   * Writes an Arrow table (or record batch) to `table` in the columnar form: an Arrow IPC stream,
   * compressed with the client's `compression` above `compressAboveBytes`, split into several table requests above
   * `maxRequestBytes`. Columns other than the tags and the timestamp are fields. Resolves and
   * rejects like `write()`.
   */
  writeArrow(table: string, data: Table | RecordBatch, options: ArrowWriteOptions): Promise<WriteResult> {
    return this.#track(async () => {
      if (typeof table !== "string" || table.length === 0) {
        throw new HoraeDBArgumentError("writeArrow() needs a table name");
      }
      const writes = await encodeArrow(table, data, {
        tags: options.tags,
        timestamp: options.timestamp ?? "timestamp",
        compression: this.options.compression,
        compressAboveBytes: options.compressAboveBytes ?? this.options.compressAboveBytes,
        maxRequestBytes: this.options.maxRequestBytes,
      });
      return resultOf(await this.#execute(writes, options));
    });
  }

  /**
   * A writer that batches points in the background (see `BatchingWriter`). `close()` on the client
   * closes (and so flushes) its writers.
   */
  writer(options: WriterOptions = {}): BatchingWriter {
    this.#checkOpen();
    const writer = new BatchingWriter(
      (points, database) => this.#sendBatch(points, database),
      options,
      () => this.#writers.delete(writer),
    );
    this.#writers.add(writer);
    return writer;
  }

  /**
   * Runs a SQL statement and returns its rows as an Arrow table. A statement that returns no rows
   * (DDL, INSERT) yields a one-row table with an `affected_rows` column (Uint64).
   * Rejects with HoraeDBQueryError when the statement fails, HoraeDBUnsupportedError when the server
   * does not implement SQL.
   */
  sql(query: string, options: QueryOptions = {}): Promise<Table> {
    return this.#track(async () => {
      const result = await this.#queries.query(query, options);
      if (result.kind === "rows") return result.table;
      return tableFromArrays({ affected_rows: BigUint64Array.of(BigInt(result.affectedRows)) });
    });
  }

  /**
   * Runs a SQL statement and returns its rows as plain objects (column name to value; Int64 and
   * UInt64 values are bigints, timestamps are milliseconds).
   */
  async sqlRows(query: string, options: QueryOptions = {}): Promise<Array<Record<string, unknown>>> {
    return tableRows(await this.sql(query, options));
  }

  /** Runs a statement that returns no rows (DDL, INSERT) and resolves to the rows it affected. */
  execute(statement: string, options: QueryOptions = {}): Promise<number> {
    return this.#track(async () => {
      const result = await this.#queries.query(statement, options);
      return result.kind === "affectedRows" ? result.affectedRows : result.table.numRows;
    });
  }

  /**
   * Runs a SQL statement with StreamSqlQuery and yields its record batches as they arrive. Breaking
   * out of the loop cancels the call.
   */
  async *sqlStream(query: string, options: QueryOptions = {}): AsyncGenerator<RecordBatch, void, undefined> {
    // Not tracked by close(): a stream the application stops reading would hold it up for ever;
    // closing the channels cancels it instead.
    this.#checkOpen();
    yield* this.#queries.stream(query, options);
  }

  /** Leader endpoint of each table (`undefined` for a table that does not exist yet), via the cache. */
  route(
    tables: readonly string[],
    options: { readonly database?: string } = {},
  ): Promise<Map<string, string | undefined>> {
    return this.#track(async () => {
      const routes = await this.#router.resolve(
        options.database ?? this.options.database,
        tables,
        Date.now() + this.options.requestTimeoutMs,
      );
      return new Map(routes);
    });
  }

  /**
   * Closes the writers (flushing them), waits for the calls in flight, then closes the channels.
   * Later calls reject with HoraeDBClosedError. Rejects with a writer's flush failure, if any, once
   * everything is closed. Calling it again returns the same promise.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const writerResults = await Promise.allSettled([...this.#writers].map((w) => w.close()));
      this.#writers.clear();
      await Promise.allSettled([...this.#inFlight]);
      this.#abort.abort();
      this.#channels.close();
      const failed = writerResults.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed !== undefined) throw failed.reason;
    })();
    return this.#closing;
  }

  async #sendBatch(points: readonly Point[], database: string | undefined): Promise<BatchResult> {
    let outcome: WriteOutcome;
    try {
      outcome = await this.#execute(encodePoints(points, this.options.maxRequestBytes), { database });
    } catch (error) {
      if (error instanceof HoraeDBError) return { error, failedPoints: points };
      throw error;
    }
    if (outcome.failed.length === 0) return { failedPoints: [] };
    return {
      error: writeErrorOf(outcome),
      failedPoints: outcome.failed.flatMap((f) => f.write.points ?? []),
    };
  }

  #execute(
    writes: readonly TableWrite[],
    options: { database?: string; timeoutMs?: number },
  ): Promise<WriteOutcome> {
    const deadline = Date.now() + (options.timeoutMs ?? this.options.writeTimeoutMs);
    return this.#writes.execute(writes, options.database ?? this.options.database, deadline);
  }

  /** Runs a public call, refusing it after close() and letting close() wait for it. */
  #track<T>(run: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new HoraeDBClosedError("client"));
    const call = run();
    this.#inFlight.add(call);
    const forget = () => this.#inFlight.delete(call);
    call.then(forget, forget);
    return call;
  }

  #checkOpen(): void {
    if (this.closed) throw new HoraeDBClosedError("client");
  }
}

function resultOf(outcome: WriteOutcome): WriteResult {
  if (outcome.failed.length > 0) throw writeErrorOf(outcome);
  return { rows: outcome.written.reduce((sum, t) => sum + t.rows, 0), tables: outcome.written };
}

function writeErrorOf(outcome: WriteOutcome): HoraeDBWriteError {
  return new HoraeDBWriteError(
    outcome.failed.map((f) => f.failure),
    outcome.written,
  );
}

/**
 * Rows of an Arrow table as plain objects, each value as the column's `get` reads it (null for a
 * null cell); a later column wins over an earlier one of the same name. Read batch by batch and
 * column by column, rather than through a row proxy per row.
 */
export function tableRows(table: Table): Array<Record<string, unknown>> {
  // Assigning `__proto__` would set the row's prototype; a row object built by spreading has no such key.
  const columns = table.schema.fields
    .map((field, index) => ({ name: field.name, index }))
    .filter((column) => column.name !== "__proto__");
  const rows: Array<Record<string, unknown>> = [];
  for (const batch of table.batches) {
    const vectors = columns.map((column) => batch.getChildAt(column.index));
    for (let row = 0; row < batch.numRows; row++) {
      // A row the struct marks null (never so in a query result) has no values.
      if (!batch.isValid(row)) continue;
      const values: Record<string, unknown> = {};
      for (let c = 0; c < columns.length; c++) {
        values[(columns[c] as { name: string }).name] = vectors[c]?.get(row) ?? null;
      }
      rows.push(values);
    }
  }
  return rows;
}
