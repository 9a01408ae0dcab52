/**
 * Expressions after planning: every name resolved to a column index of the input, every operand
 * of the type its operator expects (implicit casts are explicit `cast` nodes), constants folded.
 * The executor evaluates these column-at-a-time.
 */
import type { ArithmeticOperator, ComparisonOperator, SourcePosition } from "../sql/index.js";
import type { DataType } from "../table/data-type.js";
import type { AggregateFunctionName } from "./aggregate-functions.js";
import type { ScalarFunction } from "./scalar-functions.js";
import type { ExprType, ScalarValue } from "./types.js";

/** The column at `index` of the input batch. `pos` is where the SQL named it. */
export interface ColumnExpr {
  readonly kind: "column";
  readonly index: number;
  readonly name: string;
  readonly type: DataType;
  readonly pos: SourcePosition | undefined;
}

export interface LiteralExpr {
  readonly kind: "literal";
  readonly type: ExprType;
  readonly value: ScalarValue;
  /** Where the SQL wrote it, when it was written rather than computed. */
  readonly pos?: SourcePosition | undefined;
}

/** Arithmetic negation. */
export interface NegateExpr {
  readonly kind: "negate";
  readonly operand: BoundExpr;
  readonly type: DataType;
}

/** Boolean NOT (NULL stays NULL). */
export interface NotExpr {
  readonly kind: "not";
  readonly operand: BoundExpr;
  readonly type: "boolean";
}

/**
 * `+ - * / %` on operands of one numeric type (the result type), or timestamp +/- interval,
 * or timestamp - timestamp (int64 milliseconds).
 */
export interface ArithmeticExpr {
  readonly kind: "arithmetic";
  readonly op: ArithmeticOperator;
  readonly left: BoundExpr;
  readonly right: BoundExpr;
  readonly type: ExprType;
}

/** A comparison of two operands of the same type. */
export interface CompareExpr {
  readonly kind: "compare";
  readonly op: ComparisonOperator;
  readonly left: BoundExpr;
  readonly right: BoundExpr;
  readonly type: "boolean";
}

/** AND / OR with SQL's three-valued logic. */
export interface LogicalExpr {
  readonly kind: "logical";
  readonly op: "AND" | "OR";
  readonly left: BoundExpr;
  readonly right: BoundExpr;
  readonly type: "boolean";
}

export interface IsNullExpr {
  readonly kind: "isNull";
  readonly operand: BoundExpr;
  readonly negated: boolean;
  readonly type: "boolean";
}

/** `x IS [NOT] TRUE | FALSE`: never NULL. */
export interface IsBooleanExpr {
  readonly kind: "isBoolean";
  readonly operand: BoundExpr;
  readonly value: boolean;
  readonly negated: boolean;
  readonly type: "boolean";
}

/** `x [NOT] IN (...)`; the list's items have the operand's type. */
export interface InListExpr {
  readonly kind: "inList";
  readonly operand: BoundExpr;
  readonly list: readonly BoundExpr[];
  readonly negated: boolean;
  readonly type: "boolean";
}

/** `x [NOT] [I]LIKE pattern` on strings. */
export interface LikeExpr {
  readonly kind: "like";
  readonly operand: BoundExpr;
  readonly pattern: BoundExpr;
  readonly negated: boolean;
  readonly caseInsensitive: boolean;
  readonly type: "boolean";
}

export interface CastExpr {
  readonly kind: "cast";
  readonly operand: BoundExpr;
  readonly type: DataType;
}

/** `CASE WHEN c THEN v ... ELSE e END`; a branch's value is computed only for the rows it takes. */
export interface CaseExpr {
  readonly kind: "case";
  readonly branches: readonly { readonly when: BoundExpr; readonly then: BoundExpr }[];
  readonly else: BoundExpr | undefined;
  readonly type: DataType;
}

/** A call of a scalar function. */
export interface CallExpr {
  readonly kind: "call";
  readonly fn: ScalarFunction;
  readonly args: readonly BoundExpr[];
  readonly type: DataType;
}

/**
 * An aggregate call as written in the select list, HAVING or ORDER BY. The planner replaces it by
 * a reference to the aggregation's output column, so the evaluator never sees one.
 */
export interface AggregateExpr {
  readonly kind: "aggregate";
  readonly fn: AggregateFunctionName;
  /** count(*) has none; first/last carry the table's timestamp column as a second argument. */
  readonly args: readonly BoundExpr[];
  readonly distinct: boolean;
  readonly type: DataType;
  readonly pos: SourcePosition;
}

export type BoundExpr =
  | ColumnExpr
  | LiteralExpr
  | NegateExpr
  | NotExpr
  | ArithmeticExpr
  | CompareExpr
  | LogicalExpr
  | IsNullExpr
  | IsBooleanExpr
  | InListExpr
  | LikeExpr
  | CastExpr
  | CaseExpr
  | CallExpr
  | AggregateExpr;

/** The direct sub-expressions, in evaluation order. */
export function childrenOf(expr: BoundExpr): BoundExpr[] {
  switch (expr.kind) {
    case "column":
    case "literal":
      return [];
    case "negate":
    case "not":
    case "isNull":
    case "isBoolean":
    case "cast":
      return [expr.operand];
    case "arithmetic":
    case "compare":
    case "logical":
      return [expr.left, expr.right];
    case "inList":
      return [expr.operand, ...expr.list];
    case "like":
      return [expr.operand, expr.pattern];
    case "case": {
      const out: BoundExpr[] = [];
      for (const b of expr.branches) out.push(b.when, b.then);
      if (expr.else !== undefined) out.push(expr.else);
      return out;
    }
    case "call":
    case "aggregate":
      return [...expr.args];
  }
}

/** The expression with each direct child replaced by `map(child)` (the node itself when it has none). */
export function mapChildren(expr: BoundExpr, map: (e: BoundExpr) => BoundExpr): BoundExpr {
  switch (expr.kind) {
    case "column":
    case "literal":
      return expr;
    case "negate":
    case "not":
    case "isNull":
    case "isBoolean":
    case "cast":
      return { ...expr, operand: map(expr.operand) };
    case "arithmetic":
    case "compare":
    case "logical":
      return { ...expr, left: map(expr.left), right: map(expr.right) };
    case "inList":
      return { ...expr, operand: map(expr.operand), list: expr.list.map(map) };
    case "like":
      return { ...expr, operand: map(expr.operand), pattern: map(expr.pattern) };
    case "case":
      return {
        ...expr,
        branches: expr.branches.map((b) => ({ when: map(b.when), then: map(b.then) })),
        else: expr.else === undefined ? undefined : map(expr.else),
      };
    case "call":
    case "aggregate":
      return { ...expr, args: expr.args.map(map) };
  }
}

/** Rebuilds `expr` bottom-up: `visit` sees each node with its children already rewritten. */
export function transformExpr(expr: BoundExpr, visit: (e: BoundExpr) => BoundExpr): BoundExpr {
  return visit(mapChildren(expr, (child) => transformExpr(child, visit)));
}

/** Calls `visit` on every node, parents before children. */
export function walkExpr(expr: BoundExpr, visit: (e: BoundExpr) => void): void {
  visit(expr);
  for (const child of childrenOf(expr)) walkExpr(child, visit);
}

export function containsAggregate(expr: BoundExpr): boolean {
  let found = false;
  walkExpr(expr, (e) => (found ||= e.kind === "aggregate"));
  return found;
}

/** Indices of the input columns the expression reads. */
export function referencedColumns(expr: BoundExpr, into: Set<number> = new Set()): Set<number> {
  walkExpr(expr, (e) => {
    if (e.kind === "column") into.add(e.index);
  });
  return into;
}

/**
 * A canonical text of the expression, equal for structurally equal expressions (positions and
 * names aside). Used to match GROUP BY expressions in the select list and to share aggregates.
 */
export function exprKey(expr: BoundExpr): string {
  switch (expr.kind) {
    case "column":
      return `#${expr.index}`;
    case "literal":
      return `${expr.type}:${literalKey(expr.value)}`;
    case "negate":
      return `neg(${exprKey(expr.operand)})`;
    case "not":
      return `not(${exprKey(expr.operand)})`;
    case "arithmetic":
    case "compare":
    case "logical":
      return `(${exprKey(expr.left)} ${expr.op} ${exprKey(expr.right)})`;
    case "isNull":
      return `isnull(${exprKey(expr.operand)},${expr.negated})`;
    case "isBoolean":
      return `isbool(${exprKey(expr.operand)},${expr.value},${expr.negated})`;
    case "inList":
      return `in(${exprKey(expr.operand)},${expr.negated},[${expr.list.map(exprKey).join(",")}])`;
    case "like":
      return `like(${exprKey(expr.operand)},${exprKey(expr.pattern)},${expr.negated},${expr.caseInsensitive})`;
    case "cast":
      return `cast(${exprKey(expr.operand)} as ${expr.type})`;
    case "case":
      return `case(${expr.branches.map((b) => `${exprKey(b.when)}->${exprKey(b.then)}`).join(";")};${expr.else === undefined ? "" : exprKey(expr.else)})`;
    case "call":
      return `${expr.fn.name}(${expr.args.map(exprKey).join(",")})`;
    case "aggregate":
      return `agg:${expr.fn}(${expr.distinct ? "distinct " : ""}${expr.args.map(exprKey).join(",")})`;
  }
}

function literalKey(value: ScalarValue): string {
  if (value === null) return "null";
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "string") return JSON.stringify(value);
  if (value instanceof Uint8Array) return `x${Buffer.from(value).toString("hex")}`;
  if (typeof value === "object") return `${value.months}mon${value.milliseconds}ms`;
  return String(value);
}

export function literal(type: ExprType, value: ScalarValue, pos?: SourcePosition): LiteralExpr {
  return { kind: "literal", type, value, pos };
}
