import { allocateValues, cellAt, type Column } from "../../src/batch/column.js";
import type { ColumnBatch } from "../../src/batch/column-batch.js";
import { DataType, type CellValue } from "../../src/table/data-type.js";
import type { TableSchema } from "../../src/table/schema.js";

/** Builds a column from plain cells (null = null; booleans as true/false). */
export function columnFromCells(type: DataType, cells: readonly CellValue[]): Column {
  const values = allocateValues(type, cells.length);
  const hasNull = cells.some((c) => c === null);
  const validity = hasNull ? new Uint8Array(cells.length) : null;
  cells.forEach((cell, i) => {
    if (cell === null) return;
    if (validity !== null) validity[i] = 1;
    if (type === DataType.Boolean) (values as Uint8Array)[i] = cell === true ? 1 : 0;
    else (values as unknown as CellValue[])[i] = cell;
  });
  return { type, values, validity };
}

/** A batch of the named columns of `schema`, from rows given as cells in `names` order. */
export function batchFromRows(
  schema: TableSchema,
  names: readonly string[],
  rows: readonly (readonly CellValue[])[],
): ColumnBatch {
  const columns = names.map((name, c) => {
    const type = schema.column(name)?.type;
    if (type === undefined) throw new Error(`test schema has no column ${name}`);
    return columnFromCells(
      type,
      rows.map((r) => r[c] ?? null),
    );
  });
  return { names: [...names], columns, numRows: rows.length };
}

/** The rows of batches as plain cells, one array per row in `names` order. */
export function rowsOf(batches: Iterable<ColumnBatch>): CellValue[][] {
  const out: CellValue[][] = [];
  for (const batch of batches) {
    for (let r = 0; r < batch.numRows; r++) out.push(batch.columns.map((c) => cellAt(c, r)));
  }
  return out;
}

/** A small deterministic PRNG (mulberry32), so failures reproduce from the printed seed. */
export { mulberry32 as seededRandom } from "../../src/testing/tsbs.js";
