/**
 * What of a WHERE clause the table scan can apply itself: conditions on the timestamp key become
 * the scan's time range [start, end), equality and IN on TAG columns become its tag filter. Only
 * conjuncts (parts joined by AND) are used, and only when they compare a bare column with
 * constants. The scan applies both exactly, so it can skip SSTs and row groups; the Filter above
 * still checks the whole predicate, so results never depend on how much the scan pruned.
 */
import type { TagFilter, TimeRange } from "../engine/index.js";
import type { ComparisonOperator } from "../sql/index.js";
import type { TableSchema } from "../table/schema.js";
import type { BoundExpr, ColumnExpr, LiteralExpr } from "./bound-expr.js";
import { flipComparison } from "./compare-kernels.js";
import type { Field } from "./types.js";

export interface ScanPushdown {
  readonly timeRange: TimeRange | undefined;
  readonly tagFilter: TagFilter | undefined;
  /**
   * The time range and tag filter say all the predicate says: a row the scan returns always passes
   * it. False when some conjunct was left (entirely or partly) to the filter.
   */
  readonly exact: boolean;
}

/** The parts of a predicate joined by AND, in order. */
export function conjunctsOf(expr: BoundExpr | undefined): BoundExpr[] {
  if (expr === undefined) return [];
  if (expr.kind === "logical" && expr.op === "AND")
    return [...conjunctsOf(expr.left), ...conjunctsOf(expr.right)];
  return [expr];
}

/** A conjunct as `column op constant`, with the column on the left. */
interface ColumnComparison {
  readonly column: ColumnExpr;
  readonly op: ComparisonOperator;
  readonly value: LiteralExpr["value"];
}

function columnComparison(expr: BoundExpr): ColumnComparison | undefined {
  if (expr.kind !== "compare") return undefined;
  const { left, right, op } = expr;
  if (left.kind === "column" && right.kind === "literal") return { column: left, op, value: right.value };
  if (right.kind === "column" && left.kind === "literal")
    return { column: right, op: flipComparison(op), value: left.value };
  return undefined;
}

/** The scan pushdown of `predicate`, bound over the table's columns `fields`. */
export function extractPushdown(
  predicate: BoundExpr | undefined,
  fields: readonly Field[],
  schema: TableSchema,
): ScanPushdown {
  let start = -Infinity;
  let end = Infinity;
  let timeBounded = false;
  const tags = new Map<string, Set<string>>();
  const isTimestamp = (c: ColumnExpr) => fields[c.index]?.name === schema.timestampColumn;
  const isTag = (c: ColumnExpr) => schema.column(fields[c.index]?.name ?? "")?.isTag === true;
  const restrictTag = (name: string, values: Iterable<string>) => {
    const allowed = new Set(values);
    const current = tags.get(name);
    tags.set(name, current === undefined ? allowed : new Set([...current].filter((v) => allowed.has(v))));
  };
  const narrow = (from: number, to: number) => {
    start = Math.max(start, from);
    end = Math.min(end, to);
    timeBounded = true;
  };

  // Whether every conjunct so far is fully expressed by the time range and tag filter.
  let exact = true;
  for (const conjunct of conjunctsOf(predicate)) {
    // A conjunct that is constantly FALSE or NULL makes the whole WHERE clause unsatisfiable.
    if (conjunct.kind === "literal") {
      if (conjunct.value !== true) narrow(0, 0);
      continue;
    }
    const cmp = columnComparison(conjunct);
    if (cmp !== undefined) {
      if (isTimestamp(cmp.column)) {
        if (cmp.value === null) narrow(0, 0);
        else if (typeof cmp.value === "number" && cmp.op !== "!=" && !Number.isNaN(cmp.value))
          timeBound(cmp.op, cmp.value, narrow);
        else exact = false;
      } else if (isTag(cmp.column) && cmp.op === "=") {
        restrictTag(cmp.column.name, typeof cmp.value === "string" ? [cmp.value] : []);
        if (cmp.value !== null && typeof cmp.value !== "string") exact = false;
      } else {
        exact = false;
      }
      continue;
    }
    if (conjunct.kind === "inList" && !conjunct.negated && conjunct.operand.kind === "column") {
      const items = conjunct.list;
      if (!items.every((e) => e.kind === "literal")) {
        exact = false;
        continue;
      }
      const values = items.map((e) => e.value).filter((v) => v !== null);
      if (isTag(conjunct.operand)) {
        restrictTag(conjunct.operand.name, values as string[]);
        if (!values.every((v) => typeof v === "string")) exact = false;
      } else if (isTimestamp(conjunct.operand)) {
        // The smallest range holding every listed time; the filter keeps only the listed ones.
        const times = values as number[];
        if (times.length === 0) narrow(0, 0);
        else narrow(Math.ceil(Math.min(...times)), Math.floor(Math.max(...times)) + 1);
        if (times.length > 1) exact = false;
        else if (times.length === 1 && !Number.isInteger(times[0])) exact = false;
      } else {
        exact = false;
      }
      continue;
    }
    exact = false;
  }
  if (timeBounded && end < start) end = start;
  const timeRange = timeBounded ? { start, end } : undefined;
  const tagFilter =
    tags.size === 0
      ? undefined
      : Object.fromEntries([...tags].map(([name, values]) => [name, [...values].sort()]));
  return { timeRange, tagFilter, exact };
}

/** Narrows [start, end) by `ts op value`; timestamps are whole milliseconds. */
function timeBound(op: ComparisonOperator, value: number, narrow: (from: number, to: number) => void): void {
  switch (op) {
    case "=":
      if (Number.isInteger(value)) narrow(value, value + 1);
      else narrow(0, 0);
      return;
    case ">=":
      narrow(Math.ceil(value), Infinity);
      return;
    case ">":
      narrow(Math.floor(value) + 1, Infinity);
      return;
    case "<":
      narrow(-Infinity, Math.ceil(value));
      return;
    case "<=":
      narrow(-Infinity, Math.floor(value) + 1);
      return;
    case "!=":
      return;
  }
}
