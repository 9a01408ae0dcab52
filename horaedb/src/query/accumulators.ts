/**
 * Per-group state of the aggregate functions, updated a batch at a time: row i of a batch adds to
 * group `groups[i]`. State lives in typed arrays indexed by group id that grow by doubling.
 * NULL inputs are skipped by every aggregate but count(*).
 *
 * Rows of time-series batches come in long runs of one group (a series' rows within a time
 * bucket), so the common accumulators also take the batch as runs: a run's state is loaded into
 * locals once and its rows folded in a loop without per-row group lookups. Rows are folded in the
 * same order with the same operations either way, so results are identical to the bit.
 */
import { allocateValues, type Column, type ColumnValues } from "../batch/column.js";
import { compareStrings } from "../memtable/key-lanes.js";
import { DataType } from "../table/data-type.js";
import type { AggregateFunctionName } from "./aggregate-functions.js";
import { QueryExecutionError, QueryExecutionErrorCode } from "./errors.js";
import { INT64_MAX, INT64_MIN, isBigIntBacked, isNumberBacked, UINT64_MAX } from "./types.js";
import type { IndexedValues } from "./vectors.js";

/** A batch's rows as runs of one group: rows [ends[r - 1], ends[r]) (from 0) are of groups[r]. */
export interface GroupRuns {
  readonly count: number;
  readonly groups: Int32Array;
  readonly ends: Int32Array;
}

/** Finds the runs of group ids in batches, reusing its arrays from batch to batch. */
export class GroupRunFinder {
  #groups = new Int32Array(0);
  #ends = new Int32Array(0);

  /** The runs of `ids[0..n)`, or undefined when they are shorter than `minAverageRun` on average. */
  find(ids: Int32Array, n: number, minAverageRun: number): GroupRuns | undefined {
    if (n === 0) return undefined;
    const limit = Math.floor(n / minAverageRun);
    if (this.#groups.length < limit + 1) {
      this.#groups = new Int32Array(limit + 1);
      this.#ends = new Int32Array(limit + 1);
    }
    const groups = this.#groups;
    const ends = this.#ends;
    let count = 0;
    let current = ids[0] as number;
    for (let i = 1; i < n; i++) {
      const g = ids[i] as number;
      if (g === current) continue;
      if (count === limit) return undefined;
      groups[count] = current;
      ends[count++] = i;
      current = g;
    }
    groups[count] = current;
    ends[count++] = n;
    return { count, groups, ends };
  }
}

export interface Accumulator {
  /** Makes room for groups [0, numGroups). */
  grow(numGroups: number): void;
  /** Adds row i of the arguments to group `groups[i]`, for i < n. */
  update(groups: Int32Array, args: readonly Column[], n: number): void;
  /** Whether `updateRuns` exists. */
  readonly acceptsRuns: boolean;
  /** The same as `update`, with the batch's rows given as runs of one group. */
  updateRuns?(runs: GroupRuns, args: readonly Column[]): void;
  /** The result of each group [0, numGroups). */
  finish(numGroups: number): Column;
  /** Bytes of state per group. */
  readonly bytesPerGroup: number;
  /** Bytes held besides the per-group state (e.g. DISTINCT sets). */
  extraBytes(): number;
}

const INITIAL_CAPACITY = 16;

function grownCapacity(current: number, wanted: number): number {
  let capacity = Math.max(current, INITIAL_CAPACITY);
  while (capacity < wanted) capacity *= 2;
  return capacity;
}

/** A values array indexed by group id that grows to fit. */
class GroupValues {
  values: ColumnValues;
  constructor(readonly type: DataType) {
    this.values = allocateValues(type, 0);
  }
  grow(numGroups: number): void {
    if (this.values.length >= numGroups) return;
    const next = allocateValues(this.type, grownCapacity(this.values.length, numGroups));
    if (Array.isArray(next)) {
      const src = this.values as unknown[];
      for (let i = 0; i < src.length; i++) (next as unknown[])[i] = src[i];
    } else {
      (next as unknown as { set(a: ArrayLike<unknown>): void }).set(this.values);
    }
    this.values = next;
  }
  /** The first `n` values as their own array. */
  take(n: number): ColumnValues {
    const v = this.values;
    return Array.isArray(v) ? v.slice(0, n) : (v as Float64Array).slice(0, n);
  }
}

/** A Float64Array indexed by group id, grown with `fill` for new slots. */
class GroupNumbers {
  values = new Float64Array(0);
  constructor(readonly fill = 0) {}
  grow(numGroups: number): void {
    if (this.values.length >= numGroups) return;
    const next = new Float64Array(grownCapacity(this.values.length, numGroups));
    if (this.fill !== 0) next.fill(this.fill);
    next.set(this.values);
    this.values = next;
  }
}

/** A byte per group: 1 once the group has seen a non-null value. */
class GroupFlags {
  values = new Uint8Array(0);
  grow(numGroups: number): void {
    if (this.values.length >= numGroups) return;
    const next = new Uint8Array(grownCapacity(this.values.length, numGroups));
    next.set(this.values);
    this.values = next;
  }
  /** The validity of a result: null when every group has a value. */
  validity(numGroups: number): Uint8Array | null {
    const v = this.values.slice(0, numGroups);
    for (let g = 0; g < numGroups; g++) if (v[g] !== 1) return v;
    return null;
  }
}

class CountAccumulator implements Accumulator {
  readonly acceptsRuns = true;
  readonly bytesPerGroup = 8;
  readonly #counts = new GroupNumbers();
  /** count(*) counts rows; count(x) counts non-null x. */
  constructor(readonly countsRows: boolean) {}
  grow(numGroups: number): void {
    this.#counts.grow(numGroups);
  }
  update(groups: Int32Array, args: readonly Column[], n: number): void {
    const counts = this.#counts.values;
    const validity = this.countsRows ? null : (args[0] as Column).validity;
    if (validity === null) {
      for (let i = 0; i < n; i++) {
        const g = groups[i] as number;
        counts[g] = (counts[g] as number) + 1;
      }
    } else {
      for (let i = 0; i < n; i++) {
        if (validity[i] === 0) continue;
        const g = groups[i] as number;
        counts[g] = (counts[g] as number) + 1;
      }
    }
  }
  updateRuns(runs: GroupRuns, args: readonly Column[]): void {
    const counts = this.#counts.values;
    const validity = this.countsRows ? null : (args[0] as Column).validity;
    let start = 0;
    for (let r = 0; r < runs.count; r++) {
      const g = runs.groups[r] as number;
      const end = runs.ends[r] as number;
      let count = end - start;
      if (validity !== null) for (let i = start; i < end; i++) count -= 1 - (validity[i] as number);
      counts[g] = (counts[g] as number) + count;
      start = end;
    }
  }

  finish(numGroups: number): Column {
    const out = new BigInt64Array(numGroups);
    for (let g = 0; g < numGroups; g++) out[g] = BigInt(this.#counts.values[g] as number);
    return { type: DataType.Int64, values: out, validity: null };
  }
  extraBytes(): number {
    return 0;
  }
}

/** count(DISTINCT x): a set of the values seen per group. */
class CountDistinctAccumulator implements Accumulator {
  readonly acceptsRuns = false;
  readonly bytesPerGroup = 64;
  #sets: Set<unknown>[] = [];
  #bytes = 0;
  grow(numGroups: number): void {
    while (this.#sets.length < numGroups) this.#sets.push(new Set());
  }
  update(groups: Int32Array, args: readonly Column[], n: number): void {
    const column = args[0] as Column;
    const values = column.values as IndexedValues;
    const { validity } = column;
    const binary = column.type === DataType.Varbinary;
    for (let i = 0; i < n; i++) {
      if (validity !== null && validity[i] === 0) continue;
      const raw = values[i];
      const value = binary ? Buffer.from(raw as Uint8Array).toString("hex") : raw;
      const set = this.#sets[groups[i] as number] as Set<unknown>;
      if (set.has(value)) continue;
      set.add(value);
      this.#bytes += typeof value === "string" ? 48 + 2 * value.length : 48;
    }
  }
  finish(numGroups: number): Column {
    const out = new BigInt64Array(numGroups);
    for (let g = 0; g < numGroups; g++) out[g] = BigInt(this.#sets[g]?.size ?? 0);
    return { type: DataType.Int64, values: out, validity: null };
  }
  extraBytes(): number {
    return this.#bytes;
  }
}

class SumDoubleAccumulator implements Accumulator {
  readonly acceptsRuns = true;
  readonly bytesPerGroup = 9;
  readonly #sums = new GroupNumbers();
  readonly #seen = new GroupFlags();
  grow(numGroups: number): void {
    this.#sums.grow(numGroups);
    this.#seen.grow(numGroups);
  }
  update(groups: Int32Array, args: readonly Column[], n: number): void {
    const column = args[0] as Column;
    const values = column.values as Float64Array;
    const sums = this.#sums.values;
    const seen = this.#seen.values;
    const { validity } = column;
    for (let i = 0; i < n; i++) {
      if (validity !== null && validity[i] === 0) continue;
      const g = groups[i] as number;
      sums[g] = (sums[g] as number) + (values[i] as number);
      seen[g] = 1;
    }
  }
  updateRuns(runs: GroupRuns, args: readonly Column[]): void {
    const column = args[0] as Column;
    const values = column.values as Float64Array;
    const sums = this.#sums.values;
    const seen = this.#seen.values;
    const { validity } = column;
    let start = 0;
    for (let r = 0; r < runs.count; r++) {
      const g = runs.groups[r] as number;
      const end = runs.ends[r] as number;
      let sum = sums[g] as number;
      if (validity === null) {
        for (let i = start; i < end; i++) sum += values[i] as number;
        if (end > start) seen[g] = 1;
      } else {
        for (let i = start; i < end; i++) {
          if (validity[i] === 0) continue;
          sum += values[i] as number;
          seen[g] = 1;
        }
      }
      sums[g] = sum;
      start = end;
    }
  }

  finish(numGroups: number): Column {
    return {
      type: DataType.Double,
      values: this.#sums.values.slice(0, numGroups),
      validity: this.#seen.validity(numGroups),
    };
  }
  extraBytes(): number {
    return 0;
  }
}

/** sum of int64 (int32 widened) or uint64: exact, an error when it leaves the type's range. */
class SumIntegerAccumulator implements Accumulator {
  readonly acceptsRuns = false;
  readonly bytesPerGroup = 9;
  readonly #sums: GroupValues;
  readonly #seen = new GroupFlags();
  constructor(readonly type: DataType) {
    this.#sums = new GroupValues(type);
  }
  grow(numGroups: number): void {
    this.#sums.grow(numGroups);
    this.#seen.grow(numGroups);
  }
  update(groups: Int32Array, args: readonly Column[], n: number): void {
    const column = args[0] as Column;
    const values = column.values as BigInt64Array | BigUint64Array;
    const sums = this.#sums.values as BigInt64Array | BigUint64Array;
    const seen = this.#seen.values;
    const { validity } = column;
    const [min, max] = this.type === DataType.Int64 ? [INT64_MIN, INT64_MAX] : [0n, UINT64_MAX];
    for (let i = 0; i < n; i++) {
      if (validity !== null && validity[i] === 0) continue;
      const g = groups[i] as number;
      const sum = (sums[g] as bigint) + (values[i] as bigint);
      if (sum < min || sum > max) {
        throw new QueryExecutionError(
          QueryExecutionErrorCode.NumericOverflow,
          `sum() out of ${this.type} range`,
        );
      }
      sums[g] = sum;
      seen[g] = 1;
    }
  }
  finish(numGroups: number): Column {
    return { type: this.type, values: this.#sums.take(numGroups), validity: this.#seen.validity(numGroups) };
  }
  extraBytes(): number {
    return 0;
  }
}

class AvgAccumulator implements Accumulator {
  readonly acceptsRuns = true;
  readonly bytesPerGroup = 16;
  readonly #sums = new GroupNumbers();
  readonly #counts = new GroupNumbers();
  grow(numGroups: number): void {
    this.#sums.grow(numGroups);
    this.#counts.grow(numGroups);
  }
  update(groups: Int32Array, args: readonly Column[], n: number): void {
    const column = args[0] as Column;
    const values = column.values as Float64Array;
    const sums = this.#sums.values;
    const counts = this.#counts.values;
    const { validity } = column;
    for (let i = 0; i < n; i++) {
      if (validity !== null && validity[i] === 0) continue;
      const g = groups[i] as number;
      sums[g] = (sums[g] as number) + (values[i] as number);
      counts[g] = (counts[g] as number) + 1;
    }
  }
  updateRuns(runs: GroupRuns, args: readonly Column[]): void {
    const column = args[0] as Column;
    const values = column.values as Float64Array;
    const sums = this.#sums.values;
    const counts = this.#counts.values;
    const { validity } = column;
    let start = 0;
    for (let r = 0; r < runs.count; r++) {
      const g = runs.groups[r] as number;
      const end = runs.ends[r] as number;
      let sum = sums[g] as number;
      let count = counts[g] as number;
      if (validity === null) {
        for (let i = start; i < end; i++) sum += values[i] as number;
        count += end - start;
      } else {
        for (let i = start; i < end; i++) {
          if (validity[i] === 0) continue;
          sum += values[i] as number;
          count++;
        }
      }
      sums[g] = sum;
      counts[g] = count;
      start = end;
    }
  }

  finish(numGroups: number): Column {
    const out = new Float64Array(numGroups);
    const validity = new Uint8Array(numGroups);
    let allValid = true;
    for (let g = 0; g < numGroups; g++) {
      const count = this.#counts.values[g] as number;
      if (count === 0) {
        allValid = false;
        continue;
      }
      out[g] = (this.#sums.values[g] as number) / count;
      validity[g] = 1;
    }
    return { type: DataType.Double, values: out, validity: allValid ? null : validity };
  }
  extraBytes(): number {
    return 0;
  }
}

class MinMaxAccumulator implements Accumulator {
  readonly bytesPerGroup = 9;
  readonly #best: GroupValues;
  readonly #seen = new GroupFlags();
  /** Runs are folded for number-backed values; strings and bigints compare row by row. */
  readonly acceptsRuns: boolean;
  constructor(
    readonly type: DataType,
    readonly isMax: boolean,
  ) {
    this.#best = new GroupValues(type);
    this.acceptsRuns = isNumberBacked(type);
  }
  grow(numGroups: number): void {
    this.#best.grow(numGroups);
    this.#seen.grow(numGroups);
  }
  update(groups: Int32Array, args: readonly Column[], n: number): void {
    const column = args[0] as Column;
    const { validity } = column;
    const seen = this.#seen.values;
    if (isNumberBacked(this.type)) {
      const values = column.values as Float64Array;
      const best = this.#best.values as Float64Array;
      // NaN sorts above every number, as in PostgreSQL.
      if (this.isMax) {
        for (let i = 0; i < n; i++) {
          if (validity !== null && validity[i] === 0) continue;
          const g = groups[i] as number;
          const v = values[i] as number;
          if (seen[g] === 0) {
            best[g] = v;
            seen[g] = 1;
          } else if (v > (best[g] as number) || (v !== v && best[g] === best[g])) {
            best[g] = v;
          }
        }
      } else {
        for (let i = 0; i < n; i++) {
          if (validity !== null && validity[i] === 0) continue;
          const g = groups[i] as number;
          const v = values[i] as number;
          if (seen[g] === 0) {
            best[g] = v;
            seen[g] = 1;
          } else if (v < (best[g] as number)) {
            best[g] = v;
          }
        }
      }
      return;
    }
    const values = column.values as IndexedValues;
    const best = this.#best.values as IndexedValues;
    const compare = isBigIntBacked(this.type)
      ? (a: unknown, b: unknown) => ((a as bigint) < (b as bigint) ? -1 : a === b ? 0 : 1)
      : (a: unknown, b: unknown) => compareStrings(a as string, b as string);
    const sign = this.isMax ? 1 : -1;
    for (let i = 0; i < n; i++) {
      if (validity !== null && validity[i] === 0) continue;
      const g = groups[i] as number;
      const v = values[i];
      if (seen[g] === 0) {
        best[g] = v;
        seen[g] = 1;
      } else if (sign * compare(v, best[g]) > 0) {
        best[g] = v;
      }
    }
  }
  updateRuns(runs: GroupRuns, args: readonly Column[]): void {
    const column = args[0] as Column;
    const values = column.values as Float64Array;
    const best = this.#best.values as Float64Array;
    if (this.isMax) maxOfRuns(runs, values, column.validity, best, this.#seen.values);
    else minOfRuns(runs, values, column.validity, best, this.#seen.values);
  }

  finish(numGroups: number): Column {
    return { type: this.type, values: this.#best.take(numGroups), validity: this.#seen.validity(numGroups) };
  }
  extraBytes(): number {
    return 0;
  }
}

/** max over runs, with the comparisons of the row-at-a-time loop (NaN above every number). */
function maxOfRuns(
  runs: GroupRuns,
  values: Float64Array,
  validity: Uint8Array | null,
  best: Float64Array,
  seen: Uint8Array,
): void {
  let start = 0;
  for (let r = 0; r < runs.count; r++) {
    const g = runs.groups[r] as number;
    const end = runs.ends[r] as number;
    let has = seen[g] === 1;
    let m = best[g] as number;
    for (let i = start; i < end; i++) {
      if (validity !== null && validity[i] === 0) continue;
      const v = values[i] as number;
      if (!has) {
        m = v;
        has = true;
      } else if (v > m || (v !== v && m === m)) {
        m = v;
      }
    }
    if (has) {
      best[g] = m;
      seen[g] = 1;
    }
    start = end;
  }
}

function minOfRuns(
  runs: GroupRuns,
  values: Float64Array,
  validity: Uint8Array | null,
  best: Float64Array,
  seen: Uint8Array,
): void {
  let start = 0;
  for (let r = 0; r < runs.count; r++) {
    const g = runs.groups[r] as number;
    const end = runs.ends[r] as number;
    let has = seen[g] === 1;
    let m = best[g] as number;
    for (let i = start; i < end; i++) {
      if (validity !== null && validity[i] === 0) continue;
      const v = values[i] as number;
      if (!has) {
        m = v;
        has = true;
      } else if (v < m) {
        m = v;
      }
    }
    if (has) {
      best[g] = m;
      seen[g] = 1;
    }
    start = end;
  }
}

/**
 * The row of [start, end) with a non-null value (per `validity`) and the largest timestamp, the
 * latest such row on ties; -1 when every value is null. Scans backwards: timestamps usually rise
 * within a run, so the first row seen wins and the rest are only compared.
 */
function lastRow(ts: Float64Array, validity: Uint8Array | null, start: number, end: number): number {
  let best = -Infinity;
  let row = -1;
  for (let i = end - 1; i >= start; i--) {
    if (validity !== null && validity[i] === 0) continue;
    const t = ts[i] as number;
    if (t > best || row < 0) {
      best = t;
      row = i;
    }
  }
  return row;
}

/** The row of [start, end) with a non-null value and the smallest timestamp, the earliest on ties. */
function firstRow(ts: Float64Array, validity: Uint8Array | null, start: number, end: number): number {
  let best = Infinity;
  let row = -1;
  for (let i = start; i < end; i++) {
    if (validity !== null && validity[i] === 0) continue;
    const t = ts[i] as number;
    if (t < best || row < 0) {
      best = t;
      row = i;
    }
  }
  return row;
}

/**
 * first(x) / last(x): the non-null x at the smallest (largest) timestamp of the group. On equal
 * timestamps first keeps the earliest row read, last the latest.
 */
class FirstLastAccumulator implements Accumulator {
  readonly acceptsRuns = true;
  readonly bytesPerGroup = 17;
  readonly #values: GroupValues;
  readonly #times: GroupNumbers;
  readonly #seen = new GroupFlags();
  constructor(
    readonly type: DataType,
    readonly isLast: boolean,
  ) {
    this.#values = new GroupValues(type);
    this.#times = new GroupNumbers(isLast ? -Infinity : Infinity);
  }
  grow(numGroups: number): void {
    this.#values.grow(numGroups);
    this.#times.grow(numGroups);
    this.#seen.grow(numGroups);
  }
  update(groups: Int32Array, args: readonly Column[], n: number): void {
    const column = args[0] as Column;
    const ts = (args[1] as Column).values as Float64Array;
    const values = column.values as IndexedValues;
    const out = this.#values.values as IndexedValues;
    const times = this.#times.values;
    const seen = this.#seen.values;
    const { validity } = column;
    if (this.isLast) {
      for (let i = 0; i < n; i++) {
        if (validity !== null && validity[i] === 0) continue;
        const g = groups[i] as number;
        const t = ts[i] as number;
        if (t >= (times[g] as number)) {
          times[g] = t;
          out[g] = values[i];
          seen[g] = 1;
        }
      }
    } else {
      for (let i = 0; i < n; i++) {
        if (validity !== null && validity[i] === 0) continue;
        const g = groups[i] as number;
        const t = ts[i] as number;
        if (t < (times[g] as number)) {
          times[g] = t;
          out[g] = values[i];
          seen[g] = 1;
        }
      }
    }
  }
  updateRuns(runs: GroupRuns, args: readonly Column[]): void {
    const column = args[0] as Column;
    const ts = (args[1] as Column).values as Float64Array;
    const values = column.values as IndexedValues;
    const out = this.#values.values as IndexedValues;
    const times = this.#times.values;
    const seen = this.#seen.values;
    const { validity } = column;
    // Per run, only the row that wins is written to the group's state.
    let start = 0;
    for (let r = 0; r < runs.count; r++) {
      const g = runs.groups[r] as number;
      const end = runs.ends[r] as number;
      const row = this.isLast ? lastRow(ts, validity, start, end) : firstRow(ts, validity, start, end);
      start = end;
      if (row < 0) continue;
      const t = ts[row] as number;
      // Later rows win ties for last: this run's rows come after the ones already folded in.
      if (this.isLast ? t >= (times[g] as number) : t < (times[g] as number)) {
        times[g] = t;
        out[g] = values[row];
        seen[g] = 1;
      }
    }
  }

  finish(numGroups: number): Column {
    return {
      type: this.type,
      values: this.#values.take(numGroups),
      validity: this.#seen.validity(numGroups),
    };
  }
  extraBytes(): number {
    return 0;
  }
}

/** A fresh accumulator for `fn` over arguments already cast to `argType`; `returns` is its type. */
export function createAccumulator(
  fn: AggregateFunctionName,
  distinct: boolean,
  hasArgument: boolean,
  returns: DataType,
): Accumulator {
  switch (fn) {
    case "count":
      return distinct ? new CountDistinctAccumulator() : new CountAccumulator(!hasArgument);
    case "sum":
      return returns === DataType.Double ? new SumDoubleAccumulator() : new SumIntegerAccumulator(returns);
    case "avg":
      return new AvgAccumulator();
    case "min":
    case "max":
      return new MinMaxAccumulator(returns, fn === "max");
    case "first":
    case "last":
      return new FirstLastAccumulator(returns, fn === "last");
  }
}
