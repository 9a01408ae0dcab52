/**
 * The part of a WHERE clause the scan does not already guarantee. The scan applies its time range
 * and tag filter exactly (a row outside them is never returned), so a conjunct that those imply for
 * every row it returns need not be evaluated again: `ts >= c`, `ts < c` and the other comparisons
 * of the timestamp column with a constant (timestamps are whole milliseconds), `tag = 'v'`,
 * `tag IN ('v', ...)`, and constant TRUE. Each conjunct is checked against the scan's actual range
 * and filter, so the result does not depend on how the pushdown was derived.
 */
import type { ComparisonOperator } from "../sql/index.js";
import { DataType } from "../table/data-type.js";
import type { BoundExpr, ColumnExpr } from "./bound-expr.js";
import { flipComparison } from "./compare-kernels.js";
import type { ScanNode } from "./logical-plan.js";
import { conjunctsOf } from "./pushdown.js";
import type { ScalarValue } from "./types.js";

/** `predicate` (over the scan's fields) without the conjuncts the scan implies; undefined if none remain. */
export function residualPredicate(predicate: BoundExpr, scan: ScanNode): BoundExpr | undefined {
  let residual: BoundExpr | undefined;
  for (const conjunct of conjunctsOf(predicate)) {
    if (impliedByScan(conjunct, scan)) continue;
    residual =
      residual === undefined
        ? conjunct
        : { kind: "logical", op: "AND", left: residual, right: conjunct, type: "boolean" };
  }
  return residual;
}

function impliedByScan(conjunct: BoundExpr, scan: ScanNode): boolean {
  if (conjunct.kind === "literal") return conjunct.value === true;
  if (conjunct.kind === "compare") {
    const { left, right } = conjunct;
    if (left.kind === "column" && right.kind === "literal")
      return comparisonImplied(left, conjunct.op, right.value, scan);
    if (right.kind === "column" && left.kind === "literal")
      return comparisonImplied(right, flipComparison(conjunct.op), left.value, scan);
    return false;
  }
  if (conjunct.kind === "inList" && !conjunct.negated && conjunct.operand.kind === "column") {
    const allowed = tagValuesAllowed(conjunct.operand, scan);
    if (allowed === undefined) return false;
    const listed = new Set<unknown>();
    for (const item of conjunct.list) {
      if (item.kind !== "literal") return false;
      // A NULL item only turns a non-match into NULL, which WHERE drops like FALSE.
      if (item.value !== null) listed.add(item.value);
    }
    return allowed.every((v) => listed.has(v));
  }
  return false;
}

function comparisonImplied(
  column: ColumnExpr,
  op: ComparisonOperator,
  value: ScalarValue,
  scan: ScanNode,
): boolean {
  const name = scan.fields[column.index]?.name;
  if (name === undefined) return false;
  if (name === scan.schema.timestampColumn && column.type === DataType.Timestamp) {
    const range = scan.timeRange;
    if (range === undefined || typeof value !== "number" || !Number.isFinite(value)) return false;
    const [start, end] = timestampsSatisfying(op, value);
    return range.start >= start && range.end <= end;
  }
  if (op !== "=" || typeof value !== "string") return false;
  const allowed = tagValuesAllowed(column, scan);
  return allowed !== undefined && allowed.every((v) => v === value);
}

/** The whole-millisecond timestamps t with `t op value`, as [start, end); [0, 0) for none. */
function timestampsSatisfying(op: ComparisonOperator, value: number): [number, number] {
  switch (op) {
    case "=":
      return Number.isInteger(value) ? [value, value + 1] : [0, 0];
    case ">=":
      return [Math.ceil(value), Infinity];
    case ">":
      return [Math.floor(value) + 1, Infinity];
    case "<":
      return [-Infinity, Math.ceil(value)];
    case "<=":
      return [-Infinity, Math.floor(value) + 1];
    case "!=":
      return [Infinity, -Infinity];
  }
}

/** The values the scan's tag filter allows for the TAG column `column`, if it filters it. */
function tagValuesAllowed(column: ColumnExpr, scan: ScanNode): readonly string[] | undefined {
  const name = scan.fields[column.index]?.name;
  if (name === undefined || scan.schema.column(name)?.isTag !== true) return undefined;
  return scan.tagFilter?.[name];
}
