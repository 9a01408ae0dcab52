import type { Column } from "../batch/column.js";
import {
  columnOf,
  takeRanges,
  takeRows,
  viewRows,
  withSeriesRuns,
  type ColumnBatch,
} from "../batch/column-batch.js";
import type { SstFileEntry } from "../manifest/index.js";
import type { MemtableSnapshot } from "../memtable/index.js";
import { HIGH_WORD, LOW_WORD, wordsOf } from "../memtable/key-lanes.js";
import type { ObjectStore } from "../object-store/object-store.js";
import type { DecodedColumnCache } from "../sst/decoded-cache.js";
import { fileMayMatch } from "../sst/pruning.js";
import { SstFileReader, splitRows, type SstScanMetrics } from "../sst/reader.js";
import {
  candidateRuns,
  computeSeriesRuns,
  matchingRanges,
  runMatchesTags,
  runRowsInRange,
  runsMayPass,
  runTagChecks,
  type SeriesRuns,
} from "../sst/series-runs.js";
import type { RowGroupMeta, SstMeta } from "../sst/sst-meta.js";
import { UpdateMode } from "../table/options.js";
import { TSID_COLUMN, type TableSchema } from "../table/schema.js";
import { filterRows, projectBatch, type RowPredicate, type TagFilter, type TimeRange } from "./row-filter.js";
import {
  gatherRows,
  groupByTsid,
  lastRowsOfSeries,
  mergeSortedSources,
  type ColumnSpec,
  type PickedRow,
  type SeriesBatch,
  type SeriesSegment,
  type SeriesSource,
  type SortedSource,
} from "./merge.js";
import { narrowToNewest, narrowToSeries } from "./memtable-rows.js";
import { timeSlices } from "./time-slices.js";

export interface ScanRequest {
  /** Columns to return, in this order; every column of the table when absent. */
  readonly projection?: readonly string[];
  readonly timeRange?: TimeRange;
  /** Only rows whose TAG columns hold one of the listed values. */
  readonly tagFilter?: TagFilter;
  /** Rows per output batch (approximate upper bound); default 8192. */
  readonly batchSize?: number;
  /**
   * Return, per series, only the rows holding the last non-null value of each listed column (the
   * one with the largest timestamp; on equal timestamps the one read later), and the series' last
   * row (so that a series whose values are all null still shows), in the relative order the full
   * scan returns them: `last(column)` over the result is then the same as over the full scan, for
   * any grouping by TAG columns of the projection, and the same groups exist. A series here is a
   * distinct combination of the values of the projection's TAG columns. The listed columns must be
   * in the projection.
   */
  readonly lastPerSeries?: LastPerSeries;
  /**
   * A condition every row the scan returns passes; its columns must be in the projection. It is
   * tested only on rows inside the time range and tag filter (so an error it raises is one a filter
   * over the scan's output would raise too), where possible before their other columns are read: in
   * an SST, before the row group's other columns (a row group where none passes leaves them
   * untouched, and of the others only the passing rows are copied); in the memtable, before the
   * rows' other columns are gathered; where sources overlap, on the rows the merge keeps. With a
   * tag filter on a table with an explicit primary key, rows outside SSTs are tested once the tag
   * filter has been applied. Not with lastPerSeries.
   */
  readonly predicate?: RowPredicate;
  /**
   * Mark the batches read from SSTs in series order with their series runs (`ColumnBatch.seriesRuns`:
   * every TAG column of the projection one value per run, timestamps not decreasing inside it).
   * Batches from memtables and merged sources carry none.
   */
  readonly seriesRuns?: boolean;
}

export interface LastPerSeries {
  readonly columns: readonly string[];
}

export interface TableScanOptions {
  /** Decoded SST columns shared between scans; without it every scan decodes what it reads. */
  readonly decodedCache?: DecodedColumnCache | undefined;
}

/** What a scan did, for EXPLAIN ANALYZE and metrics. */
export interface ScanMetrics {
  sstsTotal: number;
  sstsPruned: number;
  rowGroupsTotal: number;
  rowGroupsPruned: number;
  rowsFromSsts: number;
  rowsFromMemtables: number;
  /**
   * Rows merged by primary key because sources overlap in time there (counted as read); in a
   * lastPerSeries scan, the rows its per-series walk over overlapping sources looked at.
   */
  rowsMerged: number;
  rowsReturned: number;
  /** Rows inside the time range and tag filter that the predicate dropped before they were read whole. */
  rowsDroppedByPredicate: number;
  /**
   * Series runs of SST row groups, and series of memtables, left unread because their values
   * (least and greatest per column) rule out the predicate.
   */
  seriesPrunedByPredicate: number;
  bytesRead: number;
  /** SST column chunks (one column of one row group) found in the decoded column cache. */
  decodedCacheHits: number;
  /** SST column chunks decoded. */
  decodedCacheMisses: number;
}

/** A consistent view of a table taken when a scan starts: later writes and flushes do not change it. */
export interface TableReadView {
  readonly schema: TableSchema;
  readonly updateMode: UpdateMode;
  readonly memtable: MemtableSnapshot;
  readonly ssts: readonly SstFileEntry[];
  /** TTL cutoff when the view was taken: rows with an earlier timestamp are hidden. */
  readonly expiredBefore?: number | undefined;
}

const DEFAULT_BATCH_SIZE = 8192;
/** Rows from memtables win over any SST row with the same key: they are always newer. */
const MEMTABLE_PRIORITY = Number.MAX_SAFE_INTEGER;

/** Releases the files of scans that were dropped without being iterated to the end or closed. */
const abandonedScans = new FinalizationRegistry<() => void>((release) => release());

/** The columns a row group is probed with first, and the rest of the columns a read needs. */
interface ProbeColumns {
  readonly probe: string[];
  readonly rest: string[];
}

/**
 * Scans one table: SSTs pruned by time range and tag statistics, plus memtables, deduplicated by
 * primary key (OVERWRITE: the newest row wins) and filtered exactly. Sources whose time ranges do not
 * overlap are streamed one after another in time order; overlapping ones are merged by a k-way
 * merge of their sorted rows (merge.ts). Within a group of overlapping sources, rows come out sorted
 * by primary key. Rows past the table's TTL (as of when the view was taken) are hidden.
 *
 * An SST is filtered as it is read: with the default key (tsid, timestamp) each series is a
 * contiguous run of a row group (series-runs.ts), so the tag filter is decided per run and the time
 * range found by binary search, and the kept rows are views of the decoded columns. Decoded columns
 * come from the decoded column cache when there is one. With a tag filter and that key, only the
 * memtable rows of the matching series are sorted and read (memtable-rows.ts). A lastPerSeries scan
 * of overlapping sources walks each series from its newest rows down instead of merging them all.
 *
 * A scan is iterated once. It may hold a release function for the SST files of its view (pinned so
 * that compaction does not delete them under it); it calls it exactly once, when the iteration ends
 * (done, error, or early return such as `break`), on `close()`, or, for a scan dropped without
 * either, when the scan is garbage-collected.
 */
export class TableScan implements AsyncIterable<ColumnBatch> {
  readonly metrics: ScanMetrics = {
    sstsTotal: 0,
    sstsPruned: 0,
    rowGroupsTotal: 0,
    rowGroupsPruned: 0,
    rowsFromSsts: 0,
    rowsFromMemtables: 0,
    rowsMerged: 0,
    rowsReturned: 0,
    rowsDroppedByPredicate: 0,
    seriesPrunedByPredicate: 0,
    bytesRead: 0,
    decodedCacheHits: 0,
    decodedCacheMisses: 0,
  };
  readonly #store: ObjectStore;
  readonly #cache: DecodedColumnCache | undefined;
  readonly #view: TableReadView;
  readonly #request: ScanRequest;
  /** The request's time range, clipped to the rows not past the TTL. */
  readonly #timeRange: TimeRange | undefined;
  readonly #release: () => void;
  /** The request's predicate, counting the rows it drops. */
  readonly #predicate: RowPredicate | undefined;
  /** The last `#probeColumns` answer and what it was asked. */
  #lastProbe:
    | {
        readonly needed: readonly string[];
        readonly tagFilter: TagFilter | undefined;
        readonly predicate: RowPredicate | undefined;
        readonly columns: ProbeColumns | undefined;
      }
    | undefined;
  #state: "new" | "iterating" | "done" = "new";

  /** Validates the request; `release` (if any) is called once the scan no longer reads files. */
  constructor(
    store: ObjectStore,
    view: TableReadView,
    request: ScanRequest,
    release?: () => void,
    options: TableScanOptions = {},
  ) {
    this.#store = store;
    this.#cache = options.decodedCache;
    this.#view = view;
    this.#request = request;
    const { schema } = view;
    for (const name of request.projection ?? []) {
      if (schema.column(name) === undefined) throw new RangeError(`column "${name}" does not exist`);
    }
    for (const name of Object.keys(request.tagFilter ?? {})) {
      if (schema.column(name)?.isTag !== true) throw new RangeError(`"${name}" is not a TAG column`);
    }
    const output = request.projection ?? schema.columns.map((c) => c.name);
    for (const name of request.lastPerSeries?.columns ?? []) {
      if (!output.includes(name)) throw new RangeError(`lastPerSeries column "${name}" is not projected`);
    }
    for (const name of request.predicate?.columns ?? []) {
      if (!output.includes(name)) throw new RangeError(`predicate column "${name}" is not projected`);
    }
    for (const { column } of request.predicate?.comparisons ?? []) {
      if (!(request.predicate?.columns ?? []).includes(column))
        throw new RangeError(`predicate comparison column "${column}" is not one of its columns`);
    }
    if (request.predicate !== undefined && request.lastPerSeries !== undefined) {
      throw new RangeError("a scan takes a predicate or lastPerSeries, not both");
    }
    this.#timeRange = clipToTtl(request.timeRange, view.expiredBefore);
    this.#predicate =
      request.predicate === undefined ? undefined : TableScan.#countingDrops(request.predicate, this.metrics);
    // The closure must not reference the scan, or the registry would keep it alive.
    const token = {};
    let released = release === undefined;
    const releaseOnce = () => {
      if (released) return;
      released = true;
      abandonedScans.unregister(token);
      release?.();
    };
    if (release !== undefined) abandonedScans.register(this, releaseOnce, token);
    this.#release = releaseOnce;
  }

  /** Ends a scan that will not be iterated (further): releases its files. Idempotent. */
  close(): void {
    this.#state = "done";
    this.#release();
  }

  [Symbol.asyncIterator](): AsyncIterator<ColumnBatch> {
    if (this.#state !== "new") throw new Error("a table scan can be iterated only once");
    this.#state = "iterating";
    const rows = this.#rows();
    const finish = () => this.close();
    // Wraps the generator so that every way out releases the files, including a return() before
    // the first next(), which a generator would complete without running its finally blocks.
    return {
      next: async () => {
        // Closed while iterating: stop here rather than read files that may be gone.
        if (this.#state === "done") return await rows.return(undefined);
        try {
          const result = await rows.next();
          if (result.done === true) finish();
          return result;
        } catch (error) {
          finish();
          throw error;
        }
      },
      return: async () => {
        try {
          return await rows.return(undefined);
        } finally {
          finish();
        }
      },
      throw: async (error?: unknown) => {
        try {
          return await rows.throw(error);
        } finally {
          finish();
        }
      },
    };
  }

  async *#rows(): AsyncGenerator<ColumnBatch, undefined> {
    const { schema, memtable } = this.#view;
    const { tagFilter, lastPerSeries } = this.#request;
    const timeRange = this.#timeRange;
    const output = this.#request.projection ?? schema.columns.map((c) => c.name);
    // Key, timestamp and filtered tags are needed to merge and filter even when not projected.
    const needed = [
      ...new Set([...output, ...schema.primaryKey, schema.timestampColumn, ...Object.keys(tagFilter ?? {})]),
    ];
    const ssts = this.#view.ssts.filter((sst) => {
      this.metrics.sstsTotal++;
      const keep = fileMayMatch(sst.meta as SstMeta, { timeRange, tagFilter });
      if (!keep) this.metrics.sstsPruned++;
      return keep;
    });
    const sources: Source[] = ssts.map((sst) => ({
      min: sst.timeRange.min,
      max: sst.timeRange.max,
      priority: sst.maxSequence,
      sst,
      read: (range, tagFilter, predicate) =>
        this.#readSstFiltered(sst, needed, range, tagFilter, needed, predicate),
    }));
    if (!memtable.isEmpty && memtable.minTimestamp !== undefined && memtable.maxTimestamp !== undefined) {
      const inRange =
        timeRange === undefined ||
        (memtable.maxTimestamp >= timeRange.start && memtable.minTimestamp < timeRange.end);
      if (inRange) {
        sources.push({
          min: memtable.minTimestamp,
          max: memtable.maxTimestamp,
          priority: MEMTABLE_PRIORITY,
          sst: undefined,
          read: (range, tagFilter, predicate) => this.#readMemtable(needed, range, tagFilter, predicate),
        });
      }
    }
    // Only where sources overlap in time are their rows merged; elsewhere each is read on its own.
    const groups: SourceGroup[] = timeSlices(sources).map((slice) => ({
      sources: slice.sources,
      range: intersectRanges(timeRange, slice.range),
    }));
    if (lastPerSeries !== undefined) {
      yield* this.#lastPerSeries(groups, needed, output, lastPerSeries.columns);
      return;
    }
    for (const group of groups) {
      const sst = group.sources.length === 1 ? (group.sources[0] as Source).sst : undefined;
      const batches =
        sst === undefined
          ? this.#readGroupFiltered(group, needed)
          : this.#readSstFiltered(sst, needed, group.range, tagFilter, output, this.#predicate);
      for await (const batch of batches) {
        if (batch.numRows === 0) continue;
        this.metrics.rowsReturned += batch.numRows;
        yield projectKeepingRuns(batch, output);
      }
    }
  }

  /** The rows of a group of sources (merged when several) inside its time range and the tag filter. */
  async *#readGroupFiltered(group: SourceGroup, needed: readonly string[]): AsyncIterable<ColumnBatch> {
    const { schema } = this.#view;
    const { sources, range } = group;
    const { tagFilter } = this.#request;
    // A source read on its own takes the predicate; merged ones must not (a row dropped before the
    // merge could no longer hide an older row with its key): the merge applies it to what it keeps.
    const early = this.#earlyPredicate();
    const batches =
      sources.length === 1
        ? (sources[0] as Source).read(range, tagFilter, early)
        : this.#merge(group, needed);
    // Not applied early: applied here, to the rows in the tag filter.
    const late = early === undefined ? this.#predicate : undefined;
    for await (const batch of batches) {
      yield this.#keepPassing(filterRows(batch, schema.timestampColumn, range, tagFilter), late);
    }
  }

  /** A reader of one SST over the decoded column cache. */
  #openSst(sst: SstFileEntry): SstFileReader {
    return new SstFileReader(this.#store, sst.key, {
      meta: sst.meta as SstMeta,
      schema: this.#view.schema,
      cache: this.#cache,
    });
  }

  /** Closes an SST's reader and adds what it did to the scan's counters. */
  #closeSst(reader: SstFileReader): void {
    reader.close();
    const m: SstScanMetrics = reader.metrics;
    this.metrics.rowGroupsTotal += m.rowGroupsTotal;
    this.metrics.rowGroupsPruned += m.rowGroupsPruned;
    this.metrics.bytesRead += m.bytesRead;
    this.metrics.decodedCacheHits += m.cacheHits;
    this.metrics.decodedCacheMisses += m.cacheMisses;
  }

  /** A row group's columns: from the cache without awaiting when they are all there. */
  async #rowGroup(reader: SstFileReader, group: number, names: readonly string[]): Promise<ColumnBatch> {
    return reader.cachedRowGroup(group, names) ?? (await reader.rowGroup(group, names));
  }

  /** The row groups of an SST that may hold rows in `range` and `tagFilter`. */
  #selectRowGroups(
    reader: SstFileReader,
    sst: SstFileEntry,
    range: TimeRange | undefined,
    tagFilter: TagFilter | undefined,
  ): number[] {
    return reader.selectRowGroups(sst.meta as SstMeta, { timeRange: range, tagFilter });
  }

  /**
   * An SST's rows inside the time range and `tagFilter`, in key order, with at least the columns
   * `needed`. A row group sorted by series is cut into the row ranges of its matching runs (a view
   * for one range, block copies of `columns` for several); others are filtered row by row. With
   * `predicate`, rows failing it are left out, where possible before the other columns are read.
   */
  async *#readSstFiltered(
    sst: SstFileEntry,
    needed: readonly string[],
    range: TimeRange | undefined,
    tagFilter: TagFilter | undefined,
    columns: readonly string[],
    predicate?: RowPredicate,
  ): AsyncIterable<ColumnBatch> {
    const { schema } = this.#view;
    const batchSize = this.#request.batchSize ?? DEFAULT_BATCH_SIZE;
    const reader = this.#openSst(sst);
    const passing = (batch: ColumnBatch) => this.#keepPassing(batch, predicate);
    try {
      const meta = sst.meta as SstMeta;
      const probeColumns = this.#probeColumns(needed, tagFilter, predicate);
      const probeNames = probeColumns?.probe;
      const rest = probeColumns?.rest ?? [];
      for (const group of this.#selectRowGroups(reader, sst, range, tagFilter)) {
        if (probeNames !== undefined) {
          // The series runs, the filter's tags and the predicate's columns first: a row group whose
          // statistics could not rule it out often holds no matching row, and then its other
          // columns stay untouched.
          const probe = await this.#rowGroup(reader, group, probeNames);
          const sorted = this.#runsOf(reader, group, probe);
          const checks =
            sorted === undefined
              ? undefined
              : runTagChecks(sorted.runs, tagFilter, (name) => columnNamed(probe, name));
          if (sorted !== undefined && checks !== undefined) {
            this.metrics.rowsFromSsts += probe.numRows;
            // Runs whose values rule out the predicate's comparisons are left out before its
            // columns are read row by row: a selective filter often rules out every run.
            const mayPass =
              predicate?.comparisons === undefined
                ? undefined
                : runsMayPass(sorted.runs, predicate.comparisons, (name) => columnNamed(probe, name));
            const ranges = matchingRanges(sorted.runs, sorted.timestamps, range, checks, (run) => {
              if (mayPass === undefined || mayPass(run)) return true;
              this.metrics.seriesPrunedByPredicate++;
              return false;
            });
            if (ranges.length === 0) continue;
            const rows = predicate === undefined ? undefined : this.#passingRows(probe, ranges, predicate);
            if (rows?.length === 0) continue;
            const read = withColumnsOf(probe, await this.#rowGroup(reader, group, rest), needed);
            const batch = projectKeepingRuns(this.#withSeriesRuns(read, sorted.runs), columns);
            yield* splitRows(
              rows === undefined ? takeRanges(batch, ranges) : takeRows(batch, rows),
              batchSize,
            );
            continue;
          }
        }
        const read = reader.cachedRowGroup(group, needed) ?? (await reader.rowGroup(group, needed));
        this.metrics.rowsFromSsts += read.numRows;
        const whole = tagFilter === undefined && within(meta.rowGroups[group]?.timeRange, range);
        if (whole && this.#request.seriesRuns !== true) {
          // Every row matches: the row group as it is.
          yield* splitRows(passing(read), batchSize);
          continue;
        }
        const sorted = this.#runsOf(reader, group, read);
        // Views and range copies of a batch with runs keep them (rebased).
        const batch = sorted === undefined ? read : this.#withSeriesRuns(read, sorted.runs);
        if (whole) {
          yield* splitRows(passing(batch), batchSize);
          continue;
        }
        const checks =
          sorted === undefined
            ? undefined
            : runTagChecks(sorted.runs, tagFilter, (name) => columnNamed(batch, name));
        if (sorted === undefined || checks === undefined) {
          const filtered = filterRows(batch, schema.timestampColumn, range, tagFilter);
          yield* splitRows(passing(filtered), batchSize);
          continue;
        }
        const ranges = matchingRanges(sorted.runs, sorted.timestamps, range, checks);
        // Filtered already: only the columns wanted further on are copied.
        if (ranges.length > 0)
          yield* splitRows(passing(takeRanges(projectKeepingRuns(batch, columns), ranges)), batchSize);
      }
    } finally {
      this.#closeSst(reader);
    }
  }

  /**
   * The rows of the row group (numbered in it) in `ranges` that pass `predicate`, tested on the
   * probe's columns alone; undefined when every row in the ranges passes.
   */
  #passingRows(
    probe: ColumnBatch,
    ranges: readonly number[],
    predicate: RowPredicate,
  ): Uint32Array | undefined {
    const candidates = takeRanges(projectBatch(probe, predicate.columns), ranges);
    const selected = predicate.select(candidates);
    if (selected.length === candidates.numRows) return undefined;
    const rows = new Uint32Array(selected.length);
    // Candidate rows are the ranges' rows one after another: map each back through its range.
    let range = 0;
    let before = 0;
    for (let i = 0; i < selected.length; i++) {
      const at = selected[i] as number;
      for (;;) {
        const length = (ranges[range + 1] as number) - (ranges[range] as number);
        if (at < before + length) break;
        before += length;
        range += 2;
      }
      rows[i] = (ranges[range] as number) + at - before;
    }
    return rows;
  }

  /** The rows of `batch` that pass `predicate` (the batch itself when all do, or without one). */
  #keepPassing(batch: ColumnBatch, predicate: RowPredicate | undefined): ColumnBatch {
    if (predicate === undefined || batch.numRows === 0) return batch;
    const selected = predicate.select(batch);
    if (selected.length === batch.numRows) return batch;
    return takeRows(batch, selected);
  }

  /**
   * The columns that decide which rows of a series-sorted row group are read (the key, the tag
   * filter's tags, the predicate's columns), and the other `needed` ones, when there is a tag
   * filter or a predicate, every probe column is `needed`, and some other column is too; else
   * undefined.
   */
  #probeColumns(
    needed: readonly string[],
    tagFilter: TagFilter | undefined,
    predicate: RowPredicate | undefined,
  ): ProbeColumns | undefined {
    // The same for every SST of the scan: worked out once.
    const last = this.#lastProbe;
    if (last?.needed === needed && last.tagFilter === tagFilter && last.predicate === predicate) {
      return last.columns;
    }
    const probe = this.#probeColumnsOf(needed, tagFilter, predicate);
    const columns =
      probe === undefined ? undefined : { probe, rest: needed.filter((name) => !probe.includes(name)) };
    this.#lastProbe = { needed, tagFilter, predicate, columns };
    return columns;
  }

  /** The probe columns of `#probeColumns`, worked out. */
  #probeColumnsOf(
    needed: readonly string[],
    tagFilter: TagFilter | undefined,
    predicate: RowPredicate | undefined,
  ): string[] | undefined {
    const { schema } = this.#view;
    if ((tagFilter === undefined && predicate === undefined) || !schema.hasTsid) return undefined;
    const names = [
      ...new Set([
        TSID_COLUMN,
        schema.timestampColumn,
        ...Object.keys(tagFilter ?? {}),
        ...(predicate?.columns ?? []),
      ]),
    ];
    if (names.some((name) => !needed.includes(name))) return undefined;
    return names.length < new Set(needed).size ? names : undefined;
  }

  /**
   * The row group annotated with its series runs when the request asks for them and every TAG
   * column of it holds one value per run (two series sharing a tsid would break that).
   */
  #withSeriesRuns(batch: ColumnBatch, runs: SeriesRuns): ColumnBatch {
    if (this.#request.seriesRuns !== true) return batch;
    const { schema } = this.#view;
    for (const [i, name] of batch.names.entries()) {
      if (schema.column(name)?.isTag !== true) continue;
      if (!runs.isUniform(name, batch.columns[i] as Column)) return batch;
    }
    const starts = runs.derived("run starts", () => runs.starts.subarray(0, runs.count));
    return withSeriesRuns(batch, starts);
  }

  /** A row group's series runs: only with the key (tsid, timestamp), and rows sorted by it. */
  #runsOf(
    reader: SstFileReader,
    group: number,
    batch: ColumnBatch,
  ): { runs: SeriesRuns; timestamps: Float64Array } | undefined {
    const { schema } = this.#view;
    if (!schema.hasTsid) return undefined;
    const tsid = columnOf(batch, TSID_COLUMN);
    const ts = columnOf(batch, schema.timestampColumn);
    if (tsid === undefined || ts === undefined) return undefined;
    const runs = reader.seriesRuns(group, tsid, ts, batch.numRows);
    return runs === undefined ? undefined : { runs, timestamps: ts.values as Float64Array };
  }

  /**
   * The lastPerSeries scan. Source groups hold disjoint, ascending time ranges, so a series' last
   * value of a column is in the newest group where the column is non-null for it: groups are read
   * newest first, and a series whose every column was found is skipped in older groups (per run,
   * where the SST has runs). What each group contributes comes out in ascending group order, and
   * within a group in read order, as the full scan would have returned those rows.
   */
  async *#lastPerSeries(
    groups: readonly SourceGroup[],
    needed: readonly string[],
    output: readonly string[],
    columns: readonly string[],
  ): AsyncGenerator<ColumnBatch, undefined> {
    const { schema } = this.#view;
    const seriesTags = output.filter((name) => schema.column(name)?.isTag === true);
    // One more "column", never null: the series' last row.
    const progress = new SeriesProgress(columns.length + 1);
    const results: ColumnBatch[][] = [];
    for (let i = groups.length - 1; i >= 0; i--) {
      const group = groups[i] as SourceGroup;
      const collector = new LastRowCollector(columns, seriesTags, schema.timestampColumn, progress);
      const sst = group.sources.length === 1 ? (group.sources[0] as Source).sst : undefined;
      if (sst !== undefined) {
        await this.#collectLastFromSst(sst, needed, seriesTags, collector, group.range);
        results[i] = collector.finish();
        continue;
      }
      const tails = this.#seriesTailsApply()
        ? await this.#lastFromSeriesTails(group, needed, seriesTags, columns, progress)
        : undefined;
      if (tails !== undefined) {
        results[i] = tails;
        continue;
      }
      for await (const batch of this.#readGroupFiltered(group, needed)) {
        if (batch.numRows > 0) collector.addRows(batch);
      }
      results[i] = collector.finish();
    }
    for (const batches of results) {
      for (const batch of batches) {
        this.metrics.rowsReturned += batch.numRows;
        yield projectBatch(batch, output);
      }
    }
  }

  /**
   * lastPerSeries over one SST: per row group, the columns that tell series apart are read first,
   * the others only when some run of the row group still has a column to find.
   */
  async #collectLastFromSst(
    sst: SstFileEntry,
    needed: readonly string[],
    seriesTags: readonly string[],
    collector: LastRowCollector,
    range: TimeRange | undefined,
  ): Promise<void> {
    const { schema } = this.#view;
    const { tagFilter } = this.#request;
    const identifying = this.#identifyingColumns(seriesTags);
    const reader = this.#openSst(sst);
    try {
      const meta = sst.meta as SstMeta;
      for (const group of this.#selectRowGroups(reader, sst, range, this.#request.tagFilter)) {
        const stats = meta.rowGroups[group];
        if (stats !== undefined && everySeriesComplete(stats, seriesTags, collector)) continue;
        const ids = reader.cachedRowGroup(group, identifying) ?? (await reader.rowGroup(group, identifying));
        this.metrics.rowsFromSsts += ids.numRows;
        const sorted = this.#runsOf(reader, group, ids);
        const tags = seriesTags.map((name) => columnNamed(ids, name));
        const checks =
          sorted === undefined ||
          !seriesTags.every((name, i) => sorted.runs.isUniform(name, tags[i] as Column))
            ? undefined
            : runTagChecks(sorted.runs, tagFilter, (name) => columnNamed(ids, name));
        if (sorted === undefined || checks === undefined) {
          const batch = await this.#rowGroup(reader, group, needed);
          const filtered = filterRows(batch, schema.timestampColumn, range, tagFilter);
          if (filtered.numRows > 0) collector.addRows(filtered);
          continue;
        }
        const { runs, timestamps } = sorted;
        // One key per run, kept with the cached runs: computed once per row group and tag set.
        const keys = runs.derived(`series keys\u0000${seriesTags.join("\u0000")}`, () =>
          Array.from({ length: runs.count }, (_, run) => seriesKeyAt(tags, runs.starts[run] as number)),
        );
        const wanted: RunRows[] = [];
        const candidates = candidateRuns(runs, checks);
        for (let i = 0; i < candidates.length; i++) {
          const run = candidates[i] as number;
          const series = keys[run] as string;
          if (collector.isComplete(series)) continue;
          const first = runs.starts[run] as number;
          if (checks.length > 0 && !runMatchesTags(checks, first)) continue;
          const [lo, hi] = runRowsInRange(runs, run, timestamps, range);
          if (lo < hi) wanted.push({ series, lo, hi });
        }
        if (wanted.length > 0) collector.addRuns(await this.#rowGroup(reader, group, needed), wanted);
      }
    } finally {
      this.#closeSst(reader);
    }
  }

  /** The columns that tell series apart and place rows in time and the tag filter. */
  #identifyingColumns(seriesTags: readonly string[]): string[] {
    const { schema } = this.#view;
    return [
      ...new Set([
        ...(schema.hasTsid ? [TSID_COLUMN] : []),
        schema.timestampColumn,
        ...seriesTags,
        ...Object.keys(this.#request.tagFilter ?? {}),
      ]),
    ];
  }

  /**
   * Whether lastPerSeries may walk series tails rather than merge whole groups: with OVERWRITE a
   * key holds one row, and with the key (tsid, timestamp) every source holds each series as runs.
   */
  #seriesTailsApply(): boolean {
    return this.#view.updateMode === UpdateMode.Overwrite && this.#view.schema.hasTsid;
  }

  /**
   * lastPerSeries over a group of overlapping sources (or of the memtable alone): the series runs of
   * each source are found (an SST's from the cached runs of its row groups, the memtable's from its
   * sorted rows), and each series is walked from its newest row down, across the sources, only
   * until every column is found (merge.ts, lastRowsOfSeries), instead of merging every row. The
   * rows come out as a merge followed by LastRowCollector would give them. Undefined when a source
   * is not in series runs or two series share a tsid: the caller then merges the group.
   */
  async #lastFromSeriesTails(
    group: SourceGroup,
    needed: readonly string[],
    seriesTags: readonly string[],
    columns: readonly string[],
    progress: SeriesProgress,
  ): Promise<ColumnBatch[] | undefined> {
    const { schema } = this.#view;
    const identifying = this.#identifyingColumns(seriesTags);
    const readers: SstFileReader[] = [];
    try {
      const ssts = new Map<Source, TailSource>();
      for (const source of group.sources) {
        if (source.sst === undefined) continue;
        const reader = this.#openSst(source.sst);
        readers.push(reader);
        const tail = await this.#sstTails(
          reader,
          source.sst,
          identifying,
          needed,
          seriesTags,
          group.range,
          progress,
        );
        if (tail === undefined) return undefined;
        ssts.set(source, { ...tail, priority: source.priority });
      }
      // The memtable's newest row per series usually settles it; else it is read whole.
      for (const newestOnly of [true, false]) {
        const sources: TailSource[] = [];
        for (const source of group.sources) {
          const tail =
            ssts.get(source) ??
            this.#memtableTails(needed, seriesTags, group.range, source.priority, newestOnly);
          if (tail === undefined) return undefined;
          sources.push(tail);
        }
        const tsids = groupByTsid(sources);
        if (tsids === undefined) return undefined;
        // Only the row groups holding series with columns still to find are read in full.
        for (const { series, parts } of tsids) {
          if (progress.isComplete(series)) continue;
          for (const { source, segments } of parts) {
            const tail = sources[source] as TailSource;
            for (const { batch } of segments) tail.batches[batch] ??= await tail.load(batch);
          }
        }
        const walked = new Map<string, SeriesBatch>();
        const batchOf = (source: number, index: number): SeriesBatch => {
          const id = `${source}:${index}`;
          let walkedBatch = walked.get(id);
          if (walkedBatch === undefined) {
            const batch = (sources[source] as TailSource).batches[index] as ColumnBatch;
            walkedBatch = {
              timestamps: columnNamed(batch, schema.timestampColumn).values as Float64Array,
              validity: columns.map((name) => columnNamed(batch, name).validity),
            };
            walked.set(id, walkedBatch);
          }
          return walkedBatch;
        };
        const picks = lastRowsOfSeries(sources, tsids, columns.length, batchOf, (series) =>
          progress.foundColumns(series),
        );
        if (picks === undefined) continue;
        if (group.sources.length > 1) this.metrics.rowsMerged += picks.rowsVisited;
        for (const [series, found] of picks.found) for (const c of found) progress.markFound(series, c);
        return picks.rows.length === 0 ? [] : [this.#gatherPicked(sources, picks.rows, needed)];
      }
      return undefined;
    } finally {
      for (const reader of readers) this.#closeSst(reader);
    }
  }

  /** The picked rows as one batch of `names`, in the order given. */
  #gatherPicked(
    sources: readonly TailSource[],
    picked: readonly PickedRow[],
    names: readonly string[],
  ): ColumnBatch {
    const batches: ColumnBatch[] = [];
    const slotOf = new Map<string, number>();
    const slots = new Uint32Array(picked.length);
    const rows = new Uint32Array(picked.length);
    picked.forEach(({ source, batch, row }, i) => {
      const id = `${source}:${batch}`;
      let slot = slotOf.get(id);
      if (slot === undefined) {
        slot = batches.push((sources[source] as TailSource).batches[batch] as ColumnBatch) - 1;
        slotOf.set(id, slot);
      }
      slots[i] = slot;
      rows[i] = row;
    });
    return gatherRows(this.#columnSpecs(names), batches, slots, rows);
  }

  /**
   * The memtable's rows in `range` (with `newestOnly`, only those of each series' newest timestamp)
   * and their series runs, for lastPerSeries.
   */
  #memtableTails(
    needed: readonly string[],
    seriesTags: readonly string[],
    range: TimeRange,
    priority: number,
    newestOnly: boolean,
  ): TailSource | undefined {
    const { schema } = this.#view;
    const { tagFilter } = this.#request;
    let memtable = this.#view.memtable;
    if (tagFilter !== undefined && Object.keys(tagFilter).length > 0)
      memtable = narrowToSeries(memtable, tagFilter, range) ?? memtable;
    if (newestOnly) {
      const newest = narrowToNewest(memtable, range);
      if (newest === undefined) return undefined;
      memtable = newest;
    }
    const batches = [
      ...memtable.sortedBatches({ projection: needed, batchSize: TAIL_BATCH_ROWS, timeRange: range }),
    ];
    const segments: SeriesSegment[] = [];
    for (const [index, batch] of batches.entries()) {
      this.metrics.rowsFromMemtables += batch.numRows;
      const ts = columnNamed(batch, schema.timestampColumn);
      const runs = computeSeriesRuns(columnNamed(batch, TSID_COLUMN), ts, batch.numRows);
      if (runs === undefined) return undefined;
      // Every row is in the range already.
      const found = this.#runSegments(runs, batch, index, seriesTags, undefined);
      if (found === undefined) return undefined;
      segments.push(...found);
    }
    const load = () => Promise.reject(new Error("memtable rows are read whole"));
    return { priority, segments, batches, load, newestOnly };
  }

  /** An SST's series runs in `range`, for lastPerSeries; the rows' other columns are read on demand. */
  async #sstTails(
    reader: SstFileReader,
    sst: SstFileEntry,
    identifying: readonly string[],
    needed: readonly string[],
    seriesTags: readonly string[],
    range: TimeRange,
    progress: SeriesProgress,
  ): Promise<TailSource | undefined> {
    const rowGroups: number[] = [];
    const segments: SeriesSegment[] = [];
    const meta = sst.meta as SstMeta;
    for (const group of this.#selectRowGroups(reader, sst, range, this.#request.tagFilter)) {
      const stats = meta.rowGroups[group];
      if (stats !== undefined && everySeriesComplete(stats, seriesTags, progress)) continue;
      const ids = reader.cachedRowGroup(group, identifying) ?? (await reader.rowGroup(group, identifying));
      this.metrics.rowsFromSsts += ids.numRows;
      const sorted = this.#runsOf(reader, group, ids);
      if (sorted === undefined) return undefined;
      const found = this.#runSegments(sorted.runs, ids, rowGroups.length, seriesTags, range);
      if (found === undefined) return undefined;
      rowGroups.push(group);
      segments.push(...found);
    }
    const load = (index: number) => this.#rowGroup(reader, rowGroups[index] as number, needed);
    return { priority: 0, segments, batches: new Array<ColumnBatch | undefined>(rowGroups.length), load };
  }

  /**
   * The rows of each run of `batch` inside `range` and the tag filter, as segments; undefined when
   * a series tag or filtered tag is not one value per run (two series sharing a tsid).
   */
  #runSegments(
    runs: SeriesRuns,
    batch: ColumnBatch,
    index: number,
    seriesTags: readonly string[],
    range: TimeRange | undefined,
  ): SeriesSegment[] | undefined {
    const { schema } = this.#view;
    const tags = seriesTags.map((name) => columnNamed(batch, name));
    if (!seriesTags.every((name, i) => runs.isUniform(name, tags[i] as Column))) return undefined;
    const checks = runTagChecks(runs, this.#request.tagFilter, (name) => columnNamed(batch, name));
    if (checks === undefined) return undefined;
    const timestamps = columnNamed(batch, schema.timestampColumn).values as Float64Array;
    const words = wordsOf(columnNamed(batch, TSID_COLUMN).values as BigUint64Array);
    const keys = runs.derived(`series keys\u0000${seriesTags.join("\u0000")}`, () =>
      Array.from({ length: runs.count }, (_, run) => seriesKeyAt(tags, runs.starts[run] as number)),
    );
    const segments: SeriesSegment[] = [];
    const candidates = candidateRuns(runs, checks);
    for (let i = 0; i < candidates.length; i++) {
      const run = candidates[i] as number;
      if (checks.length > 0 && !runMatchesTags(checks, runs.starts[run] as number)) continue;
      const [start, end] = runRowsInRange(runs, run, timestamps, range);
      if (start >= end) continue;
      segments.push({
        tsidHigh: words[2 * start + HIGH_WORD] as number,
        tsidLow: words[2 * start + LOW_WORD] as number,
        batch: index,
        start,
        end,
        series: keys[run] as string,
      });
    }
    return segments;
  }

  #columnSpecs(names: readonly string[]): ColumnSpec[] {
    return names.map((name) => {
      const column = this.#view.schema.column(name);
      if (column === undefined) throw new RangeError(`column "${name}" does not exist`);
      return { name, type: column.type };
    });
  }

  // Async so that every source has one shape; the memtable itself is read synchronously.
  // eslint-disable-next-line @typescript-eslint/require-await
  async *#readMemtable(
    columns: readonly string[],
    range: TimeRange | undefined,
    tagFilter: TagFilter | undefined,
    predicate?: RowPredicate,
  ): AsyncIterable<ColumnBatch> {
    for (const batch of this.#memtableBatches(
      columns,
      range,
      tagFilter,
      this.#request.batchSize,
      predicate,
    )) {
      this.metrics.rowsFromMemtables += batch.numRows;
      yield batch;
    }
  }

  /**
   * The memtable's rows in `range`, sorted by primary key. With a tag filter (in a table keyed by
   * tsid), only the rows of the series that pass it are sorted and read (memtable-rows.ts); rows
   * failing it may still come out.
   */
  #memtableBatches(
    columns: readonly string[],
    range: TimeRange | undefined,
    tagFilter: TagFilter | undefined,
    batchSize = DEFAULT_BATCH_SIZE,
    predicate?: RowPredicate,
  ): Iterable<ColumnBatch> {
    let memtable = this.#view.memtable;
    if (tagFilter !== undefined && Object.keys(tagFilter).length > 0)
      memtable =
        narrowToSeries(memtable, tagFilter, range, predicate?.comparisons, (series) => {
          this.metrics.seriesPrunedByPredicate += series;
        }) ?? memtable;
    return memtable.sortedBatches({
      projection: columns,
      batchSize,
      ...(range === undefined ? {} : { timeRange: range }),
      ...(predicate === undefined ? {} : { predicate }),
    });
  }

  /** `predicate`, counting the rows it drops in the scan's metrics. */
  static #countingDrops(predicate: RowPredicate, metrics: ScanMetrics): RowPredicate {
    return {
      columns: predicate.columns,
      ...(predicate.comparisons === undefined ? {} : { comparisons: predicate.comparisons }),
      select(batch: ColumnBatch): Uint32Array {
        const selected = predicate.select(batch);
        metrics.rowsDroppedByPredicate += batch.numRows - selected.length;
        return selected;
      },
    };
  }

  /**
   * Merges overlapping sources by primary key (merge.ts): each yields its rows sorted by key, and
   * for equal keys the row with the highest priority (SST max sequence; memtable rows above all)
   * wins. Only the rows in the group's time range are merged: the timestamp is part of every
   * primary key, so rows outside it cannot share a key with rows inside. With the key (tsid,
   * timestamp), the tag filter is applied before merging too: rows of other series have other
   * tsids, so they cannot share a key with the rows kept (short of two series hashing to one tsid,
   * which writes treat as one series).
   */
  async *#merge(group: SourceGroup, columns: readonly string[]): AsyncIterable<ColumnBatch> {
    const { schema, updateMode } = this.#view;
    const tagFilter = schema.hasTsid ? this.#request.tagFilter : undefined;
    const inputs: SortedSource[] = group.sources.map((source) => ({
      priority: source.priority,
      batches: this.#mergeInput(source, group.range, tagFilter),
    }));
    yield* mergeSortedSources(inputs, {
      key: this.#columnSpecs(schema.primaryKey),
      columns: this.#columnSpecs(columns),
      updateMode,
      batchSize: this.#request.batchSize ?? DEFAULT_BATCH_SIZE,
      predicate: this.#earlyPredicate(),
    });
  }

  /**
   * The request's predicate, counting what it drops, for reads whose rows have passed the tag
   * filter already (by series, in a table keyed by tsid), so that it is evaluated on no more rows
   * than the Filter above would see; undefined otherwise.
   */
  #earlyPredicate(): RowPredicate | undefined {
    if (this.#request.tagFilter !== undefined && !this.#view.schema.hasTsid) return undefined;
    return this.#predicate;
  }

  /** A source's rows in `range` (and `tagFilter`) as they go into a merge, counted as merged. */
  async *#mergeInput(
    source: Source,
    range: TimeRange,
    tagFilter: TagFilter | undefined,
  ): AsyncIterable<ColumnBatch> {
    for await (const batch of source.read(range, tagFilter)) {
      const rows = filterRows(batch, this.#view.schema.timestampColumn, range, tagFilter);
      if (rows.numRows === 0) continue;
      this.metrics.rowsMerged += rows.numRows;
      yield rows;
    }
  }
}

/** The time range with rows before the TTL cutoff taken out (possibly empty: start = end). */
function clipToTtl(range: TimeRange | undefined, expiredBefore: number | undefined): TimeRange | undefined {
  if (expiredBefore === undefined) return range;
  if (range === undefined) return { start: expiredBefore, end: Infinity };
  if (range.start >= expiredBefore) return range;
  return { start: Math.min(expiredBefore, range.end), end: range.end };
}

/** Whether every timestamp of `rows` (min and max inclusive) is in `range` (no range: all are). */
function within(
  rows: { readonly min: number; readonly max: number } | undefined,
  range: TimeRange | undefined,
): boolean {
  if (range === undefined) return true;
  return rows !== undefined && rows.min >= range.start && rows.max < range.end;
}

/** Rows a memtable read for lastPerSeries gathers at a time: few batches, few segments. */
const TAIL_BATCH_ROWS = 65536;

/** One source's series runs for lastPerSeries, and its rows (read on demand for SSTs). */
interface TailSource extends SeriesSource {
  readonly batches: Array<ColumnBatch | undefined>;
  load(batch: number): Promise<ColumnBatch>;
}

interface Source {
  readonly min: number;
  readonly max: number;
  readonly priority: number;
  /** The file, for an SST source. */
  readonly sst: SstFileEntry | undefined;
  /**
   * Its rows that may lie in `range`, in key order (the caller filters). Rows that fail `tagFilter`
   * may be left out (the caller drops them); it is given only where the filter may apply before
   * merging: with an explicit primary key, a row that fails it could hide an older one that passes.
   * Rows failing `predicate` are left out; it is given only for a source read on its own.
   */
  read(
    range: TimeRange | undefined,
    tagFilter?: TagFilter,
    predicate?: RowPredicate,
  ): AsyncIterable<ColumnBatch>;
}

/** Sources read together: merged when several, over a time range none of them extends past. */
interface SourceGroup {
  readonly sources: readonly Source[];
  /** The slice of time the group covers, within the scan's range. */
  readonly range: TimeRange;
}

/** The part of `b` inside `a` (all of `b` when `a` is undefined); possibly empty. */
function intersectRanges(a: TimeRange | undefined, b: TimeRange): TimeRange {
  if (a === undefined) return b;
  const start = Math.max(a.start, b.start);
  return { start, end: Math.max(start, Math.min(a.end, b.end)) };
}

/** The batch with only `names`, in that order; every row stays, so its series runs do too. */
function projectKeepingRuns(batch: ColumnBatch, names: readonly string[]): ColumnBatch {
  const projected = projectBatch(batch, names);
  if (projected === batch || batch.seriesRuns === undefined) return projected;
  return withSeriesRuns(projected, batch.seriesRuns);
}

function columnNamed(batch: ColumnBatch, name: string): Column {
  const column = columnOf(batch, name);
  if (column === undefined) throw new RangeError(`column "${name}" is not in the batch`);
  return column;
}

/** Rows [lo, hi) of one series' run (timestamps ascending). */
interface RunRows {
  readonly series: string;
  readonly lo: number;
  readonly hi: number;
}

/** Series keys a row group's statistics may stand for at most; past it the row group is read. */
const MAX_STATS_SERIES = 256;

/**
 * Whether a row group can add nothing to a lastPerSeries scan: the statistics of every series tag
 * give its distinct values, and every series those values (and null where the column has nulls)
 * can make up was completed by newer data. The row group is then not read at all,
 * which after a restart saves fetching and decoding every older row group of the table.
 */
function everySeriesComplete(
  stats: RowGroupMeta,
  seriesTags: readonly string[],
  progress: { isComplete(series: string): boolean },
): boolean {
  let keys = [""];
  for (const name of seriesTags) {
    const column = stats.columns[name];
    if (column === undefined) return false;
    // Where the list is left out, min = max (one value) or min = null (nulls only) still tells.
    const values =
      column.distinct ??
      (column.min === null ? [] : column.min === column.max ? [String(column.min)] : undefined);
    if (values === undefined) return false;
    // As seriesKeyAt writes them: a value and its terminator, or the null mark.
    const parts = values.map((value) => `${value}\u0000`);
    if ((column.nullCount ?? 0) > 0) parts.push("\u0001");
    if (keys.length * parts.length > MAX_STATS_SERIES) return false;
    keys = keys.flatMap((key) => parts.map((part) => key + part));
  }
  return keys.every((key) => progress.isComplete(key));
}

/** A series' identity: its values of the given TAG columns (null apart from every string). */
function seriesKeyAt(tags: readonly Column[], row: number): string {
  let key = "";
  for (const column of tags) {
    key +=
      column.validity !== null && column.validity[row] !== 1
        ? "\u0001"
        : `${(column.values as string[])[row] as string}\u0000`;
  }
  return key;
}

/** Whether every tag column holds at `row` what it holds at `row - 1`. */
function sameTags(tags: readonly Column[], row: number): boolean {
  for (const column of tags) {
    const values = column.values as string[];
    if (values[row] !== values[row - 1]) return false;
    if (column.validity !== null && column.validity[row] !== column.validity[row - 1]) return false;
  }
  return true;
}

/** Per series, which lastPerSeries columns were found in a newer overlap group. */
class SeriesProgress {
  readonly #found = new Map<string, Uint8Array>();
  readonly #complete = new Set<string>();

  constructor(readonly columns: number) {}

  foundColumns(series: string): Uint8Array | undefined {
    return this.#found.get(series);
  }

  isComplete(series: string): boolean {
    return this.#complete.has(series);
  }

  markFound(series: string, column: number): void {
    let found = this.#found.get(series);
    if (found === undefined) {
      found = new Uint8Array(this.columns);
      this.#found.set(series, found);
    }
    found[column] = 1;
    if (found.every((f) => f === 1)) this.#complete.add(series);
  }
}

/** A candidate row: row `row` of the group's batch number `batch`, at timestamp `ts`. */
interface Pick {
  readonly batch: number;
  readonly row: number;
  readonly ts: number;
}

/**
 * Collects, within one overlap group, the row holding each series' last non-null value of each
 * column as last() decides it (the largest timestamp, and among equal ones the row read later), and
 * the series' last row. Rows must be offered in read order.
 */
class LastRowCollector {
  readonly #batches: ColumnBatch[] = [];
  readonly #picks = new Map<string, Array<Pick | undefined>>();

  constructor(
    readonly columns: readonly string[],
    readonly seriesTags: readonly string[],
    readonly timestampColumn: string,
    readonly progress: SeriesProgress,
  ) {}

  /** Every column of the series was found in a newer group. */
  isComplete(series: string): boolean {
    return this.progress.isComplete(series);
  }

  /** Validity of each column in `batch`, then null (never null) for the series' last row. */
  #validities(batch: ColumnBatch): Array<Uint8Array | null> {
    return [...this.columns.map((name) => columnNamed(batch, name).validity), null];
  }

  /** Offers every row of `batch` (already filtered). */
  addRows(batch: ColumnBatch): void {
    const index = this.#batches.push(batch) - 1;
    const tags = this.seriesTags.map((name) => columnNamed(batch, name));
    const validities = this.#validities(batch);
    const ts = columnNamed(batch, this.timestampColumn).values as Float64Array;
    let picks: Array<Pick | undefined> = [];
    let found: Uint8Array | undefined;
    for (let row = 0; row < batch.numRows; row++) {
      if (row === 0 || !sameTags(tags, row)) {
        const series = seriesKeyAt(tags, row);
        picks = this.#picksOf(series);
        found = this.progress.foundColumns(series);
      }
      const t = ts[row] as number;
      for (let c = 0; c < validities.length; c++) {
        if (found !== undefined && found[c] === 1) continue;
        const validity = validities[c] as Uint8Array | null;
        if (validity !== null && validity[row] !== 1) continue;
        const current = picks[c];
        if (current === undefined || t >= current.ts) picks[c] = { batch: index, row, ts: t };
      }
    }
  }

  /** Offers the rows of the given runs of `batch` (each run one series, timestamps ascending). */
  addRuns(batch: ColumnBatch, runs: readonly RunRows[]): void {
    const index = this.#batches.push(batch) - 1;
    const validities = this.#validities(batch);
    const ts = columnNamed(batch, this.timestampColumn).values as Float64Array;
    for (const { series, lo, hi } of runs) {
      const picks = this.#picksOf(series);
      const found = this.progress.foundColumns(series);
      for (let c = 0; c < validities.length; c++) {
        if (found !== undefined && found[c] === 1) continue;
        const validity = validities[c] as Uint8Array | null;
        // The run's last non-null row has its largest timestamp, and is read last among ties.
        let row = hi - 1;
        if (validity !== null) while (row >= lo && validity[row] !== 1) row--;
        if (row < lo) continue;
        const t = ts[row] as number;
        const current = picks[c];
        if (current === undefined || t >= current.ts) picks[c] = { batch: index, row, ts: t };
      }
    }
  }

  /** The picked rows, in read order; records what was found for the older groups. */
  finish(): ColumnBatch[] {
    const rowsByBatch = new Map<number, Set<number>>();
    for (const [series, picks] of this.#picks) {
      picks.forEach((pick, c) => {
        if (pick === undefined) return;
        this.progress.markFound(series, c);
        let rows = rowsByBatch.get(pick.batch);
        if (rows === undefined) {
          rows = new Set();
          rowsByBatch.set(pick.batch, rows);
        }
        rows.add(pick.row);
      });
    }
    const out: ColumnBatch[] = [];
    for (const index of [...rowsByBatch.keys()].sort((a, b) => a - b)) {
      const rows = Uint32Array.from(rowsByBatch.get(index) as Set<number>).sort();
      const batch = this.#batches[index] as ColumnBatch;
      const first = rows[0] as number;
      out.push(rows.length === 1 ? viewRows(batch, first, first + 1) : takeRows(batch, rows));
    }
    return out;
  }

  #picksOf(series: string): Array<Pick | undefined> {
    let picks = this.#picks.get(series);
    if (picks === undefined) {
      picks = new Array<Pick | undefined>(this.columns.length + 1).fill(undefined);
      this.#picks.set(series, picks);
    }
    return picks;
  }
}

/** A batch of the columns `names`, each taken from `first` or else `second` (rows of both alike). */
function withColumnsOf(first: ColumnBatch, second: ColumnBatch, names: readonly string[]): ColumnBatch {
  const columns = names.map((name) => {
    const column = columnOf(first, name) ?? columnOf(second, name);
    if (column === undefined) throw new Error(`internal: no column ${name} in the row group read`);
    return column;
  });
  return { names, columns, numRows: first.numRows };
}
