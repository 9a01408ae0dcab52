import { StatusCode } from "@horaedb/proto";
import { HoraeDBArgumentError, HoraeDBClosedError, HoraeDBError, HoraeDBWriteError } from "./errors.js";
import type { Point } from "./point.js";

/** Thresholds and limits of a batching writer. */
export interface WriterOptions {
  /** A batch is sent once it holds this many points. Default 5,000. */
  readonly maxRows?: number;
  /** A batch is sent once its points' estimated size reaches this many bytes. Default 4 MiB. */
  readonly maxBytes?: number;
  /** A batch is sent at the latest this long after its first point was added, in ms. Default 1,000. */
  readonly flushIntervalMs?: number;
  /**
   * Bound on the estimated bytes of points added but not yet written (buffered, waiting, or being
   * sent). Once reached, `add()` waits until sends complete. Default 64 MiB.
   */
  readonly maxPendingBytes?: number;
  /**
   * Batches sent at the same time. Default 4. Batches may complete out of order, so with more than
   * one, two points of the same series and timestamp in different batches have no defined winner;
   * use 1 when that matters.
   */
  readonly maxInFlightBatches?: number;
  /** Schema (database) of the points; the client's by default. */
  readonly database?: string;
  /**
   * Receives the failure of a background send with the points that were not written. Without it,
   * failures are kept and the next `flush()` or `close()` rejects with them.
   */
  readonly onError?: (error: HoraeDBError, failedPoints: readonly Point[]) => void;
}

/** What a writer's send of one batch came to. */
export interface BatchResult {
  /** Why points were not written; absent when all were. */
  readonly error?: HoraeDBError;
  /** The points not written. */
  readonly failedPoints: readonly Point[];
}

/** Sends one batch; resolves (never rejects) with what was not written. */
export type BatchSender = (points: readonly Point[], database: string | undefined) => Promise<BatchResult>;

/** Counters of a writer since it was created. */
export interface WriterStats {
  readonly pointsAdded: number;
  readonly pointsWritten: number;
  readonly pointsFailed: number;
  readonly batchesSent: number;
}

const DEFAULTS = {
  maxRows: 5_000,
  maxBytes: 4 * 1024 * 1024,
  flushIntervalMs: 1_000,
  maxPendingBytes: 64 * 1024 * 1024,
  maxInFlightBatches: 4,
};

interface Batch {
  readonly points: readonly Point[];
  readonly bytes: number;
  readonly settled: () => void;
}

/**
 * Accumulates points and sends them in batches when a batch reaches `maxRows` points or `maxBytes`
 * bytes, or `flushIntervalMs` after its first point. Memory is bounded by `maxPendingBytes`: past it,
 * `add()` returns a promise that resolves only when sends have made room (callers that await it are
 * slowed to the speed of the server). Failures of background sends go to `onError`, or make the next
 * `flush()`/`close()` reject; they are never dropped.
 */
export class BatchingWriter {
  readonly #send: BatchSender;
  readonly #options: Required<Omit<WriterOptions, "onError" | "database">>;
  readonly #database: string | undefined;
  readonly #onError: WriterOptions["onError"];
  readonly #onClosed: (() => void) | undefined;
  #buffer: Point[] = [];
  #bufferBytes = 0;
  readonly #queue: Batch[] = [];
  #inFlight = 0;
  /** Bytes of points admitted and not yet written or failed. */
  #pendingBytes = 0;
  readonly #roomWaiters: Array<{ readonly bytes: number; readonly admit: () => void }> = [];
  /** Waiting add() calls let in whose point is not buffered yet. */
  #admitted = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #unsettled = new Set<Promise<void>>();
  readonly #unreported: HoraeDBError[] = [];
  #closed = false;
  #closing: Promise<void> | undefined;
  #stats = { pointsAdded: 0, pointsWritten: 0, pointsFailed: 0, batchesSent: 0 };

  /**
   * @param send - sends one batch (the client's write path)
   * @param options - thresholds and limits
   * @param onClosed - called once `close()` has finished, whatever its outcome
   */
  constructor(send: BatchSender, options: WriterOptions = {}, onClosed?: () => void) {
    this.#send = send;
    this.#onClosed = onClosed;
    this.#options = {
      maxRows: positive("maxRows", options.maxRows ?? DEFAULTS.maxRows),
      maxBytes: positive("maxBytes", options.maxBytes ?? DEFAULTS.maxBytes),
      flushIntervalMs: positive("flushIntervalMs", options.flushIntervalMs ?? DEFAULTS.flushIntervalMs),
      maxPendingBytes: positive("maxPendingBytes", options.maxPendingBytes ?? DEFAULTS.maxPendingBytes),
      maxInFlightBatches: positive(
        "maxInFlightBatches",
        options.maxInFlightBatches ?? DEFAULTS.maxInFlightBatches,
      ),
    };
    this.#database = options.database;
    this.#onError = options.onError;
  }

  /** Counters since creation. */
  get stats(): WriterStats {
    return { ...this.#stats };
  }

  /** Estimated bytes of points added and not yet written or failed. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** Points buffered for the next batch. */
  get bufferedPoints(): number {
    return this.#buffer.length;
  }

  /** Batches being sent. */
  get inFlightBatches(): number {
    return this.#inFlight;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Adds points. Resolves once they are buffered, which is at once unless the writer holds
   * `maxPendingBytes` already; then it waits for sends to complete. Rejects with HoraeDBClosedError
   * after `close()`.
   */
  async add(points: Point | readonly Point[]): Promise<void> {
    const list = Array.isArray(points) ? (points as readonly Point[]) : [points as Point];
    for (const point of list) {
      if (this.#closed) throw new HoraeDBClosedError("writer");
      const bytes = point.estimatedBytes;
      if (this.#roomWaiters.length > 0 || !this.#fits(bytes)) {
        await new Promise<void>((admit) => this.#roomWaiters.push({ bytes, admit }));
        this.#admitted--;
      } else {
        this.#pendingBytes += bytes;
      }
      this.#stats.pointsAdded++;
      this.#buffer.push(point);
      this.#bufferBytes += bytes;
      if (this.#buffer.length === 1) {
        this.#timer = setTimeout(() => this.#cut(), this.#options.flushIntervalMs);
      }
      if (this.#buffer.length >= this.#options.maxRows || this.#bufferBytes >= this.#options.maxBytes) {
        this.#cut();
      }
    }
  }

  /**
   * Sends the buffered points and waits until every batch cut so far is written or has failed.
   * Rejects with the failures not given to `onError` since the last `flush()` (one HoraeDBWriteError
   * listing every failed table).
   */
  async flush(): Promise<void> {
    this.#cut();
    await Promise.all([...this.#unsettled]);
    this.#throwUnreported();
  }

  /**
   * Stops accepting points, sends everything pending (including points still waiting for room) and
   * waits for it; rejects like `flush()`. Calling it again returns the same promise.
   */
  close(): Promise<void> {
    this.#closing ??= this.#drain().finally(() => this.#onClosed?.());
    return this.#closing;
  }

  async #drain(): Promise<void> {
    this.#closed = true;
    while (
      this.#buffer.length > 0 ||
      this.#roomWaiters.length > 0 ||
      this.#admitted > 0 ||
      this.#unsettled.size > 0
    ) {
      this.#admitWaiters();
      this.#cut();
      // Admitted points reach the buffer when their add() resumes; the next turn sends them.
      if (this.#unsettled.size > 0) await Promise.all([...this.#unsettled]);
      else await new Promise((resolve) => setImmediate(resolve));
    }
    this.#throwUnreported();
  }

  #fits(bytes: number): boolean {
    return this.#pendingBytes === 0 || this.#pendingBytes + bytes <= this.#options.maxPendingBytes;
  }

  /** Turns the buffer into a batch and queues it for sending. */
  #cut(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#buffer.length === 0) return;
    let settled!: () => void;
    const done = new Promise<void>((resolve) => (settled = resolve));
    this.#unsettled.add(done);
    void done.then(() => this.#unsettled.delete(done));
    this.#queue.push({ points: this.#buffer, bytes: this.#bufferBytes, settled });
    this.#buffer = [];
    this.#bufferBytes = 0;
    this.#pump();
  }

  #pump(): void {
    while (this.#inFlight < this.#options.maxInFlightBatches) {
      const batch = this.#queue.shift();
      if (batch === undefined) return;
      this.#inFlight++;
      this.#stats.batchesSent++;
      void this.#send(batch.points, this.#database)
        .catch((error: unknown) => ({ error: asHoraeDBError(error), failedPoints: batch.points }))
        .then((result) => this.#finished(batch, result));
    }
  }

  #finished(batch: Batch, result: BatchResult): void {
    this.#inFlight--;
    this.#pendingBytes -= batch.bytes;
    this.#stats.pointsFailed += result.failedPoints.length;
    this.#stats.pointsWritten += batch.points.length - result.failedPoints.length;
    if (result.error !== undefined) this.#report(result.error, result.failedPoints);
    this.#admitWaiters();
    this.#pump();
    batch.settled();
  }

  #report(error: HoraeDBError, failedPoints: readonly Point[]): void {
    if (this.#onError === undefined) {
      this.#unreported.push(error);
      return;
    }
    try {
      this.#onError(error, failedPoints);
    } catch {
      // A failing callback must not lose the failure: keep it for flush()/close().
      this.#unreported.push(error);
    }
  }

  /** Lets waiting add() calls in, first come first served, as far as the bound allows. */
  #admitWaiters(): void {
    for (let waiter = this.#roomWaiters[0]; waiter !== undefined; waiter = this.#roomWaiters[0]) {
      if (!this.#fits(waiter.bytes)) return;
      this.#roomWaiters.shift();
      this.#pendingBytes += waiter.bytes;
      this.#admitted++;
      waiter.admit();
    }
  }

  #throwUnreported(): void {
    const errors = this.#unreported.splice(0);
    if (errors.length === 0) return;
    const writeErrors = errors.filter((e): e is HoraeDBWriteError => e instanceof HoraeDBWriteError);
    if (errors.length > 1 && writeErrors.length === errors.length) {
      throw new HoraeDBWriteError(
        writeErrors.flatMap((e) => e.failures),
        writeErrors.flatMap((e) => e.written),
      );
    }
    throw errors[0] as HoraeDBError;
  }
}

function positive(name: string, value: number): number {
  if (!(value > 0)) throw new HoraeDBArgumentError(`writer option ${name} must be positive, got ${value}`);
  return value;
}

/** A sender breaking its contract (rejecting) still ends in a reported failure, never a lost one. */
function asHoraeDBError(error: unknown): HoraeDBError {
  if (error instanceof HoraeDBError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new HoraeDBError(StatusCode.STATUS_CODE_INTERNAL, `sending a batch failed: ${message}`, {
    retryable: false,
    cause: error,
  });
}
