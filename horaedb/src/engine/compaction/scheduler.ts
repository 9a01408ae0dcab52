import type { Logger } from "pino";
import type { Table } from "../table.js";
import { CompactionError } from "./errors.js";
import { runCompactionJob, type CompactionContext, type CompactionJobResult } from "./executor.js";
import { estimateJobMemory } from "./memory.js";
import type { CompactionOptions } from "./options.js";
import { pickCompaction, type CompactionJob } from "./picker.js";
import { expiredBefore } from "./ttl.js";

export interface CompactionSchedulerInit {
  readonly options: CompactionOptions;
  /** The tables open now. */
  readonly tables: () => Iterable<Table>;
  /** How jobs read, write and retire files (the scheduler adds its options and abort signal). */
  readonly context: Omit<CompactionContext, "options" | "signal">;
  readonly logger: Logger;
}

/** Counters since the engine opened, for metrics. */
export interface CompactionStats {
  /** Jobs that committed, by kind. */
  readonly mergeJobs: number;
  readonly expireJobs: number;
  /** Jobs that failed (each is retried by a later check). */
  readonly failedJobs: number;
  /** Jobs running now. */
  readonly running: number;
  readonly filesIn: number;
  readonly filesOut: number;
  readonly rowsIn: number;
  readonly rowsOut: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** Time spent in committed jobs, and the longest one. */
  readonly totalMs: number;
  readonly maxMs: number;
  /** Estimated memory held by the running jobs now (see `estimateJobMemory`), and its budget. */
  readonly memoryInUseBytes: number;
  readonly memoryBudgetBytes: number;
  /** Jobs picked and waiting for memory now. */
  readonly waitingForMemory: number;
}

/** How many times a job too large for the memory budget is picked again with smaller limits. */
const MAX_PICKS_TO_FIT = 8;

type Counters = Omit<CompactionStats, "memoryInUseBytes" | "memoryBudgetBytes" | "waitingForMemory">;
type MutableStats = { -readonly [K in keyof Counters]: Counters[K] };

/**
 * Runs compaction in the background: every table is checked on a timer and after each of its
 * flushes; jobs run at most `maxConcurrentJobs` at a time across the instance and one at a time per
 * table. A job only reads SSTs and commits one manifest edit at its end, so writes and flushes go
 * on while it runs. `compact()` runs the same jobs on request, even while paused.
 *
 * Memory: before a merge starts, its peak memory is estimated and reserved against
 * `memoryBudgetBytes`; a job that does not fit beside the running ones waits (first come, first
 * served) until they release enough. A job larger than the whole budget is never started: the
 * picker is asked again with its row and byte limits scaled down to fit, and if no job fits, the
 * table's compaction fails with CompactionError "too_large".
 */
export class CompactionScheduler {
  readonly #options: CompactionOptions;
  readonly #tables: () => Iterable<Table>;
  readonly #context: Omit<CompactionContext, "options" | "signal">;
  readonly #log: Logger;
  readonly #abort = new AbortController();
  readonly #stats: MutableStats = {
    mergeJobs: 0,
    expireJobs: 0,
    failedJobs: 0,
    running: 0,
    filesIn: 0,
    filesOut: 0,
    rowsIn: 0,
    rowsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    totalMs: 0,
    maxMs: 0,
  };
  /** Per table, the tail of its chain of jobs: one job per table at a time. */
  readonly #tableTails = new Map<number, Promise<unknown>>();
  /** Tables waiting for a background check. */
  readonly #queued = new Set<Table>();
  readonly #drainers = new Set<Promise<void>>();
  readonly #inflight = new Set<Promise<unknown>>();
  #activeJobs = 0;
  readonly #slotWaiters: Array<() => void> = [];
  #memoryInUse = 0;
  readonly #memoryWaiters: Array<{ readonly bytes: number; readonly grant: (granted: boolean) => void }> = [];
  #paused: boolean;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #jobListeners = new Set<(result: CompactionJobResult) => void>();

  constructor(init: CompactionSchedulerInit) {
    this.#options = init.options;
    this.#tables = init.tables;
    this.#context = init.context;
    this.#log = init.logger;
    this.#paused = init.options.paused;
  }

  get options(): CompactionOptions {
    return this.#options;
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** Calls `listener` with each job that committed; returns a function that removes it. */
  onJob(listener: (result: CompactionJobResult) => void): () => void {
    this.#jobListeners.add(listener);
    return () => this.#jobListeners.delete(listener);
  }

  /** Starts the periodic check of every table. */
  start(): void {
    if (this.#closed || this.#timer !== undefined) return;
    this.#timer = setInterval(() => {
      for (const table of this.#tables()) this.requestCompaction(table);
    }, this.#options.intervalMs);
    this.#timer.unref();
  }

  /** Stops or resumes background compaction; a job already running finishes. */
  setPaused(paused: boolean): void {
    this.#paused = paused;
    if (!paused) for (const table of this.#tables()) this.requestCompaction(table);
  }

  /** Checks the table for work in the background (after a flush, or on the timer). */
  requestCompaction(table: Table): void {
    if (this.#closed || this.#paused || table.dropped) return;
    this.#queued.add(table);
    // A drainer takes its first table synchronously, so this starts one per queued table, up to the limit.
    while (this.#drainers.size < this.#options.maxConcurrentJobs && this.#queued.size > 0) {
      const drainer = this.#drain();
      this.#drainers.add(drainer);
      void drainer.finally(() => this.#drainers.delete(drainer));
    }
  }

  /**
   * Runs jobs on the tables until none has anything left to compact; resolves with what was done.
   * A failing job rejects (after the jobs before it committed).
   */
  async compact(tables: Iterable<Table>): Promise<CompactionJobResult[]> {
    const results: CompactionJobResult[] = [];
    for (const table of tables) results.push(...(await this.#compactTable(table, false)));
    return results;
  }

  stats(): CompactionStats {
    return {
      ...this.#stats,
      memoryInUseBytes: this.#memoryInUse,
      memoryBudgetBytes: this.#options.memoryBudgetBytes,
      waitingForMemory: this.#memoryWaiters.length,
    };
  }

  /** Estimated memory held by the running jobs now, in bytes. */
  get memoryInUseBytes(): number {
    return this.#memoryInUse;
  }

  /** Stops the timer, stops running jobs before their commit, and waits for them to end. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#queued.clear();
    this.#abort.abort();
    for (const wake of this.#slotWaiters.splice(0)) wake();
    for (const waiter of this.#memoryWaiters.splice(0)) waiter.grant(false);
    while (this.#drainers.size > 0 || this.#inflight.size > 0) {
      await Promise.allSettled([...this.#drainers, ...this.#inflight]);
    }
  }

  async #drain(): Promise<void> {
    for (;;) {
      const next = this.#queued.values().next();
      if (next.done === true) return;
      const table = next.value;
      this.#queued.delete(table);
      try {
        await this.#compactTable(table, true);
      } catch {
        // Logged and counted where it failed; the next check tries again.
      }
    }
  }

  /** Jobs on one table until the picker finds nothing (or, in the background, until paused). */
  async #compactTable(table: Table, background: boolean): Promise<CompactionJobResult[]> {
    const results: CompactionJobResult[] = [];
    for (;;) {
      if (this.#closed || table.dropped || (background && this.#paused)) return results;
      const result = await this.#runOne(table);
      if (result === undefined) return results;
      results.push(result);
    }
  }

  /** Resolves once no compaction job of the table is queued or running. */
  idle(table: Table): Promise<void> {
    return (this.#tableTails.get(table.identity.id) ?? Promise.resolve()).then(() => undefined);
  }

  /** Picks and runs one job on the table, under its lock and a job slot; undefined if none. */
  #runOne(table: Table): Promise<CompactionJobResult | undefined> {
    const id = table.identity.id;
    const previous = this.#tableTails.get(id) ?? Promise.resolve();
    const run = previous.then(() => this.#withSlot(() => this.#pickAndRun(table)));
    const tail = run.catch(() => undefined);
    this.#tableTails.set(id, tail);
    void tail.then(() => {
      if (this.#tableTails.get(id) === tail) this.#tableTails.delete(id);
    });
    this.#inflight.add(run);
    void run.catch(() => undefined).finally(() => this.#inflight.delete(run));
    return run;
  }

  async #pickAndRun(table: Table): Promise<CompactionJobResult | undefined> {
    if (this.#closed || table.dropped) return undefined;
    let picked;
    try {
      picked = this.#pickWithinBudget(table);
    } catch (error) {
      this.#stats.failedJobs++;
      this.#log.error({ err: error, table: table.qualifiedName }, "compaction refused; it will be retried");
      throw error;
    }
    if (picked === undefined) return undefined;
    const { job, memory } = picked;
    // The table's lock is held while waiting, so the job's inputs stay in the manifest.
    if (!(await this.#reserveMemory(memory))) return undefined;
    this.#stats.running++;
    try {
      const result = await runCompactionJob(table, job, {
        ...this.#context,
        options: this.#options,
        signal: this.#abort.signal,
      });
      this.#record(result);
      this.#log.info(result, "compaction finished");
      return result;
    } catch (error) {
      const aborted = error instanceof CompactionError && error.kind === "aborted";
      if (!aborted) this.#stats.failedJobs++;
      const fields = {
        err: error,
        table: table.qualifiedName,
        kind: job.kind,
        inputs: job.inputs.map((f) => f.fileId),
      };
      if (aborted) this.#log.info(fields, "compaction stopped: the engine is closing");
      else this.#log.error(fields, "compaction failed; it will be retried");
      throw error;
    } finally {
      this.#stats.running--;
      this.#releaseMemory(memory);
    }
  }

  /**
   * The next job of the table and its memory estimate, within the memory budget: a job estimated
   * above it is picked again with its row and byte limits scaled down by the excess, a few times
   * if need be. Throws CompactionError "too_large" when no job of the table fits the budget.
   */
  #pickWithinBudget(table: Table): { job: CompactionJob; memory: number } | undefined {
    const budget = this.#options.memoryBudgetBytes;
    const candidate = {
      ssts: [...table.manifest.state.ssts.values()],
      segmentDurationMs: table.options.segmentDurationMs,
      expiredBefore: expiredBefore(table.options, this.#context.now()),
    };
    const first = pickCompaction(candidate, this.#options);
    if (first === undefined) return undefined;
    const estimateOptions = {
      maxOutputFileRows: this.#options.maxOutputFileRows,
      cacheFillBytes: this.#context.decodedCache?.capacityBytes ?? 0,
    };
    const firstMemory = estimateJobMemory(first, table.schema, estimateOptions);
    let job: CompactionJob | undefined = first;
    for (let attempt = 0; job !== undefined && attempt < MAX_PICKS_TO_FIT; attempt++) {
      const memory: number =
        attempt === 0 ? firstMemory : estimateJobMemory(job, table.schema, estimateOptions);
      if (memory <= budget) {
        if (attempt > 0) {
          this.#log.info(
            { table: table.qualifiedName, estimate: firstMemory, budget, memory, inputs: job.inputs.length },
            "compaction job cut down to fit the memory budget",
          );
        }
        return { job, memory };
      }
      const scale = budget / memory;
      const rows = job.inputs.reduce((sum, f) => sum + f.rowCount, 0);
      const bytes = job.inputs.reduce((sum, f) => sum + f.size, 0);
      job = pickCompaction(candidate, {
        ...this.#options,
        maxInputRows: Math.max(1, Math.floor(rows * scale)),
        maxInputBytes: Math.max(1, Math.floor(bytes * scale)),
      });
    }
    throw new CompactionError(
      "too_large",
      table.qualifiedName,
      first.inputs.map((f) => f.fileId),
      `the job needs about ${firstMemory} bytes of memory, more than the compaction memory budget of ${budget} bytes (memoryBudgetBytes), and no smaller job fits it`,
    );
  }

  /**
   * Holds `bytes` of the budget for a job, waiting in line until they fit beside the running jobs.
   * Resolves false, holding nothing, if the scheduler closes first.
   */
  async #reserveMemory(bytes: number): Promise<boolean> {
    if (this.#closed) return false;
    // A job that only edits the manifest holds no memory and never waits.
    if (bytes === 0) return true;
    if (this.#memoryWaiters.length === 0 && this.#fits(bytes)) {
      this.#memoryInUse += bytes;
      return true;
    }
    // The release that makes room adds the bytes before it wakes the waiter (see #grantMemory).
    return new Promise<boolean>((grant) => this.#memoryWaiters.push({ bytes, grant }));
  }

  #releaseMemory(bytes: number): void {
    this.#memoryInUse -= bytes;
    this.#grantMemory();
  }

  /** Hands memory to the waiting jobs in order, as long as the next one fits. */
  #grantMemory(): void {
    for (;;) {
      const next = this.#memoryWaiters[0];
      if (next === undefined || !this.#fits(next.bytes)) return;
      this.#memoryWaiters.shift();
      this.#memoryInUse += next.bytes;
      next.grant(true);
    }
  }

  /** Whether a job of `bytes` may start now; one running alone always may, so nothing waits forever. */
  #fits(bytes: number): boolean {
    return this.#memoryInUse === 0 || this.#memoryInUse + bytes <= this.#options.memoryBudgetBytes;
  }

  #record(result: CompactionJobResult): void {
    const s = this.#stats;
    if (result.kind === "merge") s.mergeJobs++;
    else s.expireJobs++;
    s.filesIn += result.inputs.length;
    s.filesOut += result.outputs.length;
    s.rowsIn += result.rowsIn;
    s.rowsOut += result.rowsOut;
    s.bytesIn += result.bytesIn;
    s.bytesOut += result.bytesOut;
    s.totalMs += result.ms;
    s.maxMs = Math.max(s.maxMs, result.ms);
    for (const listener of this.#jobListeners) {
      try {
        listener(result);
      } catch (error) {
        this.#log.warn({ err: error }, "compaction listener failed");
      }
    }
  }

  async #withSlot<T>(task: () => Promise<T>): Promise<T | undefined> {
    while (this.#activeJobs >= this.#options.maxConcurrentJobs) {
      if (this.#closed) return undefined;
      await new Promise<void>((resolve) => this.#slotWaiters.push(resolve));
    }
    if (this.#closed) return undefined;
    this.#activeJobs++;
    try {
      return await task();
    } finally {
      this.#activeJobs--;
      this.#slotWaiters.shift()?.();
    }
  }
}
