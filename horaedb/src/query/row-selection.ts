/**
 * The rows where a filter holds, found without evaluating it into columns, for the filters queries
 * write most: comparisons of a number column with a constant (`usage_user > 90`, a time bound), and
 * ANDs of them. The first comparison runs over every row and writes the passing rows' indices; each
 * next one runs over those indices only. Evaluated as expressions, each comparison would make a
 * boolean column of every row, the AND another, and a last pass would collect the TRUE rows.
 */
import type { Column } from "../batch/column.js";
import type { ColumnBatch } from "../batch/column-batch.js";
import type { ComparisonOperator } from "../sql/index.js";
import { DataType } from "../table/data-type.js";
import type { BoundExpr } from "./bound-expr.js";
import { flipComparison } from "./compare-kernels.js";

/** A comparison of a column of JS numbers with a number. */
interface NumberComparison {
  readonly op: ComparisonOperator;
  readonly column: number;
  readonly value: number;
}

type NumberArray = { readonly [i: number]: number };

/**
 * The rows of `batch` (numbered from 0, ascending) where `predicate` is TRUE, when it is a
 * comparison of a timestamp, double, float or int32 column with a non-null number, or an AND of
 * such comparisons; undefined for any other predicate. NULL rows never pass, and a comparison with
 * NaN holds only for `!=`, as when the predicate is evaluated.
 */
export function selectRows(predicate: BoundExpr, batch: ColumnBatch): Uint32Array | undefined {
  const comparisons: NumberComparison[] = [];
  if (!collectComparisons(predicate, comparisons)) return undefined;
  // The evaluator goes by the columns themselves: so does this, or it leaves them to it.
  for (const { column } of comparisons) {
    const type = batch.columns[column]?.type;
    if (type === undefined || !holdsNumbers(type)) return undefined;
  }
  const n = batch.numRows;
  const rows = scratchOf(n);
  let count = -1;
  for (const { op, column, value } of comparisons) {
    const source = batch.columns[column] as Column;
    const values = source.values as unknown as NumberArray;
    count =
      count < 0
        ? selectAll(op, values, source.validity, value, n, rows)
        : selectAmong(op, values, source.validity, value, rows, count);
  }
  // A copy of the rows that pass, which are often none or few.
  return rows.slice(0, count);
}

/**
 * Room for the indices of a batch's rows, reused from call to call (selectRows runs to its end
 * without yielding, and returns a copy): an array of more than a few values is memory of its own,
 * whose allocation cost as much as the comparisons of a few hundred rows.
 */
let scratch = new Uint32Array(1024);

function scratchOf(n: number): Uint32Array {
  if (scratch.length < n) scratch = new Uint32Array(Math.max(n, scratch.length * 2));
  return scratch;
}

/**
 * The comparisons of a number column with a number among the conjuncts of `predicate` (the
 * operands of its top-level ANDs), leaving out `!=`: every row the predicate holds for meets each,
 * and a NULL or NaN value meets none. Other conjuncts only narrow the rows further.
 */
export function necessaryComparisons(
  predicate: BoundExpr,
): Array<{ readonly column: number; readonly op: "=" | "<" | "<=" | ">" | ">="; readonly value: number }> {
  if (predicate.kind === "logical" && predicate.op === "AND") {
    return [...necessaryComparisons(predicate.left), ...necessaryComparisons(predicate.right)];
  }
  const found: NumberComparison[] = [];
  if (predicate.kind !== "compare" || !collectComparisons(predicate, found)) return [];
  return found.flatMap(({ op, column, value }) => (op === "!=" ? [] : [{ op, column, value }]));
}

/** Appends the comparisons `expr` is an AND of; false when it is anything else. */
function collectComparisons(expr: BoundExpr, out: NumberComparison[]): boolean {
  if (expr.kind === "logical") {
    return expr.op === "AND" && collectComparisons(expr.left, out) && collectComparisons(expr.right, out);
  }
  if (expr.kind !== "compare") return false;
  const { left, right } = expr;
  if (left.kind === "column" && right.kind === "literal") {
    return addComparison(expr.op, left.index, left.type, right.value, out);
  }
  if (left.kind === "literal" && right.kind === "column") {
    return addComparison(flipComparison(expr.op), right.index, right.type, left.value, out);
  }
  return false;
}

function addComparison(
  op: ComparisonOperator,
  column: number,
  type: DataType,
  value: unknown,
  out: NumberComparison[],
): boolean {
  if (typeof value !== "number" || !holdsNumbers(type)) return false;
  out.push({ op, column, value });
  return true;
}

/** Types whose columns hold JS numbers in typed arrays (booleans, 0/1, are left to evaluation). */
function holdsNumbers(type: DataType): boolean {
  return (
    type === DataType.Timestamp ||
    type === DataType.Double ||
    type === DataType.Float ||
    type === DataType.Int32
  );
}

/** Writes the rows of [0, n) that pass into `rows`; returns how many. */
function selectAll(
  op: ComparisonOperator,
  a: NumberArray,
  validity: Uint8Array | null,
  v: number,
  n: number,
  rows: Uint32Array,
): number {
  let k = 0;
  // One loop per operator: no call or switch per row.
  if (validity === null) {
    switch (op) {
      case "=":
        for (let i = 0; i < n; i++) if (a[i] === v) rows[k++] = i;
        break;
      case "!=":
        for (let i = 0; i < n; i++) if (a[i] !== v) rows[k++] = i;
        break;
      case "<":
        for (let i = 0; i < n; i++) if ((a[i] as number) < v) rows[k++] = i;
        break;
      case "<=":
        for (let i = 0; i < n; i++) if ((a[i] as number) <= v) rows[k++] = i;
        break;
      case ">":
        for (let i = 0; i < n; i++) if ((a[i] as number) > v) rows[k++] = i;
        break;
      case ">=":
        for (let i = 0; i < n; i++) if ((a[i] as number) >= v) rows[k++] = i;
        break;
    }
    return k;
  }
  for (let i = 0; i < n; i++) if (validity[i] === 1 && holds(op, a[i] as number, v)) rows[k++] = i;
  return k;
}

/** Keeps, of the first `count` rows in `rows`, those that pass (in place); returns how many. */
function selectAmong(
  op: ComparisonOperator,
  a: NumberArray,
  validity: Uint8Array | null,
  v: number,
  rows: Uint32Array,
  count: number,
): number {
  let k = 0;
  for (let j = 0; j < count; j++) {
    const i = rows[j] as number;
    if ((validity === null || validity[i] === 1) && holds(op, a[i] as number, v)) rows[k++] = i;
  }
  return k;
}

function holds(op: ComparisonOperator, x: number, v: number): boolean {
  switch (op) {
    case "=":
      return x === v;
    case "!=":
      return x !== v;
    case "<":
      return x < v;
    case "<=":
      return x <= v;
    case ">":
      return x > v;
    case ">=":
      return x >= v;
  }
}
