/**
 * What one running query shares across its operators: the clock value of now(), the memory its
 * buffers may hold, and when it must stop (timeout or cancellation). Operators call `checkpoint()`
 * between batches, so a stop takes effect within one batch of work.
 */
import { QueryExecutionError, QueryExecutionErrorCode } from "./errors.js";

/**
 * What a query polls to learn that it was cancelled: an AbortSignal, or anything with the same two
 * fields (the gRPC server's per-call cancellation, which is cheaper to make than an AbortController).
 */
export interface CancellationSignal {
  readonly aborted: boolean;
  readonly reason?: unknown;
}

export interface QueryLimits {
  /** Bytes that hash aggregation and sort buffers of the query may hold; unlimited when absent. */
  readonly memoryLimitBytes?: number | undefined;
  /** Wall-clock limit of the query, from when it starts; none when absent. */
  readonly timeoutMs?: number | undefined;
  /** Cancels the query when aborted. */
  readonly signal?: CancellationSignal | undefined;
}

/** The bytes held by one operator, counted against the query's limit. */
export class MemoryReservation {
  #bytes = 0;
  constructor(
    readonly pool: QueryMemory,
    readonly owner: string,
  ) {}

  get bytes(): number {
    return this.#bytes;
  }

  /** Sets the bytes this operator holds; throws when the query would exceed its limit. */
  resize(bytes: number): void {
    this.pool.change(bytes - this.#bytes, this.owner);
    this.#bytes = bytes;
  }

  grow(bytes: number): void {
    this.resize(this.#bytes + bytes);
  }

  release(): void {
    this.resize(0);
  }
}

/** The memory of one query: the sum of its operators' reservations, and the most it ever held. */
export class QueryMemory {
  #used = 0;
  #peak = 0;
  constructor(readonly limitBytes: number) {}

  get usedBytes(): number {
    return this.#used;
  }

  get peakBytes(): number {
    return this.#peak;
  }

  reserve(owner: string): MemoryReservation {
    return new MemoryReservation(this, owner);
  }

  change(delta: number, owner: string): void {
    const next = this.#used + delta;
    if (delta > 0 && next > this.limitBytes) {
      throw new QueryExecutionError(
        QueryExecutionErrorCode.MemoryLimitExceeded,
        `query exceeded its memory limit of ${this.limitBytes} bytes (${owner} needed ${next} bytes in all)`,
      );
    }
    this.#used = next;
    this.#peak = Math.max(this.#peak, next);
  }
}

/**
 * Longest stretch of a query's work between two turns of the event loop. Without the turns a
 * CPU-bound query holds the loop until it ends: its client's cancel cannot arrive, and writes and
 * other queries wait behind it.
 */
export const QUERY_YIELD_INTERVAL_MS = 10;

export class QueryContext {
  readonly memory: QueryMemory;
  /** now() of this query, ms since the epoch. */
  readonly nowMs: number;
  readonly #deadline: number;
  readonly #timeoutMs: number | undefined;
  readonly #signal: CancellationSignal | undefined;
  #lastYield = performance.now();

  constructor(limits: QueryLimits, nowMs: number) {
    this.memory = new QueryMemory(limits.memoryLimitBytes ?? Infinity);
    this.nowMs = nowMs;
    this.#timeoutMs = limits.timeoutMs;
    this.#deadline = limits.timeoutMs === undefined ? Infinity : performance.now() + limits.timeoutMs;
    this.#signal = limits.signal;
  }

  /** Whether the query has worked QUERY_YIELD_INTERVAL_MS since it last let the event loop run. */
  yieldDue(now: number): boolean {
    return now - this.#lastYield >= QUERY_YIELD_INTERVAL_MS;
  }

  /** Lets the event loop run (I/O, timers, other requests), then checks cancellation and timeout. */
  async yieldToEventLoop(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.#lastYield = performance.now();
    this.checkpoint();
  }

  /** Throws when the query was cancelled or ran past its timeout. */
  checkpoint(): void {
    if (this.#signal?.aborted === true) {
      const reason: unknown = this.#signal.reason;
      const detail =
        reason instanceof Error ? `: ${reason.message}` : typeof reason === "string" ? `: ${reason}` : "";
      throw new QueryExecutionError(QueryExecutionErrorCode.Cancelled, `query was cancelled${detail}`);
    }
    if (performance.now() > this.#deadline) {
      throw new QueryExecutionError(
        QueryExecutionErrorCode.Timeout,
        `query exceeded its timeout of ${this.#timeoutMs} ms`,
      );
    }
  }
}
