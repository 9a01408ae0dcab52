import { allocateValues, type Column } from "../batch/column.js";
import type { ColumnBatch } from "../batch/column-batch.js";
import type { DataType } from "../table/data-type.js";

/** Concatenates same-typed columns into one; a single column is returned as is (no copy). */
export function concatColumns(type: DataType, parts: readonly Column[]): Column {
  if (parts.length === 1 && parts[0] !== undefined) return parts[0];
  let total = 0;
  let anyValidity = false;
  for (const p of parts) {
    total += p.values.length;
    anyValidity ||= p.validity !== null;
  }
  const values = allocateValues(type, total);
  let at = 0;
  if (Array.isArray(values)) {
    const out = values as unknown[];
    for (const p of parts) {
      const src = p.values as readonly unknown[];
      for (let i = 0; i < src.length; i++) out[at + i] = src[i];
      at += src.length;
    }
  } else {
    // Same constructor on both sides, so `set` is a plain memory copy.
    const out = values as unknown as { set(src: ArrayLike<number | bigint>, offset: number): void };
    for (const p of parts) {
      out.set(p.values as unknown as ArrayLike<number | bigint>, at);
      at += p.values.length;
    }
  }
  let validity: Uint8Array | null = null;
  if (anyValidity) {
    validity = new Uint8Array(total).fill(1);
    at = 0;
    for (const p of parts) {
      if (p.validity !== null) validity.set(p.validity.subarray(0, p.values.length), at);
      at += p.values.length;
    }
  }
  return { type, values, validity };
}

/** Concatenates batches with the same column names, in that order. */
export function concatBatches(batches: readonly ColumnBatch[]): ColumnBatch {
  const first = batches[0];
  if (first === undefined) return { names: [], columns: [], numRows: 0 };
  if (batches.length === 1) return first;
  const columns = first.names.map((_, c) =>
    concatColumns(
      (first.columns[c] as Column).type,
      batches.map((b) => b.columns[c] as Column),
    ),
  );
  let numRows = 0;
  for (const b of batches) numRows += b.numRows;
  return { names: first.names, columns, numRows };
}
