/**
 * Query results: the columns' names and types with the result batches, and their conversions to
 * Arrow record batches (what gRPC clients receive) and to plain rows.
 */
import type { RecordBatch } from "apache-arrow";
import { allocateValues, cellAt, type Column } from "../batch/column.js";
import type { ColumnBatch } from "../batch/column-batch.js";
import { columnBatchToArrow } from "../sst/arrow-convert.js";
import type { CellValue, DataType } from "../table/data-type.js";

export interface ResultColumn {
  readonly name: string;
  readonly type: DataType;
  /** A TAG column's values (see `Field.tag`): sent dictionary-encoded. */
  readonly tag?: true;
}

export interface QueryResult {
  readonly columns: readonly ResultColumn[];
  readonly batches: readonly ColumnBatch[];
}

/** A result produced batch by batch; iterate it once. */
export interface QueryStream extends AsyncIterable<ColumnBatch> {
  readonly columns: readonly ResultColumn[];
}

export function resultRowCount(result: QueryResult): number {
  let rows = 0;
  for (const b of result.batches) rows += b.numRows;
  return rows;
}

/**
 * The result as Arrow record batches, one per result batch (one empty batch when there are no
 * rows, so the schema is always known). Timestamps are Timestamp(ms), NULLs in validity bitmaps.
 */
export function resultToArrow(result: QueryResult): RecordBatch[] {
  if (result.batches.length === 0) return [columnBatchToArrow(emptyBatch(result.columns))];
  return result.batches.map((b) => columnBatchToArrow(b));
}

/** A batch of no rows with the result's columns: a result without rows still has its schema. */
export function emptyBatch(columns: readonly ResultColumn[]): ColumnBatch {
  return {
    names: columns.map((c) => c.name),
    columns: columns.map((c) => emptyColumn(c.type)),
    numRows: 0,
  };
}

/** Columns of no rows, one per type, shared: nothing can be written into a column of no rows. */
const emptyColumns = new Map<DataType, Column>();

function emptyColumn(type: DataType): Column {
  let column = emptyColumns.get(type);
  if (column === undefined) {
    column = Object.freeze({ type, values: allocateValues(type, 0), validity: null });
    emptyColumns.set(type, column);
  }
  return column;
}

/** Each row as an array of values in column order (timestamps in ms, NULL as null). */
export function resultRowArrays(result: QueryResult): CellValue[][] {
  const rows: CellValue[][] = [];
  for (const batch of result.batches) {
    for (let r = 0; r < batch.numRows; r++) rows.push(batch.columns.map((c) => cellAt(c, r)));
  }
  return rows;
}

/** Each row as an object keyed by column name (a later column wins over an earlier one of the same name). */
export function resultRowObjects(result: QueryResult): Record<string, CellValue>[] {
  const names = result.columns.map((c) => c.name);
  return resultRowArrays(result).map((row) => Object.fromEntries(names.map((n, i) => [n, row[i] ?? null])));
}
