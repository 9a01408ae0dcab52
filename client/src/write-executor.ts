import { StatusCode, isRetryableStatus, type storage } from "@horaedb/proto";
import type { ChannelPool } from "./channel-pool.js";
import type { EndpointRotation } from "./endpoint-rotation.js";
import {
  HoraeDBClosedError,
  HoraeDBError,
  HoraeDBTransportError,
  type TableWriteFailure,
  type TableWriteSummary,
} from "./errors.js";
import { backoffMs, sleep, type RetryPolicy } from "./retry.js";
import type { Router } from "./router.js";
import type { TableWrite } from "./table-write.js";
import { encodeWriteRequest } from "./write-request.js";

export interface WriteExecutorOptions {
  readonly router: Router;
  readonly channels: ChannelPool;
  readonly endpoints: EndpointRotation;
  readonly retry: RetryPolicy;
  /** Time limit of one Write call, in milliseconds. */
  readonly requestTimeoutMs: number;
  /** Table requests are packed into Write calls of at most this many (estimated) bytes. */
  readonly maxRequestBytes: number;
  /** Whether rows whose outcome is unknown after a transport failure may be sent again. */
  readonly idempotentWrites: boolean;
  /** Aborted when the client closes: backoff waits end with HoraeDBClosedError. */
  readonly signal: AbortSignal;
}

/** A table request that was not written, with the failure reported for it. */
export interface FailedTableWrite {
  readonly write: TableWrite;
  readonly failure: TableWriteFailure;
}

/** What became of each table request of a write: rows written per table, and the failures. */
export interface WriteOutcome {
  /** Rows written per table, tables in the order they first appeared. */
  readonly written: TableWriteSummary[];
  readonly failed: FailedTableWrite[];
}

/** One table request in flight, with what its last attempt said. */
interface Attempt {
  readonly write: TableWrite;
  attempts: number;
  code: StatusCode;
  message: string;
  retryAfterMs: number;
  retryable: boolean;
  cause?: HoraeDBError;
}

/**
 * Sends table requests to their tables' leaders and retries what is retryable until every request is
 * written, has failed for good, has used its attempts, or the call's deadline has passed.
 *
 * Retried, with exponential backoff and full jitter:
 * - `ROUTE_STALE` (per table or for the whole response): the route is dropped and looked up again
 *   before the retry, so the rows go to the new leader.
 * - `RESOURCE_EXHAUSTED` and `UNAVAILABLE`: the server did not apply the rows; the retry waits at
 *   least the response's `retry_after_ms`.
 * - gRPC UNAVAILABLE and DEADLINE_EXCEEDED, only when `idempotentWrites`: the rows may or may not have
 *   been applied, and sending them again is safe only because rewriting a row with the same primary
 *   key and values leaves an OVERWRITE table (the default update mode) unchanged. An APPEND table
 *   would get the rows twice, so such clients set `idempotentWrites: false`.
 * Everything else (invalid rows, unknown database, a request over the server's size limit...) fails
 * at once: sending the same rows again would fail the same way.
 */
export class WriteExecutor {
  readonly #options: WriteExecutorOptions;
  /** Per (database, table) without a route: the send that creates it, which others wait for. */
  readonly #creations = new Map<string, Promise<void>>();
  #writeCalls = 0;
  #retries = 0;

  constructor(options: WriteExecutorOptions) {
    this.#options = options;
  }

  /** Write calls made so far. */
  get writeCalls(): number {
    return this.#writeCalls;
  }

  /** Table requests sent again after a retryable failure, so far. */
  get retries(): number {
    return this.#retries;
  }

  /** Writes `writes` into `database`, giving up at `deadline` (clock ms). */
  async execute(writes: readonly TableWrite[], database: string, deadline: number): Promise<WriteOutcome> {
    const written = new Map<string, number>();
    const failed: FailedTableWrite[] = [];
    let pending: Attempt[] = writes.map((write) => ({
      write,
      attempts: 0,
      code: StatusCode.STATUS_CODE_OK,
      message: "",
      retryAfterMs: 0,
      retryable: true,
    }));
    for (const write of writes) if (!written.has(write.table)) written.set(write.table, 0);
    while (pending.length > 0) {
      if (this.#options.signal.aborted) throw new HoraeDBClosedError("client");
      await this.#sendRound(pending, database, deadline);
      const retry: Attempt[] = [];
      for (const attempt of pending) {
        if (attempt.code === StatusCode.STATUS_CODE_OK) {
          written.set(attempt.write.table, (written.get(attempt.write.table) ?? 0) + attempt.write.rows);
        } else if (!attempt.retryable) {
          failed.push(failureOf(attempt, ""));
        } else if (attempt.attempts >= this.#options.retry.maxAttempts) {
          failed.push(failureOf(attempt, ` (gave up after ${attempt.attempts} attempts)`));
        } else {
          retry.push(attempt);
        }
      }
      if (retry.length > 0) {
        const wait = Math.max(
          ...retry.map((a) => backoffMs(this.#options.retry, a.attempts, a.retryAfterMs)),
        );
        if (Date.now() + wait >= deadline) {
          for (const attempt of retry) {
            failed.push(
              failureOf(attempt, ` (gave up after ${attempt.attempts} attempts: deadline reached)`),
            );
          }
          break;
        }
        await sleep(wait, this.#options.signal);
        this.#retries += retry.length;
      }
      pending = retry;
    }
    return {
      written: [...written].filter(([, rows]) => rows > 0).map(([table, rows]) => ({ table, rows })),
      failed,
    };
  }

  /**
   * Sends every pending table request once, recording the outcome on each attempt.
   *
   * A table without a route does not exist yet and is created by the first write that reaches an
   * instance. Two writes creating the same table at once can collide on the server, so only one
   * table request per such table is sent at a time (across every call of this client); the others
   * wait for it, then find the table's route and follow.
   */
  async #sendRound(pending: Attempt[], database: string, deadline: number): Promise<void> {
    let toSend = pending;
    while (toSend.length > 0) {
      let routes: ReadonlyMap<string, string | undefined>;
      try {
        routes = await this.#options.router.resolve(
          database,
          toSend.map((a) => a.write.table),
          deadline,
        );
      } catch (error) {
        if (!(error instanceof HoraeDBError) || error instanceof HoraeDBClosedError) throw error;
        // No route and no attempt: the rows were not sent, so retrying is safe whatever the table.
        for (const attempt of toSend) {
          attempt.attempts++;
          record(attempt, error.code, error.message, 0, error.retryable, error);
        }
        return;
      }
      const now: Attempt[] = [];
      const later: Attempt[] = [];
      const waits: Array<Promise<void>> = [];
      const creating = new Set<string>();
      for (const attempt of toSend) {
        if (routes.get(attempt.write.table) !== undefined) {
          now.push(attempt);
          continue;
        }
        const key = tableKey(database, attempt.write.table);
        const creation = this.#creations.get(key);
        if (creation !== undefined) waits.push(creation);
        if (creation !== undefined || creating.has(key)) {
          later.push(attempt);
        } else {
          creating.add(key);
          now.push(attempt);
        }
      }
      const sent = this.#sendNow(now, routes, database, deadline);
      for (const key of creating) {
        const creation = sent.then(
          () => undefined,
          () => undefined,
        );
        this.#creations.set(key, creation);
        void creation.then(() => {
          if (this.#creations.get(key) === creation) this.#creations.delete(key);
        });
      }
      await Promise.all([sent, ...waits]);
      toSend = later;
    }
  }

  /** Sends table requests to their leaders (any instance for tables without a route). */
  async #sendNow(
    attempts: Attempt[],
    routes: ReadonlyMap<string, string | undefined>,
    database: string,
    deadline: number,
  ): Promise<void> {
    if (attempts.length === 0) return;
    const byEndpoint = new Map<string, Attempt[]>();
    // Tables without a route (not created yet) may go to any instance; one pick keeps them together.
    const anyEndpoint = this.#options.endpoints.pick();
    for (const attempt of attempts) {
      const endpoint = routes.get(attempt.write.table) ?? anyEndpoint;
      let group = byEndpoint.get(endpoint);
      if (group === undefined) byEndpoint.set(endpoint, (group = []));
      group.push(attempt);
    }
    const calls: Array<Promise<void>> = [];
    for (const [endpoint, group] of byEndpoint) {
      for (const pack of packBySize(group, this.#options.maxRequestBytes)) {
        calls.push(this.#send(endpoint, pack, database, deadline));
      }
    }
    await Promise.all(calls);
  }

  async #send(endpoint: string, pack: Attempt[], database: string, deadline: number): Promise<void> {
    const { channels, router, endpoints, requestTimeoutMs, idempotentWrites } = this.#options;
    for (const attempt of pack) attempt.attempts++;
    this.#writeCalls++;
    const body = encodeWriteRequest(
      database,
      pack.map((a) => a.write),
    );
    let response: storage.WriteResponse__Output;
    try {
      response = await channels.unary(
        endpoint,
        "Write",
        Math.min(deadline, Date.now() + requestTimeoutMs),
        // The request is encoded already (see series-encoder.ts) and goes out as it is.
        { encoded: body },
      );
    } catch (error) {
      if (!(error instanceof HoraeDBError) || error instanceof HoraeDBClosedError) throw error;
      const transient = error instanceof HoraeDBTransportError && error.retryable;
      if (transient) {
        // The leader may have moved or died: look its tables up again before the retry.
        endpoints.markFailed(endpoint);
        router.invalidateLeader(endpoint);
      }
      for (const attempt of pack) {
        record(attempt, error.code, error.message, 0, transient && idempotentWrites, error);
      }
      return;
    }
    endpoints.markHealthy(endpoint);
    const header = response.header;
    pack.forEach((attempt, i) => {
      const result = response.tableResults[i];
      const status: storage.TableWriteResult__Output["header"] =
        result?.header ??
        (header !== null && header.code !== StatusCode.STATUS_CODE_OK
          ? header
          : {
              code: StatusCode.STATUS_CODE_INTERNAL,
              message: `${endpoint} answered no result for table request ${i}`,
              retryAfterMs: 0,
            });
      if (result !== undefined && result.table !== attempt.write.table) {
        record(
          attempt,
          StatusCode.STATUS_CODE_INTERNAL,
          `${endpoint} answered result ${i} for table ${result.table}, expected ${attempt.write.table}`,
          0,
          false,
        );
        return;
      }
      if (status.code === StatusCode.STATUS_CODE_ROUTE_STALE) {
        router.invalidate(database, attempt.write.table);
      }
      record(attempt, status.code, status.message, status.retryAfterMs, isRetryableStatus(status.code));
    });
  }
}

function tableKey(database: string, table: string): string {
  return `${database}\u0000${table}`;
}

function record(
  attempt: Attempt,
  code: StatusCode,
  message: string,
  retryAfterMs: number,
  retryable: boolean,
  cause?: HoraeDBError,
): void {
  attempt.code = code;
  attempt.message = message;
  attempt.retryAfterMs = retryAfterMs;
  attempt.retryable = retryable;
  if (cause === undefined) delete attempt.cause;
  else attempt.cause = cause;
}

function failureOf(attempt: Attempt, suffix: string): FailedTableWrite {
  // A route that stays stale is reported as UNAVAILABLE: applications never see ROUTE_STALE.
  const stale = attempt.code === StatusCode.STATUS_CODE_ROUTE_STALE;
  const failure: TableWriteFailure = {
    table: attempt.write.table,
    code: stale ? StatusCode.STATUS_CODE_UNAVAILABLE : attempt.code,
    message: (stale ? `the route stayed stale: ${attempt.message}` : attempt.message) + suffix,
    rows: attempt.write.rows,
    attempts: attempt.attempts,
    retryable: attempt.retryable,
    ...(attempt.cause === undefined ? {} : { cause: attempt.cause }),
  };
  return { write: attempt.write, failure };
}

/** Splits table requests into groups of at most `maxBytes` (a larger single request goes alone). */
function packBySize(attempts: Attempt[], maxBytes: number): Attempt[][] {
  const packs: Attempt[][] = [];
  let current: Attempt[] = [];
  let bytes = 0;
  for (const attempt of attempts) {
    if (current.length > 0 && bytes + attempt.write.bytes > maxBytes) {
      packs.push(current);
      current = [];
      bytes = 0;
    }
    current.push(attempt);
    bytes += attempt.write.bytes;
  }
  if (current.length > 0) packs.push(current);
  return packs;
}
