/**
 * The logical plan of a SELECT: a chain of nodes from the table scan up to the result,
 *
 *   Scan -> Filter(WHERE) -> Aggregate -> Filter(HAVING) -> Project -> Distinct -> Sort -> Limit
 *
 * (absent steps left out). Each node's expressions refer to the columns of its input by index;
 * `fields` names and types the columns a node produces.
 */
import type { TagFilter, TimeRange } from "../engine/index.js";
import type { TableSchema } from "../table/schema.js";
import type { AggregateFunctionName } from "./aggregate-functions.js";
import type { BoundExpr } from "./bound-expr.js";
import type { Field } from "./types.js";

/** Reads a table; what the WHERE clause allowed to push into the read is in `timeRange`/`tagFilter`. */
export interface ScanNode {
  readonly kind: "scan";
  readonly database: string;
  readonly table: string;
  readonly schema: TableSchema;
  /** The columns read, in table order; the node's fields are these columns. */
  readonly projection: readonly string[];
  /** Rows with start <= timestamp < end, from the WHERE clause's conditions on the timestamp key. */
  readonly timeRange: TimeRange | undefined;
  /** Allowed values of TAG columns, from `tag = 'v'` and `tag IN (...)` conditions. */
  readonly tagFilter: TagFilter | undefined;
  /**
   * Set when the scan's rows only feed `last()` of these columns grouped by TAG columns: the scan
   * then returns, per series, only the rows holding those last values (see ScanRequest).
   */
  readonly lastPerSeries?: { readonly columns: readonly string[] } | undefined;
  readonly fields: readonly Field[];
}

/** One row of no columns: the input of SELECT without FROM. */
export interface ValuesNode {
  readonly kind: "values";
  readonly fields: readonly Field[];
}

export interface FilterNode {
  readonly kind: "filter";
  readonly input: LogicalPlan;
  readonly predicate: BoundExpr;
  /** Which clause it implements, for EXPLAIN. */
  readonly clause: "WHERE" | "HAVING";
  readonly fields: readonly Field[];
}

export interface AggregateCall {
  readonly fn: AggregateFunctionName;
  readonly args: readonly BoundExpr[];
  readonly distinct: boolean;
  /** As written (for EXPLAIN): `max(usage)`. */
  readonly display: string;
}

/**
 * Groups rows by `groupKeys` and computes `aggregates` per group. Output: the keys, then the
 * aggregates. Without keys it yields exactly one row, even for no input.
 */
export interface AggregateNode {
  readonly kind: "aggregate";
  readonly input: LogicalPlan;
  readonly groupKeys: readonly BoundExpr[];
  readonly aggregates: readonly AggregateCall[];
  /** SELECT DISTINCT: grouping only, to drop duplicate rows. */
  readonly distinct: boolean;
  readonly fields: readonly Field[];
}

export interface ProjectNode {
  readonly kind: "project";
  readonly input: LogicalPlan;
  readonly exprs: readonly BoundExpr[];
  readonly fields: readonly Field[];
}

export interface SortKey {
  readonly expr: BoundExpr;
  readonly descending: boolean;
  readonly nullsFirst: boolean;
}

/** Orders rows; with `fetch`, only the first `fetch` rows are wanted (top-N, a bounded heap). */
export interface SortNode {
  readonly kind: "sort";
  readonly input: LogicalPlan;
  readonly keys: readonly SortKey[];
  readonly fetch: number | undefined;
  readonly fields: readonly Field[];
}

export interface LimitNode {
  readonly kind: "limit";
  readonly input: LogicalPlan;
  readonly offset: number;
  readonly limit: number | undefined;
  readonly fields: readonly Field[];
}

export type LogicalPlan =
  ScanNode | ValuesNode | FilterNode | AggregateNode | ProjectNode | SortNode | LimitNode;
