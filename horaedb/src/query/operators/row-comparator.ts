/**
 * Orders rows by sort keys: each key ascending or descending, NULLs first or last. Rows may come
 * from different batches (the top-N heap compares rows of batches read at different times).
 * NaN sorts above every other number, as in PostgreSQL.
 */
import type { Column } from "../../batch/column.js";
import { compareStrings } from "../../memtable/key-lanes.js";
import { DataType } from "../../table/data-type.js";
import { isBigIntBacked, isNumberBacked } from "../types.js";
import type { IndexedValues } from "../vectors.js";

export interface SortDirection {
  readonly descending: boolean;
  readonly nullsFirst: boolean;
}

type ValueComparator = (a: unknown, b: unknown) => number;

function valueComparator(type: DataType): ValueComparator {
  if (type === DataType.String) return (a, b) => compareStrings(a as string, b as string);
  if (type === DataType.Varbinary) return (a, b) => Buffer.compare(a as Uint8Array, b as Uint8Array);
  if (isBigIntBacked(type)) return (a, b) => ((a as bigint) < (b as bigint) ? -1 : a === b ? 0 : 1);
  return (a, b) => {
    const x = a as number;
    const y = b as number;
    if (x < y) return -1;
    if (x > y) return 1;
    if (x === y) return 0;
    return Number.isNaN(x) ? (Number.isNaN(y) ? 0 : 1) : -1;
  };
}

/** Compares row `a` of key columns `left` with row `b` of key columns `right`. */
export type RowComparator = (
  left: readonly Column[],
  a: number,
  right: readonly Column[],
  b: number,
) => number;

export function rowComparator(
  types: readonly DataType[],
  directions: readonly SortDirection[],
): RowComparator {
  const comparators = types.map(valueComparator);
  const m = types.length;
  return (left, a, right, b) => {
    for (let k = 0; k < m; k++) {
      const x = left[k] as Column;
      const y = right[k] as Column;
      const { descending, nullsFirst } = directions[k] as SortDirection;
      const xValid = x.validity === null || x.validity[a] === 1;
      const yValid = y.validity === null || y.validity[b] === 1;
      if (!xValid || !yValid) {
        if (xValid === yValid) continue;
        return !xValid === nullsFirst ? -1 : 1;
      }
      const order = (comparators[k] as ValueComparator)(
        (x.values as IndexedValues)[a],
        (y.values as IndexedValues)[b],
      );
      if (order !== 0) return descending ? -order : order;
    }
    return 0;
  };
}

/** Per row, the position of its key value among the column's distinct values in sort order. */
interface KeyRanks {
  readonly ranks: Int32Array;
  /** Distinct ranks (NULL included). */
  readonly count: number;
}

/**
 * Dense ranks of one sort key: equal values (NaN with NaN, -0 with 0, as the comparator has them)
 * share a rank, NULLs take the first or last rank. Undefined for types ranked only by comparison.
 */
function keyRanks(column: Column, direction: SortDirection, n: number): KeyRanks | undefined {
  const { type, validity } = column;
  if (type === DataType.Varbinary) return undefined;
  const codes = new Int32Array(n);
  const { distinct, hasNull } = isNumberBacked(type)
    ? numberCodes(column.values as NumberValues, validity, n, codes)
    : valueCodes(column.values, validity, n, codes);
  const compare = valueComparator(type);
  const order = distinct.map((_, i) => i).sort((a, b) => compare(distinct[a], distinct[b]));
  const d = distinct.length;
  const rankOfCode = new Int32Array(d);
  const offset = hasNull && direction.nullsFirst ? 1 : 0;
  order.forEach((code, position) => {
    rankOfCode[code] = (direction.descending ? d - 1 - position : position) + offset;
  });
  const nullRank = direction.nullsFirst ? 0 : d;
  const ranks = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const code = codes[i] as number;
    ranks[i] = code < 0 ? nullRank : (rankOfCode[code] as number);
  }
  return { ranks, count: d + (hasNull ? 1 : 0) };
}

/** The distinct values of a key column, codes[i] the one of row i (-1: NULL). */
interface KeyCodes {
  /** In first-seen order. */
  readonly distinct: unknown[];
  readonly hasNull: boolean;
}

/** Codes through a Map (SameValueZero: -0 is 0 and NaN is NaN, as the comparator has them). */
function valueCodes(
  values: IndexedValues,
  validity: Uint8Array | null,
  n: number,
  codes: Int32Array,
): KeyCodes {
  const index = new Map<unknown, number>();
  const distinct: unknown[] = [];
  let hasNull = false;
  // Consecutive equal rows skip the map.
  let previous: unknown = undefined;
  let previousCode = -1;
  for (let i = 0; i < n; i++) {
    if (validity !== null && validity[i] === 0) {
      codes[i] = -1;
      hasNull = true;
      continue;
    }
    const v = values[i];
    if (v === previous && previousCode >= 0) {
      codes[i] = previousCode;
      continue;
    }
    let code = index.get(v);
    if (code === undefined) {
      code = distinct.length;
      index.set(v, code);
      distinct.push(v);
    }
    previous = v;
    previousCode = code;
    codes[i] = code;
  }
  return { distinct, hasNull };
}

/** Values of the number-backed types: timestamp, double, float, int32, boolean. */
type NumberValues = Float64Array | Float32Array | Int32Array | Uint8Array;

/** Scratch for the bits of a double. */
const NUMBER_BITS = new Float64Array(1);
const NUMBER_WORDS = new Uint32Array(NUMBER_BITS.buffer);

function numberHash(v: number): number {
  NUMBER_BITS[0] = v;
  const h = Math.imul(
    (NUMBER_WORDS[0] as number) ^ Math.imul(NUMBER_WORDS[1] as number, 0x9e3779b1),
    0x85ebca6b,
  );
  return h ^ (h >>> 15);
}

/**
 * The codes `valueCodes` gives, for numbers: an open-addressing table of doubles, so values are
 * not boxed to be looked up. -0 counts as 0 and every NaN as one value, as in the Map.
 */
function numberCodes(
  values: NumberValues,
  validity: Uint8Array | null,
  n: number,
  codes: Int32Array,
): KeyCodes {
  const distinct: number[] = [];
  let hasNull = false;
  let nanCode = -1;
  let size = 64;
  let keys = new Float64Array(size);
  // Code + 1 per slot, 0 when empty.
  let slots = new Int32Array(size);
  let previous = NaN;
  let previousCode = -1;
  for (let i = 0; i < n; i++) {
    if (validity !== null && validity[i] === 0) {
      codes[i] = -1;
      hasNull = true;
      continue;
    }
    const raw = values[i] as number;
    if (raw === previous) {
      codes[i] = previousCode;
      continue;
    }
    let code: number;
    if (raw !== raw) {
      if (nanCode < 0) {
        nanCode = distinct.length;
        distinct.push(NaN);
      }
      code = nanCode;
    } else {
      const v = raw === 0 ? 0 : raw;
      let slot = numberHash(v) & (size - 1);
      for (;;) {
        const entry = slots[slot] as number;
        if (entry === 0) {
          code = distinct.length;
          distinct.push(v);
          keys[slot] = v;
          slots[slot] = code + 1;
          break;
        }
        if (keys[slot] === v) {
          code = entry - 1;
          break;
        }
        slot = (slot + 1) & (size - 1);
      }
      if (2 * distinct.length > size) {
        // Keep the table at most half full.
        size *= 2;
        keys = new Float64Array(size);
        slots = new Int32Array(size);
        for (let c = 0; c < distinct.length; c++) {
          const d = distinct[c] as number;
          if (d !== d) continue;
          let s = numberHash(d) & (size - 1);
          while (slots[s] !== 0) s = (s + 1) & (size - 1);
          keys[s] = d;
          slots[s] = c + 1;
        }
      }
    }
    previous = raw;
    previousCode = code;
    codes[i] = code;
  }
  return { distinct, hasNull };
}

/** A counting sort is used while the distinct key tuples possible number at most this many per row. */
const COUNTING_SORT_SLACK = 4;

/**
 * The order of rows [0, n) by the key columns, stable (equal keys keep row order). Each key is
 * ranked once; then rows are placed by a counting sort of the rank tuples when those are few, else
 * by a numeric sort of doubles packing the ranks and the row number when they fit, with no
 * comparator calls either way.
 */
export function sortedRowOrder(
  keys: readonly Column[],
  directions: readonly SortDirection[],
  n: number,
): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  if (n <= 1) return order;
  // Rows often arrive in order already (groups first seen in time order): one pass tells.
  const compare = rowComparator(
    keys.map((c) => c.type),
    directions,
  );
  let sorted = true;
  for (let i = 1; i < n && sorted; i++) sorted = compare(keys, i - 1, keys, i) <= 0;
  if (sorted) return order;
  const ranked: KeyRanks[] = [];
  for (const [k, column] of keys.entries()) {
    const ranks = keyRanks(column, directions[k] as SortDirection, n);
    if (ranks === undefined) return order.sort((a, b) => compare(keys, a, keys, b) || a - b);
    ranked.push(ranks);
  }
  let keySpace = 1;
  for (const r of ranked) keySpace *= r.count;
  if (keySpace <= COUNTING_SORT_SLACK * n) {
    // Few distinct key tuples for the rows (such as hours x hosts of an aggregation's groups): a
    // counting sort of the combined ranks, stable as it places rows in row order.
    const combined = new Int32Array(n);
    const starts = new Int32Array(keySpace + 1);
    for (let i = 0; i < n; i++) {
      let key = 0;
      for (const r of ranked) key = key * r.count + (r.ranks[i] as number);
      combined[i] = key;
      starts[key + 1] = (starts[key + 1] as number) + 1;
    }
    for (let k = 1; k <= keySpace; k++) starts[k] = (starts[k] as number) + (starts[k - 1] as number);
    for (let i = 0; i < n; i++) {
      const key = combined[i] as number;
      const at = starts[key] as number;
      order[at] = i;
      starts[key] = at + 1;
    }
    return order;
  }
  const space = keySpace * n;
  if (space <= Number.MAX_SAFE_INTEGER) {
    const packed = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let key = 0;
      for (const r of ranked) key = key * r.count + (r.ranks[i] as number);
      packed[i] = key * n + i;
    }
    packed.sort();
    for (let i = 0; i < n; i++) order[i] = (packed[i] as number) % n;
    return order;
  }
  return order.sort((a, b) => {
    for (const r of ranked) {
      const diff = (r.ranks[a] as number) - (r.ranks[b] as number);
      if (diff !== 0) return diff;
    }
    return a - b;
  });
}
