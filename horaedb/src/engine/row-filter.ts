import { takeRanges, takeRows, type ColumnBatch } from "../batch/column-batch.js";
import { viewColumn, type Column } from "../batch/column.js";

/** Rows with start <= timestamp < end. */
export interface TimeRange {
  readonly start: number;
  readonly end: number;
}

/** Per TAG column, the values a row may have (equality / IN). */
export type TagFilter = Readonly<Record<string, readonly string[]>>;

export type { RowPredicate } from "../batch/row-predicate.js";

/**
 * Keeps the rows of `batch` inside the time range whose tags match the filter. Returns the batch
 * itself when every row matches (the common case for pruned, sorted inputs), a view when the kept
 * rows are one range, else a copy. The input's arrays are never modified.
 */
export function filterRows(
  batch: ColumnBatch,
  timestampColumn: string,
  timeRange: TimeRange | undefined,
  tagFilter: TagFilter | undefined,
): ColumnBatch {
  const n = batch.numRows;
  let keep: Uint8Array | undefined;
  if (timeRange !== undefined) {
    const ts = columnNamed(batch, timestampColumn).values as Float64Array;
    const { start, end } = timeRange;
    for (let r = 0; r < n; r++) {
      const t = ts[r] as number;
      if (t < start || t >= end) {
        keep ??= new Uint8Array(n).fill(1);
        keep[r] = 0;
      }
    }
  }
  if (tagFilter !== undefined) {
    for (const [name, allowed] of Object.entries(tagFilter)) {
      const column = columnNamed(batch, name);
      const values = column.values as string[];
      const { validity } = column;
      const set = new Set(allowed);
      // Rows sorted by series repeat a tag value in runs: look it up once per run.
      let previous: string | undefined;
      let previousMatches = false;
      for (let r = 0; r < n; r++) {
        let matches = false;
        if (validity === null || validity[r] === 1) {
          const value = values[r] as string;
          if (value !== previous) {
            previous = value;
            previousMatches = set.has(value);
          }
          matches = previousMatches;
        }
        if (!matches) {
          keep ??= new Uint8Array(n).fill(1);
          keep[r] = 0;
        }
      }
    }
  }
  if (keep === undefined) return batch;
  return keptRows(batch, keep);
}

/** The rows whose `keep` byte is 1: views or block copies of runs of kept rows, else a gather. */
function keptRows(batch: ColumnBatch, keep: Uint8Array): ColumnBatch {
  const n = batch.numRows;
  const ranges: number[] = [];
  let kept = 0;
  for (let r = 0; r < n;) {
    if (keep[r] !== 1) {
      r++;
      continue;
    }
    const start = r;
    while (r < n && keep[r] === 1) r++;
    ranges.push(start, r);
    kept += r - start;
  }
  if (kept === 0)
    return { names: batch.names, columns: batch.columns.map((c) => viewColumn(c, 0, 0)), numRows: 0 };
  // Long runs copy by block; scattered rows by index.
  if (ranges.length <= 2 || kept >= 8 * (ranges.length / 2)) return takeRanges(batch, ranges);
  const indices = new Uint32Array(kept);
  let at = 0;
  for (let i = 0; i < ranges.length; i += 2) {
    for (let r = ranges[i] as number; r < (ranges[i + 1] as number); r++) indices[at++] = r;
  }
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
