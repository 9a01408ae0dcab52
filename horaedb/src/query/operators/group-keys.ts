/**
 * Assigns group ids to rows by the values of their key columns. Each key column has a dictionary
 * of its distinct values (one code per value, NULL included); a row's group is found from its
 * codes: with one key the code is the group id, with more the tuple of codes is looked up in an
 * open-addressing hash table of int32 slots. Rows of a batch repeat keys in runs (a series' tags,
 * a time bucket), so a row whose codes equal the previous row's group reuses it without a lookup.
 * A time-bucket key (time_bucket, date_trunc) is encoded straight from the timestamps, without a
 * column of bucket starts in between.
 */
import { allocateValues, type Column } from "../../batch/column.js";
import { DataType } from "../../table/data-type.js";
import type { GroupRuns } from "../accumulators.js";
import type { TimeBucketing } from "../time-functions.js";
import { isNumberBacked } from "../types.js";
import type { IndexedValues } from "../vectors.js";

/**
 * Below this magnitude t / width rounds to the right side of every bucket edge (the quotient's
 * rounding error is far below 1 / width), so every t in [start, start + width) has bucket start.
 */
const SAFE_BUCKET_RANGE = 2 ** 51;

/** How many bucket starts codeOfBucketStart remembers. */
const RECENT_BUCKETS = 4;

/** Values of the number-backed types: timestamp, double, float, int32, boolean. */
type NumberValues = Float64Array | Float32Array | Int32Array | Uint8Array;

/** Distinct values of one key column, with dense codes in first-seen order. */
class KeyDictionary {
  readonly #codes = new Map<unknown, number>();
  /** The value of each code (null for the NULL code), as the column holds values. */
  readonly values: unknown[] = [];
  #nullCode = -1;
  bytes = 0;
  /** codeOfBucketStart's last few bucket starts (NaN: none) and their codes. */
  readonly #recentStarts = new Float64Array(RECENT_BUCKETS).fill(NaN);
  readonly #recentCodes = new Int32Array(RECENT_BUCKETS);
  #recentNext = 0;

  /** With a bucketing, the column encoded is the timestamps and the values are bucket starts. */
  constructor(
    readonly type: DataType,
    readonly bucketing: TimeBucketing | undefined,
  ) {}

  get size(): number {
    return this.values.length;
  }

  /** Writes the code of each row's value to `out`. */
  encode(column: Column, n: number, out: Int32Array): void {
    // One loop per kind of values array keeps each loop's element loads monomorphic.
    const { bucketing } = this;
    if (bucketing !== undefined) {
      const ts = column.values as Float64Array;
      if (bucketing.widthMs === undefined)
        this.#encodeCalendarBuckets(ts, column.validity, n, out, bucketing);
      else this.#encodeFixedBuckets(ts, column.validity, n, out, bucketing.widthMs, bucketing.originMs);
    } else if (isNumberBacked(this.type))
      this.#encodeNumbers(column.values as NumberValues, column.validity, n, out);
    else if (this.type === DataType.String)
      this.#encodeStrings(column.values as string[], column.validity, n, out);
    else this.#encodeOthers(column.values, column.validity, n, out);
  }

  /**
   * Writes to `out` the rows i in [1, n) whose value differs from row i - 1's and returns how
   * many; -1 when there are more than `limit`, or when the type has no cheap test (bigints,
   * byte arrays). Bucket keys compare buckets, so a change of timestamp inside one is no change.
   */
  changes(column: Column, n: number, out: Int32Array, limit: number): number {
    const { bucketing } = this;
    const { validity } = column;
    if (bucketing !== undefined) {
      const ts = column.values as Float64Array;
      if (bucketing.widthMs === undefined) return this.#calendarBucketChanges(ts, validity, n, out, limit);
      return fixedBucketChanges(ts, validity, n, out, limit, bucketing.widthMs, bucketing.originMs);
    }
    if (isNumberBacked(this.type))
      return numberChanges(column.values as NumberValues, validity, n, out, limit);
    if (this.type === DataType.String)
      return stringChanges(column.values as string[], validity, n, out, limit);
    return -1;
  }

  #calendarBucketChanges(
    ts: Float64Array,
    validity: Uint8Array | null,
    n: number,
    out: Int32Array,
    limit: number,
  ): number {
    const bucketing = this.bucketing as TimeBucketing;
    let count = 0;
    let low = NaN;
    let high = NaN;
    let wasValid = validity === null || validity[0] === 1;
    if (wasValid) {
      low = bucketing.start(ts[0] as number);
      high = bucketing.next(low);
    }
    for (let i = 1; i < n; i++) {
      const valid = validity === null || validity[i] === 1;
      if (valid) {
        const t = ts[i] as number;
        if (wasValid && t >= low && t < high) continue;
        low = bucketing.start(t);
        high = bucketing.next(low);
      } else if (!wasValid) {
        continue;
      }
      wasValid = valid;
      if (count === limit) return -1;
      out[count++] = i;
    }
    return count;
  }

  /** The code of row `row`'s value (its bucket's start for a bucket key), added when new. */
  codeAt(column: Column, row: number): number {
    if (column.validity !== null && column.validity[row] === 0)
      return this.#nullCode >= 0 ? this.#nullCode : this.#addNull();
    const value = (column.values as IndexedValues)[row];
    const { bucketing } = this;
    if (bucketing !== undefined) {
      const start = bucketing.start(value as number);
      return this.#codeOf(start, start);
    }
    if (isNumberBacked(this.type) || this.type === DataType.String) return this.#codeOf(value, value);
    throw new TypeError(`codeAt() does not take ${this.type} keys`);
  }

  /** The code of a bucket start (a bucket key's value), added when new. */
  codeOfBucketStart(start: number): number {
    // Series after series go through the same few buckets: those are remembered.
    const starts = this.#recentStarts;
    for (let i = 0; i < RECENT_BUCKETS; i++) {
      if (starts[i] === start) return this.#recentCodes[i] as number;
    }
    const code = this.#codeOf(start, start);
    const slot = this.#recentNext;
    starts[slot] = start;
    this.#recentCodes[slot] = code;
    this.#recentNext = (slot + 1) % RECENT_BUCKETS;
    return code;
  }

  /** Buckets of a fixed width: the start computed per row as `FixedBucketing.start` does. */
  #encodeFixedBuckets(
    ts: Float64Array,
    validity: Uint8Array | null,
    n: number,
    out: Int32Array,
    width: number,
    origin: number,
  ): void {
    // The current bucket [low, high): a row inside it takes its code without a division.
    let low = NaN;
    let high = NaN;
    let code = -1;
    for (let i = 0; i < n; i++) {
      if (validity !== null && validity[i] === 0) {
        out[i] = this.#nullCode >= 0 ? this.#nullCode : this.#addNull();
        continue;
      }
      const t = ts[i] as number;
      if (t >= low && t < high) {
        out[i] = code;
        continue;
      }
      const start =
        origin === 0 ? Math.floor(t / width) * width : Math.floor((t - origin) / width) * width + origin;
      code = this.#codeOf(start, start);
      out[i] = code;
      // Far from the epoch the quotient may round across a bucket edge: compute each row there.
      if (Math.abs(start) + 2 * width < SAFE_BUCKET_RANGE) {
        low = start;
        high = start + width;
      } else {
        low = NaN;
        high = NaN;
      }
    }
  }

  /** Months, quarters, years: the current bucket's range is kept, so Date math runs once a bucket. */
  #encodeCalendarBuckets(
    ts: Float64Array,
    validity: Uint8Array | null,
    n: number,
    out: Int32Array,
    bucketing: TimeBucketing,
  ): void {
    let low = NaN;
    let high = NaN;
    let code = -1;
    for (let i = 0; i < n; i++) {
      if (validity !== null && validity[i] === 0) {
        out[i] = this.#nullCode >= 0 ? this.#nullCode : this.#addNull();
        continue;
      }
      const t = ts[i] as number;
      if (!(t >= low && t < high)) {
        low = bucketing.start(t);
        high = bucketing.next(low);
        code = this.#codeOf(low, low);
      }
      out[i] = code;
    }
  }

  #encodeNumbers(values: NumberValues, validity: Uint8Array | null, n: number, out: Int32Array): void {
    let previous = NaN;
    let previousCode = -1;
    for (let i = 0; i < n; i++) {
      if (validity !== null && validity[i] === 0) {
        out[i] = this.#nullCode >= 0 ? this.#nullCode : this.#addNull();
        continue;
      }
      const value = values[i] as number;
      // NaN never equals the previous value, so it always takes the lookup.
      if (value === previous) {
        out[i] = previousCode;
        continue;
      }
      previous = value;
      previousCode = this.#codeOf(value, value);
      out[i] = previousCode;
    }
  }

  #encodeStrings(values: string[], validity: Uint8Array | null, n: number, out: Int32Array): void {
    let previous: string | undefined;
    let previousCode = -1;
    for (let i = 0; i < n; i++) {
      if (validity !== null && validity[i] === 0) {
        out[i] = this.#nullCode >= 0 ? this.#nullCode : this.#addNull();
        continue;
      }
      const value = values[i] as string;
      if (value === previous) {
        out[i] = previousCode;
        continue;
      }
      previous = value;
      previousCode = this.#codeOf(value, value);
      out[i] = previousCode;
    }
  }

  /** bigints (int64, uint64) and byte arrays (looked up by their hex text). */
  #encodeOthers(values: IndexedValues, validity: Uint8Array | null, n: number, out: Int32Array): void {
    const binary = this.type === DataType.Varbinary;
    for (let i = 0; i < n; i++) {
      if (validity !== null && validity[i] === 0) {
        out[i] = this.#nullCode >= 0 ? this.#nullCode : this.#addNull();
        continue;
      }
      const raw = values[i];
      out[i] = this.#codeOf(binary ? Buffer.from(raw as Uint8Array).toString("hex") : raw, raw);
    }
  }

  /** The code of a value (`lookup` is how the map knows it), added when new. */
  #codeOf(lookup: unknown, value: unknown): number {
    let code = this.#codes.get(lookup);
    if (code === undefined) {
      code = this.values.length;
      this.#codes.set(lookup, code);
      this.values.push(value);
      this.bytes += typeof lookup === "string" ? 56 + 2 * lookup.length : 56;
    }
    return code;
  }

  #addNull(): number {
    this.#nullCode = this.values.length;
    this.values.push(null);
    this.bytes += 16;
    return this.#nullCode;
  }

  /** A column of the values of `codes[0..count)`. */
  column(codes: ArrayLike<number>, count: number): Column {
    const out = allocateValues(this.type, count);
    const dst = out as IndexedValues;
    let validity: Uint8Array | null = null;
    for (let g = 0; g < count; g++) {
      const code = codes[g] as number;
      if (code === this.#nullCode) {
        validity ??= new Uint8Array(count).fill(1);
        validity[g] = 0;
        continue;
      }
      dst[g] = this.values[code];
    }
    return { type: this.type, values: out, validity };
  }
}

/** `changes()` of a fixed-width bucket key. */
function fixedBucketChanges(
  ts: Float64Array,
  validity: Uint8Array | null,
  n: number,
  out: Int32Array,
  limit: number,
  width: number,
  origin: number,
): number {
  let count = 0;
  // The bucket of the previous row: [low, high), and its start (NaN for NULL).
  let low = NaN;
  let high = NaN;
  let previous = NaN;
  let wasValid = false;
  for (let i = 0; i < n; i++) {
    const valid = validity === null || validity[i] === 1;
    let changed: boolean;
    if (valid) {
      const t = ts[i] as number;
      if (wasValid && t >= low && t < high) continue;
      const start =
        origin === 0 ? Math.floor(t / width) * width : Math.floor((t - origin) / width) * width + origin;
      changed = !wasValid || start !== previous;
      previous = start;
      // Far from the epoch the quotient may round across a bucket edge: compare starts there.
      if (Math.abs(start) + 2 * width < SAFE_BUCKET_RANGE) {
        low = start;
        high = start + width;
      } else {
        low = NaN;
        high = NaN;
      }
    } else {
      changed = wasValid;
    }
    if (i > 0 && changed) {
      if (count === limit) return -1;
      out[count++] = i;
    }
    wasValid = valid;
  }
  return count;
}

/**
 * `changes()` of plain values compared with ===; NULLs are equal to each other. Called with one
 * kind of array per function (numbers, strings), so each one's loads stay monomorphic.
 */
function numberChanges(
  values: NumberValues,
  validity: Uint8Array | null,
  n: number,
  out: Int32Array,
  limit: number,
): number {
  let count = 0;
  let previous = values[0] as number;
  let wasValid = validity === null || validity[0] === 1;
  for (let i = 1; i < n; i++) {
    const v = values[i] as number;
    if (validity === null) {
      if (v === previous) continue;
    } else {
      const valid = validity[i] === 1;
      if (valid === wasValid && (!valid || v === previous)) continue;
      wasValid = valid;
    }
    previous = v;
    if (count === limit) return -1;
    out[count++] = i;
  }
  return count;
}

function stringChanges(
  values: readonly string[],
  validity: Uint8Array | null,
  n: number,
  out: Int32Array,
  limit: number,
): number {
  let count = 0;
  // Rows of one series share one string object, so === is mostly a pointer comparison.
  let previous = values[0] as string;
  let wasValid = validity === null || validity[0] === 1;
  for (let i = 1; i < n; i++) {
    const v = values[i] as string;
    if (validity === null) {
      if (v === previous) continue;
    } else {
      const valid = validity[i] === 1;
      if (valid === wasValid && (!valid || v === previous)) continue;
      wasValid = valid;
    }
    previous = v;
    if (count === limit) return -1;
    out[count++] = i;
  }
  return count;
}

/**
 * How a group key stays constant along a batch's series runs (ColumnBatch.seriesRuns): a TAG
 * column holds one value per run; a time bucket of the timestamps changes inside a run only where
 * the (non-decreasing) timestamps cross into a later bucket.
 */
export type SeriesRunKey = "tag" | "bucket";

/**
 * The first row of (from, to) whose bucket start is not `start` (row `from`'s), or `to`. The
 * timestamps of [from, to) do not decrease and a bucket's start does not decrease with time (floor
 * and the correctly rounded operations of `start` are monotonic), so the rows of one bucket are a
 * prefix: found by an exponential search whose first step is `guess` (the length of the previous
 * bucket, which regular data repeats: then two probes decide), then a binary search.
 */
function bucketEnd(
  ts: Float64Array,
  from: number,
  to: number,
  start: number,
  bucketing: TimeBucketing,
  guess: number,
): number {
  const width = bucketing.widthMs;
  if (width !== undefined && Math.abs(start) + 2 * width < SAFE_BUCKET_RANGE)
    return fixedBucketEnd(ts, from, to, start + width, guess);
  if (bucketing.start(ts[to - 1] as number) === start) return to;
  // Rows [from, lo) are in the bucket, rows [hi, to) past it.
  let lo = from + 1;
  let hi = to - 1;
  for (let step = Math.max(1, guess); from + step < hi; step *= 2) {
    const probe = from + step;
    if (bucketing.start(ts[probe] as number) === start) {
      lo = probe + 1;
      continue;
    }
    if (bucketing.start(ts[probe - 1] as number) === start) return probe;
    hi = probe;
    break;
  }
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (bucketing.start(ts[mid] as number) === start) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * `bucketEnd` of a fixed-width bucket near the epoch, which is [start, high) exactly, as the
 * row-by-row ways take it: compared, not divided.
 */
function fixedBucketEnd(ts: Float64Array, from: number, to: number, high: number, guess: number): number {
  if ((ts[to - 1] as number) < high) return to;
  let lo = from + 1;
  let hi = to - 1;
  for (let step = Math.max(1, guess); from + step < hi; step *= 2) {
    const probe = from + step;
    if ((ts[probe] as number) < high) {
      lo = probe + 1;
      continue;
    }
    if ((ts[probe - 1] as number) < high) return probe;
    hi = probe;
    break;
  }
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((ts[mid] as number) < high) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Merges the sorted distinct rows a[0..na) and b[0..nb) into out; returns the count. */
function mergeRows(a: Int32Array, na: number, b: Int32Array, nb: number, out: Int32Array): number {
  let i = 0;
  let j = 0;
  let count = 0;
  while (i < na && j < nb) {
    const x = a[i] as number;
    const y = b[j] as number;
    if (x <= y) {
      out[count++] = x;
      i++;
      if (x === y) j++;
    } else {
      out[count++] = y;
      j++;
    }
  }
  while (i < na) out[count++] = a[i++] as number;
  while (j < nb) out[count++] = b[j++] as number;
  return count;
}

/** Codes of one key per group, growing by doubling. */
class GroupCodes {
  codes = new Int32Array(16);
  set(group: number, code: number): void {
    if (group >= this.codes.length) {
      const next = new Int32Array(this.codes.length * 2);
      next.set(this.codes);
      this.codes = next;
    }
    this.codes[group] = code;
  }
}

const INITIAL_SLOTS = 1024;
/**
 * The empty starting value of the table's scratch arrays, shared: each is replaced, never written,
 * when it needs room, and a query's table would otherwise allocate a dozen arrays before its first row.
 */
const NO_INTS: Int32Array<ArrayBuffer> = new Int32Array(0);
/** Runs assignSeriesRuns has room for at first: the groups of a typical query's series, no growing. */
const INITIAL_SERIES_RUNS = 64;

/** A copy of `array` with room for at least `wanted` elements (doubling). */
function grownInt32(array: Int32Array, wanted: number): Int32Array<ArrayBuffer> {
  const next = new Int32Array(Math.max(INITIAL_SERIES_RUNS, 2 * array.length, wanted));
  next.set(array);
  return next;
}

/** Whether rows `a` and `b` have the same code in each of the `m` keys. */
function sameCodes(codes: readonly Int32Array[], m: number, a: number, b: number): boolean {
  for (let k = 0; k < m; k++) {
    const c = codes[k] as Int32Array;
    if (c[a] !== c[b]) return false;
  }
  return true;
}

export class GroupKeyTable {
  readonly #dictionaries: KeyDictionary[];
  /** Per key, the code of each group (two or more keys only). */
  readonly #groupCodes: GroupCodes[];
  /**
   * Open-addressing hash table over the groups' codes: group id + 1 per slot, 0 when empty. Only
   * two or more keys use it (one key's code is its group), so it is made on the first lookup.
   */
  #slots = NO_INTS;
  #numGroups: number;
  #rowCodes: Int32Array[] = [];
  #groupIds = NO_INTS;
  /** The codes of the row being looked up. */
  readonly #probe: Int32Array;
  /** Scratch of assignRuns: per key its change rows, the merged ones, and the runs. */
  #changes: Int32Array[] = [];
  #merged = NO_INTS;
  #spare = NO_INTS;
  #runGroups = NO_INTS;
  #runEnds = NO_INTS;
  /** The runs assignSeriesRuns returns. */
  #seriesGroups = NO_INTS;
  #seriesEnds = NO_INTS;
  #bucketGuess = NO_INTS;

  /**
   * `bucketings[k]`, when set, makes key k the bucket start of the timestamps passed as its column.
   */
  constructor(
    readonly keyTypes: readonly DataType[],
    bucketings: readonly (TimeBucketing | undefined)[] = [],
  ) {
    this.#dictionaries = keyTypes.map((t, k) => new KeyDictionary(t, bucketings[k]));
    this.#groupCodes = keyTypes.map(() => new GroupCodes());
    this.#probe = new Int32Array(keyTypes.length);
    // Without keys there is exactly one group, even for no rows at all.
    this.#numGroups = keyTypes.length === 0 ? 1 : 0;
  }

  get numGroups(): number {
    return this.#numGroups;
  }

  /**
   * The group id of each of the first `n` rows, creating groups for new keys. The returned
   * array is overwritten by the next call.
   */
  assign(keys: readonly Column[], n: number): Int32Array {
    if (this.#groupIds.length < n) {
      this.#groupIds = new Int32Array(n);
      this.#rowCodes = this.#dictionaries.map(() => new Int32Array(n));
    }
    const ids = this.#groupIds;
    const m = this.#dictionaries.length;
    if (m === 0) {
      ids.fill(0, 0, n);
      return ids.subarray(0, n);
    }
    if (m === 1) {
      // One key: its code is the group id.
      const dictionary = this.#dictionaries[0] as KeyDictionary;
      dictionary.encode(keys[0] as Column, n, ids);
      this.#numGroups = dictionary.size;
      return ids.subarray(0, n);
    }
    for (let k = 0; k < m; k++)
      (this.#dictionaries[k] as KeyDictionary).encode(keys[k] as Column, n, this.#rowCodes[k] as Int32Array);
    if (m === 2) this.#assignPairs(n, ids);
    else this.#assignComposite(n, ids);
    return ids.subarray(0, n);
  }

  /**
   * The group of each of the first `n` rows as runs of consecutive rows of one group, creating
   * groups for new keys in the order `assign` would. Only the rows where some key changes are
   * looked up, so the cost per row is one comparison per key. Undefined (with no group created)
   * when the rows change key more often than once in `minAverageRun` rows on average, or a key's
   * type has no cheap comparison; `assign` is the way then. Overwritten by the next call.
   */
  assignRuns(keys: readonly Column[], n: number, minAverageRun: number): GroupRuns | undefined {
    const m = this.#dictionaries.length;
    if (n === 0) return { count: 0, groups: this.#runGroups, ends: this.#runEnds };
    const limit = Math.floor(n / minAverageRun);
    if (this.#runEnds.length < limit + 1) {
      this.#runGroups = new Int32Array(limit + 1);
      this.#runEnds = new Int32Array(limit + 1);
      this.#merged = new Int32Array(limit + 1);
      this.#spare = new Int32Array(limit + 1);
      this.#changes = this.#dictionaries.map(() => new Int32Array(limit + 1));
    }
    // The rows where a run starts (after row 0), in `starts[0..count)`.
    let starts: Int32Array = this.#merged;
    let count = 0;
    for (let k = 0; k < m; k++) {
      const changes = this.#changes[k] as Int32Array;
      const found = (this.#dictionaries[k] as KeyDictionary).changes(keys[k] as Column, n, changes, limit);
      if (found < 0) return undefined;
      if (k === 0) {
        starts = changes;
        count = found;
        continue;
      }
      const into = starts === this.#merged ? this.#spare : this.#merged;
      count = mergeRows(starts, count, changes, found, into);
      if (count > limit) return undefined;
      starts = into;
    }
    const groups = this.#runGroups;
    const ends = this.#runEnds;
    for (let r = 0; r <= count; r++) {
      const row = r === 0 ? 0 : (starts[r - 1] as number);
      groups[r] = this.#groupOfRow(keys, row);
      ends[r] = r < count ? (starts[r] as number) : n;
    }
    return { count: count + 1, groups, ends };
  }

  /**
   * What `assignRuns` gives (the same runs and groups, created in the same order), for a batch
   * with series runs (`seriesRuns`, see ColumnBatch) and keys that are each a TAG column or a time
   * bucket of the timestamps (`kinds`): keys change only at a run start or where a run's
   * timestamps cross a bucket boundary, found by binary search, so no row is compared. Undefined
   * when some timestamps are null (the row-by-row ways handle those). Overwritten by the next call.
   */
  assignSeriesRuns(
    keys: readonly Column[],
    n: number,
    seriesRuns: Uint32Array,
    kinds: readonly SeriesRunKey[],
  ): GroupRuns | undefined {
    const m = this.#dictionaries.length;
    // The runs must cover every row, from row 0.
    if (m === 0 || kinds.length !== m || (n > 0 && seriesRuns[0] !== 0)) return undefined;
    for (let k = 0; k < m; k++) {
      if (kinds[k] === "bucket" && (keys[k] as Column).validity !== null) return undefined;
    }
    const probe = this.#probe;
    // Per key, the length of its last bucket: where the search for the next bucket's end starts.
    if (this.#bucketGuess.length < m) this.#bucketGuess = new Int32Array(m);
    const guesses = this.#bucketGuess;
    let groups = this.#seriesGroups;
    let ends = this.#seriesEnds;
    let count = 0;
    for (let run = 0; run < seriesRuns.length; run++) {
      const first = seriesRuns[run] as number;
      const end = run + 1 < seriesRuns.length ? (seriesRuns[run + 1] as number) : n;
      if (first >= end) continue;
      // TAG keys hold one value through the run: their codes once per run.
      for (let k = 0; k < m; k++) {
        if (kinds[k] === "tag")
          probe[k] = (this.#dictionaries[k] as KeyDictionary).codeAt(keys[k] as Column, first);
      }
      for (let row = first; row < end;) {
        // The rows from `row` in the same bucket of every bucket key.
        let next = end;
        for (let k = 0; k < m; k++) {
          if (kinds[k] !== "bucket") continue;
          const dictionary = this.#dictionaries[k] as KeyDictionary;
          const bucketing = dictionary.bucketing as TimeBucketing;
          const ts = (keys[k] as Column).values as Float64Array;
          const start = bucketing.start(ts[row] as number);
          probe[k] = dictionary.codeOfBucketStart(start);
          const bucketStop = bucketEnd(ts, row, next, start, bucketing, guesses[k] as number);
          // A bucket cut short by the run's end or another key's bucket says little of the next.
          if (bucketStop < next) guesses[k] = bucketStop - row;
          next = bucketStop;
        }
        let group: number;
        if (m === 1) {
          group = probe[0] as number;
          this.#numGroups = (this.#dictionaries[0] as KeyDictionary).size;
        } else {
          group = this.#lookupProbe();
        }
        if (count > 0 && groups[count - 1] === group) {
          // Another series with the same key values (or the same series): one run, as row by row.
          ends[count - 1] = next;
        } else {
          if (count === groups.length) {
            groups = grownInt32(groups, count + 1);
            ends = grownInt32(ends, count + 1);
            this.#seriesGroups = groups;
            this.#seriesEnds = ends;
          }
          groups[count] = group;
          ends[count++] = next;
        }
        row = next;
      }
    }
    return { count, groups, ends };
  }

  /** The group id of each of the first `n` rows from their runs (overwritten by the next call). */
  idsOfRuns(runs: GroupRuns, n: number): Int32Array {
    if (this.#groupIds.length < n) {
      this.#groupIds = new Int32Array(n);
      this.#rowCodes = this.#dictionaries.map(() => new Int32Array(n));
    }
    const ids = this.#groupIds;
    let start = 0;
    for (let r = 0; r < runs.count; r++) {
      const end = runs.ends[r] as number;
      ids.fill(runs.groups[r] as number, start, end);
      start = end;
    }
    return ids.subarray(0, n);
  }

  /** The group of one row's key values, created when new. */
  #groupOfRow(keys: readonly Column[], row: number): number {
    const m = this.#dictionaries.length;
    if (m === 0) return 0;
    if (m === 1) {
      const code = (this.#dictionaries[0] as KeyDictionary).codeAt(keys[0] as Column, row);
      this.#numGroups = (this.#dictionaries[0] as KeyDictionary).size;
      return code;
    }
    const probe = this.#probe;
    for (let k = 0; k < m; k++)
      probe[k] = (this.#dictionaries[k] as KeyDictionary).codeAt(keys[k] as Column, row);
    return this.#lookupProbe();
  }

  /** Two keys (a time bucket and a tag, the common case): the row loop reads two code arrays. */
  #assignPairs(n: number, ids: Int32Array): void {
    const first = this.#rowCodes[0] as Int32Array;
    const second = this.#rowCodes[1] as Int32Array;
    let previousFirst = -1;
    let previousSecond = -1;
    let previous = -1;
    for (let i = 0; i < n; i++) {
      const a = first[i] as number;
      const b = second[i] as number;
      if (a === previousFirst && b === previousSecond) {
        ids[i] = previous;
        continue;
      }
      previousFirst = a;
      previousSecond = b;
      previous = this.#lookup(i);
      ids[i] = previous;
    }
  }

  #assignComposite(n: number, ids: Int32Array): void {
    const rowCodes = this.#rowCodes;
    const m = rowCodes.length;
    let previous = -1;
    for (let i = 0; i < n; i++) {
      if (i > 0 && sameCodes(rowCodes, m, i - 1, i)) {
        ids[i] = previous;
        continue;
      }
      previous = this.#lookup(i);
      ids[i] = previous;
    }
  }

  /** The group of row `row`'s codes, created when new. */
  #lookup(row: number): number {
    const m = this.#rowCodes.length;
    for (let k = 0; k < m; k++) this.#probe[k] = (this.#rowCodes[k] as Int32Array)[row] as number;
    return this.#lookupProbe();
  }

  /** The group of the codes in `#probe`, created when new. */
  #lookupProbe(): number {
    const probe = this.#probe;
    const m = probe.length;
    let hash = 0;
    for (let k = 0; k < m; k++) hash = Math.imul(hash ^ (probe[k] as number), 0x9e3779b1);
    if (this.#slots.length === 0) this.#slots = new Int32Array(INITIAL_SLOTS);
    const mask = this.#slots.length - 1;
    let slot = (hash ^ (hash >>> 15)) & mask;
    for (;;) {
      const entry = this.#slots[slot] as number;
      if (entry === 0) {
        const group = this.#numGroups++;
        for (let k = 0; k < m; k++) (this.#groupCodes[k] as GroupCodes).set(group, probe[k] as number);
        this.#slots[slot] = group + 1;
        // Keep the table at most half full, so probe runs stay short.
        if (2 * this.#numGroups > this.#slots.length) this.#rehash(2 * this.#slots.length);
        return group;
      }
      if (this.#groupHasProbe(entry - 1)) return entry - 1;
      slot = (slot + 1) & mask;
    }
  }

  /** Whether group `group` has the key codes in `#probe`. */
  #groupHasProbe(group: number): boolean {
    const probe = this.#probe;
    for (let k = 0; k < probe.length; k++) {
      if ((this.#groupCodes[k] as GroupCodes).codes[group] !== probe[k]) return false;
    }
    return true;
  }

  #rehash(size: number): void {
    const slots = new Int32Array(size);
    const mask = size - 1;
    const m = this.#groupCodes.length;
    for (let g = 0; g < this.#numGroups; g++) {
      let hash = 0;
      for (let k = 0; k < m; k++)
        hash = Math.imul(hash ^ ((this.#groupCodes[k] as GroupCodes).codes[g] as number), 0x9e3779b1);
      let slot = (hash ^ (hash >>> 15)) & mask;
      while (slots[slot] !== 0) slot = (slot + 1) & mask;
      slots[slot] = g + 1;
    }
    this.#slots = slots;
  }

  /** The key values of every group, one column per key, in group id order. */
  keyColumns(): Column[] {
    const count = this.#numGroups;
    if (this.#dictionaries.length === 1) {
      const identity = new Int32Array(count);
      for (let g = 0; g < count; g++) identity[g] = g;
      return [(this.#dictionaries[0] as KeyDictionary).column(identity, count)];
    }
    return this.#dictionaries.map((d, k) => d.column((this.#groupCodes[k] as GroupCodes).codes, count));
  }

  /** Approximate bytes held: dictionaries, per-group codes and the hash table. */
  byteSize(): number {
    let bytes = 0;
    for (const d of this.#dictionaries) bytes += d.bytes;
    if (this.#dictionaries.length > 1)
      bytes += this.#numGroups * 4 * this.#dictionaries.length + this.#slots.byteLength;
    return bytes;
  }
}
