import type { ColumnBatch } from "../batch/column-batch.js";
import type { SstFileEntry } from "../manifest/index.js";
import { MemtableSet, type MemtableSnapshot } from "../memtable/index.js";
import type { ObjectStore } from "../object-store/object-store.js";
import { fileMayMatch, readSst, type SstMeta } from "../sst/index.js";
import type { TableSchema } from "../table/schema.js";
import type { UpdateMode } from "../table/options.js";
import { filterRows, projectBatch, type TagFilter, type TimeRange } from "./row-filter.js";

export interface ScanRequest {
  /** Columns to return, in this order; every column of the table when absent. */
  readonly projection?: readonly string[];
  readonly timeRange?: TimeRange;
  /** Only rows whose TAG columns hold one of the listed values. */
  readonly tagFilter?: TagFilter;
  /** Rows per output batch (approximate upper bound); default 8192. */
  readonly batchSize?: number;
}

/** What a scan did, for EXPLAIN ANALYZE and metrics. */
export interface ScanMetrics {
  sstsTotal: number;
  sstsPruned: number;
  rowGroupsTotal: number;
  rowGroupsPruned: number;
  rowsFromSsts: number;
  rowsFromMemtables: number;
  rowsReturned: number;
  bytesRead: number;
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

/**
 * Scans one table: SSTs pruned by time range and tag statistics, plus memtables, deduplicated by
 * primary key (OVERWRITE: the newest row wins) and filtered exactly. Sources whose time ranges do not
 * overlap are streamed one after another in time order; overlapping ones are merged. Within a group
 * of overlapping sources, rows come out sorted by primary key. Rows past the table's TTL (as of when
 * the view was taken) are hidden.
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
    rowsReturned: 0,
    bytesRead: 0,
  };
  readonly #store: ObjectStore;
  readonly #view: TableReadView;
  readonly #request: ScanRequest;
  /** The request's time range, clipped to the rows not past the TTL. */
  readonly #timeRange: TimeRange | undefined;
  readonly #release: () => void;
  #state: "new" | "iterating" | "done" = "new";

  /** Validates the request; `release` (if any) is called once the scan no longer reads files. */
  constructor(store: ObjectStore, view: TableReadView, request: ScanRequest, release?: () => void) {
    this.#store = store;
    this.#view = view;
    this.#request = request;
    const { schema } = view;
    for (const name of request.projection ?? []) {
      if (schema.column(name) === undefined) throw new RangeError(`column "${name}" does not exist`);
    }
    for (const name of Object.keys(request.tagFilter ?? {})) {
      if (schema.column(name)?.isTag !== true) throw new RangeError(`"${name}" is not a TAG column`);
    }
    this.#timeRange = clipToTtl(request.timeRange, view.expiredBefore);
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
    const { tagFilter } = this.#request;
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
      read: () => this.#readSst(sst, needed),
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
          read: () => this.#readMemtable(needed),
        });
      }
    }
    for (const group of overlapGroups(sources)) {
      const batches = group.length === 1 ? (group[0] as Source).read() : this.#merge(group, needed);
      for await (const batch of batches) {
        const filtered = filterRows(batch, schema.timestampColumn, timeRange, tagFilter);
        if (filtered.numRows === 0) continue;
        this.metrics.rowsReturned += filtered.numRows;
        yield projectBatch(filtered, output);
      }
    }
  }

  async *#readSst(sst: SstFileEntry, columns: readonly string[]): AsyncIterable<ColumnBatch> {
    const scan = readSst(this.#store, sst.key, {
      meta: sst.meta as SstMeta,
      projection: columns,
      schema: this.#view.schema,
      timeRange: this.#timeRange,
      tagFilter: this.#request.tagFilter,
      batchSize: this.#request.batchSize ?? DEFAULT_BATCH_SIZE,
    });
    for await (const batch of scan) {
      this.metrics.rowsFromSsts += batch.numRows;
      yield batch;
    }
    this.metrics.rowGroupsTotal += scan.metrics.rowGroupsTotal;
    this.metrics.rowGroupsPruned += scan.metrics.rowGroupsPruned;
    this.metrics.bytesRead += scan.metrics.bytesRead;
  }

  // Async so that every source has one shape; the memtable itself is read synchronously.
  // eslint-disable-next-line @typescript-eslint/require-await
  async *#readMemtable(columns: readonly string[]): AsyncIterable<ColumnBatch> {
    const batches = this.#view.memtable.sortedBatches({
      projection: columns,
      batchSize: this.#request.batchSize ?? DEFAULT_BATCH_SIZE,
      ...(this.#timeRange === undefined ? {} : { timeRange: this.#timeRange }),
    });
    for (const batch of batches) {
      this.metrics.rowsFromMemtables += batch.numRows;
      yield batch;
    }
  }

  /**
   * Merges overlapping sources through a scratch memtable set: it sorts by primary key and keeps the
   * row with the highest priority (SST max sequence; memtable rows above all) for each key.
   */
  async *#merge(group: readonly Source[], columns: readonly string[]): AsyncIterable<ColumnBatch> {
    const { schema, updateMode } = this.#view;
    const scratch = new MemtableSet({ schema, updateMode });
    for (const source of [...group].sort((a, b) => a.priority - b.priority)) {
      for await (const batch of source.read()) {
        const { numRows } = batch;
        if (numRows > 0) scratch.append(batch, source.priority);
      }
    }
    yield* scratch.sortedBatches({
      projection: columns,
      batchSize: this.#request.batchSize ?? DEFAULT_BATCH_SIZE,
    });
  }
}

/** The time range with rows before the TTL cutoff taken out (possibly empty: start = end). */
function clipToTtl(range: TimeRange | undefined, expiredBefore: number | undefined): TimeRange | undefined {
  if (expiredBefore === undefined) return range;
  if (range === undefined) return { start: expiredBefore, end: Infinity };
  if (range.start >= expiredBefore) return range;
  return { start: Math.min(expiredBefore, range.end), end: range.end };
}

interface Source {
  readonly min: number;
  readonly max: number;
  readonly priority: number;
  read(): AsyncIterable<ColumnBatch>;
}

/** Splits sources into groups whose time ranges overlap, in ascending time order. */
function overlapGroups(sources: readonly Source[]): Source[][] {
  const sorted = [...sources].sort((a, b) => a.min - b.min);
  const groups: Source[][] = [];
  let current: Source[] = [];
  let currentMax = -Infinity;
  for (const source of sorted) {
    if (current.length > 0 && source.min > currentMax) {
      groups.push(current);
      current = [];
      currentMax = -Infinity;
    }
    current.push(source);
    currentMax = Math.max(currentMax, source.max);
  }
  if (current.length > 0) groups.push(current);
  return groups;
}
