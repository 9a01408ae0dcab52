/**
 * Comparison of two columns of the same type, or of a column with a constant, into a boolean
 * column (NULL where either side is NULL). Numbers compare as numbers, bigints as bigints, strings
 * by code point (the engine's key order), varbinary bytewise, booleans false < true.
 */
import type { Column } from "../batch/column.js";
import { compareStrings } from "../memtable/key-lanes.js";
import type { ComparisonOperator } from "../sql/index.js";
import { DataType } from "../table/data-type.js";
import { isBigIntBacked, isNumberBacked, type ScalarValue } from "./types.js";
import { booleanColumn, bothValid, broadcast } from "./vectors.js";

type NumberArray = { readonly [i: number]: number };
type Comparator = (a: unknown, b: unknown) => number;

/** Whether the outcome of a three-way comparison satisfies the operator. */
export function satisfies(op: ComparisonOperator, order: number): boolean {
  switch (op) {
    case "=":
      return order === 0;
    case "!=":
      return order !== 0;
    case "<":
      return order < 0;
    case "<=":
      return order <= 0;
    case ">":
      return order > 0;
    case ">=":
      return order >= 0;
  }
}

/** The operator with its operands swapped: `a < b` is `b > a`. */
export function flipComparison(op: ComparisonOperator): ComparisonOperator {
  switch (op) {
    case "<":
      return ">";
    case "<=":
      return ">=";
    case ">":
      return "<";
    case ">=":
      return "<=";
    default:
      return op;
  }
}

/** Three-way comparison of two non-null values of `type` as they are held in columns. */
export function comparatorFor(type: DataType): Comparator {
  if (type === DataType.String) return (a, b) => compareStrings(a as string, b as string);
  if (type === DataType.Varbinary) return (a, b) => Buffer.compare(a as Uint8Array, b as Uint8Array);
  if (isBigIntBacked(type)) return (a, b) => ((a as bigint) < (b as bigint) ? -1 : a === b ? 0 : 1);
  return (a, b) => ((a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0);
}

/** `left op right` row by row; both columns have the same type. */
export function compareColumns(op: ComparisonOperator, left: Column, right: Column, n: number): Column {
  const out = new Uint8Array(n);
  if (isNumberBacked(left.type)) {
    compareNumbers(op, left.values as unknown as NumberArray, right.values as unknown as NumberArray, out, n);
  } else {
    const cmp = comparatorFor(left.type);
    const a = left.values as unknown as { readonly [i: number]: unknown };
    const b = right.values as unknown as { readonly [i: number]: unknown };
    for (let i = 0; i < n; i++) out[i] = satisfies(op, cmp(a[i], b[i])) ? 1 : 0;
  }
  return booleanColumn(out, bothValid(left.validity, right.validity, n));
}

/** `left op value` row by row, for a constant of the column's type. */
export function compareWithConstant(
  op: ComparisonOperator,
  left: Column,
  value: ScalarValue,
  n: number,
): Column {
  if (value === null) return broadcast(DataType.Boolean, null, n);
  const out = new Uint8Array(n);
  if (isNumberBacked(left.type)) {
    const v = typeof value === "boolean" ? (value ? 1 : 0) : (value as number);
    compareNumberWithConstant(op, left.values as unknown as NumberArray, v, out, n);
  } else {
    const cmp = comparatorFor(left.type);
    const a = left.values as unknown as { readonly [i: number]: unknown };
    for (let i = 0; i < n; i++) out[i] = satisfies(op, cmp(a[i], value)) ? 1 : 0;
  }
  return booleanColumn(out, left.validity);
}

// One loop per operator keeps the hot loops free of a call or a switch per row.
function compareNumbers(
  op: ComparisonOperator,
  a: NumberArray,
  b: NumberArray,
  out: Uint8Array,
  n: number,
): void {
  switch (op) {
    case "=":
      for (let i = 0; i < n; i++) out[i] = a[i] === b[i] ? 1 : 0;
      return;
    case "!=":
      for (let i = 0; i < n; i++) out[i] = a[i] !== b[i] ? 1 : 0;
      return;
    case "<":
      for (let i = 0; i < n; i++) out[i] = (a[i] as number) < (b[i] as number) ? 1 : 0;
      return;
    case "<=":
      for (let i = 0; i < n; i++) out[i] = (a[i] as number) <= (b[i] as number) ? 1 : 0;
      return;
    case ">":
      for (let i = 0; i < n; i++) out[i] = (a[i] as number) > (b[i] as number) ? 1 : 0;
      return;
    case ">=":
      for (let i = 0; i < n; i++) out[i] = (a[i] as number) >= (b[i] as number) ? 1 : 0;
      return;
  }
}

function compareNumberWithConstant(
  op: ComparisonOperator,
  a: NumberArray,
  v: number,
  out: Uint8Array,
  n: number,
): void {
  switch (op) {
    case "=":
      for (let i = 0; i < n; i++) out[i] = a[i] === v ? 1 : 0;
      return;
    case "!=":
      for (let i = 0; i < n; i++) out[i] = a[i] !== v ? 1 : 0;
      return;
    case "<":
      for (let i = 0; i < n; i++) out[i] = (a[i] as number) < v ? 1 : 0;
      return;
    case "<=":
      for (let i = 0; i < n; i++) out[i] = (a[i] as number) <= v ? 1 : 0;
      return;
    case ">":
      for (let i = 0; i < n; i++) out[i] = (a[i] as number) > v ? 1 : 0;
      return;
    case ">=":
      for (let i = 0; i < n; i++) out[i] = (a[i] as number) >= v ? 1 : 0;
      return;
  }
}
