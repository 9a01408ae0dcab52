/**
 * A column's rows in the form an SST read decodes them (reader.ts through arrow-convert.ts), built
 * from the rows the SST was written from. A flush puts these in the decoded column cache instead of
 * decoding the file it has just written: the cache holds the same columns either way, at the cost
 * of a copy instead of a Parquet decode.
 *
 * The form, per row group: arrays of the group's own (not views of a larger buffer, so a cache
 * entry holds only its own bytes), validity null when the group has no null, and a null string or
 * byte array cell holding "" or an empty array. A decoded number in a null cell is whatever the
 * Parquet decoder's buffer held (reads never look at it); here it is 0.
 */
import type { Column, ColumnValues } from "../batch/column.js";
import { DataType } from "../table/data-type.js";

const EMPTY_BYTES = new Uint8Array(0);

/** Rows [start, end) of the column in decoded form. */
export function decodedForm(column: Column, start: number, end: number): Column {
  const validity = groupValidity(column.validity, start, end);
  const values = ownValues(column, start, end);
  if (validity !== null) clearNullCells(column.type, values, validity);
  return { type: column.type, values, validity };
}

/** The column cut into row groups of `rowsPerGroup` rows (the last one shorter), each in decoded form. */
export function decodedRowGroups(column: Column, numRows: number, rowsPerGroup: number): Column[] {
  const groups: Column[] = [];
  for (let start = 0; start < numRows; start += rowsPerGroup) {
    groups.push(decodedForm(column, start, Math.min(start + rowsPerGroup, numRows)));
  }
  return groups;
}

function groupValidity(validity: Uint8Array | null, start: number, end: number): Uint8Array | null {
  if (validity === null) return null;
  const slice = validity.subarray(start, end);
  return slice.includes(0) ? slice.slice() : null;
}

function ownValues(column: Column, start: number, end: number): ColumnValues {
  const values = column.values;
  if (column.type === DataType.Varbinary) {
    // A value may be a view of a larger buffer (a request, a WAL record): the cache keeps copies.
    return (values as Uint8Array[]).slice(start, end).map((bytes) => bytes.slice());
  }
  return values.slice(start, end);
}

function clearNullCells(type: DataType, values: ColumnValues, validity: Uint8Array): void {
  const empty: string | Uint8Array | number | bigint =
    type === DataType.String
      ? ""
      : type === DataType.Varbinary
        ? EMPTY_BYTES
        : type === DataType.Int64 || type === DataType.UInt64
          ? 0n
          : 0;
  const cells = values as unknown as Array<typeof empty>;
  for (let i = 0; i < validity.length; i++) if (validity[i] === 0) cells[i] = empty;
}
