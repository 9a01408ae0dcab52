export { CompactionError, type CompactionErrorKind } from "./errors.js";
export {
  DEFAULT_EXECUTOR_OPTIONS,
  runCompactionJob,
  splitByTime,
  type CompactionContext,
  type CompactionExecutorOptions,
  type CompactionJobResult,
} from "./executor.js";
export { SstFileReferences, type SstFileReferencesOptions } from "./file-references.js";
export { estimateJobMemory } from "./memory.js";
export { mergeSortedInputs, type MergeInput } from "./merge.js";
export { DEFAULT_COMPACTION_OPTIONS, resolveCompactionOptions, type CompactionOptions } from "./options.js";
export { removeOrphanSsts } from "./orphans.js";
export {
  checkPickerOptions,
  DEFAULT_PICKER_OPTIONS,
  findSequenceConflict,
  groupByWindow,
  pickCompaction,
  sizeTier,
  windowOf,
  type CompactionJob,
  type CompactionPickerOptions,
  type PickerTable,
} from "./picker.js";
export { CompactionScheduler, type CompactionSchedulerInit, type CompactionStats } from "./scheduler.js";
export { expiredBefore } from "./ttl.js";
