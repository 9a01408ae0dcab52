import type { Expr, SelectStatement, Statement } from "../../src/sql/index.js";
import { parseStatement } from "../../src/sql/index.js";

const POSITION_KEYS = new Set(["pos", "typePos", "valuePos"]);

/** A deep copy without source positions, to compare trees parsed from differently laid-out text. */
export function withoutPositions<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v: unknown) => withoutPositions(v)) as T;
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (!POSITION_KEYS.has(k)) out[k] = withoutPositions(v);
    return out as T;
  }
  return value;
}

/**
 * An expression as a fully parenthesised prefix form, e.g. `(OR a (AND b c))`, so tests can state
 * exactly how an expression was grouped.
 */
export function sexpr(e: Expr): string {
  switch (e.kind) {
    case "integer":
      return `${e.value}`;
    case "float":
      return `${e.value}f`;
    case "string":
      return `'${e.value}'`;
    case "boolean":
      return e.value ? "true" : "false";
    case "null":
      return "null";
    case "interval":
      return `(interval ${e.months}mo ${e.milliseconds}ms)`;
    case "timestamp":
      return `(timestamp ${e.value})`;
    case "column":
      return e.table === undefined ? e.name.value : `${e.table.value}.${e.name.value}`;
    case "function": {
      const args = e.wildcard ? ["*"] : e.args.map(sexpr);
      return `(${e.name.value}${e.distinct ? " distinct" : ""}${args.map((a) => ` ${a}`).join("")})`;
    }
    case "unary":
      return `(${e.op} ${sexpr(e.operand)})`;
    case "binary":
      return `(${e.op} ${sexpr(e.left)} ${sexpr(e.right)})`;
    case "is":
      return `(is${e.negated ? "-not" : ""} ${sexpr(e.expr)} ${e.test})`;
    case "inList":
      return `(${e.negated ? "not-" : ""}in ${sexpr(e.expr)} [${e.list.map(sexpr).join(" ")}])`;
    case "between":
      return `(${e.negated ? "not-" : ""}between ${sexpr(e.expr)} ${sexpr(e.low)} ${sexpr(e.high)})`;
    case "like":
      return `(${e.negated ? "not-" : ""}${e.caseInsensitive ? "ilike" : "like"} ${sexpr(e.expr)} ${sexpr(e.pattern)})`;
    case "cast":
      return `(cast ${sexpr(e.expr)} ${e.type})`;
    case "case": {
      const parts = ["case"];
      if (e.operand !== undefined) parts.push(sexpr(e.operand));
      for (const b of e.branches) parts.push(`[${sexpr(b.when)} ${sexpr(b.then)}]`);
      if (e.else !== undefined) parts.push(`else ${sexpr(e.else)}`);
      return `(${parts.join(" ")})`;
    }
  }
}

/** Parses a statement that must be of the given kind. */
export function parseAs<K extends Statement["kind"]>(sql: string, kind: K): Extract<Statement, { kind: K }> {
  const statement = parseStatement(sql);
  if (statement.kind !== kind) throw new Error(`expected a ${kind} statement, got ${statement.kind}`);
  return statement as Extract<Statement, { kind: K }>;
}

/** The first select item's expression of `SELECT <expr>`. */
export function selectExpr(exprSql: string): Expr {
  const select: SelectStatement = parseAs(`SELECT ${exprSql}`, "select");
  const item = select.items[0];
  if (item?.kind !== "expr") throw new Error("expected an expression item");
  return item.expr;
}
