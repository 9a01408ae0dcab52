/**
 * Streaming k-way merge of sorted inputs by primary key, for compaction.
 *
 * Every SST is sorted by primary key, so a compaction need not sort its inputs again: it walks them
 * side by side and takes the smallest key each step. Compared with loading every input row into a
 * scratch memtable set and sorting them all at once, this holds only one decoded batch per input
 * besides the output, and gives the event loop a turn after every output batch, so a large job
 * never stalls writes and queries for long.
 *
 * Order is the engine's: numbers ascending (NaN last, all NaNs equal, -0 equal to 0), int64 signed,
 * uint64 unsigned, strings by code point (UTF-8 byte order), false before true. On equal keys the
 * input with the lower priority comes first; OVERWRITE keeps only the last row of a key (the one of
 * the highest-priority input, and within one input the later row), exactly as a scan's merge does.
 */
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import type { Column } from "../../batch/column.js";
import type { ColumnBatch } from "../../batch/column-batch.js";
import { ColumnGatherer } from "../../memtable/gather.js";
import type { DataType } from "../../table/data-type.js";
import { UpdateMode } from "../../table/options.js";
import type { TableSchema } from "../../table/schema.js";
import { compareKeyValues, keyView, type KeyView } from "../key-view.js";

export interface MergeInput {
  /** Batches laid out as the schema (every column, schema order), sorted by primary key throughout. */
  readonly batches: AsyncIterable<ColumnBatch>;
  /** Which input wins on equal keys: the higher (an SST's maxSequence). */
  readonly priority: number;
}

/** A row of one loaded batch: enough to compare its key and to gather it later. */
interface RowRef {
  keys: KeyView[];
  batchId: number;
  row: number;
}

interface Cursor extends RowRef {
  readonly input: number;
  readonly priority: number;
  readonly iterator: AsyncIterator<ColumnBatch>;
  rows: number;
}

/**
 * Merges the inputs into batches of about `batchSize` rows, sorted by primary key, deduplicated per
 * `updateMode`. Every input's batches must carry all of `schema`'s columns in schema order.
 */
export async function* mergeSortedInputs(
  schema: TableSchema,
  updateMode: UpdateMode,
  inputs: readonly MergeInput[],
  batchSize: number,
): AsyncGenerator<ColumnBatch> {
  const keyIndexes = schema.primaryKey.map((name) => {
    const i = schema.indexOf(name);
    if (i === undefined) throw new RangeError(`primary key column "${name}" is not in the schema`);
    return i;
  });
  const keyTypes = keyIndexes.map((i) => (schema.columns[i] as { type: DataType }).type);
  const batches = new Map<number, ColumnBatch>();
  let nextBatchId = 0;

  /** Moves the cursor to the first row of its next non-empty batch; false when the input is done. */
  const load = async (cursor: Cursor): Promise<boolean> => {
    for (;;) {
      const next = await cursor.iterator.next();
      if (next.done === true) return false;
      const batch = next.value;
      if (batch.numRows === 0) continue;
      cursor.batchId = nextBatchId++;
      batches.set(cursor.batchId, batch);
      cursor.keys = keyIndexes.map((i, k) => keyView(keyTypes[k] as DataType, batch.columns[i] as Column));
      cursor.row = 0;
      cursor.rows = batch.numRows;
      return true;
    }
  };

  const heap: Cursor[] = [];
  for (const [i, input] of inputs.entries()) {
    const cursor: Cursor = {
      input: i,
      priority: input.priority,
      iterator: input.batches[Symbol.asyncIterator](),
      keys: [],
      batchId: -1,
      row: 0,
      rows: 0,
    };
    if (await load(cursor)) heap.push(cursor);
  }
  const before = (a: Cursor, b: Cursor): boolean => {
    const c = compareKeys(a, b);
    if (c !== 0) return c < 0;
    return a.priority !== b.priority ? a.priority < b.priority : a.input < b.input;
  };
  for (let i = (heap.length >> 1) - 1; i >= 0; i--) siftDown(heap, i, before);

  const overwrite = updateMode === UpdateMode.Overwrite;
  const out = new OutputWindow(schema, batches, batchSize);
  let pending: RowRef | undefined;
  while (heap.length > 0) {
    const top = heap[0] as Cursor;
    if (overwrite) {
      // Rows of one key arrive together, lowest priority first: keep the last.
      if (pending !== undefined && compareKeys(pending, top) !== 0) out.add(pending);
      pending = { keys: top.keys, batchId: top.batchId, row: top.row };
    } else {
      out.add(top);
    }
    top.row++;
    if (top.row >= top.rows) {
      if (!(await load(top))) {
        const last = heap.pop() as Cursor;
        if (heap.length > 0) heap[0] = last;
      }
    }
    if (heap.length > 1) siftDown(heap, 0, before);
    if (out.full) {
      yield out.take(pending, heap);
      await yieldToEventLoop();
    }
  }
  if (pending !== undefined) out.add(pending);
  if (out.count > 0) yield out.take(undefined, heap);
}

/** Output rows collected as (batch, row) locations, gathered into a batch when full. */
class OutputWindow {
  readonly #schema: TableSchema;
  readonly #batches: Map<number, ColumnBatch>;
  readonly #batchIds: Uint32Array;
  readonly #rows: Uint32Array;
  readonly #referenced = new Set<number>();
  count = 0;

  constructor(schema: TableSchema, batches: Map<number, ColumnBatch>, size: number) {
    this.#schema = schema;
    this.#batches = batches;
    this.#batchIds = new Uint32Array(size);
    this.#rows = new Uint32Array(size);
  }

  get full(): boolean {
    return this.count === this.#rows.length;
  }

  add(ref: RowRef): void {
    this.#batchIds[this.count] = ref.batchId;
    this.#rows[this.count] = ref.row;
    this.#referenced.add(ref.batchId);
    this.count++;
  }

  /**
   * Gathers the collected rows into one batch, then forgets the input batches that no cursor is on
   * and the pending row does not point into: no later output row can come from them.
   */
  take(pending: RowRef | undefined, cursors: readonly Cursor[]): ColumnBatch {
    const ids = [...this.#referenced];
    const chunkOf = new Map(ids.map((id, c) => [id, c]));
    const chunk = new Uint32Array(this.count);
    for (let i = 0; i < this.count; i++) chunk[i] = chunkOf.get(this.#batchIds[i] as number) as number;
    const at = { chunk, row: this.#rows.subarray(0, this.count), count: this.count };
    const sources = ids.map((id) => this.#batches.get(id) as ColumnBatch);
    const columns = this.#schema.columns.map((c, i) =>
      new ColumnGatherer(
        c.type,
        sources.map((b) => b.columns[i]),
        sources.map((b) => b.numRows),
      ).gather(at),
    );
    const batch: ColumnBatch = {
      names: this.#schema.columns.map((c) => c.name),
      columns,
      numRows: this.count,
    };
    const live = new Set(cursors.map((c) => c.batchId));
    if (pending !== undefined) live.add(pending.batchId);
    for (const id of [...this.#batches.keys()]) if (!live.has(id)) this.#batches.delete(id);
    this.#referenced.clear();
    this.count = 0;
    return batch;
  }
}

function compareKeys(a: RowRef, b: RowRef): number {
  for (let k = 0; k < a.keys.length; k++) {
    const c = compareKeyValues(a.keys[k] as KeyView, a.row, b.keys[k] as KeyView, b.row);
    if (c !== 0) return c;
  }
  return 0;
}

function siftDown(heap: Cursor[], from: number, before: (a: Cursor, b: Cursor) => boolean): void {
  const n = heap.length;
  let i = from;
  const item = heap[i] as Cursor;
  for (;;) {
    const left = 2 * i + 1;
    if (left >= n) break;
    const right = left + 1;
    const child = right < n && before(heap[right] as Cursor, heap[left] as Cursor) ? right : left;
    if (!before(heap[child] as Cursor, item)) break;
    heap[i] = heap[child] as Cursor;
    i = child;
  }
  heap[i] = item;
}
