/**
 * A small pool of worker threads that turn Arrow column buffers into Parquet, so the CPU-heavy part
 * of writing an SST (Arrow IPC serialisation, Parquet encoding and compression in WebAssembly) runs
 * off the thread that serves writes and queries.
 */
import { Worker } from "node:worker_threads";
import type { EncoderReply, EncoderRequest } from "./encoder-protocol.js";
import { SstEncodeError, SstEncoderClosedError, SstEncoderQueueFullError } from "./errors.js";
import { ownColumn, transferListOf, type ArrowColumnBuffers } from "./arrow-convert.js";
import type { ParquetEncodeResult, ParquetEncodeSettings } from "./parquet-encode.js";

export interface SstEncoderPoolOptions {
  /** Worker threads, started on first use (default 1: this engine targets small machines). */
  readonly workers?: number;
  /** Jobs that may wait for a free worker; beyond that encode() rejects (default 4). */
  readonly maxQueuedJobs?: number;
  /** The worker script (default: the compiled encoder-worker.js next to this module). */
  readonly workerUrl?: URL;
  /**
   * Stop a worker that has been idle this long (default: never). WebAssembly memory only grows, so
   * a worker keeps the high-water mark of its largest job (several times the Arrow size of the
   * rows) until it stops; the next job starts a new one, which costs about 0.1-0.2 s.
   */
  readonly idleTimeoutMs?: number;
}

export interface SstEncoderPoolStats {
  readonly workers: number;
  readonly busy: number;
  readonly queued: number;
  readonly completed: number;
  readonly failed: number;
  /** Workers started so far, including replacements of workers that died. */
  readonly workersStarted: number;
}

interface Job {
  readonly id: number;
  readonly columns: readonly ArrowColumnBuffers[];
  readonly settings: ParquetEncodeSettings;
  readonly resolve: (result: ParquetEncodeResult) => void;
  readonly reject: (error: unknown) => void;
}

interface Slot {
  readonly worker: Worker;
  job: Job | undefined;
  idleTimer: NodeJS.Timeout | undefined;
}

/**
 * The compiled worker script next to this module. When this module runs from its TypeScript source
 * (tests), the worker still has to be JavaScript, so it is taken from the build output under dist/.
 */
export function defaultEncoderWorkerUrl(): URL {
  const here = import.meta.url;
  return here.endsWith(".ts")
    ? new URL("../../dist/src/sst/encoder-worker.js", here)
    : new URL("./encoder-worker.js", here);
}

export class SstEncoderPool {
  readonly size: number;
  readonly maxQueuedJobs: number;
  readonly #workerUrl: URL;
  readonly #idleTimeoutMs: number | undefined;
  readonly #slots: Slot[] = [];
  readonly #queue: Job[] = [];
  #nextId = 1;
  #closed = false;
  #completed = 0;
  #failed = 0;
  #started = 0;

  constructor(options: SstEncoderPoolOptions = {}) {
    this.size = options.workers ?? 1;
    this.maxQueuedJobs = options.maxQueuedJobs ?? 4;
    if (!Number.isInteger(this.size) || this.size < 1)
      throw new RangeError(`workers must be >= 1, got ${this.size}`);
    if (!Number.isInteger(this.maxQueuedJobs) || this.maxQueuedJobs < 0) {
      throw new RangeError(`maxQueuedJobs must be >= 0, got ${this.maxQueuedJobs}`);
    }
    this.#workerUrl = options.workerUrl ?? defaultEncoderWorkerUrl();
    this.#idleTimeoutMs = options.idleTimeoutMs;
  }

  /**
   * Encodes in a worker. Takes ownership of the columns' buffers: they are transferred (detached
   * here). Borrowed arrays and views into larger buffers are copied first (see ownColumn); callers
   * that want to spread that copying out apply ownColumn themselves.
   */
  encode(
    columns: readonly ArrowColumnBuffers[],
    settings: ParquetEncodeSettings,
  ): Promise<ParquetEncodeResult> {
    if (this.#closed) return Promise.reject(new SstEncoderClosedError());
    const workerFree = this.#slots.some((s) => s.job === undefined) || this.#slots.length < this.size;
    if (!workerFree && this.#queue.length >= this.maxQueuedJobs) {
      return Promise.reject(new SstEncoderQueueFullError(this.maxQueuedJobs));
    }
    const owned = columns.map(ownColumn);
    return new Promise<ParquetEncodeResult>((resolve, reject) => {
      this.#queue.push({ id: this.#nextId++, columns: owned, settings, resolve, reject });
      this.#dispatch();
    });
  }

  stats(): SstEncoderPoolStats {
    return {
      workers: this.#slots.length,
      busy: this.#slots.filter((s) => s.job !== undefined).length,
      queued: this.#queue.length,
      completed: this.#completed,
      failed: this.#failed,
      workersStarted: this.#started,
    };
  }

  /** Rejects waiting and running jobs with SstEncoderClosedError and stops the workers. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const job of this.#queue.splice(0)) job.reject(new SstEncoderClosedError());
    const slots = this.#slots.splice(0);
    for (const slot of slots) {
      clearTimeout(slot.idleTimer);
      slot.job?.reject(new SstEncoderClosedError());
      slot.job = undefined;
    }
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      let slot = this.#slots.find((s) => s.job === undefined);
      if (slot === undefined && this.#slots.length < this.size) slot = this.#spawn();
      if (slot === undefined) return;
      const job = this.#queue.shift() as Job;
      clearTimeout(slot.idleTimer);
      slot.idleTimer = undefined;
      slot.job = job;
      slot.worker.ref();
      const request: EncoderRequest = { id: job.id, columns: job.columns, settings: job.settings };
      try {
        slot.worker.postMessage(request, transferListOf(job.columns));
      } catch (error) {
        slot.job = undefined;
        slot.worker.unref();
        this.#failed++;
        job.reject(new SstEncodeError("cannot send the job to the encoder worker", { cause: error }));
      }
    }
  }

  #spawn(): Slot {
    const worker = new Worker(this.#workerUrl);
    const slot: Slot = { worker, job: undefined, idleTimer: undefined };
    this.#started++;
    worker.on("message", (reply: EncoderReply) => this.#onReply(slot, reply));
    worker.on("error", (error) => this.#retire(slot, error));
    worker.on("messageerror", (error) => this.#retire(slot, error));
    worker.on("exit", (code) => this.#retire(slot, new Error(`encoder worker exited with code ${code}`)));
    // An idle worker must not keep the process alive; a busy one does (see #dispatch).
    worker.unref();
    this.#slots.push(slot);
    return slot;
  }

  #onReply(slot: Slot, reply: EncoderReply): void {
    const job = slot.job;
    slot.job = undefined;
    slot.worker.unref();
    if (job !== undefined && job.id === reply.id) {
      if (reply.ok) {
        this.#completed++;
        job.resolve({ bytes: reply.bytes, crc32c: reply.crc32c });
      } else {
        this.#failed++;
        const what = reply.error.trap ? "parquet-wasm trapped" : reply.error.name;
        job.reject(new SstEncodeError(`${what}: ${reply.error.message}`));
      }
    }
    this.#dispatch();
    if (slot.job === undefined && this.#idleTimeoutMs !== undefined) {
      slot.idleTimer = setTimeout(() => this.#stopIdle(slot), this.#idleTimeoutMs);
      slot.idleTimer.unref();
    }
  }

  #stopIdle(slot: Slot): void {
    const i = this.#slots.indexOf(slot);
    if (i < 0 || slot.job !== undefined) return;
    this.#slots.splice(i, 1);
    void slot.worker.terminate();
  }

  /** A worker died: fail its job, forget it, and let the next job start a replacement. */
  #retire(slot: Slot, cause: unknown): void {
    const i = this.#slots.indexOf(slot);
    if (i < 0) return;
    this.#slots.splice(i, 1);
    const job = slot.job;
    slot.job = undefined;
    clearTimeout(slot.idleTimer);
    void slot.worker.terminate();
    if (job !== undefined) {
      this.#failed++;
      job.reject(new SstEncodeError("encoder worker failed", { cause }));
    }
    this.#dispatch();
  }
}
