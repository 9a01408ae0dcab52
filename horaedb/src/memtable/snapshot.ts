import type { Column, ColumnValues } from "../batch/column.js";
import type { ColumnBatch } from "../batch/column-batch.js";
import type { RowPredicate } from "../batch/row-predicate.js";
import type { UpdateMode } from "../table/options.js";
import type { TableSchema } from "../table/schema.js";
import { InvalidScanOptionsError, UnknownColumnError } from "./errors.js";
import { ColumnGatherer, type RowLocations } from "./gather.js";
import { runStepsAsync } from "./radix-sort.js";
import type { MemtableChunk, SortedView } from "./sorted-view.js";

/** Timestamps from `start` (inclusive) to `end` (exclusive), in milliseconds. */
export interface TimeRange {
  readonly start: number;
  readonly end: number;
}

export interface MemtableScanOptions {
  /** Only rows with `start <= timestamp < end`. */
  readonly timeRange?: TimeRange;
  /** Output columns, in this order; all schema columns when absent. */
  readonly projection?: readonly string[];
  /** Rows per output batch (the last batch may be shorter); default 8192. */
  readonly batchSize?: number;
  /**
   * Only rows that pass it (its columns must be projected): they are tested on its columns, and
   * only the passing ones have their other columns read.
   */
  readonly predicate?: RowPredicate;
}

export const DEFAULT_SCAN_BATCH_SIZE = 8192;

/** The rows of one time segment, in primary-key order, as locations in the snapshot's chunks. */
export interface SnapshotSegment {
  /** Start of the segment: a multiple of the segment duration, in ms. */
  readonly start: number;
  readonly rows: RowLocations;
}

/** Row locations of one segment while they are being filled in. */
interface SegmentFill {
  readonly chunk: Uint32Array;
  readonly row: Uint32Array;
  count: number;
}

/** Rows gathered per column at a time before being cut into output batches. */
const GATHER_WINDOW_ROWS = 65536;

/** Where the rows of a chunk are: its row `i` is row `rows[i]` of `chunk`. */
export interface RowSource {
  readonly chunk: MemtableChunk;
  readonly rows: Uint32Array;
}

/** Reads one column's values at row locations of a snapshot (see `columnReaders`). */
export interface ColumnReader {
  gather(at: RowLocations): Column;
}

export interface MemtableSnapshotInit {
  readonly schema: TableSchema;
  readonly updateMode: UpdateMode;
  readonly chunks: readonly MemtableChunk[];
  /**
   * For a snapshot of some rows of other chunks, one per chunk: where its rows are. Such a chunk
   * need hold only its rows' key columns (what sorting reads); the columns are read from the sources.
   */
  readonly rowSources?: readonly RowSource[] | undefined;
  /** Sorts the chunks (or returns a cached sort of exactly these chunks). */
  readonly sortedView: () => SortedView;
  /** The same in steps (see `sortedViewSteps`); without it `sort` sorts in one go. */
  readonly sortedViewSteps?: () => Generator<void, SortedView>;
  readonly table?: string | undefined;
  readonly memtableId?: number | undefined;
}

/**
 * A fixed view of the rows a memtable (or a set of memtables) held when it was taken: later appends
 * are not visible, so a flush or a query can iterate it at its own pace. Rows come out sorted by
 * primary key, deduplicated per the update mode, laid out as `schema` (columns a row was written
 * without read as null).
 */
export class MemtableSnapshot {
  readonly schema: TableSchema;
  readonly updateMode: UpdateMode;
  /** The appended chunks this snapshot covers, in append order. */
  readonly chunks: readonly MemtableChunk[];
  readonly table: string | undefined;
  /** The memtable this snapshot was taken of; undefined for a snapshot across several. */
  readonly memtableId: number | undefined;
  /** Where each chunk's rows are, for a snapshot of some rows of other chunks (see the init). */
  readonly rowSources: readonly RowSource[] | undefined;
  /** Rows appended, before deduplication. */
  readonly numRows: number;
  readonly minSequence: number | undefined;
  readonly maxSequence: number | undefined;
  readonly minTimestamp: number | undefined;
  readonly maxTimestamp: number | undefined;
  readonly #sort: () => SortedView;
  readonly #sortSteps: (() => Generator<void, SortedView>) | undefined;
  /** The order once this snapshot has needed it. */
  #view: SortedView | undefined;

  constructor(init: MemtableSnapshotInit) {
    this.schema = init.schema;
    this.updateMode = init.updateMode;
    this.chunks = init.chunks;
    this.table = init.table;
    this.memtableId = init.memtableId;
    this.rowSources = init.rowSources;
    if (init.rowSources !== undefined && init.rowSources.length !== init.chunks.length) {
      throw new RangeError(`${init.rowSources.length} row sources for ${init.chunks.length} chunks`);
    }
    this.#sort = init.sortedView;
    this.#sortSteps = init.sortedViewSteps;
    let rows = 0;
    let minSeq = Infinity;
    let maxSeq = -Infinity;
    let minTs = Infinity;
    let maxTs = -Infinity;
    for (const chunk of init.chunks) {
      rows += chunk.batch.numRows;
      minSeq = Math.min(minSeq, chunk.sequence);
      maxSeq = Math.max(maxSeq, chunk.sequence);
      minTs = Math.min(minTs, chunk.minTimestamp);
      maxTs = Math.max(maxTs, chunk.maxTimestamp);
    }
    this.numRows = rows;
    const empty = rows === 0;
    this.minSequence = empty ? undefined : minSeq;
    this.maxSequence = empty ? undefined : maxSeq;
    this.minTimestamp = empty ? undefined : minTs;
    this.maxTimestamp = empty ? undefined : maxTs;
  }

  get isEmpty(): boolean {
    return this.numRows === 0;
  }

  /**
   * Sorts the rows now, awaiting `pause()` between steps of one pass over the rows (it decides
   * whether to give the event loop a turn), so that a large memtable does not hold up writes and
   * queries; later reads of this snapshot use the order.
   */
  async sort(pause: () => Promise<void>): Promise<void> {
    if (this.#view !== undefined) return;
    this.#view = this.#sortSteps === undefined ? this.#sort() : await runStepsAsync(this.#sortSteps(), pause);
  }

  #sortedView(): SortedView {
    this.#view ??= this.#sort();
    return this.#view;
  }

  /**
   * The rows in primary-key order as batches of `batchSize` rows. Options are checked now; the
   * sort happens on the first `next()` (and is cached by the memtable until its next append).
   */
  sortedBatches(options: MemtableScanOptions = {}): IterableIterator<ColumnBatch> {
    const batchSize = options.batchSize ?? DEFAULT_SCAN_BATCH_SIZE;
    if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
      throw new InvalidScanOptionsError(
        `batch size must be a positive integer, not ${batchSize}`,
        this.#context(),
      );
    }
    const range = options.timeRange;
    if (range !== undefined && !(range.start <= range.end)) {
      throw new InvalidScanOptionsError(
        `time range [${range.start}, ${range.end}) must have start <= end`,
        this.#context(),
      );
    }
    const names = options.projection ?? this.schema.columns.map((c) => c.name);
    for (const name of names) {
      if (this.schema.column(name) === undefined) {
        throw new UnknownColumnError(`no column "${name}" to project`, { ...this.#context(), column: name });
      }
    }
    for (const name of options.predicate?.columns ?? []) {
      if (!names.includes(name)) {
        throw new InvalidScanOptionsError(`predicate column "${name}" is not projected`, this.#context());
      }
    }
    return this.#scan([...names], batchSize, range, options.predicate);
  }

  /**
   * The sorted rows cut into time segments of `segmentMs` (a row goes to the segment starting at
   * `floor(timestamp / segmentMs) * segmentMs`), ascending by start; segments without rows are left
   * out. Rows with a timestamp below `dropBefore` are left out too. One pass over the sorted order
   * (the sort happens here if it has not yet), so a flush does not scan it once per segment; read
   * the rows out with `columnReaders`.
   */
  segments(segmentMs: number, dropBefore?: number): SnapshotSegment[] {
    const keepFrom = dropBefore ?? -Infinity;
    if (!(segmentMs > 0) || !Number.isFinite(segmentMs)) {
      throw new InvalidScanOptionsError(
        `segment duration must be positive, not ${segmentMs}`,
        this.#context(),
      );
    }
    if (this.isEmpty || (this.maxTimestamp as number) < keepFrom) return [];
    const view = this.#sortedView();
    const timestamps = view.timestamps;
    const total = timestamps.length;
    // Rows come sorted by primary key, so a series' rows run through its segments in order:
    // consecutive rows mostly share a segment, and the map is consulted only when it changes.
    const counts = new Map<number, number>();
    let current = NaN;
    let run = 0;
    for (let i = 0; i < total; i++) {
      const ts = timestamps[i] as number;
      if (ts < keepFrom) continue;
      const index = Math.floor(ts / segmentMs);
      if (index !== current) {
        if (run > 0) counts.set(current, (counts.get(current) ?? 0) + run);
        current = index;
        run = 0;
      }
      run++;
    }
    if (run > 0) counts.set(current, (counts.get(current) ?? 0) + run);
    const order = [...counts.keys()].sort((a, b) => a - b);
    const filling = new Map<number, SegmentFill>();
    for (const index of order) {
      const size = counts.get(index) as number;
      filling.set(index, { chunk: new Uint32Array(size), row: new Uint32Array(size), count: 0 });
    }
    let target: SegmentFill = { chunk: new Uint32Array(0), row: new Uint32Array(0), count: 0 };
    current = NaN;
    for (let i = 0; i < total; i++) {
      const ts = timestamps[i] as number;
      if (ts < keepFrom) continue;
      const index = Math.floor(ts / segmentMs);
      if (index !== current) {
        current = index;
        target = filling.get(index) as SegmentFill;
      }
      target.chunk[target.count] = view.chunk[i] as number;
      target.row[target.count] = view.row[i] as number;
      target.count++;
    }
    return order.map((index) => ({ start: index * segmentMs, rows: filling.get(index) as RowLocations }));
  }

  /**
   * One reader per named column (in that order): `read(rows)` copies the column's values at the
   * given locations into new arrays of exactly `rows.count` values, laid out as the snapshot's
   * schema (null where a chunk predates the column).
   */
  columnReaders(names: readonly string[]): ColumnReader[] {
    const rowSources = this.rowSources;
    const chunks = rowSources === undefined ? this.chunks : rowSources.map((source) => source.chunk);
    const chunkRows = chunks.map((c) => c.batch.numRows);
    const gatherers = names.map((name) => {
      const type = this.schema.column(name)?.type;
      if (type === undefined)
        throw new UnknownColumnError(`no column "${name}"`, { ...this.#context(), column: name });
      const sources = chunks.map((chunk): Column | undefined => {
        const i = chunk.schema.indexOf(name);
        return i === undefined ? undefined : chunk.batch.columns[i];
      });
      return new ColumnGatherer(type, sources, chunkRows);
    });
    if (rowSources === undefined) return gatherers;
    const locate = sourceLocator(rowSources);
    return gatherers.map((gatherer) => ({ gather: (at: RowLocations) => gatherer.gather(locate(at)) }));
  }

  *#scan(
    names: readonly string[],
    batchSize: number,
    range: TimeRange | undefined,
    predicate: RowPredicate | undefined,
  ): Generator<ColumnBatch> {
    if (this.minTimestamp === undefined || this.maxTimestamp === undefined) return;
    let filter = false;
    if (range !== undefined) {
      if (range.end <= this.minTimestamp || range.start > this.maxTimestamp) return;
      filter = range.start > this.minTimestamp || range.end <= this.maxTimestamp;
    }
    const start = range?.start ?? -Infinity;
    const end = range?.end ?? Infinity;
    const view = this.#sortedView();
    // Made when the first rows pass: a scan whose predicate keeps nothing reads only its columns.
    let gatherers: ColumnReader[] | undefined;
    const tested = predicate === undefined ? undefined : this.columnReaders(predicate.columns);
    const total = view.chunk.length;
    // Gathering several batches' worth of rows one column at a time keeps that column's source
    // cache lines warm while consecutive series revisit them (rows arrive interleaved by series).
    const windowRows = batchSize * Math.max(1, Math.floor(GATHER_WINDOW_ROWS / batchSize));
    let scratch: { chunk: Uint32Array; row: Uint32Array } | undefined;
    let pos = 0;
    while (pos < total) {
      let at: RowLocations;
      if (!filter) {
        const stop = Math.min(total, pos + windowRows);
        at = { chunk: view.chunk.subarray(pos, stop), row: view.row.subarray(pos, stop), count: stop - pos };
        pos = stop;
      } else {
        const size = Math.min(windowRows, total);
        scratch ??= { chunk: new Uint32Array(size), row: new Uint32Array(size) };
        let count = 0;
        for (; pos < total && count < size; pos++) {
          const ts = view.timestamps[pos] as number;
          if (ts < start || ts >= end) continue;
          scratch.chunk[count] = view.chunk[pos] as number;
          scratch.row[count] = view.row[pos] as number;
          count++;
        }
        if (count === 0) return;
        at = { chunk: scratch.chunk, row: scratch.row, count };
      }
      if (predicate !== undefined && tested !== undefined) {
        const names = predicate.columns;
        const selected = predicate.select({
          names,
          columns: tested.map((g) => g.gather(at)),
          numRows: at.count,
        });
        if (selected.length === 0) continue;
        if (selected.length < at.count) at = pickLocations(at, selected);
      }
      gatherers ??= this.columnReaders(names);
      const columns = gatherers.map((g) => g.gather(at));
      if (at.count <= batchSize) {
        yield { names, columns, numRows: at.count };
        continue;
      }
      for (let first = 0; first < at.count; first += batchSize) {
        const last = Math.min(at.count, first + batchSize);
        yield { names, columns: columns.map((c) => sliceColumn(c, first, last)), numRows: last - first };
      }
    }
  }

  #context() {
    return { table: this.table, memtableId: this.memtableId };
  }
}

/**
 * Maps row locations in a snapshot's chunks to their rows in the source chunks (same chunk
 * positions). The readers of one scan are handed the same locations column after column, so the
 * last mapping is kept.
 */
function sourceLocator(rowSources: readonly RowSource[]): (at: RowLocations) => RowLocations {
  let last: RowLocations | undefined;
  let lastCount = -1;
  let mapped: RowLocations | undefined;
  return (at) => {
    if (at === last && at.count === lastCount && mapped !== undefined) return mapped;
    const row = new Uint32Array(at.count);
    for (let i = 0; i < at.count; i++) {
      row[i] = (rowSources[at.chunk[i] as number] as RowSource).rows[at.row[i] as number] as number;
    }
    last = at;
    lastCount = at.count;
    mapped = { chunk: at.chunk, row, count: at.count };
    return mapped;
  };
}

/** Rows [first, last) of a column, copied so every output batch owns exactly its rows. */
function sliceColumn(column: Column, first: number, last: number): Column {
  // Every ColumnValues variant has slice(start, end) returning the same kind of array.
  const values = (column.values as Float64Array).slice(first, last) as unknown as ColumnValues;
  return { type: column.type, values, validity: column.validity?.slice(first, last) ?? null };
}

/** The locations at `indices` (ascending) of `at`, in new arrays (`at`'s may be reused). */
function pickLocations(at: RowLocations, indices: Uint32Array): RowLocations {
  const chunk = new Uint32Array(indices.length);
  const row = new Uint32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const from = indices[i] as number;
    chunk[i] = at.chunk[from] as number;
    row[i] = at.row[from] as number;
  }
  return { chunk, row, count: indices.length };
}
