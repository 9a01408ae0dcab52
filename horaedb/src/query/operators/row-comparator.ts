/**
 * Orders rows by sort keys: each key ascending or descending, NULLs first or last. Rows may come
 * from different batches (the top-N heap compares rows of batches read at different times).
 * NaN sorts above every other number, as in PostgreSQL.
 */
import type { Column } from "../../batch/column.js";
import { compareStrings } from "../../memtable/key-lanes.js";
import { DataType } from "../../table/data-type.js";
import { isBigIntBacked } from "../types.js";
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
  const values = column.values as IndexedValues;
  // Distinct values in first-seen order; consecutive equal rows skip the map.
  const index = new Map<unknown, number>();
  const distinct: unknown[] = [];
  const codes = new Int32Array(n);
  let hasNull = false;
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

/**
 * The order of rows [0, n) by the key columns, stable (equal keys keep row order). Each key is
 * ranked once; when the ranks and the row number fit in one double, the order is a numeric sort of
 * those doubles, with no comparator calls.
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
  let space = n;
  for (const r of ranked) space *= r.count;
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
