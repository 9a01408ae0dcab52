/**
 * Selective reads of a memtable snapshot, for tables keyed by (tsid, timestamp). A plain
 * `sortedBatches` gathers every projected column of every row in the time range (random reads
 * across the appended chunks, in key order), which for a query of one series out of a hundred, or
 * of each series' newest row, is a hundred times the work. Here the wanted rows are picked out of
 * the appended chunks first, and only they are sorted and read.
 *
 * Each chunk's rows are indexed by tsid once (chunks never change once appended; the index lives
 * as long as the chunk, about 4 bytes per row and a few dozen per series, plus 16 per series for
 * each column a predicate has compared), and its tsids by the values of each tag a filter has
 * asked for. Picking the rows of a tag filter then costs a lookup
 * per allowed value and chunk, and those of each series' newest timestamp a step per series and
 * chunk, rather than a step per row.
 */
import { allocateValues, type Column } from "../batch/column.js";
import type { ColumnBatch } from "../batch/column-batch.js";
import { MemtableSnapshot, type MemtableChunk, type RowSource } from "../memtable/index.js";
import { growWords, hashWords, HIGH_WORD, LOW_WORD, wordsOf } from "../memtable/key-lanes.js";
import { buildSortedView } from "../memtable/sorted-view.js";
import { DataType } from "../table/data-type.js";
import { TSID_COLUMN, type TableSchema } from "../table/schema.js";
import type { ValueComparison } from "../batch/row-predicate.js";
import { boundsMayMeet, valueBounds, type RunBounds } from "../sst/series-runs.js";
import type { TagFilter, TimeRange } from "./row-filter.js";

/**
 * Above this share of the rows, the whole snapshot (whose sort the memtable caches) is read
 * rather than a narrowed copy sorted afresh.
 */
const MAX_SHARE = 0.25;

/**
 * The snapshot narrowed to the series that have a row passing the tag filter: every row of such a
 * tsid, also one whose tags fail the filter (two series hashing to one tsid), so that deduplication
 * by key sees every row it sees in the whole snapshot and keeps the same ones. The caller still
 * filters the rows read. With `range`, only rows in it are kept: a row outside shares its key (the
 * timestamp is part of it) with no row inside, so leaving it out changes no deduplication. With
 * `comparisons` (which every row the caller keeps must meet; their columns must be the table's),
 * series with no chunk where their values allow them all are left out, and `onPruned` is told how
 * many. Undefined when the table has no tsid or the series' rows in the range are more than a
 * quarter of the snapshot's rows: the whole snapshot is the better read then. Takes a snapshot of
 * a memtable's own chunks (not a narrowed one).
 */
export function narrowToSeries(
  snapshot: MemtableSnapshot,
  tagFilter: TagFilter,
  range?: TimeRange,
  comparisons?: readonly ValueComparison[],
  onPruned?: (series: number) => void,
): MemtableSnapshot | undefined {
  if (!snapshot.schema.hasTsid || snapshot.isEmpty || snapshot.rowSources !== undefined) return undefined;
  const filters = Object.entries(tagFilter).map(([name, allowed]) => ({ name, allowed: new Set(allowed) }));
  // A chunk with no row in the range holds no key a row in the range has (the timestamp is part of
  // the key), so leaving it out changes neither the rows read nor how they deduplicate.
  const chunks = snapshot.chunks.filter(
    (chunk) => range === undefined || (chunk.maxTimestamp >= range.start && chunk.minTimestamp < range.end),
  );
  let wanted = new TsidSet();
  const first = filters[0];
  for (const chunk of chunks) {
    const index = chunkSeries(chunk);
    const values = filters.map(({ name }) => index.tagValues(chunk, name));
    // Only the tsids holding an allowed value of the first filter's tag (or several values) can pass.
    for (const g of first === undefined
      ? index.allGroups()
      : index.candidates(chunk, first.name, first.allowed)) {
      let passes = true;
      for (let f = 0; f < filters.length && passes; f++) {
        const value = (values[f] as GroupValues)[g];
        if (value === MIXED) passes = index.someRow(g, (row) => rowPasses(chunk, row, filters));
        else passes = value !== null && (filters[f] as { allowed: Set<string> }).allowed.has(value as string);
      }
      if (passes) wanted.add(index.high[g] as number, index.low[g] as number);
    }
  }
  let pruned = 0;
  if (comparisons !== undefined && comparisons.length > 0 && wanted.size > 0) {
    const kept = seriesThatMayPass(wanted, chunks, comparisons);
    pruned = wanted.size - kept.size;
    wanted = kept;
  }
  const limit = snapshot.numRows * MAX_SHARE;
  let total = 0;
  const picker = new KeyRowPicker(snapshot.schema);
  if (wanted.size > 0) {
    for (const chunk of chunks) {
      const index = chunkSeries(chunk);
      const groups: number[] = [];
      // A lookup per wanted tsid, or a step per tsid of the chunk, whichever is fewer.
      if (wanted.size <= index.count) {
        wanted.forEach((high, low) => {
          const g = index.groupOf(high, low);
          if (g >= 0) groups.push(g);
        });
      } else {
        for (let g = 0; g < index.count; g++) {
          if (wanted.has(index.high[g] as number, index.low[g] as number)) groups.push(g);
        }
      }
      if (groups.length === 0) continue;
      const rows = index.rowsOf(groups, range);
      if (rows.length === 0) continue;
      total += rows.length;
      if (total > limit) return undefined;
      picker.add(chunk, rows, undefined);
    }
  }
  if (pruned > 0) onPruned?.(pruned);
  return narrowedSnapshot(snapshot, picker.pick());
}

/**
 * The tsids of `wanted` that have rows in some chunk where no comparison is ruled out by their
 * least and greatest values there. A tsid left out has no row meeting them all, so none of its
 * rows, whichever deduplication keeps, passes a predicate they come from. Keeping or leaving out a
 * tsid's rows per chunk instead could let an older row that passes stand in for the newer one that
 * replaced it.
 */
function seriesThatMayPass(
  wanted: TsidSet,
  chunks: readonly MemtableChunk[],
  comparisons: readonly ValueComparison[],
): TsidSet {
  const kept = new TsidSet();
  wanted.forEach((high, low) => {
    const mayPass = chunks.some((chunk) => {
      const index = chunkSeries(chunk);
      const g = index.groupOf(high, low);
      return g >= 0 && index.mayMeet(chunk, g, comparisons);
    });
    if (mayPass) kept.add(high, low);
  });
  return kept;
}

/**
 * The snapshot narrowed to the rows of each series' newest timestamp in `range` (every row of that
 * key, so deduplication keeps the same one): the rows a lastPerSeries scan usually needs. Older
 * rows are left out; a caller that needs them reads the whole snapshot. Undefined when the table
 * has no tsid. The snapshot may be a narrowed one (narrowToSeries).
 */
export function narrowToNewest(
  snapshot: MemtableSnapshot,
  range: TimeRange | undefined,
): MemtableSnapshot | undefined {
  if (!snapshot.schema.hasTsid) return undefined;
  const start = range?.start ?? -Infinity;
  const end = range?.end ?? Infinity;
  const within = (chunk: MemtableChunk) => chunk.minTimestamp >= start && chunk.maxTimestamp < end;
  // Each series' newest timestamp in the range: from the index where the chunk is all in range.
  const newest = new TsidTable();
  for (const chunk of snapshot.chunks) {
    const index = chunkSeries(chunk);
    if (within(chunk)) {
      for (let g = 0; g < index.count; g++)
        newest.record(index.high[g] as number, index.low[g] as number, index.newest[g] as number);
      continue;
    }
    const timestamps = chunkTimestamps(chunk);
    for (let g = 0; g < index.count; g++) {
      for (let i = index.starts[g] as number; i < (index.starts[g + 1] as number); i++) {
        const t = timestamps[index.order[i] as number] as number;
        if (t >= start && t < end) newest.record(index.high[g] as number, index.low[g] as number, t);
      }
    }
  }
  const picker = new KeyRowPicker(snapshot.schema);
  for (const [c, chunk] of snapshot.chunks.entries()) {
    const index = chunkSeries(chunk);
    const timestamps = chunkTimestamps(chunk);
    const rows: number[] = [];
    for (let g = 0; g < index.count; g++) {
      const t = newest.newestOf(index.high[g] as number, index.low[g] as number);
      if (t === undefined || t > (index.newest[g] as number) || t < (index.oldest[g] as number)) continue;
      for (let i = index.starts[g] as number; i < (index.starts[g + 1] as number); i++) {
        const row = index.order[i] as number;
        if (timestamps[row] === t) rows.push(row);
      }
    }
    if (rows.length > 0) picker.add(chunk, Uint32Array.from(rows).sort(), snapshot.rowSources?.[c]);
  }
  return narrowedSnapshot(snapshot, picker.pick());
}

/** Some rows of a snapshot's chunk: their key columns, and where the rows are. */
interface NarrowedChunk {
  /** The rows' key columns (primary key and timestamp); its other columns are left empty. */
  readonly keys: MemtableChunk;
  readonly source: RowSource;
}

/**
 * A snapshot of the narrowed rows. They are sorted and deduplicated by their key columns alone,
 * and every column is read out of the memtable's chunks (`rowSources`), so each value is copied
 * once, by the read, rather than once more into the narrowed chunks.
 */
function narrowedSnapshot(snapshot: MemtableSnapshot, narrowed: readonly NarrowedChunk[]): MemtableSnapshot {
  const { schema, updateMode } = snapshot;
  const chunks = narrowed.map(({ keys }) => keys);
  return new MemtableSnapshot({
    schema,
    updateMode,
    chunks,
    rowSources: narrowed.map(({ source }) => source),
    sortedView: () => buildSortedView(chunks, schema, updateMode),
    table: snapshot.table,
    memtableId: snapshot.memtableId,
  });
}

/**
 * Picks the key columns (tsid and timestamp) of chunks' rows for narrowed snapshots. Rows that
 * stand next to each other in their chunk (a series' rows in a chunk grouped by tsid, see
 * `groupRowsBySeries`) are taken as views of the chunk's own key columns. Other rows are copied,
 * at once, into one array per key column, each narrowed chunk holding a view of its part: small
 * typed arrays each cost an allocation of their own memory, and a narrowing may pick a few rows out
 * of each of hundreds of chunks. The chunks' other columns all share one empty column per type.
 */
class KeyRowPicker {
  readonly #schema: TableSchema;
  readonly #added: Array<{ chunk: MemtableChunk; rows: Uint32Array; from: RowSource | undefined }> = [];
  /** Rows to copy (not in one run of their chunk). */
  #copied = 0;

  constructor(schema: TableSchema) {
    this.#schema = schema;
  }

  /**
   * Adds `chunk`'s rows at `rows` (ascending): in `chunk`, or where `chunk`'s own rows are when it
   * is itself narrowed (`from`).
   */
  add(chunk: MemtableChunk, rows: Uint32Array, from: RowSource | undefined): void {
    this.#added.push({ chunk, rows, from });
    if (!isRun(rows)) this.#copied += rows.length;
  }

  /** The added rows' key columns, a chunk of their own per chunk added, with where the rows are. */
  pick(): NarrowedChunk[] {
    const tsids = new BigUint64Array(this.#copied);
    const tsidWords = wordsOf(tsids);
    const allTimestamps = new Float64Array(this.#copied);
    const layouts = new Map<TableSchema, KeyChunkLayout>();
    let at = 0;
    return this.#added.map(({ chunk, rows, from }) => {
      const { batch, schema } = chunk;
      const n = rows.length;
      const sourceTsids = chunkColumn(chunk, TSID_COLUMN)?.values as BigUint64Array;
      const sourceTimestamps = chunkTimestamps(chunk);
      let tsidValues: BigUint64Array;
      let timestampValues: Float64Array;
      if (isRun(rows)) {
        const first = rows[0] as number;
        tsidValues = sourceTsids.subarray(first, first + n);
        timestampValues = sourceTimestamps.subarray(first, first + n);
      } else {
        const sourceWords = wordsOf(sourceTsids);
        for (let i = 0; i < n; i++) {
          const r = rows[i] as number;
          tsidWords[2 * (at + i)] = sourceWords[2 * r] as number;
          tsidWords[2 * (at + i) + 1] = sourceWords[2 * r + 1] as number;
          allTimestamps[at + i] = sourceTimestamps[r] as number;
        }
        tsidValues = tsids.subarray(at, at + n);
        timestampValues = allTimestamps.subarray(at, at + n);
        at += n;
      }
      // Exact bounds: the snapshot's time range decides whether a read filters by time.
      let min = Infinity;
      let max = -Infinity;
      for (let i = 0; i < n; i++) {
        const t = timestampValues[i] as number;
        if (t < min) min = t;
        if (t > max) max = t;
      }
      let layout = layouts.get(schema);
      if (layout === undefined) {
        layout = keyChunkLayout(batch, this.#schema.timestampColumn);
        layouts.set(schema, layout);
      }
      const columns = layout.columns.slice();
      columns[layout.tsid] = { type: DataType.UInt64, values: tsidValues, validity: null };
      columns[layout.timestamp] = { type: DataType.Timestamp, values: timestampValues, validity: null };
      const keys: MemtableChunk = {
        batch: { names: batch.names, columns, numRows: n },
        schema,
        sequence: chunk.sequence,
        minTimestamp: min,
        maxTimestamp: max,
      };
      const source: RowSource =
        from === undefined
          ? { chunk, rows }
          : { chunk: from.chunk, rows: rows.map((r) => from.rows[r] as number) };
      return { keys, source };
    });
  }
}

/** Whether ascending distinct `rows` are one run of consecutive rows. */
function isRun(rows: Uint32Array): boolean {
  return rows.length > 0 && (rows[rows.length - 1] as number) - (rows[0] as number) === rows.length - 1;
}

/** The columns of a narrowed chunk of some schema: empty ones, and where its two key columns go. */
interface KeyChunkLayout {
  readonly columns: readonly Column[];
  readonly tsid: number;
  readonly timestamp: number;
}

function keyChunkLayout(batch: ColumnBatch, timestampColumn: string): KeyChunkLayout {
  const empty = new Map<DataType, Column>();
  const columns = batch.columns.map(({ type }): Column => {
    let column = empty.get(type);
    if (column === undefined) {
      column = { type, values: allocateValues(type, 0), validity: null };
      empty.set(type, column);
    }
    return column;
  });
  return {
    columns,
    tsid: batch.names.indexOf(TSID_COLUMN),
    timestamp: batch.names.indexOf(timestampColumn),
  };
}

function chunkColumn(chunk: MemtableChunk, name: string): Column | undefined {
  const i = chunk.schema.indexOf(name);
  return i === undefined ? undefined : chunk.batch.columns[i];
}

function chunkTimestamps(chunk: MemtableChunk): Float64Array {
  const column = chunkColumn(chunk, chunk.schema.timestampColumn);
  // Appends check that every key column is there.
  if (column === undefined) throw new TypeError("memtable chunk has no timestamp column");
  return column.values as Float64Array;
}

/** Whether the chunk's row passes every filter (null never does; a column the chunk lacks is null). */
function rowPasses(
  chunk: MemtableChunk,
  row: number,
  filters: ReadonlyArray<{ readonly name: string; readonly allowed: ReadonlySet<string> }>,
): boolean {
  return filters.every(({ name, allowed }) => {
    const column = chunkColumn(chunk, name);
    if (column === undefined || (column.validity !== null && column.validity[row] !== 1)) return false;
    return allowed.has((column.values as string[])[row] as string);
  });
}

/** A tag of a tsid whose rows in the chunk do not all hold one value (two series sharing a tsid). */
const MIXED = Symbol("mixed");
type GroupValues = ReadonlyArray<string | null | typeof MIXED>;

/** A chunk's rows grouped by tsid. */
class ChunkSeries {
  /** Number of tsids. */
  readonly count: number;
  /** Per tsid, its words. */
  readonly high: Uint32Array;
  readonly low: Uint32Array;
  /** Tsid g holds the rows order[starts[g]] .. order[starts[g + 1] - 1], ascending. */
  readonly starts: Uint32Array;
  readonly order: Uint32Array;
  /** Per tsid, its newest and oldest timestamp in the chunk. */
  readonly newest: Float64Array;
  readonly oldest: Float64Array;
  /** Per tsid, 1 when its rows' timestamps ascend (as a series written in time order does). */
  readonly ascending: Uint8Array;
  readonly #timestamps: Float64Array;
  /** Per tag column, per tsid: its value, null, or MIXED. */
  readonly #tags = new Map<string, GroupValues>();
  /** Per tag column: the tsids holding each value alone, and those holding several (MIXED). */
  readonly #byValue = new Map<string, { groups: Map<string, number[]>; mixed: number[] }>();
  /** Per number column: each tsid's least and greatest value (null: the column holds no numbers). */
  readonly #bounds = new Map<string, RunBounds | null>();
  readonly #ids: TsidTable;

  constructor(chunk: MemtableChunk) {
    const n = chunk.batch.numRows;
    const tsid = chunkColumn(chunk, TSID_COLUMN);
    if (tsid === undefined) throw new TypeError("memtable chunk has no tsid column");
    const words = wordsOf(tsid.values as BigUint64Array);
    const timestamps = chunkTimestamps(chunk);
    const ids = new TsidTable();
    const groupOf = new Uint32Array(n);
    for (let r = 0; r < n; r++) {
      groupOf[r] = ids.record(words[2 * r + HIGH_WORD] as number, words[2 * r + LOW_WORD] as number, 0);
    }
    const count = ids.size;
    this.#ids = ids;
    this.count = count;
    // Views of the table's words, which the index keeps for lookups by tsid.
    this.high = ids.highWords.subarray(0, count);
    this.low = ids.lowWords.subarray(0, count);
    this.starts = new Uint32Array(count + 1);
    for (let r = 0; r < n; r++) {
      const next = (groupOf[r] as number) + 1;
      this.starts[next] = (this.starts[next] as number) + 1;
    }
    for (let g = 0; g < count; g++)
      this.starts[g + 1] = (this.starts[g + 1] as number) + (this.starts[g] as number);
    this.order = new Uint32Array(n);
    this.newest = new Float64Array(count).fill(-Infinity);
    this.oldest = new Float64Array(count).fill(Infinity);
    this.ascending = new Uint8Array(count).fill(1);
    this.#timestamps = timestamps;
    const fill = this.starts.slice(0, count);
    for (let r = 0; r < n; r++) {
      const g = groupOf[r] as number;
      const at = fill[g] as number;
      this.order[at] = r;
      fill[g] = at + 1;
      const t = timestamps[r] as number;
      if (!(t > (this.newest[g] as number))) this.ascending[g] = 0;
      else this.newest[g] = t;
      if (t < (this.oldest[g] as number)) this.oldest[g] = t;
    }
  }

  /** Per tsid, the value its rows hold in the tag column `name` (computed once per column). */
  tagValues(chunk: MemtableChunk, name: string): GroupValues {
    let values = this.#tags.get(name);
    if (values !== undefined) return values;
    const column = chunkColumn(chunk, name);
    const out: Array<string | null | typeof MIXED> = new Array<null>(this.count).fill(null);
    if (column !== undefined) {
      const strings = column.values as string[];
      const { validity } = column;
      const at = (row: number) =>
        validity !== null && validity[row] !== 1 ? null : (strings[row] as string);
      for (let g = 0; g < this.count; g++) {
        const first = at(this.order[this.starts[g] as number] as number);
        out[g] = first;
        for (let i = (this.starts[g] as number) + 1; i < (this.starts[g + 1] as number); i++) {
          if (at(this.order[i] as number) !== first) {
            out[g] = MIXED;
            break;
          }
        }
      }
    }
    values = out;
    this.#tags.set(name, values);
    return values;
  }

  /** The id of a tsid in this chunk, or -1 if no row of the chunk has it. */
  groupOf(high: number, low: number): number {
    return this.#ids.idOf(high, low);
  }

  /** Every tsid of the chunk. */
  *allGroups(): Iterable<number> {
    for (let g = 0; g < this.count; g++) yield g;
  }

  /** The tsids whose rows hold one of `allowed` in the tag column `name`, or several values. */
  candidates(chunk: MemtableChunk, name: string, allowed: ReadonlySet<string>): number[] {
    let index = this.#byValue.get(name);
    if (index === undefined) {
      index = { groups: new Map(), mixed: [] };
      for (const [g, value] of this.tagValues(chunk, name).entries()) {
        if (value === MIXED) index.mixed.push(g);
        else if (value !== null) {
          const groups = index.groups.get(value);
          if (groups === undefined) index.groups.set(value, [g]);
          else groups.push(g);
        }
      }
      this.#byValue.set(name, index);
    }
    const found = [...index.mixed];
    for (const value of allowed) {
      const groups = index.groups.get(value);
      if (groups !== undefined) for (const g of groups) found.push(g);
    }
    return found;
  }

  /**
   * Whether the rows of tsid `group` may hold one meeting every comparison, from their least and
   * greatest value per column (worked out once per column). True when a column does not hold
   * numbers: nothing is known then.
   */
  mayMeet(chunk: MemtableChunk, group: number, comparisons: readonly ValueComparison[]): boolean {
    for (const { column: name, op, value } of comparisons) {
      let bounds = this.#bounds.get(name);
      if (bounds === undefined) {
        bounds = this.#computeBounds(chunkColumn(chunk, name));
        this.#bounds.set(name, bounds);
      }
      if (bounds !== null && !boundsMayMeet(bounds, group, op, value)) return false;
    }
    return true;
  }

  #computeBounds(column: Column | undefined): RunBounds | null {
    // A column the chunk lacks (added later) is null in every row: no comparison holds.
    if (column === undefined) {
      return {
        min: new Float64Array(this.count).fill(Infinity),
        max: new Float64Array(this.count).fill(-Infinity),
      };
    }
    const { values, validity } = column;
    if (!(values instanceof Float64Array || values instanceof Float32Array || values instanceof Int32Array))
      return null;
    return valueBounds(this.starts, this.order, values, validity);
  }

  someRow(group: number, test: (row: number) => boolean): boolean {
    for (let i = this.starts[group] as number; i < (this.starts[group + 1] as number); i++) {
      if (test(this.order[i] as number)) return true;
    }
    return false;
  }

  /**
   * The rows of the given tsids (with `range`, those in it), ascending; often a view of this
   * index (for one tsid whose rows are all wanted or ascend in time), so never to be written.
   */
  rowsOf(groups: readonly number[], range?: TimeRange): Uint32Array {
    if (groups.length === 1) return this.#groupRows(groups[0] as number, range);
    const parts = groups.map((g) => this.#groupRows(g, range));
    let n = 0;
    for (const part of parts) n += part.length;
    const rows = new Uint32Array(n);
    let at = 0;
    for (const part of parts) {
      rows.set(part, at);
      at += part.length;
    }
    return rows.sort();
  }

  /** The rows of tsid `g` (in `range`), ascending. */
  #groupRows(g: number, range: TimeRange | undefined): Uint32Array {
    let first = this.starts[g] as number;
    let end = this.starts[g + 1] as number;
    if (
      range === undefined ||
      ((this.oldest[g] as number) >= range.start && (this.newest[g] as number) < range.end)
    )
      return this.order.subarray(first, end);
    const timestamps = this.#timestamps;
    const order = this.order;
    if (this.ascending[g] === 1) {
      // Row order is time order: the rows in the range are one run of them.
      first = this.#firstAtOrAfter(first, end, range.start);
      end = this.#firstAtOrAfter(first, end, range.end);
      return order.subarray(first, end);
    }
    const rows: number[] = [];
    for (let i = first; i < end; i++) {
      const t = timestamps[order[i] as number] as number;
      if (t >= range.start && t < range.end) rows.push(order[i] as number);
    }
    return Uint32Array.from(rows);
  }

  /** The first position in [from, to) of the index whose row's timestamp is >= t (rows ascending). */
  #firstAtOrAfter(from: number, to: number, t: number): number {
    const timestamps = this.#timestamps;
    const order = this.order;
    let lo = from;
    let hi = to;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((timestamps[order[mid] as number] as number) < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

const chunkSeriesCache = new WeakMap<MemtableChunk, ChunkSeries>();

function chunkSeries(chunk: MemtableChunk): ChunkSeries {
  let series = chunkSeriesCache.get(chunk);
  if (series === undefined) {
    series = new ChunkSeries(chunk);
    chunkSeriesCache.set(chunk, series);
  }
  return series;
}

/** Dense ids of tsids (two 32-bit words) with the newest timestamp recorded of each: open addressing. */
class TsidTable {
  highWords: Uint32Array = new Uint32Array(64);
  lowWords: Uint32Array = new Uint32Array(64);
  #newest = new Float64Array(64);
  #slots = new Int32Array(128).fill(-1);
  size = 0;

  /** The tsid's id (a new one for a tsid not seen yet); `t` becomes its newest if it is newer. */
  record(high: number, low: number, t: number): number {
    const mask = this.#slots.length - 1;
    let s = hashWords(high, low) & mask;
    for (;;) {
      const id = this.#slots[s] as number;
      if (id < 0) break;
      if (this.highWords[id] === high && this.lowWords[id] === low) {
        if (t > (this.#newest[id] as number)) this.#newest[id] = t;
        return id;
      }
      s = (s + 1) & mask;
    }
    const id = this.size++;
    if (id === this.highWords.length) {
      this.highWords = growWords(this.highWords);
      this.lowWords = growWords(this.lowWords);
      const newest = new Float64Array(this.#newest.length * 2);
      newest.set(this.#newest);
      this.#newest = newest;
    }
    this.highWords[id] = high;
    this.lowWords[id] = low;
    this.#newest[id] = t;
    this.#slots[s] = id;
    // At most half full, so probe sequences stay short.
    if (this.size * 2 > this.#slots.length) this.#rehash();
    return id;
  }

  /** The newest timestamp recorded of the tsid; undefined for a tsid not seen. */
  newestOf(high: number, low: number): number | undefined {
    const id = this.idOf(high, low);
    return id < 0 ? undefined : this.#newest[id];
  }

  /** The tsid's id; -1 for a tsid not seen. */
  idOf(high: number, low: number): number {
    const mask = this.#slots.length - 1;
    let s = hashWords(high, low) & mask;
    for (;;) {
      const id = this.#slots[s] as number;
      if (id < 0) return -1;
      if (this.highWords[id] === high && this.lowWords[id] === low) return id;
      s = (s + 1) & mask;
    }
  }

  #rehash(): void {
    const slots = new Int32Array(this.#slots.length * 2).fill(-1);
    const mask = slots.length - 1;
    for (let id = 0; id < this.size; id++) {
      let s = hashWords(this.highWords[id] as number, this.lowWords[id] as number) & mask;
      while ((slots[s] as number) >= 0) s = (s + 1) & mask;
      slots[s] = id;
    }
    this.#slots = slots;
  }
}

/** A set of tsids as (high, low) 32-bit words; linear while small, which is the usual case. */
class TsidSet {
  readonly #high: number[] = [];
  readonly #low: number[] = [];
  readonly #byHigh = new Map<number, Set<number>>();

  get size(): number {
    return this.#high.length;
  }

  add(high: number, low: number): void {
    if (this.has(high, low)) return;
    this.#high.push(high);
    this.#low.push(low);
    let lows = this.#byHigh.get(high);
    if (lows === undefined) {
      lows = new Set();
      this.#byHigh.set(high, lows);
    }
    lows.add(low);
  }

  forEach(visit: (high: number, low: number) => void): void {
    for (let i = 0; i < this.#high.length; i++) visit(this.#high[i] as number, this.#low[i] as number);
  }

  has(high: number, low: number): boolean {
    const n = this.#high.length;
    if (n <= 8) {
      for (let i = 0; i < n; i++) if (this.#high[i] === high && this.#low[i] === low) return true;
      return false;
    }
    return this.#byHigh.get(high)?.has(low) ?? false;
  }
}
