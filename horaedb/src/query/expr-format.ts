/**
 * Bound expressions as SQL-like text, for EXPLAIN and for naming aggregate columns: column names,
 * literals as SQL would write them (timestamps as `TIMESTAMP '...'`), implicit casts made visible.
 */
import { quoteString } from "../sql/index.js";
import type { BoundExpr } from "./bound-expr.js";
import { formatNumber, formatTimestamp } from "./cast.js";
import type { ExprType, Interval, ScalarValue } from "./types.js";

export function describeExpr(expr: BoundExpr): string {
  return describe(expr, false);
}

/** `nested` puts operators in parentheses, so precedence never has to be guessed. */
function describe(expr: BoundExpr, nested: boolean): string {
  const wrap = (text: string) => (nested ? `(${text})` : text);
  switch (expr.kind) {
    case "column":
      // Plain names: aggregate outputs are named as written (`max(usage)`) and read best unquoted.
      return expr.name;
    case "literal":
      return describeValue(expr.type, expr.value);
    case "negate":
      return `-${describe(expr.operand, true)}`;
    case "not":
      return wrap(`NOT ${describe(expr.operand, true)}`);
    case "logical":
      // A chain of ANDs (or ORs) reads flat: a AND b AND c.
      return wrap(
        flatten(expr, expr.op)
          .map((e) => describe(e, true))
          .join(` ${expr.op} `),
      );
    case "arithmetic":
    case "compare":
      return wrap(`${describe(expr.left, true)} ${expr.op} ${describe(expr.right, true)}`);
    case "isNull":
      return wrap(`${describe(expr.operand, true)} IS ${expr.negated ? "NOT " : ""}NULL`);
    case "isBoolean":
      return wrap(
        `${describe(expr.operand, true)} IS ${expr.negated ? "NOT " : ""}${expr.value ? "TRUE" : "FALSE"}`,
      );
    case "inList":
      return wrap(
        `${describe(expr.operand, true)} ${expr.negated ? "NOT " : ""}IN (${expr.list.map((e) => describe(e, false)).join(", ")})`,
      );
    case "like":
      return wrap(
        `${describe(expr.operand, true)} ${expr.negated ? "NOT " : ""}${expr.caseInsensitive ? "ILIKE" : "LIKE"} ${describe(expr.pattern, true)}`,
      );
    case "cast":
      return `CAST(${describe(expr.operand, false)} AS ${expr.type})`;
    case "case": {
      const parts = ["CASE"];
      for (const b of expr.branches)
        parts.push(`WHEN ${describe(b.when, false)} THEN ${describe(b.then, false)}`);
      if (expr.else !== undefined) parts.push(`ELSE ${describe(expr.else, false)}`);
      parts.push("END");
      return parts.join(" ");
    }
    case "call":
      return `${expr.fn.name}(${expr.args.map((a) => describe(a, false)).join(", ")})`;
    case "aggregate": {
      // first/last carry the timestamp key as a hidden second argument.
      const shown = expr.fn === "first" || expr.fn === "last" ? expr.args.slice(0, 1) : expr.args;
      const args =
        expr.fn === "count" && shown.length === 0 ? "*" : shown.map((a) => describe(a, false)).join(", ");
      return `${expr.fn}(${expr.distinct ? "DISTINCT " : ""}${args})`;
    }
  }
}

function flatten(expr: BoundExpr, op: "AND" | "OR"): BoundExpr[] {
  if (expr.kind === "logical" && expr.op === op)
    return [...flatten(expr.left, op), ...flatten(expr.right, op)];
  return [expr];
}

export function describeValue(type: ExprType, value: ScalarValue): string {
  if (value === null) return "NULL";
  switch (type) {
    case "timestamp":
      return `TIMESTAMP ${quoteString(formatTimestamp(value as number))}`;
    case "interval": {
      const { months, milliseconds } = value as Interval;
      return `INTERVAL '${months === 0 ? "" : `${months} months `}${milliseconds} ms'`.replace("' ", "'");
    }
    case "string":
      return quoteString(value as string);
    case "boolean":
      return value === true ? "TRUE" : "FALSE";
    case "varbinary":
      return `<${(value as Uint8Array).length} bytes>`;
    case "double":
    case "float":
      return formatNumber(value as number);
    default:
      // int32 as a number, int64 and uint64 as bigints.
      return typeof value === "number" || typeof value === "bigint" ? String(value) : JSON.stringify(value);
  }
}
