/**
 * ORDER BY the timestamp key, or a time-bucket group key of it, first, with LIMIT: the plan below
 * the top-N (Project over an optional WHERE over the scan, or Project over Aggregate over the
 * scan) runs over windows of the scan's time range next to the end the order starts from, newest
 * first for DESC, oldest first for ASC, and stops as soon as it has the rows the top-N needs.
 *
 * The windows: the first is next to that end (at the table's newest or oldest row when its time
 * extent is known); each next one takes the time just beyond the windows read so far, as long
 * again as all of them together, so the span read doubles. Windows are half-open [start, end) on
 * integer milliseconds and do not overlap, so every row is read by exactly one of them; for a time
 * bucket key they are cut at bucket boundaries, so every bucket lies inside one window.
 *
 * Why the answer is exact: within a window, the plan's rows are exactly those the plan over the
 * whole range has there (raw rows trivially; groups because each bucket's rows all lie in the
 * window, so they aggregate, and HAVING filters, as over the whole range). Every row of the time
 * not read yet sorts after every row read on the first sort key. So once the windows read hold at
 * least `fetch` rows in all, the top-N of them is the top-N of the whole result. With fewer, the
 * next window is read; reading stops at the far end of the range, or when no row of the table
 * lies beyond the windows read: after a window without rows, a probe of the rest of the range
 * (sparse data may have empty stretches, so an empty window alone proves nothing).
 *
 * Rows with equal sort keys keep the order of the whole run: they have one timestamp (or bucket),
 * so they come from one window, whose scan reads them in the same order as the whole scan does.
 */
import type { ColumnBatch } from "../../batch/column-batch.js";
import type { TimeRange } from "../../engine/index.js";
import { formatTimestamp } from "../cast.js";
import { describeExpr } from "../expr-format.js";
import type { ScanNode } from "../logical-plan.js";
import type { QueryContext } from "../query-context.js";
import type { TimeBucketing } from "../time-functions.js";
import { Operator } from "./operator.js";
import type { TableReader } from "./scan.js";
import type { BoundExpr } from "../bound-expr.js";

/** Buckets in the first window, per row wanted: a few, so other group keys and gaps rarely need a second. */
export const INITIAL_BUCKETS_PER_ROW = 4;
/** Fewest buckets in the first window. */
const MIN_INITIAL_BUCKETS = 8;
/**
 * Raw rows: the first window is long enough for this many times the rows wanted at the estimated
 * density, so that a filter or uneven data rarely needs a second window.
 */
export const INITIAL_ROWS_PER_ROW = 4;

/** Windows of raw rows are cut at any millisecond (timestamps are integer milliseconds). */
const MILLISECONDS: TimeBucketing = {
  name: "1ms",
  widthMs: 1,
  originMs: 0,
  start: (t) => Math.floor(t),
  next: (start) => start + 1,
};

/** What the window operator needs to know of the plan below it. */
export interface TimeWindowPlan {
  readonly reader: TableReader;
  readonly scan: ScanNode;
  /** The key the order starts with (the timestamp column, or a time bucket of it), for EXPLAIN. */
  readonly key: BoundExpr;
  /** For a time-bucket key, its bucketing; undefined for the timestamp itself (raw rows). */
  readonly bucketing: TimeBucketing | undefined;
  /** DESC: windows start at the range's end and go back; ASC: start at its start and go forward. */
  readonly descending: boolean;
  /** Rows the top-N above wants (its LIMIT plus OFFSET). */
  readonly fetch: number;
  /**
   * The part of the scan's time range that may hold rows: its range, cut to the table's time
   * extent when the reader knows it. Bounded on the side the order starts from.
   */
  readonly range: TimeRange;
  /** Estimated rows per millisecond in the range (from the time extent), to size raw-row windows. */
  readonly rowsPerMs: number | undefined;
  /** The operators of the plan below, reading the scan's range narrowed to `range`. */
  build(range: TimeRange): Operator;
}

interface Attempt {
  readonly range: TimeRange;
  rows: number;
  /** Whether the table holds rows in the scan's range beyond the windows read; undefined if not probed. */
  more: boolean | undefined;
}

export class TimeWindowOperator extends Operator {
  readonly #plan: TimeWindowPlan;
  /** The plan below, for the window being (or last) read; the first window before running. */
  #current: Operator;
  /** Every window's operators, for the time spent in them. */
  readonly #roots: Operator[] = [];
  readonly #attempts: Attempt[] = [];
  readonly #firstRange: TimeRange;

  constructor(plan: TimeWindowPlan) {
    super();
    this.#plan = plan;
    this.#firstRange = firstWindow(plan);
    this.#current = plan.build(this.#firstRange);
  }

  get children(): readonly Operator[] {
    return [this.#current];
  }

  describe(): string {
    const { key, descending, fetch } = this.#plan;
    return `TimeWindow: ${describeExpr(key)} ${descending ? "DESC" : "ASC"} fetch=${fetch} first=${describeRange(this.#firstRange)}`;
  }

  override analyzeDetails(): string[] {
    const windows = this.#attempts.map((a) => {
      const more = a.more === undefined ? "" : a.more ? " more=yes" : " more=no";
      return `${describeRange(a.range)} rows=${a.rows}${more}`;
    });
    return [`windows: ${windows.join("; ")}`];
  }

  override get selfElapsedMs(): number {
    let below = 0;
    for (const root of this.#roots) below += root.metrics.elapsedMs;
    return Math.max(0, this.metrics.elapsedMs - below);
  }

  protected async *produce(ctx: QueryContext): AsyncGenerator<ColumnBatch, void, undefined> {
    const plan = this.#plan;
    const full = plan.range;
    // `read`: the span of the windows read so far; `window`: the one being read.
    let read = this.#firstRange;
    let window = read;
    let root = this.#current;
    let rows = 0;
    for (;;) {
      this.#roots.push(root);
      const attempt: Attempt = { range: window, rows: 0, more: undefined };
      this.#attempts.push(attempt);
      for await (const batch of root.execute(ctx)) {
        attempt.rows += batch.numRows;
        yield batch;
      }
      rows += attempt.rows;
      if (rows >= plan.fetch || (read.start <= full.start && read.end >= full.end)) return;
      // A window with rows says more are likely next to it: read on. An empty one may be a gap
      // or the end of the data: first look whether any row lies beyond at all.
      if (attempt.rows === 0) {
        attempt.more = await this.#rowsBeyond(read, full);
        ctx.checkpoint();
        if (!attempt.more) return;
      }
      const wider = widerWindow(plan, read, full);
      window = plan.descending
        ? { start: wider.start, end: read.start }
        : { start: read.end, end: wider.end };
      read = wider;
      root = plan.build(window);
      this.#current = root;
    }
  }

  /** Whether the range holds rows beyond the span read (those that reading on would add). */
  async #rowsBeyond(read: TimeRange, full: TimeRange): Promise<boolean> {
    const { reader, scan, descending } = this.#plan;
    const rest = descending ? { start: full.start, end: read.start } : { start: read.end, end: full.end };
    const rows = reader.scan(scan.database, scan.table, {
      projection: [scan.schema.timestampColumn],
      timeRange: rest,
      ...(scan.tagFilter === undefined ? {} : { tagFilter: scan.tagFilter }),
      batchSize: 1,
    });
    const iterator = rows[Symbol.asyncIterator]();
    try {
      for (;;) {
        const next = await iterator.next();
        if (next.done === true) return false;
        if (next.value.numRows > 0) return true;
      }
    } finally {
      await iterator.return?.();
    }
  }
}

/**
 * The first window, next to the range's end (DESC) or start (ASC), clipped to the range. Time
 * buckets: `INITIAL_BUCKETS_PER_ROW` buckets per row wanted, counted from the bucket of the
 * range's last (DESC) or first (ASC) millisecond. Raw rows: long enough for
 * `INITIAL_ROWS_PER_ROW` rows per row wanted at the estimated density (without an estimate, as
 * many milliseconds as a bucket key would have buckets).
 */
function firstWindow(plan: TimeWindowPlan): TimeRange {
  const full = plan.range;
  if (full.end <= full.start) return full;
  const bucketing = plan.bucketing ?? MILLISECONDS;
  let buckets = Math.max(MIN_INITIAL_BUCKETS, INITIAL_BUCKETS_PER_ROW * plan.fetch);
  if (plan.bucketing === undefined && plan.rowsPerMs !== undefined && plan.rowsPerMs > 0)
    buckets = Math.max(1, Math.ceil((INITIAL_ROWS_PER_ROW * plan.fetch) / plan.rowsPerMs));
  if (plan.descending) {
    let start = bucketing.start(full.end - 1);
    if (bucketing.widthMs !== undefined) start -= (buckets - 1) * bucketing.widthMs;
    else for (let b = 1; b < buckets && start > full.start; b++) start = bucketing.start(start - 1);
    return clipped(start, full.end, full);
  }
  let end = bucketing.start(full.start);
  if (bucketing.widthMs !== undefined) end += buckets * bucketing.widthMs;
  else for (let b = 0; b < buckets && end < full.end; b++) end = bucketing.next(end);
  return clipped(full.start, end, full);
}

/** [start, end) within the range; the whole range where a bound is not a number (dates out of range). */
function clipped(start: number, end: number, full: TimeRange): TimeRange {
  return {
    start: Number.isNaN(start) ? full.start : Math.max(start, full.start),
    end: Number.isNaN(end) ? full.end : Math.min(end, full.end),
  };
}

/**
 * The span read, twice as long, its open side on a bucket boundary (at least one bucket further),
 * clipped to the range.
 */
function widerWindow(plan: TimeWindowPlan, read: TimeRange, full: TimeRange): TimeRange {
  const bucketing = plan.bucketing ?? MILLISECONDS;
  const length = read.end - read.start;
  if (plan.descending) {
    const start = Math.min(bucketing.start(read.end - 2 * length), bucketing.start(read.start - 1));
    return clipped(start, full.end, full);
  }
  const end = Math.max(bucketing.start(read.start + 2 * length), bucketing.next(read.end));
  return clipped(full.start, end, full);
}

function describeRange(range: TimeRange): string {
  const bound = (ms: number) => (Number.isFinite(ms) ? formatTimestamp(ms) : ms < 0 ? "-inf" : "+inf");
  return `[${bound(range.start)}, ${bound(range.end)})`;
}
