import {
  allocateColumns,
  columnByteSize,
  nullColumn,
  takeColumnInto,
  takeColumnRanges,
  viewColumn,
  type Column,
  type ColumnStorage,
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
  /**
   * Set by a table scan on rows it read in series order (sst/series-runs.ts): the rows where a run
   * starts, ascending, the first 0. Inside a run every TAG column of the batch holds one value (or
   * null throughout) and the timestamps do not decrease, so a key of tags and time buckets changes
   * only at a run start or a bucket boundary. A batch built from another keeps it only where it
   * stays true (the row views, range copies and ascending gathers below rebase it); anything else
   * leaves it out.
   */
  readonly seriesRuns?: Uint32Array | undefined;
}

export function columnOf(batch: ColumnBatch, name: string): Column | undefined {
  const i = batch.names.indexOf(name);
  return i < 0 ? undefined : batch.columns[i];
}

/** Returns the rows at `indices`, in that order. */
export function takeRows(batch: ColumnBatch, indices: ArrayLike<number>): ColumnBatch {
  const taken: ColumnBatch = {
    names: batch.names,
    columns: takeColumns(batch.columns, indices),
    numRows: indices.length,
  };
  const runs = batch.seriesRuns === undefined ? undefined : seriesRunsOfRows(batch.seriesRuns, indices);
  return runs === undefined ? taken : withSeriesRuns(taken, runs);
}

/** The rows at `indices` of each column, in one allocation for all of them (see allocateColumns). */
function takeColumns(columns: readonly Column[], indices: ArrayLike<number>): Column[] {
  const shapes = columns.map((c) => ({ type: c.type, hasNulls: c.validity !== null }));
  const storage = allocateColumns(shapes, indices.length);
  return columns.map((column, i) => takeColumnInto(column, indices, storage[i] as ColumnStorage));
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
  const view: ColumnBatch = {
    names: batch.names,
    columns: batch.columns.map((c) => viewColumn(c, start, end)),
    numRows: end - start,
  };
  if (batch.seriesRuns === undefined || end <= start) return view;
  return withSeriesRuns(view, seriesRunsOfRanges(batch.seriesRuns, [start, end]));
}

/**
 * The rows in `ranges` ([start, end) pairs, in order): a view when it is one range, else a copy
 * made range by range.
 */
export function takeRanges(batch: ColumnBatch, ranges: readonly number[]): ColumnBatch {
  if (ranges.length === 2) return viewRows(batch, ranges[0] as number, ranges[1] as number);
  let numRows = 0;
  for (let i = 0; i < ranges.length; i += 2) numRows += (ranges[i + 1] as number) - (ranges[i] as number);
  const taken: ColumnBatch = {
    names: batch.names,
    columns: batch.columns.map((c) => takeColumnRanges(c, ranges, numRows)),
    numRows,
  };
  if (batch.seriesRuns === undefined || numRows === 0) return taken;
  return withSeriesRuns(taken, seriesRunsOfRanges(batch.seriesRuns, ranges));
}

/** The batch's rows and columns with `seriesRuns` as its runs (the caller vouches for them). */
export function withSeriesRuns(batch: ColumnBatch, seriesRuns: Uint32Array): ColumnBatch {
  return { names: batch.names, columns: batch.columns, numRows: batch.numRows, seriesRuns };
}

/** Index of the first element of `sorted` above `value`. */
function upperBound(sorted: Uint32Array, value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as number) <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The series runs of the rows in `ranges` ([start, end) pairs) laid end to end: each range starts
 * a run (it may follow a range of another series), and the run starts inside it are rebased.
 */
export function seriesRunsOfRanges(runs: Uint32Array, ranges: readonly number[]): Uint32Array {
  const out: number[] = [];
  let at = 0;
  for (let i = 0; i < ranges.length; i += 2) {
    const start = ranges[i] as number;
    const end = ranges[i + 1] as number;
    if (end <= start) continue;
    out.push(at);
    for (let r = upperBound(runs, start); r < runs.length; r++) {
      const runStart = runs[r] as number;
      if (runStart >= end) break;
      out.push(at + runStart - start);
    }
    at += end - start;
  }
  return Uint32Array.from(out);
}

/**
 * The series runs of the rows at `indices` gathered in that order, or undefined when the indices
 * descend somewhere (timestamps could then decrease inside a run). A run starts at the first
 * index and wherever an index lies in a later run than the one before it.
 */
export function seriesRunsOfRows(runs: Uint32Array, indices: ArrayLike<number>): Uint32Array | undefined {
  const n = indices.length;
  if (n === 0) return new Uint32Array(0);
  const out = new Uint32Array(Math.min(n, runs.length));
  let count = 0;
  // The start of the run after the one holding the previous index.
  let next = upperBound(runs, indices[0] as number);
  let nextStart = next < runs.length ? (runs[next] as number) : Infinity;
  let previous = indices[0] as number;
  out[count++] = 0;
  for (let i = 1; i < n; i++) {
    const row = indices[i] as number;
    if (row < previous) return undefined;
    previous = row;
    if (row < nextStart) continue;
    out[count++] = i;
    next = upperBound(runs, row);
    nextStart = next < runs.length ? (runs[next] as number) : Infinity;
  }
  return out.subarray(0, count);
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
