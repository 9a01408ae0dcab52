import {
  columnByteSize,
  nullColumn,
  takeColumn,
  takeColumnRanges,
  viewColumn,
  type Column,
} from "./column.js";
import type { TableSchema } from "../table/schema.js";

/**
 * A set of rows of one table in columnar form: `names[i]` is the name of `columns[i]`. A batch may
 * carry a subset of the table's columns (a projection, or a write that omits nullable fields).
 */
export interface ColumnBatch {
  readonly names: readonly string[];
  readonly columns: readonly Column[];
  readonly numRows: number;
}

export function columnOf(batch: ColumnBatch, name: string): Column | undefined {
  const i = batch.names.indexOf(name);
  return i < 0 ? undefined : batch.columns[i];
}

/** Returns the rows at `indices`, in that order. */
export function takeRows(batch: ColumnBatch, indices: ArrayLike<number>): ColumnBatch {
  return {
    names: batch.names,
    columns: batch.columns.map((c) => takeColumn(c, indices)),
    numRows: indices.length,
  };
}

/** Returns rows [start, end). */
export function sliceRows(batch: ColumnBatch, start: number, end: number): ColumnBatch {
  const indices = new Uint32Array(end - start);
  for (let i = 0; i < indices.length; i++) indices[i] = start + i;
  return takeRows(batch, indices);
}

/** Rows [start, end) without copying (see viewColumn); the batch itself when that is every row. */
export function viewRows(batch: ColumnBatch, start: number, end: number): ColumnBatch {
  if (start === 0 && end === batch.numRows) return batch;
  return {
    names: batch.names,
    columns: batch.columns.map((c) => viewColumn(c, start, end)),
    numRows: end - start,
  };
}

/**
 * The rows in `ranges` ([start, end) pairs, in order): a view when it is one range, else a copy
 * made range by range.
 */
export function takeRanges(batch: ColumnBatch, ranges: readonly number[]): ColumnBatch {
  if (ranges.length === 2) return viewRows(batch, ranges[0] as number, ranges[1] as number);
  let numRows = 0;
  for (let i = 0; i < ranges.length; i += 2) numRows += (ranges[i + 1] as number) - (ranges[i] as number);
  return {
    names: batch.names,
    columns: batch.columns.map((c) => takeColumnRanges(c, ranges, numRows)),
    numRows,
  };
}

/**
 * Lays the batch out as the full schema, in schema order: missing columns become nulls (or the
 * column default when it has one is applied by the writer before this point).
 */
export function alignToSchema(batch: ColumnBatch, schema: TableSchema): ColumnBatch {
  const columns = schema.columns.map((c) => columnOf(batch, c.name) ?? nullColumn(c.type, batch.numRows));
  return { names: schema.columns.map((c) => c.name), columns, numRows: batch.numRows };
}

export function batchByteSize(batch: ColumnBatch): number {
  let bytes = 0;
  for (const c of batch.columns) bytes += columnByteSize(c);
  return bytes;
}
