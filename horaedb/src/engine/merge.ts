/**
 * Merging of sources that overlap in time (SSTs and the memtable snapshot) for a table scan.
 *
 * Every source yields its rows sorted by primary key: SSTs are written in key order (the writer
 * checks it) and their row groups follow one another in that order; the memtable sorts on read. So
 * overlapping sources need no sort, only a k-way merge: `mergeSortedSources` walks them side by side
 * and takes whole runs of rows from one source at a time, with the same result as sorting all their
 * rows together in a scratch memtable: on equal keys rows come in order of source priority (SST max
 * sequence; the memtable above every SST; equal priorities in the order given), then in the order a
 * source holds them. OVERWRITE keeps the last row of each key, APPEND every row.
 *
 * `lastRowsOfSeries` serves a lastPerSeries scan of overlapping sources in a table keyed by
 * (tsid, timestamp): instead of merging every row, it walks each series' rows from its newest
 * timestamp down, across the sources, only until every wanted column has a non-null value.
 */
import { viewColumn, type Column } from "../batch/column.js";
import type { ColumnBatch } from "../batch/column-batch.js";
import type { RowPredicate } from "../batch/row-predicate.js";
import { ColumnGatherer } from "../memtable/index.js";
import { compareKeyValues, keyView, type KeyView } from "./key-view.js";
import { DataType } from "../table/data-type.js";
import { UpdateMode } from "../table/options.js";

export interface SortedSource {
  /**
   * Batches sorted by primary key throughout (from batch to batch too), each holding every column
   * the merge outputs.
   */
  readonly batches: AsyncIterable<ColumnBatch>;
  /** On equal keys the row of the higher priority wins; of equal priorities, the source listed later. */
  readonly priority: number;
}

export interface ColumnSpec {
  readonly name: string;
  readonly type: DataType;
}

export interface MergeOptions {
  /** The primary key's columns, in key order. */
  readonly key: readonly ColumnSpec[];
  /** The output's columns, in this order. */
  readonly columns: readonly ColumnSpec[];
  readonly updateMode: UpdateMode;
  /** Rows per output batch at most. */
  readonly batchSize: number;
  /**
   * Only the rows that pass it are output. It is tested on the rows the merge keeps (after
   * deduplication), on its columns alone, and only the passing rows have the others gathered.
   */
  readonly predicate?: RowPredicate | undefined;
}

/**
 * Merges sources sorted by primary key into batches of at most `batchSize` rows, sorted by key and
 * deduplicated per the update mode. Sources not read to the end are closed (their iterators'
 * `return`) when the merge ends, also early.
 *
 * Each step looks at every source's current row (sources are few: the memtable and the SSTs not
 * yet compacted). Where one source alone holds the smallest key, its rows up to the next source's
 * key are taken as one run; where several hold it (a rewrite of recent data), each one's rows of
 * that key are passed over at once, and the highest-ranked source's last one is kept.
 */
export async function* mergeSortedSources(
  sources: readonly SortedSource[],
  options: MergeOptions,
): AsyncGenerator<ColumnBatch, undefined> {
  const overwrite = options.updateMode === UpdateMode.Overwrite;
  const out = new OutputWindow(options.columns, options.batchSize, options.predicate);
  const compare = comparatorFor(options.key);
  // Rank: ascending priority, ties in the order given (a stable sort).
  const ranked = [...sources.entries()].sort(([i, a], [j, b]) => a.priority - b.priority || i - j);
  const cursors: Cursor[] = [];
  const load = async (cursor: Cursor): Promise<boolean> => {
    for (;;) {
      const next = await cursor.iterator.next();
      if (next.done === true) return false;
      const batch = next.value;
      if (batch.numRows === 0) continue;
      cursor.batch = batch;
      cursor.key = keyOf(options.key, batch);
      cursor.row = 0;
      cursor.rows = batch.numRows;
      cursor.windowGeneration = -1;
      return true;
    }
  };
  try {
    // In rank order throughout.
    const active: Cursor[] = [];
    const holding: Cursor[] = [];
    for (const [rank, [, source]] of ranked.entries()) {
      const cursor = new Cursor(rank, source.batches[Symbol.asyncIterator]());
      cursors.push(cursor);
      if (await load(cursor)) active.push(cursor);
    }
    while (active.length > 0) {
      // The smallest key; whether other sources hold it too; the smallest key above it.
      let min = active[0] as Cursor;
      for (let i = 1; i < active.length; i++) {
        const c = active[i] as Cursor;
        if (compare(c.key, c.row, min.key, min.row) < 0) min = c;
      }
      let second: Cursor | undefined;
      // The sources holding the smallest key, in rank order.
      holding.length = 0;
      for (const c of active) {
        if (c === min || compare(c.key, c.row, min.key, min.row) === 0) holding.push(c);
        else if (second === undefined || compare(c.key, c.row, second.key, second.row) < 0) second = c;
      }
      if (holding.length === 1) {
        // Only `min` holds keys below `second`'s: its rows up to there, as one run.
        const limit = Math.min(min.rows, min.row + out.room);
        const end = second === undefined ? limit : runEnd(min, limit, second, compare);
        emitRun(out, min, end, overwrite, compare);
        min.row = end;
        if (end === min.rows) {
          // The batch's last row is kept only if the source's next row has another key.
          const lastKept = overwrite && out.endsWith(min, end - 1) ? min.key : undefined;
          if (!(await load(min))) active.splice(active.indexOf(min), 1);
          else if (lastKept !== undefined && compare(lastKept, end - 1, min.key, 0) === 0) out.dropLast();
        }
      } else {
        // Several sources hold the key: each one's rows of it, in rank order (OVERWRITE keeps the
        // last row of the highest-ranked one). A source's rows of one key may span its batches.
        const key = min.key;
        const keyRow = min.row;
        let keptBatch: ColumnBatch | undefined;
        let keptRow = 0;
        for (const c of holding) {
          for (;;) {
            let end = c.row + 1;
            while (end < c.rows && compare(c.key, end, key, keyRow) === 0) end++;
            if (overwrite) {
              keptBatch = c.batch;
              keptRow = end - 1;
            } else {
              for (let r = c.row; r < end; r++) {
                out.push(out.slotOf(c), r);
                if (out.room === 0) yield* out.takeRows();
              }
            }
            c.row = end;
            if (end < c.rows) break;
            if (!(await load(c))) {
              active.splice(active.indexOf(c), 1);
              break;
            }
            if (compare(c.key, 0, key, keyRow) !== 0) break;
          }
        }
        if (keptBatch !== undefined) out.push(out.slotOfBatch(keptBatch), keptRow);
      }
      if (out.room === 0) yield* out.takeRows();
    }
    if (out.count > 0) yield* out.takeRows();
  } finally {
    await Promise.allSettled(
      cursors.map(async (c) => {
        await c.iterator.return?.();
      }),
    );
  }
  return undefined;
}

/**
 * The primary key of one batch: its columns as views, and for the default key (tsid, timestamp)
 * the tsid's 32-bit words and the timestamps, which the specialised comparison reads directly.
 */
interface BatchKey {
  readonly views: readonly KeyView[];
  readonly tsidWords: Uint32Array | undefined;
  readonly timestamps: Float64Array | undefined;
}

/** Compares the key of row `ra` of one batch with that of row `rb` of another. */
type KeyComparator = (a: BatchKey, ra: number, b: BatchKey, rb: number) => number;

const EMPTY_KEY: BatchKey = { views: [], tsidWords: undefined, timestamps: undefined };

function keyOf(key: readonly ColumnSpec[], batch: ColumnBatch): BatchKey {
  const views = key.map(({ name, type }) => keyView(type, columnNamed(batch, name)));
  if (!isTsidKey(key)) return { views, tsidWords: undefined, timestamps: undefined };
  const tsid = columnNamed(batch, (key[0] as ColumnSpec).name).values as BigUint64Array;
  return {
    views,
    tsidWords: new Uint32Array(tsid.buffer, tsid.byteOffset, tsid.length * 2),
    timestamps: columnNamed(batch, (key[1] as ColumnSpec).name).values as Float64Array,
  };
}

function isTsidKey(key: readonly ColumnSpec[]): boolean {
  return key.length === 2 && key[0]?.type === DataType.UInt64 && key[1]?.type === DataType.Timestamp;
}

function comparatorFor(key: readonly ColumnSpec[]): KeyComparator {
  if (!isTsidKey(key)) return (a, ra, b, rb) => compareKeys(a.views, ra, b.views, rb);
  // (tsid, timestamp): uint64 as two words (little-endian: low word first), then integer times.
  return (a, ra, b, rb) => {
    const wa = a.tsidWords as Uint32Array;
    const wb = b.tsidWords as Uint32Array;
    const ha = wa[2 * ra + 1] as number;
    const hb = wb[2 * rb + 1] as number;
    if (ha !== hb) return ha < hb ? -1 : 1;
    const la = wa[2 * ra] as number;
    const lb = wb[2 * rb] as number;
    if (la !== lb) return la < lb ? -1 : 1;
    const ta = (a.timestamps as Float64Array)[ra] as number;
    const tb = (b.timestamps as Float64Array)[rb] as number;
    return ta < tb ? -1 : ta > tb ? 1 : 0;
  };
}

/** One source in the merge: its current batch and row. */
class Cursor {
  batch: ColumnBatch = { names: [], columns: [], numRows: 0 };
  key: BatchKey = EMPTY_KEY;
  row = 0;
  rows = 0;
  /** The output window generation `windowSlot` is valid for. */
  windowGeneration = -1;
  windowSlot = 0;

  constructor(
    readonly rank: number,
    readonly iterator: AsyncIterator<ColumnBatch>,
  ) {}
}

/** Adds rows [cursor.row, end); OVERWRITE leaves out a row whose next row has its key. */
function emitRun(
  out: OutputWindow,
  cursor: Cursor,
  end: number,
  overwrite: boolean,
  compare: KeyComparator,
): void {
  const slot = out.slotOf(cursor);
  if (!overwrite) {
    for (let r = cursor.row; r < end; r++) out.push(slot, r);
    return;
  }
  const key = cursor.key;
  const last = cursor.rows - 1;
  for (let r = cursor.row; r < end; r++) {
    // Sources hold one row per key in OVERWRITE tables; a repeat would be settled as the scratch
    // memtable did: the later row wins.
    if (r < last && compare(key, r, key, r + 1) === 0) continue;
    out.push(slot, r);
  }
}

/**
 * The first row from `cursor.row + 1` on whose key is not below `second`'s current key (`limit`
 * when there is none before it), found by galloping: runs are often long, and often a single row.
 */
function runEnd(cursor: Cursor, limit: number, second: Cursor, compare: KeyComparator): number {
  const below = (r: number) => compare(cursor.key, r, second.key, second.row) < 0;
  let lo = cursor.row; // below
  let step = 1;
  let hi = limit;
  for (;;) {
    const probe = lo + step;
    if (probe >= limit) break;
    if (!below(probe)) {
      hi = probe;
      break;
    }
    lo = probe;
    step *= 2;
  }
  while (lo + 1 < hi) {
    const mid = (lo + hi) >>> 1;
    if (below(mid)) lo = mid;
    else hi = mid;
  }
  return hi;
}

/**
 * Compares the keys of two rows: numbers ascending (NaN last, all NaNs equal, -0 equal to 0), int64
 * signed, uint64 unsigned, strings by code point, false before true.
 */
function compareKeys(a: readonly KeyView[], ra: number, b: readonly KeyView[], rb: number): number {
  for (let k = 0; k < a.length; k++) {
    const c = compareKeyValues(a[k] as KeyView, ra, b[k] as KeyView, rb);
    if (c !== 0) return c;
  }
  return 0;
}

/** Output rows collected as (source batch, row) locations, gathered into one batch when taken. */
class OutputWindow {
  readonly #columns: readonly ColumnSpec[];
  readonly #predicate: RowPredicate | undefined;
  /** The predicate's columns, gathered first. */
  readonly #tested: readonly ColumnSpec[];
  readonly #slots: Uint32Array;
  readonly #rows: Uint32Array;
  /** The batches rows were taken from since the last take, by slot. */
  #batches: ColumnBatch[] = [];
  #generation = 0;
  count = 0;

  constructor(columns: readonly ColumnSpec[], size: number, predicate?: RowPredicate) {
    if (!Number.isSafeInteger(size) || size < 1)
      throw new RangeError(`batch size must be positive, not ${size}`);
    this.#columns = columns;
    this.#predicate = predicate;
    this.#tested = (predicate?.columns ?? []).map((name) => {
      const spec = columns.find((c) => c.name === name);
      if (spec === undefined) throw new RangeError(`predicate column "${name}" is not merged`);
      return spec;
    });
    this.#slots = new Uint32Array(size);
    this.#rows = new Uint32Array(size);
  }

  get room(): number {
    return this.#rows.length - this.count;
  }

  /** The slot of the cursor's current batch in this window. */
  slotOf(cursor: Cursor): number {
    if (cursor.windowGeneration !== this.#generation) {
      cursor.windowSlot = this.#batches.push(cursor.batch) - 1;
      cursor.windowGeneration = this.#generation;
    }
    return cursor.windowSlot;
  }

  /** The slot of `batch` in this window. */
  slotOfBatch(batch: ColumnBatch): number {
    const slot = this.#batches.lastIndexOf(batch);
    return slot >= 0 ? slot : this.#batches.push(batch) - 1;
  }

  push(slot: number, row: number): void {
    this.#slots[this.count] = slot;
    this.#rows[this.count] = row;
    this.count++;
  }

  /** Whether the last row added is row `row` of the cursor's current batch. */
  endsWith(cursor: Cursor, row: number): boolean {
    const last = this.count - 1;
    return (
      last >= 0 &&
      cursor.windowGeneration === this.#generation &&
      this.#slots[last] === cursor.windowSlot &&
      this.#rows[last] === row
    );
  }

  dropLast(): void {
    this.count--;
  }

  /** The rows added, as one batch unless the predicate left none; the window starts over. */
  *takeRows(): Generator<ColumnBatch> {
    const batch = this.take();
    if (batch.numRows > 0) yield batch;
  }

  /** The rows added (that pass the predicate), as one batch; the window starts over. */
  take(): ColumnBatch {
    let count = this.count;
    const batches = this.#batches;
    let slots = this.#slots.subarray(0, count);
    let rows = this.#rows.subarray(0, count);
    this.count = 0;
    this.#batches = [];
    this.#generation++;
    if (this.#predicate !== undefined && count > 0) {
      const selected = this.#predicate.select(gatherRows(this.#tested, batches, slots, rows));
      if (selected.length < count) {
        slots = pick(slots, selected);
        rows = pick(rows, selected);
        count = selected.length;
      }
    }
    if (count === 0) return gatherRows(this.#columns, batches, slots, rows);
    if (batches.length === 1 && isConsecutive(rows)) {
      // One source's rows in a row (a stretch only it covers): views, no copies.
      const batch = batches[0] as ColumnBatch;
      const first = rows[0] as number;
      return {
        names: this.#columns.map((c) => c.name),
        columns: this.#columns.map((c) => viewColumn(columnNamed(batch, c.name), first, first + count)),
        numRows: count,
      };
    }
    return gatherRows(this.#columns, batches, slots, rows);
  }
}

/** The values of `array` at `indices`. */
function pick(array: Uint32Array, indices: Uint32Array): Uint32Array {
  const picked = new Uint32Array(indices.length);
  for (let i = 0; i < indices.length; i++) picked[i] = array[indices[i] as number] as number;
  return picked;
}

function isConsecutive(rows: Uint32Array): boolean {
  for (let i = 1; i < rows.length; i++) if (rows[i] !== (rows[i - 1] as number) + 1) return false;
  return true;
}

/** The rows at (batches[slot[i]], row[i]) as one batch of `columns` (copies, one column at a time). */
export function gatherRows(
  columns: readonly ColumnSpec[],
  batches: readonly ColumnBatch[],
  slots: Uint32Array,
  rows: Uint32Array,
): ColumnBatch {
  const at = { chunk: slots, row: rows, count: rows.length };
  const sizes = batches.map((b) => b.numRows);
  return {
    names: columns.map((c) => c.name),
    columns: columns.map(({ name, type }) =>
      new ColumnGatherer(
        type,
        batches.map((b) => columnNamed(b, name)),
        sizes,
      ).gather(at),
    ),
    numRows: rows.length,
  };
}

function columnNamed(batch: ColumnBatch, name: string): Column {
  const i = batch.names.indexOf(name);
  const column = i < 0 ? undefined : batch.columns[i];
  if (column === undefined) throw new RangeError(`column "${name}" is not in the batch`);
  return column;
}

// ---------------------------------------------------------------------------------------------
// The newest rows of each series, for lastPerSeries over overlapping sources.

/** Rows [start, end) of one batch of a source: one series (tsid), timestamps ascending. */
export interface SeriesSegment {
  /** The tsid as two 32-bit words (compared unsigned, high first). */
  readonly tsidHigh: number;
  readonly tsidLow: number;
  /** Index into the source's batches. */
  readonly batch: number;
  readonly start: number;
  readonly end: number;
  /** The series as the scan groups rows: the values of the projection's TAG columns. */
  readonly series: string;
}

export interface SeriesSource {
  readonly priority: number;
  /** The source's rows of the time range and tag filter, ascending by tsid, then as the source holds them. */
  readonly segments: readonly SeriesSegment[];
  /**
   * The source holds only the rows of each series' newest timestamp, not the older ones: a walk
   * that would go past them cannot decide.
   */
  readonly newestOnly?: boolean;
}

/** The segments of one tsid, per source holding it. */
export interface TsidRows {
  readonly series: string;
  readonly parts: ReadonlyArray<{ readonly source: number; readonly segments: readonly SeriesSegment[] }>;
}

/**
 * Groups the sources' segments by tsid, ascending (unsigned). Undefined when the sources are not
 * in tsid order or a tsid's rows carry different series (two series sharing a tsid): the caller
 * then merges every row.
 */
export function groupByTsid(sources: readonly SeriesSource[]): TsidRows[] | undefined {
  const all: Array<{ readonly source: number; readonly segment: SeriesSegment }> = [];
  for (const [source, { segments }] of sources.entries()) {
    for (let i = 0; i < segments.length; i++) {
      const segment = segments[i] as SeriesSegment;
      if (i > 0 && compareTsids(segments[i - 1] as SeriesSegment, segment) > 0) return undefined;
      all.push({ source, segment });
    }
  }
  // Stable: a source's segments of one tsid stay in the order it holds them.
  all.sort((a, b) => compareTsids(a.segment, b.segment) || a.source - b.source);
  const groups: TsidRows[] = [];
  for (let i = 0; i < all.length;) {
    const first = (all[i] as (typeof all)[number]).segment;
    const parts: Array<{ source: number; segments: SeriesSegment[] }> = [];
    for (; i < all.length; i++) {
      const { source, segment } = all[i] as (typeof all)[number];
      if (compareTsids(segment, first) !== 0) break;
      if (segment.series !== first.series) return undefined;
      const part = parts[parts.length - 1];
      if (part?.source === source) part.segments.push(segment);
      else parts.push({ source, segments: [segment] });
    }
    groups.push({ series: first.series, parts });
  }
  return groups;
}

function compareTsids(a: SeriesSegment, b: SeriesSegment): number {
  if (a.tsidHigh !== b.tsidHigh) return a.tsidHigh < b.tsidHigh ? -1 : 1;
  return a.tsidLow === b.tsidLow ? 0 : a.tsidLow < b.tsidLow ? -1 : 1;
}

/** A source's batches as the walk reads them: timestamps and validity of the wanted columns. */
export interface SeriesBatch {
  readonly timestamps: Float64Array;
  /** Per wanted column, its validity (null: no nulls). */
  readonly validity: ReadonlyArray<Uint8Array | null>;
}

/** A row picked for the result: in batch `batch` of source `source`. */
export interface PickedRow {
  readonly source: number;
  readonly batch: number;
  readonly row: number;
}

export interface SeriesPicks {
  /** The rows to return, in the order a merge of the sources returns them. */
  readonly rows: readonly PickedRow[];
  /** Per series, the wanted columns found (the index `columns` stands for the series' last row). */
  readonly found: ReadonlyMap<string, readonly number[]>;
  /** Rows looked at. */
  readonly rowsVisited: number;
}

interface Pick extends PickedRow {
  /** Index of the tsid in the walk, then the timestamp: the merge order. */
  readonly tsid: number;
  readonly ts: number;
}

/** Where a walk down one source's rows of a tsid stands. */
interface TailCursor {
  readonly rank: number;
  readonly source: number;
  readonly segments: readonly SeriesSegment[];
  segment: number;
  row: number;
  batch: SeriesBatch;
}

/**
 * Per series, the rows holding the last non-null value of each of `columns` wanted columns (among
 * equal timestamps the row a merge returns later) and the series' last row, as a merge of the
 * sources (OVERWRITE: at each key the row of the highest priority source) followed by a last() per
 * series would find them. Each tsid's rows are walked from the newest timestamp down, and only
 * until every wanted column is found; `foundBefore(series)` marks the columns not wanted (found
 * in newer rows already), `batchOf` gives the batches the segments point into. Undefined when a
 * walk would have to go past the rows of a `newestOnly` source.
 */
export function lastRowsOfSeries(
  sources: readonly SeriesSource[],
  groups: readonly TsidRows[],
  columns: number,
  batchOf: (source: number, batch: number) => SeriesBatch,
  foundBefore: (series: string) => Uint8Array | undefined,
): SeriesPicks | undefined {
  const lastRow = columns;
  // Rank by priority, ties by the order given: the highest rank wins a key.
  const rankOf = new Map(
    [...sources.entries()]
      .sort(([i, a], [j, b]) => a.priority - b.priority || i - j)
      .map(([source], rank) => [source, rank]),
  );
  const picksBySeries = new Map<string, Array<Pick | undefined>>();
  let visited = 0;
  for (let g = 0; g < groups.length; g++) {
    const group = groups[g] as TsidRows;
    const found = foundBefore(group.series);
    const need: number[] = [];
    for (let c = 0; c <= lastRow; c++) if (found?.[c] !== 1) need.push(c);
    if (need.length === 0) continue;
    let picks = picksBySeries.get(group.series);
    if (picks === undefined) {
      picks = new Array<Pick | undefined>(lastRow + 1).fill(undefined);
      picksBySeries.set(group.series, picks);
    }
    const cursors: TailCursor[] = group.parts.map(({ source, segments }) => {
      const segment = segments.length - 1;
      const last = segments[segment] as SeriesSegment;
      return {
        rank: rankOf.get(source) as number,
        source,
        segments,
        segment,
        row: last.end - 1,
        batch: batchOf(source, last.batch),
      };
    });
    // Set when a newestOnly source ran out: its older rows, not at hand, would come next.
    let cut = false;
    while (need.length > 0 && cursors.length > 0) {
      if (cut) return undefined;
      // The newest timestamp left, and the highest-ranked source holding it: its row is the one a
      // merge keeps for this key.
      let ts = -Infinity;
      let winner: TailCursor | undefined;
      for (const cursor of cursors) {
        const t = cursor.batch.timestamps[cursor.row] as number;
        if (t > ts || (t === ts && cursor.rank > (winner as TailCursor).rank)) {
          ts = t;
          winner = cursor;
        }
      }
      const kept = winner as TailCursor;
      for (let i = need.length - 1; i >= 0; i--) {
        const c = need[i] as number;
        const validity = c === lastRow ? null : (kept.batch.validity[c] ?? null);
        if (validity !== null && validity[kept.row] !== 1) continue;
        const current = picks[c];
        if (current === undefined || ts >= current.ts) {
          const segment = kept.segments[kept.segment] as SeriesSegment;
          picks[c] = { source: kept.source, batch: segment.batch, row: kept.row, tsid: g, ts };
        }
        need.splice(i, 1);
      }
      // Every source's rows of this key are done with (in OVERWRITE one per source; repeats within
      // a source are passed over too, as the merge keeps only the last).
      for (let i = cursors.length - 1; i >= 0; i--) {
        const cursor = cursors[i] as TailCursor;
        while (cursor.batch.timestamps[cursor.row] === ts) {
          visited++;
          if (!stepBack(cursor, batchOf)) {
            if ((sources[cursor.source] as SeriesSource).newestOnly === true) cut = true;
            cursors.splice(i, 1);
            break;
          }
        }
      }
    }
    if (cut && need.length > 0) return undefined;
  }
  const unique = new Map<string, Pick>();
  const foundNow = new Map<string, number[]>();
  for (const [series, picks] of picksBySeries) {
    const columnsFound: number[] = [];
    picks.forEach((pick, c) => {
      if (pick === undefined) return;
      columnsFound.push(c);
      unique.set(`${pick.source}:${pick.batch}:${pick.row}`, pick);
    });
    if (columnsFound.length > 0) foundNow.set(series, columnsFound);
  }
  const rows = [...unique.values()].sort((a, b) => a.tsid - b.tsid || a.ts - b.ts);
  return { rows, found: foundNow, rowsVisited: visited };
}

/** Moves the cursor one row back (into the previous segment when needed); false past the first. */
function stepBack(cursor: TailCursor, batchOf: (source: number, batch: number) => SeriesBatch): boolean {
  const segment = cursor.segments[cursor.segment] as SeriesSegment;
  if (cursor.row > segment.start) {
    cursor.row--;
    return true;
  }
  if (cursor.segment === 0) return false;
  cursor.segment--;
  const previous = cursor.segments[cursor.segment] as SeriesSegment;
  cursor.row = previous.end - 1;
  cursor.batch = batchOf(cursor.source, previous.batch);
  return true;
}
