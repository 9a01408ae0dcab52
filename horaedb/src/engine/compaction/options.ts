import { DEFAULT_EXECUTOR_OPTIONS, type CompactionExecutorOptions } from "./executor.js";
import { checkPickerOptions, DEFAULT_PICKER_OPTIONS, type CompactionPickerOptions } from "./picker.js";

/** Every compaction setting of an engine. */
export interface CompactionOptions extends CompactionPickerOptions, CompactionExecutorOptions {
  /** How often every table is checked for work (default 30 s); tables are also checked after a flush. */
  readonly intervalMs: number;
  /** Jobs running at once across the instance (default 1: this engine targets small machines). */
  readonly maxConcurrentJobs: number;
  /** No background compaction while set (default false); `compact()` still runs on request. */
  readonly paused: boolean;
  /**
   * Memory the jobs running at once may hold, by their estimates (`estimateJobMemory`), in bytes
   * (default 1 GiB). A job waits until it fits beside the running ones; a job larger than the whole
   * budget is replaced by a smaller one, or refused when no smaller one exists.
   */
  readonly memoryBudgetBytes: number;
}

export const DEFAULT_COMPACTION_OPTIONS: CompactionOptions = Object.freeze({
  ...DEFAULT_PICKER_OPTIONS,
  ...DEFAULT_EXECUTOR_OPTIONS,
  intervalMs: 30_000,
  maxConcurrentJobs: 1,
  paused: false,
  memoryBudgetBytes: 1024 * 1024 * 1024,
});

/** Fills in defaults and checks every value; throws RangeError naming a bad one. */
export function resolveCompactionOptions(partial: Partial<CompactionOptions> = {}): CompactionOptions {
  const options: CompactionOptions = Object.freeze({ ...DEFAULT_COMPACTION_OPTIONS, ...partial });
  checkPickerOptions(options);
  for (const name of ["intervalMs", "maxConcurrentJobs", "memoryBudgetBytes"] as const) {
    const value = options[name];
    if (!Number.isSafeInteger(value) || value < 1)
      throw new RangeError(`compaction option ${name} must be a positive integer, got ${value}`);
  }
  return options;
}
