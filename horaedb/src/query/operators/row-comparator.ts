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
