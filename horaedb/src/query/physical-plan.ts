/**
 * Turns a logical plan into the operators that run it. A sort wanting only its first rows
 * (ORDER BY ... LIMIT) becomes a bounded top-N heap instead of a full sort.
 */
import type { TimeRange } from "../engine/index.js";
import { DataType } from "../table/data-type.js";
import type { BoundExpr } from "./bound-expr.js";
import { bucketKeyOf } from "./bucket-keys.js";
import type { AggregateNode, LogicalPlan, ScanNode, SortNode } from "./logical-plan.js";
import { FilterOperator } from "./operators/filter.js";
import type { SeriesRunKey } from "./operators/group-keys.js";
import { HashAggregateOperator } from "./operators/hash-aggregate.js";
import { LimitOperator } from "./operators/limit.js";
import type { Operator } from "./operators/operator.js";
import { ProjectOperator } from "./operators/project.js";
import { ScanOperator, type TableReader } from "./operators/scan.js";
import { SortOperator } from "./operators/sort.js";
import { TopNOperator } from "./operators/top-n.js";
import { SingleRowOperator } from "./operators/values.js";
import { TimeWindowOperator, type TimeWindowPlan } from "./operators/time-window.js";
import { residualPredicate } from "./residual-filter.js";
import { isNumberBacked } from "./types.js";

export interface PhysicalPlanOptions {
  /** Rows per batch the scan asks the engine for. */
  readonly batchSize?: number | undefined;
}

export function createOperators(
  plan: LogicalPlan,
  reader: TableReader,
  options: PhysicalPlanOptions = {},
): Operator {
  // `seriesRuns`: the operator built is the input of an aggregation that groups by series runs.
  const build = (node: LogicalPlan, seriesRuns = false): Operator => {
    switch (node.kind) {
      case "scan":
        return new ScanOperator(reader, node, options.batchSize, seriesRuns);
      case "values":
        return new SingleRowOperator();
      case "filter": {
        // The scan applies its time range and tag filter exactly: WHERE keeps only the rest.
        if (node.clause === "WHERE" && node.input.kind === "scan") {
          const residual = residualPredicate(node.predicate, node.input);
          if (residual === undefined) return build(node.input, seriesRuns);
          // The scan applies the rest too (testing rows before reading their other columns), except
          // with lastPerSeries, which must see every row to know each series' last one.
          if (node.input.lastPerSeries !== undefined) {
            return new FilterOperator(build(node.input, seriesRuns), residual, node.clause);
          }
          return new ScanOperator(reader, node.input, options.batchSize, seriesRuns, residual);
        }
        return new FilterOperator(build(node.input), node.predicate, node.clause);
      }
      case "aggregate": {
        const runKeys = seriesRunKeysOf(node);
        return new HashAggregateOperator(
          build(node.input, runKeys !== undefined),
          node.groupKeys,
          node.aggregates,
          node.fields,
          node.distinct,
          runKeys,
        );
      }
      case "project":
        return new ProjectOperator(build(node.input), node.exprs, node.fields);
      case "sort": {
        if (node.fetch === undefined) return new SortOperator(build(node.input), node.keys);
        const window = timeWindowOf(node, reader);
        const input =
          window === undefined
            ? build(node.input)
            : new TimeWindowOperator({
                ...window,
                reader,
                fetch: node.fetch,
                build: (range) => build(withScanRange(node.input, range)),
              });
        return new TopNOperator(input, node.keys, node.fetch);
      }
      case "limit":
        return new LimitOperator(build(node.input), node.offset, node.limit);
    }
  };
  return build(plan);
}

/**
 * How each group key of an aggregation over a scan (under an optional WHERE) relates to series
 * runs: a TAG column, or a time bucket of the timestamp key; undefined when some key is neither
 * (or there are none), and the aggregation then finds key changes row by row.
 */
function seriesRunKeysOf(node: AggregateNode): SeriesRunKey[] | undefined {
  const scan = scanUnder(node.input);
  if (scan === undefined || scan.lastPerSeries !== undefined || node.groupKeys.length === 0) return undefined;
  const kinds: SeriesRunKey[] = [];
  for (const key of node.groupKeys) {
    const bucket = bucketKeyOf(key);
    if (bucket !== undefined) {
      if (scan.fields[bucket.column.index]?.name !== scan.schema.timestampColumn) return undefined;
      kinds.push("bucket");
      continue;
    }
    const name = key.kind === "column" ? scan.fields[key.index]?.name : undefined;
    if (name === undefined || scan.schema.column(name)?.isTag !== true) return undefined;
    // Group ids are looked up per run for keys of these types only.
    if (key.type !== DataType.String && !isNumberBacked(key.type)) return undefined;
    kinds.push("tag");
  }
  return kinds;
}

/** Largest LIMIT + OFFSET the time window is tried for; beyond, its first window is most of the data. */
const MAX_WINDOW_FETCH = 100_000;

/** What the plan tells the time window operator; the rest it gets from the sort. */
type WindowShape = Pick<TimeWindowPlan, "scan" | "key" | "bucketing" | "descending">;

/**
 * When the sort (with a LIMIT) starts with the timestamp key, or a time bucket of it, read in
 * time order from one end of the scan's range: what the time window operator needs to run the
 * plan below over narrower ranges (see TimeWindowOperator). The range is cut to the table's time
 * extent when the reader knows it, and must then be bounded where the order starts (its end for
 * DESC, its start for ASC). Undefined when the shape does not apply, or the table has no row the
 * scan could return (the plan then runs once, over the scan's range).
 */
function timeWindowOf(
  sort: SortNode,
  reader: TableReader,
): Omit<TimeWindowPlan, "reader" | "fetch" | "build"> | undefined {
  if (sort.fetch === undefined || sort.fetch === 0 || sort.fetch > MAX_WINDOW_FETCH) return undefined;
  const shape = rawTimeOrderOf(sort) ?? bucketOrderOf(sort);
  if (shape === undefined) return undefined;
  const { scan } = shape;
  let range = scan.timeRange ?? { start: -Infinity, end: Infinity };
  let rowsPerMs: number | undefined;
  if (reader.timeExtent !== undefined) {
    const extent = reader.timeExtent(scan.database, scan.table, scan.tagFilter);
    if (extent === undefined) return undefined;
    const start = Math.max(range.start, extent.min);
    const end = Math.min(range.end, extent.max + 1);
    range = end > start ? { start, end } : { start, end: start };
    rowsPerMs = extent.rows / (extent.max - extent.min + 1);
  }
  const bounded = shape.descending ? range.end : range.start;
  if (!Number.isFinite(bounded)) return undefined;
  return { ...shape, range, rowsPerMs };
}

/**
 * ORDER BY the timestamp key (as projected, maybe aliased) first, over Project over an optional
 * WHERE over the scan: no aggregation, no DISTINCT.
 */
function rawTimeOrderOf(sort: SortNode): WindowShape | undefined {
  const first = sort.keys[0];
  if (first?.expr.kind !== "column" || sort.input.kind !== "project") return undefined;
  const projected = sort.input.exprs[first.expr.index];
  const scan = scanUnder(sort.input.input);
  if (projected?.kind !== "column" || scan === undefined || scan.lastPerSeries !== undefined)
    return undefined;
  if (scan.fields[projected.index]?.name !== scan.schema.timestampColumn) return undefined;
  return { scan, key: projected, bucketing: undefined, descending: first.descending };
}

/**
 * ORDER BY a time bucket of the timestamp key first, over Project over Aggregate grouping by that
 * bucket (HAVING allowed in between) over the scan under an optional WHERE.
 */
function bucketOrderOf(sort: SortNode): WindowShape | undefined {
  const first = sort.keys[0];
  if (first?.expr.kind !== "column" || sort.input.kind !== "project") return undefined;
  const projected = sort.input.exprs[first.expr.index];
  if (projected?.kind !== "column") return undefined;
  let below = sort.input.input;
  if (below.kind === "filter" && below.clause === "HAVING") below = below.input;
  if (below.kind !== "aggregate" || below.distinct || projected.index >= below.groupKeys.length)
    return undefined;
  const key = below.groupKeys[projected.index] as BoundExpr;
  const bucket = bucketKeyOf(key);
  const scan = scanUnder(below.input);
  if (bucket === undefined || scan === undefined) return undefined;
  if (scan.fields[bucket.column.index]?.name !== scan.schema.timestampColumn) return undefined;
  return { scan, key, bucketing: bucket.bucketing, descending: first.descending };
}

/** The scan under an optional WHERE filter. */
function scanUnder(node: LogicalPlan): ScanNode | undefined {
  const input = node.kind === "filter" && node.clause === "WHERE" ? node.input : node;
  return input.kind === "scan" ? input : undefined;
}

/** The plan with its scan reading `range` instead (Project, HAVING, Aggregate, WHERE, Scan). */
function withScanRange(node: LogicalPlan, range: TimeRange): LogicalPlan {
  switch (node.kind) {
    case "scan":
      return { ...node, timeRange: range };
    case "project":
    case "filter":
    case "aggregate":
    case "sort":
    case "limit":
      return { ...node, input: withScanRange(node.input, range) };
    case "values":
      return node;
  }
}
