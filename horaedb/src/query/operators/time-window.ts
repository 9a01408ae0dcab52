/**
 * ORDER BY a time-bucket group key with LIMIT, without aggregating the whole table: the plan
 * below the top-N (Project over Aggregate over the scan) runs over a window of the scan's time
 * range next to the end the order starts from, cut at a bucket boundary.
 *
 * Why a window's answer is exact: every row of a bucket lies inside the bucket, so a window cut at
 * a bucket boundary holds every row of each bucket it touches, and the groups of those buckets
 * aggregate exactly as over the whole range (HAVING included). Every group outside the window has
 * a bucket that sorts after all of the window's on the first sort key. So once the window yields
 * at least `fetch` rows, the top-N of its rows is the top-N of the whole result. With fewer, the
 * window doubles; it stops growing when it reaches the far end of the scan's range, or when no
 * row of the table lies beyond it (a probe of the rest of the range; sparse data may have empty
 * stretches, so an empty window alone proves nothing).
 *
 * Rows with equal sort keys keep the order in which their groups were first read, as without the
 * window: the window's scan reads the rows of its groups in the same order as the whole scan.
 */
import type { ColumnBatch } from "../../batch/column-batch.js";
import { batchByteSize } from "../../batch/column-batch.js";
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

/** What the window operator needs to know of the plan below it. */
export interface TimeWindowPlan {
  readonly reader: TableReader;
  readonly scan: ScanNode;
  /** The time-bucket group key the order starts with, for EXPLAIN. */
  readonly key: BoundExpr;
  readonly bucketing: TimeBucketing;
  /** DESC: windows end at the range's end and grow back; ASC: start at its start and grow forward. */
  readonly descending: boolean;
  /** Rows the top-N above wants (its LIMIT plus OFFSET). */
  readonly fetch: number;
  /** The operators of the plan below, reading the scan's range narrowed to `range`. */
  build(range: TimeRange): Operator;
}

interface Attempt {
  readonly range: TimeRange;
  rows: number;
  /** Whether the table holds rows in the scan's range beyond the window; undefined if not probed. */
  more: boolean | undefined;
}

export class TimeWindowOperator extends Operator {
  readonly #plan: TimeWindowPlan;
  /** The plan below, for the window being (or last) run; the first window before running. */
  #current: Operator;
  /** Every attempt's operators, for the time spent in them. */
  readonly #roots: Operator[] = [];
  readonly #attempts: Attempt[] = [];
  readonly #firstRange: TimeRange;
  #peakBytes = 0;

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
    return [`windows: ${windows.join("; ")}`, `memory=${this.#peakBytes} bytes`];
  }

  override get selfElapsedMs(): number {
    let below = 0;
    for (const root of this.#roots) below += root.metrics.elapsedMs;
    return Math.max(0, this.metrics.elapsedMs - below);
  }

  protected async *produce(ctx: QueryContext): AsyncGenerator<ColumnBatch, void, undefined> {
    const plan = this.#plan;
    const full = plan.scan.timeRange as TimeRange;
    const memory = ctx.memory.reserve("time window");
    try {
      let range = this.#firstRange;
      let root = this.#current;
      for (;;) {
        this.#roots.push(root);
        const attempt: Attempt = { range, rows: 0, more: undefined };
        this.#attempts.push(attempt);
        const batches: ColumnBatch[] = [];
        let bytes = 0;
        for await (const batch of root.execute(ctx)) {
          batches.push(batch);
          attempt.rows += batch.numRows;
          bytes += batchByteSize(batch);
          memory.resize(bytes);
          this.#peakBytes = Math.max(this.#peakBytes, bytes);
        }
        const whole = range.start <= full.start && range.end >= full.end;
        if (!whole && attempt.rows < plan.fetch) {
          attempt.more = await this.#rowsBeyond(range, full);
          ctx.checkpoint();
        }
        if (whole || attempt.rows >= plan.fetch || attempt.more === false) {
          yield* batches;
          return;
        }
        memory.resize(0);
        range = widerWindow(plan, range, full);
        root = plan.build(range);
        this.#current = root;
      }
    } finally {
      memory.release();
    }
  }

  /** Whether the scan's range holds rows beyond the window (those it would add by growing). */
  async #rowsBeyond(window: TimeRange, full: TimeRange): Promise<boolean> {
    const { reader, scan, descending } = this.#plan;
    const rest = descending ? { start: full.start, end: window.start } : { start: window.end, end: full.end };
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
 * The first window: `INITIAL_BUCKETS_PER_ROW` buckets per row wanted, counted from the bucket of
 * the range's last (DESC) or first (ASC) millisecond, clipped to the scan's range.
 */
function firstWindow(plan: TimeWindowPlan): TimeRange {
  const { bucketing, scan } = plan;
  const full = scan.timeRange as TimeRange;
  const buckets = Math.max(MIN_INITIAL_BUCKETS, INITIAL_BUCKETS_PER_ROW * plan.fetch);
  if (full.end <= full.start) return full;
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

/** [start, end) within the scan's range; the whole range where a bound is not a number (dates out of range). */
function clipped(start: number, end: number, full: TimeRange): TimeRange {
  return {
    start: Number.isNaN(start) ? full.start : Math.max(start, full.start),
    end: Number.isNaN(end) ? full.end : Math.min(end, full.end),
  };
}

/** A window twice as long as `window`, its open side on a bucket boundary, clipped to the range. */
function widerWindow(plan: TimeWindowPlan, window: TimeRange, full: TimeRange): TimeRange {
  const { bucketing } = plan;
  const length = window.end - window.start;
  if (plan.descending) {
    // A boundary at or before end - 2 * length; at least one bucket further back.
    const start = Math.min(bucketing.start(window.end - 2 * length), bucketing.start(window.start - 1));
    return clipped(start, full.end, full);
  }
  const end = Math.max(bucketing.start(window.start + 2 * length), bucketing.next(window.end));
  return clipped(full.start, end, full);
}

function describeRange(range: TimeRange): string {
  const bound = (ms: number) => (Number.isFinite(ms) ? formatTimestamp(ms) : ms < 0 ? "-inf" : "+inf");
  return `[${bound(range.start)}, ${bound(range.end)})`;
}
