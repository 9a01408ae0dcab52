import type { ColumnBatch } from "./column-batch.js";

/**
 * A condition on some columns of a scan's rows that the scan may apply before it reads their other
 * columns (a WHERE condition on fields, such as `usage_user > 90`). It must depend on a row's own
 * values only, so that applying it to any subset of the rows keeps the same ones.
 */
export interface RowPredicate {
  /** The columns it reads. */
  readonly columns: readonly string[];
  /** The rows of `batch` (which holds at least `columns`, by name) that pass, ascending. */
  select(batch: ColumnBatch): Uint32Array;
  /**
   * Comparisons every passing row meets (the predicate's conjuncts that compare a number column
   * with a number; their columns are among `columns`), so that a reader can skip rows whose value
   * statistics rule them out.
   */
  readonly comparisons?: readonly ValueComparison[];
}

/**
 * `column op value` over a column of numbers (timestamp, double, float, int32). A row holding null
 * or NaN in the column never meets it: `!=`, which NaN meets, is never one of them.
 */
export interface ValueComparison {
  readonly column: string;
  readonly op: "=" | "<" | "<=" | ">" | ">=";
  readonly value: number;
}
