/**
 * Choosing what to compact: time windows, size tiers, and the sequence rule that keeps a
 * compaction from changing which row of a primary key a read returns.
 *
 * ## The sequence rule
 *
 * Reads deduplicate rows of SSTs whose time ranges overlap by file: on equal primary key, the row of
 * the file with the higher `maxSequence` wins (`TableScan`). This is right because, for any key held
 * by two files, the file with the higher `maxSequence` holds the newer row: flushes write memtables
 * in sequence order, so every flush's rows are newer than every earlier flush's.
 *
 * A compaction output holds the newest row of each key among its inputs and carries the largest
 * `maxSequence` of its inputs. Take a file F that is not an input but overlaps an input in time.
 * If F's `maxSequence` lies between the smallest and the largest `maxSequence` of the inputs, F is
 * newer than some input and older than another; after the merge the output's `maxSequence` beats
 * F, so a key F shares with the older input would now read the older input's row: a lost update.
 *
 * So: **no file outside the inputs that overlaps any input in time may have a `maxSequence` in
 * [min, max] of the inputs' `maxSequence`s** (ties count as inside). Equivalently, the inputs are a
 * run that is contiguous in `maxSequence` order among the files that overlap them. Every file F
 * sharing a key with the output overlaps the input that held the key, so F stays either newer than
 * all inputs (and beats the output, as it beat them) or older than all (and loses, as it did).
 * The rule also keeps the premise true for the next compaction. Rows in memtables are newer than
 * every SST, and a flush running meanwhile adds files newer than every input, so neither matters.
 * `findSequenceConflict` checks the rule; the picker only returns input sets that pass it.
 *
 * ## Windows and tiers
 *
 * Files are grouped by time window: `floor(timeRange.min / segmentDurationMs)` (a file spanning
 * several windows, possible after `segment_duration` changed, goes with the window of its
 * minimum). Within a window, files are grouped into size tiers: every file below `smallFileBytes`
 * is tier 0, larger ones go to tiers that are each `sizeRatio` times wider than the one before, so
 * files of one tier are within that factor of each other. A tier with at least `minFilesPerJob`
 * files yields a job of up to `maxFilesPerJob` files and at most `maxInputBytes` / `maxInputRows`.
 * A job must reduce the number of files (its rows fit in fewer files of `maxOutputFileRows` than it
 * reads), so compaction always ends. Whole files past the TTL come first, as a job that only
 * removes them.
 */
import type { SstFileEntry } from "../../manifest/index.js";

export interface CompactionPickerOptions {
  /** A tier needs at least this many files for a job (default 4). */
  readonly minFilesPerJob: number;
  /** At most this many inputs per job (default 16). */
  readonly maxFilesPerJob: number;
  /** Files below this size (bytes) all count as one tier (default 8 MiB). */
  readonly smallFileBytes: number;
  /** Each tier above the small one spans this factor of sizes (default 4). */
  readonly sizeRatio: number;
  /** Sum of input file sizes per job (default 256 MiB). */
  readonly maxInputBytes: number;
  /** Sum of input rows per job; bounds the job's memory (default 1,000,000). */
  readonly maxInputRows: number;
  /** Rows per output file (default 1,000,000): a job must write fewer files than it reads. */
  readonly maxOutputFileRows: number;
}

export const DEFAULT_PICKER_OPTIONS: CompactionPickerOptions = Object.freeze({
  minFilesPerJob: 4,
  maxFilesPerJob: 16,
  smallFileBytes: 8 * 1024 * 1024,
  sizeRatio: 4,
  maxInputBytes: 256 * 1024 * 1024,
  maxInputRows: 1_000_000,
  maxOutputFileRows: 1_000_000,
});

/** What one compaction job does to a table. */
export type CompactionJob =
  /** Removes files whose every row is past the TTL, without reading them. */
  | { readonly kind: "expire"; readonly inputs: readonly SstFileEntry[] }
  /** Merges files of one time window into one (or a few) files; inputs in maxSequence order. */
  | { readonly kind: "merge"; readonly window: number; readonly inputs: readonly SstFileEntry[] };

export interface PickerTable {
  /** The table's SSTs as the manifest lists them now. */
  readonly ssts: readonly SstFileEntry[];
  readonly segmentDurationMs: number;
  /** TTL cutoff (see `expiredBefore`); undefined when the table keeps rows forever. */
  readonly expiredBefore: number | undefined;
}

/** Checks options; throws RangeError naming the bad one. */
export function checkPickerOptions(options: CompactionPickerOptions): void {
  const positiveInt = (name: keyof CompactionPickerOptions, min: number) => {
    const value = options[name];
    if (!Number.isSafeInteger(value) || value < min)
      throw new RangeError(`compaction option ${name} must be an integer >= ${min}, got ${value}`);
  };
  positiveInt("minFilesPerJob", 2);
  positiveInt("maxFilesPerJob", 2);
  positiveInt("smallFileBytes", 1);
  positiveInt("maxInputBytes", 1);
  positiveInt("maxInputRows", 1);
  positiveInt("maxOutputFileRows", 1);
  if (options.maxFilesPerJob < options.minFilesPerJob) {
    throw new RangeError(
      `compaction option maxFilesPerJob (${options.maxFilesPerJob}) is below minFilesPerJob (${options.minFilesPerJob})`,
    );
  }
  if (!(options.sizeRatio > 1)) {
    throw new RangeError(`compaction option sizeRatio must be above 1, got ${options.sizeRatio}`);
  }
}

/**
 * The next job for a table, or undefined when there is nothing to do. Expired files first; then the
 * window with the most files that has a tier ready for compaction (the oldest window on a tie).
 */
export function pickCompaction(
  table: PickerTable,
  options: CompactionPickerOptions = DEFAULT_PICKER_OPTIONS,
): CompactionJob | undefined {
  const cutoff = table.expiredBefore;
  if (cutoff !== undefined) {
    const expired = table.ssts.filter((f) => f.timeRange.max < cutoff);
    if (expired.length > 0) return { kind: "expire", inputs: bySequence(expired) };
  }
  const windows = [...groupByWindow(table.ssts, table.segmentDurationMs)]
    .filter(([, files]) => files.length >= options.minFilesPerJob)
    .sort(([wa, a], [wb, b]) => b.length - a.length || wa - wb);
  for (const [window, files] of windows) {
    const inputs = pickInWindow(files, table.ssts, options);
    if (inputs !== undefined) return { kind: "merge", window, inputs };
  }
  return undefined;
}

/** The window of a file: the one holding its smallest timestamp. */
export function windowOf(file: SstFileEntry, segmentDurationMs: number): number {
  return Math.floor(file.timeRange.min / segmentDurationMs);
}

/** Files by window index. */
export function groupByWindow(
  files: readonly SstFileEntry[],
  segmentDurationMs: number,
): Map<number, SstFileEntry[]> {
  const windows = new Map<number, SstFileEntry[]>();
  for (const file of files) {
    const w = windowOf(file, segmentDurationMs);
    const list = windows.get(w);
    if (list === undefined) windows.set(w, [file]);
    else list.push(file);
  }
  return windows;
}

/** Tier of a file size: 0 below `smallFileBytes`, then one tier per factor of `sizeRatio`. */
export function sizeTier(
  size: number,
  options: Pick<CompactionPickerOptions, "smallFileBytes" | "sizeRatio">,
): number {
  if (size < options.smallFileBytes) return 0;
  return 1 + Math.floor(Math.log(size / options.smallFileBytes) / Math.log(options.sizeRatio));
}

/**
 * A file that makes `inputs` unsafe to merge under the sequence rule (see the top of this module),
 * or undefined when they are safe: a file of `all` that is not an input, overlaps an input in time,
 * and has a maxSequence within [min, max] of the inputs' maxSequences.
 */
export function findSequenceConflict(
  inputs: readonly SstFileEntry[],
  all: readonly SstFileEntry[],
): SstFileEntry | undefined {
  if (inputs.length === 0) return undefined;
  let low = Infinity;
  let high = -Infinity;
  const ids = new Set<number>();
  for (const f of inputs) {
    low = Math.min(low, f.maxSequence);
    high = Math.max(high, f.maxSequence);
    ids.add(f.fileId);
  }
  for (const other of all) {
    if (ids.has(other.fileId) || other.maxSequence < low || other.maxSequence > high) continue;
    if (inputs.some((f) => overlaps(f, other))) return other;
  }
  return undefined;
}

/**
 * Inputs for a job in one window: the first tier (smallest files first) where a set of at least
 * `minFilesPerJob` files passes the sequence rule and the job limits. Within a tier, files are
 * taken oldest first (by maxSequence); a file that would break the rule or a limit is skipped.
 */
function pickInWindow(
  files: readonly SstFileEntry[],
  all: readonly SstFileEntry[],
  options: CompactionPickerOptions,
): SstFileEntry[] | undefined {
  const tiers = new Map<number, SstFileEntry[]>();
  for (const file of files) {
    const tier = sizeTier(file.size, options);
    const list = tiers.get(tier);
    if (list === undefined) tiers.set(tier, [file]);
    else list.push(file);
  }
  for (const tier of [...tiers.keys()].sort((a, b) => a - b)) {
    const candidates = bySequence(tiers.get(tier) ?? []);
    if (candidates.length < options.minFilesPerJob) continue;
    for (let start = 0; start + options.minFilesPerJob <= candidates.length; start++) {
      const picked = growFrom(candidates, start, all, options);
      if (picked.length >= options.minFilesPerJob) return picked;
    }
  }
  return undefined;
}

function growFrom(
  candidates: readonly SstFileEntry[],
  start: number,
  all: readonly SstFileEntry[],
  options: CompactionPickerOptions,
): SstFileEntry[] {
  const picked: SstFileEntry[] = [];
  let bytes = 0;
  let rows = 0;
  for (let i = start; i < candidates.length && picked.length < options.maxFilesPerJob; i++) {
    const file = candidates[i] as SstFileEntry;
    if (bytes + file.size > options.maxInputBytes || rows + file.rowCount > options.maxInputRows) continue;
    if (findSequenceConflict([...picked, file], all) !== undefined) continue;
    picked.push(file);
    bytes += file.size;
    rows += file.rowCount;
  }
  // At most this many outputs: a job that would not write fewer files than it reads is no job.
  const outputs = Math.ceil(rows / options.maxOutputFileRows);
  return outputs < picked.length ? picked : [];
}

function overlaps(a: SstFileEntry, b: SstFileEntry): boolean {
  return a.timeRange.min <= b.timeRange.max && b.timeRange.min <= a.timeRange.max;
}

/** Oldest first: by maxSequence, then file id. */
function bySequence(files: readonly SstFileEntry[]): SstFileEntry[] {
  return [...files].sort((a, b) => a.maxSequence - b.maxSequence || a.fileId - b.fileId);
}
