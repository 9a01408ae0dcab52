/**
 * Small building blocks over `Column`s and `ColumnBatch`es used by every kernel and operator:
 * broadcasting a value to a column, combining validity, selections, concatenation.
 */
import {
  allocateColumns,
  allocateValues,
  type Column,
  type ColumnStorage,
  type ColumnValues,
} from "../batch/column.js";
import type { ColumnBatch } from "../batch/column-batch.js";
import { DataType } from "../table/data-type.js";
import type { ScalarValue } from "./types.js";

/** Element access shared by every values array (typed arrays and plain arrays). */
export type IndexedValues = { [index: number]: unknown; readonly length: number };

/** A column of `n` copies of `value` (all null when `value` is null). */
export function broadcast(type: DataType, value: ScalarValue, n: number): Column {
  const values = allocateValues(type, n);
  if (value === null) return { type, values, validity: new Uint8Array(n) };
  const stored = type === DataType.Boolean ? (value === true ? 1 : 0) : value;
  (values as unknown as { fill(v: unknown): void }).fill(stored);
  return { type, values, validity: null };
}

/** A boolean column over 0/1 bytes. */
export function booleanColumn(values: Uint8Array, validity: Uint8Array | null): Column {
  return { type: DataType.Boolean, values, validity };
}

/** Rows valid in both inputs; null (all valid) when both are. */
export function bothValid(a: Uint8Array | null, b: Uint8Array | null, n: number): Uint8Array | null {
  // Validity arrays are never written after creation, so an input's may be shared.
  if (a === null) return b;
  if (b === null) return a;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (a[i] as number) & (b[i] as number);
  return out;
}

/** The value of one cell (booleans as true/false, null for NULL). */
export function scalarAt(column: Column, row: number): ScalarValue {
  if (column.validity !== null && column.validity[row] !== 1) return null;
  const v = (column.values as IndexedValues)[row];
  if (column.type === DataType.Boolean) return v === 1;
  return v as ScalarValue;
}

/** Indices of the rows where a boolean column is TRUE (not FALSE, not NULL). */
export function trueRows(mask: Column, n: number): Uint32Array {
  const values = mask.values as Uint8Array;
  const validity = mask.validity;
  let count = 0;
  for (let i = 0; i < n; i++) if (values[i] === 1 && (validity === null || validity[i] === 1)) count++;
  const out = new Uint32Array(count);
  let at = 0;
  for (let i = 0; i < n; i++) if (values[i] === 1 && (validity === null || validity[i] === 1)) out[at++] = i;
  return out;
}

/** Concatenates batches of the same layout into one. */
export function concatRows(batches: readonly ColumnBatch[], names?: readonly string[]): ColumnBatch {
  const first = batches[0];
  if (first === undefined) return { names: names ?? [], columns: [], numRows: 0 };
  if (batches.length === 1) return first;
  let numRows = 0;
  for (const b of batches) numRows += b.numRows;
  const shapes = first.columns.map((c, index) => ({
    type: c.type,
    hasNulls: batches.some((b) => (b.columns[index] as Column).validity !== null),
  }));
  const storage = allocateColumns(shapes, numRows);
  const columns = first.columns.map((c, index) => {
    const { values, validity } = storage[index] as ColumnStorage;
    let at = 0;
    for (const b of batches) {
      const part = b.columns[index] as Column;
      const src = part.values;
      if (Array.isArray(src)) {
        const dst = values as unknown[];
        for (let i = 0; i < b.numRows; i++) dst[at + i] = src[i];
      } else {
        const typed = src as unknown as { subarray(s: number, e: number): ArrayLike<number | bigint> };
        (values as unknown as { set(s: ArrayLike<number | bigint>, o: number): void }).set(
          typed.subarray(0, b.numRows),
          at,
        );
      }
      if (validity !== null) {
        if (part.validity !== null) validity.set(part.validity.subarray(0, b.numRows), at);
        else validity.fill(1, at, at + b.numRows);
      }
      at += b.numRows;
    }
    return { type: c.type, values, validity };
  });
  return { names: first.names, columns, numRows };
}

/** The batch cut into batches of at most `size` rows (the batch itself when it is small enough). */
export function* chunkRows(batch: ColumnBatch, size: number): Generator<ColumnBatch> {
  if (batch.numRows <= size) {
    if (batch.numRows > 0) yield batch;
    return;
  }
  for (let start = 0; start < batch.numRows; start += size) {
    const end = Math.min(batch.numRows, start + size);
    yield sliceColumns(batch, start, end);
  }
}

/** Rows [start, end) as views where the values are typed arrays. */
export function sliceColumns(batch: ColumnBatch, start: number, end: number): ColumnBatch {
  const columns = batch.columns.map((c): Column => {
    const v = c.values;
    const values = (
      Array.isArray(v) ? v.slice(start, end) : (v as Float64Array).subarray(start, end)
    ) as ColumnValues;
    return { type: c.type, values, validity: c.validity === null ? null : c.validity.subarray(start, end) };
  });
  return { names: batch.names, columns, numRows: end - start };
}
