import { takeRows, type ColumnBatch } from "../batch/column-batch.js";
import type { Column } from "../batch/column.js";

/** Rows with start <= timestamp < end. */
export interface TimeRange {
  readonly start: number;
  readonly end: number;
}

/** Per TAG column, the values a row may have (equality / IN). */
export type TagFilter = Readonly<Record<string, readonly string[]>>;

/**
 * Keeps the rows of `batch` inside the time range whose tags match the filter. Returns the batch
 * itself when every row matches (the common case for pruned, sorted inputs).
 */
export function filterRows(
  batch: ColumnBatch,
  timestampColumn: string,
  timeRange: TimeRange | undefined,
  tagFilter: TagFilter | undefined,
): ColumnBatch {
  const n = batch.numRows;
  let keep: Uint8Array | undefined;
  const reject = (row: number) => {
    keep ??= new Uint8Array(n).fill(1);
    keep[row] = 0;
  };
  if (timeRange !== undefined) {
    const ts = columnNamed(batch, timestampColumn).values as Float64Array;
    for (let r = 0; r < n; r++) {
      const t = ts[r] as number;
      if (t < timeRange.start || t >= timeRange.end) reject(r);
    }
  }
  if (tagFilter !== undefined) {
    for (const [name, allowed] of Object.entries(tagFilter)) {
      const column = columnNamed(batch, name);
      const values = column.values as string[];
      const set = new Set(allowed);
      for (let r = 0; r < n; r++) {
        const present = column.validity === null || column.validity[r] === 1;
        if (!present || !set.has(values[r] as string)) reject(r);
      }
    }
  }
  if (keep === undefined) return batch;
  const indices: number[] = [];
  for (let r = 0; r < n; r++) if (keep[r] === 1) indices.push(r);
  return takeRows(batch, indices);
}

/** The batch with only `names`, in that order. */
export function projectBatch(batch: ColumnBatch, names: readonly string[]): ColumnBatch {
  if (names.length === batch.names.length && names.every((n, i) => batch.names[i] === n)) return batch;
  return { names, columns: names.map((n) => columnNamed(batch, n)), numRows: batch.numRows };
}

function columnNamed(batch: ColumnBatch, name: string): Column {
  const i = batch.names.indexOf(name);
  const column = i < 0 ? undefined : batch.columns[i];
  if (column === undefined) throw new RangeError(`column "${name}" is not in the batch`);
  return column;
}
