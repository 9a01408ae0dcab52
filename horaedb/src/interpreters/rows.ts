import { allocateValues, type Column, type ColumnValues } from "../batch/column.js";
import type { ColumnBatch } from "../batch/column-batch.js";
import type { QueryResult, ResultColumn } from "../query/index.js";
import { DataType, type CellValue } from "../table/data-type.js";

/** Builds a column of `type` from plain values (null for NULL). */
export function columnFromCells(type: DataType, cells: readonly CellValue[]): Column {
  const values: ColumnValues = allocateValues(type, cells.length);
  const validity = new Uint8Array(cells.length);
  let nulls = 0;
  cells.forEach((cell, row) => {
    if (cell === null) {
      nulls++;
      return;
    }
    validity[row] = 1;
    if (type === DataType.Boolean) (values as Uint8Array)[row] = cell === true ? 1 : 0;
    else (values as unknown as CellValue[])[row] = cell;
  });
  return { type, values, validity: nulls === 0 ? null : validity };
}

/** A one-batch result from rows of plain values. */
export function rowsResult(columns: readonly ResultColumn[], rows: readonly CellValue[][]): QueryResult {
  const batch: ColumnBatch = {
    names: columns.map((c) => c.name),
    columns: columns.map((c, i) =>
      columnFromCells(
        c.type,
        rows.map((row) => row[i] ?? null),
      ),
    ),
    numRows: rows.length,
  };
  return { columns, batches: [batch] };
}
