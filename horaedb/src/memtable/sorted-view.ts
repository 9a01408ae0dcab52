import type { Column } from "../batch/column.js";
import type { ColumnBatch } from "../batch/column-batch.js";
import { DataType } from "../table/data-type.js";
import { UpdateMode } from "../table/options.js";
import { TSID_COLUMN, type TableSchema } from "../table/schema.js";
import { buildKeyLanes, HIGH_WORD, LOW_WORD, wordsOf } from "./key-lanes.js";
import { bitLength, radixSortSteps, runSteps, type SortLane } from "./radix-sort.js";

/** One appended batch, laid out as the schema current at append time; all its rows share `sequence`. */
export interface MemtableChunk {
  readonly batch: ColumnBatch;
  readonly schema: TableSchema;
  readonly sequence: number;
  readonly minTimestamp: number;
  readonly maxTimestamp: number;
}

/**
 * The rows of a list of chunks in primary-key order (after dedup in OVERWRITE mode), as locations:
 * output row `i` is row `row[i]` of chunk `chunk[i]`. Kept in output order so scans read them
 * sequentially; only the column values are then read out of order.
 */
export interface SortedView {
  readonly chunk: Uint32Array;
  readonly row: Uint32Array;
  /** Timestamp of each output row, for time-range filtering. */
  readonly timestamps: Float64Array;
}

/** Sorted rows laid out per step at the end of the sort (their reads are random, hence slow). */
const OUTPUT_STEP_ROWS = 131_072;

/**
 * Sorts the rows of `chunks` by `schema.primaryKey`, breaking ties by sequence and then by position
 * (later append, later row last). OVERWRITE keeps only the last row of each key, which is the one
 * with the highest sequence, and of those the latest written; APPEND keeps every row.
 */
export function buildSortedView(
  chunks: readonly MemtableChunk[],
  schema: TableSchema,
  updateMode: UpdateMode,
): SortedView {
  return runSteps(sortedViewSteps(chunks, schema, updateMode));
}

/**
 * `buildSortedView` in steps of one pass over the rows or less, so a large memtable can be sorted
 * without holding up the event loop (drive it with `runStepsAsync`).
 */
export function* sortedViewSteps(
  chunks: readonly MemtableChunk[],
  schema: TableSchema,
  updateMode: UpdateMode,
): Generator<void, SortedView> {
  const chunkStarts = new Uint32Array(chunks.length);
  const rowCounts: number[] = [];
  let totalRows = 0;
  for (let c = 0; c < chunks.length; c++) {
    chunkStarts[c] = totalRows;
    const rows = (chunks[c] as MemtableChunk).batch.numRows;
    rowCounts.push(rows);
    totalRows += rows;
  }
  const timestamps = new Float64Array(totalRows);
  const tsParts = keyColumnParts(chunks, schema.timestampColumn);
  for (let c = 0; c < chunks.length; c++) {
    const values = (tsParts[c] as Column).values as Float64Array;
    timestamps.set(values.subarray(0, rowCounts[c]), chunkStarts[c]);
  }
  yield;

  const chunkOrder = tsidKeyChunkOrder(chunks, schema, chunkStarts, rowCounts, timestamps);
  if (chunkOrder !== undefined) {
    yield;
    // The chunks' rows, chunk after chunk in this order, are in key order with no key twice:
    // nothing to sort or deduplicate.
    const chunk = new Uint32Array(totalRows);
    const row = new Uint32Array(totalRows);
    const sortedTimestamps = new Float64Array(totalRows);
    let at = 0;
    for (const c of chunkOrder) {
      const start = chunkStarts[c] as number;
      const count = rowCounts[c] as number;
      chunk.fill(c, at, at + count);
      for (let r = 0; r < count; r++) row[at + r] = r;
      sortedTimestamps.set(timestamps.subarray(start, start + count), at);
      at += count;
    }
    return { chunk, row, timestamps: sortedTimestamps };
  }
  const chunkOf = new Uint32Array(totalRows);
  for (let c = 0; c < chunks.length; c++) {
    const start = chunkStarts[c] as number;
    chunkOf.fill(c, start, start + (rowCounts[c] as number));
  }
  yield;

  const keyLanes: SortLane[] = [];
  for (const name of schema.primaryKey) {
    const columns = name === schema.timestampColumn ? tsParts : keyColumnParts(chunks, name);
    const type = schema.column(name)?.type;
    if (type === undefined) throw new TypeError(`primary key column "${name}" is not in the schema`);
    keyLanes.push(...buildKeyLanes({ type, columns, rowCounts, totalRows }));
    yield;
  }

  const lanes = [...keyLanes];
  const sequenceLane = sequenceRankLane(chunks, rowCounts, totalRows);
  if (sequenceLane !== undefined) lanes.push(sequenceLane);

  // Rows are numbered chunk after chunk; the sort permutes these row ids.
  const identity = new Uint32Array(totalRows);
  for (let i = 0; i < totalRows; i++) identity[i] = i;
  const sorted = yield* radixSortSteps(identity, lanes);
  const order = updateMode === UpdateMode.Overwrite ? keepLastOfEachKey(sorted, keyLanes) : sorted;
  yield;

  const n = order.length;
  const chunk = new Uint32Array(n);
  const row = new Uint32Array(n);
  const sortedTimestamps = new Float64Array(n);
  for (let from = 0; from < n; from += OUTPUT_STEP_ROWS) {
    const to = Math.min(n, from + OUTPUT_STEP_ROWS);
    for (let i = from; i < to; i++) {
      const id = order[i] as number;
      const c = chunkOf[id] as number;
      chunk[i] = c;
      row[i] = id - (chunkStarts[c] as number);
      sortedTimestamps[i] = timestamps[id] as number;
    }
    if (to < n) yield;
  }
  return { chunk, row, timestamps: sortedTimestamps };
}

/**
 * An order of the chunks in which their rows, chunk after chunk, stand in strictly ascending
 * (tsid, timestamp) order; undefined if there is none. This is the usual case for the rows of one
 * series picked out of a memtable (memtable-rows.ts): they arrive in time order, in chunks that
 * concurrent writers may have appended out of time order, so the chunks are taken by their
 * earliest timestamp. Stops at the first row out of order, so interleaved series cost a few rows.
 */
function tsidKeyChunkOrder(
  chunks: readonly MemtableChunk[],
  schema: TableSchema,
  chunkStarts: Uint32Array,
  rowCounts: readonly number[],
  timestamps: Float64Array,
): Uint32Array | undefined {
  // Unsigned comparison of the tsid's two words: the tsid is a UInt64 column.
  if (
    !schema.hasTsid ||
    schema.primaryKey[1] !== schema.timestampColumn ||
    schema.column(TSID_COLUMN)?.type !== DataType.UInt64
  )
    return undefined;
  const order = new Uint32Array(chunks.length);
  for (let c = 0; c < chunks.length; c++) order[c] = c;
  order.sort((a, b) => (chunks[a] as MemtableChunk).minTimestamp - (chunks[b] as MemtableChunk).minTimestamp);
  const tsids = keyColumnParts(chunks, TSID_COLUMN);
  let high = -1;
  let low = -1;
  let t = -Infinity;
  for (const c of order) {
    const words = wordsOf((tsids[c] as Column).values as BigUint64Array);
    const start = chunkStarts[c] as number;
    for (let r = 0; r < (rowCounts[c] as number); r++) {
      const h = words[2 * r + HIGH_WORD] as number;
      const l = words[2 * r + LOW_WORD] as number;
      const ts = timestamps[start + r] as number;
      if (h === high && l === low) {
        if (!(ts > t)) return undefined;
      } else if (h < high || (h === high && l < low)) {
        return undefined;
      }
      high = h;
      low = l;
      t = ts;
    }
  }
  return order;
}

function keyColumnParts(chunks: readonly MemtableChunk[], name: string): Column[] {
  return chunks.map((chunk) => {
    const i = chunk.schema.indexOf(name);
    const column = i === undefined ? undefined : chunk.batch.columns[i];
    // Appends check that every key column is present, so this is a broken invariant.
    if (column === undefined) throw new TypeError(`chunk has no primary key column "${name}"`);
    return column;
  });
}

/**
 * Ranks of chunk sequences, per row, when chunks were not appended in sequence order (concurrent
 * writes may reach the memtable out of WAL order). Undefined when append order already is sequence
 * order: the stable sort then keeps it without a lane.
 */
function sequenceRankLane(
  chunks: readonly MemtableChunk[],
  rowCounts: readonly number[],
  totalRows: number,
): SortLane | undefined {
  let ordered = true;
  for (let c = 1; c < chunks.length && ordered; c++) {
    if ((chunks[c] as MemtableChunk).sequence < (chunks[c - 1] as MemtableChunk).sequence) ordered = false;
  }
  if (ordered) return undefined;
  const distinct = Float64Array.from(new Set(chunks.map((c) => c.sequence))).sort();
  const rankOf = new Map<number, number>();
  for (let i = 0; i < distinct.length; i++) rankOf.set(distinct[i] as number, i);
  const values = new Uint32Array(totalRows);
  let start = 0;
  for (let c = 0; c < chunks.length; c++) {
    const rows = rowCounts[c] as number;
    values.fill(rankOf.get((chunks[c] as MemtableChunk).sequence) as number, start, start + rows);
    start += rows;
  }
  return { values, bits: bitLength(distinct.length - 1) };
}

/** Compacts sorted row ids in place so only the last row of each run of equal keys remains. */
function keepLastOfEachKey(sorted: Uint32Array, keyLanes: readonly SortLane[]): Uint32Array {
  const n = sorted.length;
  if (n < 2) return sorted;
  const laneValues = keyLanes.filter((l) => l.bits > 0).map((l) => l.values);
  let kept = 0;
  for (let i = 0; i < n - 1; i++) {
    const row = sorted[i] as number;
    const next = sorted[i + 1] as number;
    if (!sameKey(laneValues, row, next)) sorted[kept++] = row;
  }
  sorted[kept++] = sorted[n - 1] as number;
  return sorted.subarray(0, kept);
}

function sameKey(laneValues: readonly Uint32Array[], a: number, b: number): boolean {
  for (let l = 0; l < laneValues.length; l++) {
    const lane = laneValues[l] as Uint32Array;
    if (lane[a] !== lane[b]) return false;
  }
  return true;
}
