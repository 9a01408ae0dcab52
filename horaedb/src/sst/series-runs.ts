/**
 * Series runs of a row group. With the default primary key (tsid, timestamp) an SST row group is
 * sorted by tsid, then timestamp: each series is one contiguous run of rows and its timestamps
 * ascend. A scan can then decide a tag filter once per run (the tag columns hold the series' values
 * in every row of it) and find a time range inside a run by binary search, instead of testing each
 * row; what it keeps are whole row ranges, emitted as views rather than copies.
 *
 * The sort order is checked, not assumed: a row group whose rows are not in that order has no runs
 * and is read row by row.
 */
import type { Column } from "../batch/column.js";
import type { ValueComparison } from "../batch/row-predicate.js";
import type { TimeRange } from "../memtable/snapshot.js";
import type { TagFilter } from "./pruning.js";

/** The runs of one row group; computed once and cached with its decoded columns. */
export class SeriesRuns {
  /** Number of runs. */
  readonly count: number;
  /** Run i holds rows [starts[i], starts[i + 1]); `starts[count]` is the row count. */
  readonly starts: Uint32Array;
  /** Per column name: whether the column holds one value (or null) throughout each run. */
  readonly #uniform = new Map<string, boolean>();
  /** Values derived from the runs by callers (such as series keys), by name. */
  readonly #derived = new Map<string, unknown>();

  constructor(starts: Uint32Array) {
    this.starts = starts;
    this.count = starts.length - 1;
  }

  get numRows(): number {
    return this.starts[this.count] as number;
  }

  /**
   * Approximate heap bytes, for the cache's accounting. Derived values are not counted: a few
   * bytes per run each (such as 16 per run for a column's value bounds).
   */
  get byteSize(): number {
    return this.starts.byteLength + 64 + 32 * this.#uniform.size;
  }

  /**
   * A value computed from this row group once and kept with its runs, such as one key per run.
   * `name` must identify the computation and its inputs (the row group's columns are fixed).
   */
  derived<T>(name: string, compute: () => T): T {
    if (this.#derived.has(name)) return this.#derived.get(name) as T;
    const value = compute();
    this.#derived.set(name, value);
    return value;
  }

  /**
   * True when `column` (the row group's column `name`) holds the same value, or null, in every row
   * of each run. Tag columns do, by the definition of the tsid, unless two series share a tsid;
   * checked once per column and remembered.
   */
  isUniform(name: string, column: Column): boolean {
    let uniform = this.#uniform.get(name);
    if (uniform === undefined) {
      uniform = computeUniform(this.starts, this.count, column);
      this.#uniform.set(name, uniform);
    }
    return uniform;
  }
}

function computeUniform(starts: Uint32Array, count: number, column: Column): boolean {
  const values = column.values as ArrayLike<unknown>;
  const { validity } = column;
  for (let run = 0; run < count; run++) {
    const first = starts[run] as number;
    const end = starts[run + 1] as number;
    const value = values[first];
    const valid = validity === null ? 1 : validity[first];
    for (let r = first + 1; r < end; r++) {
      if (values[r] !== value) return false;
      if (validity !== null && validity[r] !== valid) return false;
    }
  }
  return true;
}

/**
 * The runs of a row group from its tsid (uint64) and timestamp columns, or undefined when the rows
 * are not sorted by (tsid, timestamp): tsids must ascend from run to run and timestamps must not
 * descend inside a run (equal ones occur in APPEND tables).
 */
export function computeSeriesRuns(tsid: Column, timestamps: Column, numRows: number): SeriesRuns | undefined {
  if (tsid.validity !== null || timestamps.validity !== null) return undefined;
  const ids = tsid.values;
  const ts = timestamps.values;
  if (!(ids instanceof BigUint64Array || ids instanceof BigInt64Array) || !(ts instanceof Float64Array))
    return undefined;
  if (ids.length < numRows || ts.length < numRows) return undefined;
  // Compared as 32-bit words (little-endian: low word first): no BigInt per row.
  const words = new Uint32Array(ids.buffer, ids.byteOffset, numRows * 2);
  const starts: number[] = [];
  if (numRows > 0) starts.push(0);
  for (let r = 1; r < numRows; r++) {
    const lo = words[2 * r] as number;
    const hi = words[2 * r + 1] as number;
    const prevLo = words[2 * r - 2] as number;
    const prevHi = words[2 * r - 1] as number;
    if (lo === prevLo && hi === prevHi) {
      // Written so that a NaN timestamp also fails: runs promise ordered, comparable times.
      if (!((ts[r] as number) >= (ts[r - 1] as number))) return undefined;
      continue;
    }
    // A new run: its tsid must be above the previous one (unsigned), or the order is not ours.
    if (hi < prevHi || (hi === prevHi && lo < prevLo)) return undefined;
    starts.push(r);
  }
  starts.push(numRows);
  return new SeriesRuns(Uint32Array.from(starts));
}

/** First row in [from, to) whose timestamp is >= `value` (timestamps ascending there). */
export function lowerBound(ts: Float64Array, from: number, to: number, value: number): number {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((ts[mid] as number) < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Rows [lo, hi) of run `run` inside the time range (all of the run without one). */
export function runRowsInRange(
  runs: SeriesRuns,
  run: number,
  ts: Float64Array,
  timeRange: TimeRange | undefined,
): [number, number] {
  const start = runs.starts[run] as number;
  const end = runs.starts[run + 1] as number;
  if (timeRange === undefined) return [start, end];
  const first = ts[start] as number;
  const last = ts[end - 1] as number;
  const lo = first >= timeRange.start ? start : lowerBound(ts, start, end, timeRange.start);
  const hi = last < timeRange.end ? end : lowerBound(ts, lo, end, timeRange.end);
  return [lo, hi];
}

/** A tag filter resolved against the columns of one row group. */
export interface RunTagCheck {
  readonly column: Column;
  readonly allowed: ReadonlySet<string>;
  /** The allowed values as the filter lists them. */
  readonly values: readonly string[];
  /** The key of the column's runs in value order among the runs' derived values. */
  readonly orderKey: string;
}

/**
 * The checks of a scan without a tag filter. Not frozen: a frozen array has a map of its own, which
 * the optimized code of the loops over checks would then have to handle too.
 */
const NO_CHECKS: readonly RunTagCheck[] = [];

/**
 * The allowed values of one condition of a tag filter as a set, made once per condition: a scan
 * resolves its filter against every row group it reads.
 */
const allowedSets = new WeakMap<readonly string[], ReadonlySet<string>>();

function allowedSet(values: readonly string[]): ReadonlySet<string> {
  let set = allowedSets.get(values);
  if (set === undefined) {
    set = new Set(values);
    allowedSets.set(values, set);
  }
  return set;
}

/** `runsInValueOrder`'s derived-value key per column name, made once per name. */
const orderKeys = new Map<string, string>();

function orderKeyOf(name: string): string {
  let key = orderKeys.get(name);
  if (key === undefined) {
    key = `runs in value order\u0000${name}`;
    orderKeys.set(name, key);
  }
  return key;
}

/**
 * The tag filter's columns as checks on `columnOf(name)`, or undefined when some filtered column is
 * not uniform within runs (the caller then filters row by row).
 */
export function runTagChecks(
  runs: SeriesRuns,
  tagFilter: TagFilter | undefined,
  columnOf: (name: string) => Column,
): readonly RunTagCheck[] | undefined {
  if (tagFilter === undefined) return NO_CHECKS;
  const checks: RunTagCheck[] = [];
  for (const [name, values] of Object.entries(tagFilter)) {
    const column = columnOf(name);
    if (!runs.isUniform(name, column)) return undefined;
    checks.push({ column, allowed: allowedSet(values), values, orderKey: orderKeyOf(name) });
  }
  return checks;
}

/** Whether the run starting at row `first` passes every tag check (null never matches). */
export function runMatchesTags(checks: readonly RunTagCheck[], first: number): boolean {
  for (const { column, allowed } of checks) {
    if (column.validity !== null && column.validity[first] !== 1) return false;
    if (!allowed.has((column.values as string[])[first] as string)) return false;
  }
  return true;
}

/**
 * Runs per allowed value above which a check is tested on every run rather than looked up: a
 * lookup is a binary search per value, a test a set lookup per run (each a string of its own, so
 * a cache miss when the row group's columns have gone cold).
 */
const RUNS_PER_LOOKUP = 8;

/**
 * The runs that may pass `checks`, ascending: those found through the most selective check's
 * values (see `runsInValueOrder`), or every run when there is no check or each allows too many
 * values for a lookup to pay. Each run returned must still be tested against `checks`.
 */
export function candidateRuns(runs: SeriesRuns, checks: readonly RunTagCheck[]): ArrayLike<number> {
  let best: RunTagCheck | undefined;
  for (const check of checks) {
    if (best === undefined || check.allowed.size < best.allowed.size) best = check;
  }
  if (best === undefined || best.allowed.size * RUNS_PER_LOOKUP > runs.count) return everyRun(runs);
  const order = runsInValueOrder(runs, best);
  const values = best.column.values as readonly string[];
  const starts = runs.starts;
  const found: number[] = [];
  for (const value of best.values) {
    let lo = 0;
    let hi = order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((values[starts[order[mid] as number] as number] as string) < value) lo = mid + 1;
      else hi = mid;
    }
    for (; lo < order.length; lo++) {
      const run = order[lo] as number;
      if (values[starts[run] as number] !== value) break;
      found.push(run);
    }
  }
  // One value's runs come ascending; several values' runs are interleaved (or repeated, when the
  // filter lists a value twice).
  if (best.values.length > 1) return [...new Set(found)].sort((a, b) => a - b);
  return found;
}

/** Every run of the row group, ascending; kept with the runs (4 bytes per run). */
function everyRun(runs: SeriesRuns): Uint32Array {
  return runs.derived("every run", () => Uint32Array.from({ length: runs.count }, (_, run) => run));
}

/**
 * The runs in the order of their value of the check's tag column (uniform in runs, so its value at
 * a run's first row), equal values by run, runs where it is null left out. Computed once per row
 * group and column and kept with the runs (4 bytes per run).
 */
function runsInValueOrder(runs: SeriesRuns, check: RunTagCheck): Uint32Array {
  return runs.derived(check.orderKey, () => {
    const values = check.column.values as readonly string[];
    const { validity } = check.column;
    const starts = runs.starts;
    const kept: number[] = [];
    for (let run = 0; run < runs.count; run++) {
      if (validity === null || validity[starts[run] as number] === 1) kept.push(run);
    }
    kept.sort((a, b) => {
      const x = values[starts[a] as number] as string;
      const y = values[starts[b] as number] as string;
      return x < y ? -1 : x > y ? 1 : a - b;
    });
    return Uint32Array.from(kept);
  });
}

/**
 * The row ranges of the row group inside the time range whose runs pass the tag checks (and
 * `mayPass`, when given), as [start, end) pairs in row order, adjacent ranges joined.
 */
export function matchingRanges(
  runs: SeriesRuns,
  ts: Float64Array,
  timeRange: TimeRange | undefined,
  checks: readonly RunTagCheck[],
  mayPass?: (run: number) => boolean,
): number[] {
  const ranges: number[] = [];
  const candidates = candidateRuns(runs, checks);
  for (let i = 0; i < candidates.length; i++) {
    const run = candidates[i] as number;
    if (checks.length > 0 && !runMatchesTags(checks, runs.starts[run] as number)) continue;
    const [lo, hi] = runRowsInRange(runs, run, ts, timeRange);
    if (lo >= hi) continue;
    if (mayPass !== undefined && !mayPass(run)) continue;
    const last = ranges.length - 1;
    if (last > 0 && ranges[last] === lo) ranges[last] = hi;
    else ranges.push(lo, hi);
  }
  return ranges;
}

/**
 * Per run, the least and greatest number a column holds, leaving out nulls and NaN (a run with
 * none has min +Infinity and max -Infinity).
 */
export interface RunBounds {
  readonly min: Float64Array;
  readonly max: Float64Array;
}

/**
 * A test of whether a run may hold a row meeting every comparison, from the runs' value bounds
 * (computed per column once, and kept with the runs); undefined when a compared column does not
 * hold numbers. A run it rejects has no such row; one it accepts may still have none.
 */
export function runsMayPass(
  runs: SeriesRuns,
  comparisons: readonly ValueComparison[],
  columnOf: (name: string) => Column,
): ((run: number) => boolean) | undefined {
  const tests: Array<{ bounds: RunBounds; op: ValueComparison["op"]; value: number }> = [];
  for (const { column: name, op, value } of comparisons) {
    const column = columnOf(name);
    const values = column.values;
    if (!(values instanceof Float64Array || values instanceof Float32Array || values instanceof Int32Array))
      return undefined;
    const bounds = runs.derived(`bounds:${name}`, () =>
      valueBounds(runs.starts, undefined, values, column.validity),
    );
    tests.push({ bounds, op, value });
  }
  if (tests.length === 0) return undefined;
  return (run) => tests.every(({ bounds, op, value }) => boundsMayMeet(bounds, run, op, value));
}

/**
 * The bounds of each of `starts.length - 1` runs of rows: run i holds positions [starts[i],
 * starts[i + 1]), which are rows themselves or, with `order`, the rows `order[position]`.
 */
export function valueBounds(
  starts: Uint32Array,
  order: Uint32Array | undefined,
  values: Float64Array | Float32Array | Int32Array,
  validity: Uint8Array | null,
): RunBounds {
  const count = starts.length - 1;
  const min = new Float64Array(count);
  const max = new Float64Array(count);
  for (let run = 0; run < count; run++) {
    let lo = Infinity;
    let hi = -Infinity;
    for (let p = starts[run] as number; p < (starts[run + 1] as number); p++) {
      const r = order === undefined ? p : (order[p] as number);
      if (validity !== null && validity[r] !== 1) continue;
      const v = values[r] as number;
      // NaN fails both tests, and no comparison but != holds for it.
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    min[run] = lo;
    max[run] = hi;
  }
  return { min, max };
}

/**
 * Whether some value in [min, max] of the run meets `op value`. Written so that a NaN `value`,
 * which no value meets, and an empty run (min > max) both give false where they must.
 */
export function boundsMayMeet(
  bounds: RunBounds,
  run: number,
  op: ValueComparison["op"],
  value: number,
): boolean {
  const min = bounds.min[run] as number;
  const max = bounds.max[run] as number;
  switch (op) {
    case "=":
      return min <= value && value <= max;
    case "<":
      return min < value;
    case "<=":
      return min <= value;
    case ">":
      return max > value;
    case ">=":
      return max >= value;
  }
}
