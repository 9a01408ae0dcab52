/**
 * Binds expressions of the syntax tree: resolves column names (case-sensitive, as HoraeDB) to
 * input columns, functions to their definitions, checks operand types and inserts the implicit
 * casts, and folds constants. Every error names what it blames and points at it in the SQL.
 */
import type { Expr, FunctionCall, SourcePosition } from "../sql/index.js";
import { DataType } from "../table/data-type.js";
import { aggregateFunctionOf, aggregateSignature } from "./aggregate-functions.js";
import { literal, type BoundExpr, type ColumnExpr } from "./bound-expr.js";
import { castTo, commonTypeOf, unifyOperands } from "./coercion.js";
import { foldConstant } from "./constant-folding.js";
import { QueryPlanError, QueryPlanErrorCode as Code } from "./errors.js";
import { scalarFunction } from "./scalar-functions.js";
import { bigintFits, isFloating, isNumeric, type Field, type Interval } from "./types.js";

/** The table of FROM, as names resolve against it. */
export interface BindSource {
  readonly name: string;
  readonly alias: string | undefined;
  readonly fields: readonly Field[];
  /** Index of the timestamp key in `fields`: the order of first() and last(). */
  readonly timestampIndex: number;
}

export interface BindOptions {
  /** Undefined for SELECT without FROM. */
  readonly source: BindSource | undefined;
  /** The value of now(): the query's start, fixed for the whole statement. */
  readonly nowMs: number;
}

/** Whether aggregates may appear, and if not, the clause to name in the error. */
export type AggregatePolicy =
  { readonly allowed: true } | { readonly allowed: false; readonly clause: string };

export const AGGREGATES_ALLOWED: AggregatePolicy = { allowed: true };

interface BindState {
  readonly aggregates: AggregatePolicy;
  readonly insideAggregate: boolean;
}

const MAX_INTEGER_TEXT = 40;

export class ExpressionBinder {
  readonly #options: BindOptions;

  constructor(options: BindOptions) {
    this.#options = options;
  }

  /** Binds an expression of the select list or a clause. */
  bind(expr: Expr, aggregates: AggregatePolicy): BoundExpr {
    return this.#bind(expr, { aggregates, insideAggregate: false });
  }

  /** A boolean condition (WHERE, HAVING): NULL is read as a boolean NULL. */
  bindCondition(expr: Expr, clause: string, aggregates: AggregatePolicy): BoundExpr {
    const bound = this.bind(expr, aggregates);
    return this.#requireBoolean(bound, `${clause} condition`, expr.pos);
  }

  /** The column named `name` in FROM's table, if there is one. */
  findColumn(name: string): number | undefined {
    const index = this.#options.source?.fields.findIndex((f) => f.name === name);
    return index === undefined || index < 0 ? undefined : index;
  }

  columnExpr(index: number, pos: SourcePosition | undefined): ColumnExpr {
    const field = this.#options.source?.fields[index] as Field;
    return { kind: "column", index, name: field.name, type: field.type, pos };
  }

  #bind(expr: Expr, state: BindState): BoundExpr {
    switch (expr.kind) {
      case "integer":
        return this.#integer(expr.value, expr.pos);
      case "float":
        return literal(DataType.Double, expr.value, expr.pos);
      case "string":
        return literal(DataType.String, expr.value, expr.pos);
      case "boolean":
        return literal(DataType.Boolean, expr.value, expr.pos);
      case "null":
        return literal("null", null, expr.pos);
      case "interval":
        return literal("interval", { months: expr.months, milliseconds: expr.milliseconds }, expr.pos);
      case "timestamp":
        return literal(DataType.Timestamp, expr.value, expr.pos);
      case "column":
        return this.#column(expr.table?.value, expr.name.value, expr.pos, expr.table?.pos);
      case "function":
        return this.#function(expr, state);
      case "unary":
        return this.#unary(expr.op, this.#bind(expr.operand, state), expr.pos);
      case "binary": {
        const left = this.#bind(expr.left, state);
        const right = this.#bind(expr.right, state);
        if (expr.op === "AND" || expr.op === "OR") return this.#logical(expr.op, left, right, expr.pos);
        if (expr.op === "+" || expr.op === "-" || expr.op === "*" || expr.op === "/" || expr.op === "%") {
          return this.#arithmetic(expr.op, left, right, expr.pos);
        }
        return this.compare(expr.op, left, right, expr.pos);
      }
      case "is": {
        const operand = this.#bind(expr.expr, state);
        if (expr.test === "NULL") return { kind: "isNull", operand, negated: expr.negated, type: "boolean" };
        const checked = this.#requireBoolean(operand, `IS ${expr.test}`, expr.pos);
        return foldConstant({
          kind: "isBoolean",
          operand: checked,
          value: expr.test === "TRUE",
          negated: expr.negated,
          type: "boolean",
        });
      }
      case "inList":
        return this.#inList(
          this.#bind(expr.expr, state),
          expr.list.map((e) => this.#bind(e, state)),
          expr.negated,
          expr.pos,
        );
      case "between": {
        const operand = this.#bind(expr.expr, state);
        const low = this.#bind(expr.low, state);
        const high = this.#bind(expr.high, state);
        // x BETWEEN a AND b is x >= a AND x <= b; NOT BETWEEN is x < a OR x > b.
        if (expr.negated) {
          return this.#logical(
            "OR",
            this.compare("<", operand, low, expr.pos),
            this.compare(">", operand, high, expr.pos),
            expr.pos,
          );
        }
        return this.#logical(
          "AND",
          this.compare(">=", operand, low, expr.pos),
          this.compare("<=", operand, high, expr.pos),
          expr.pos,
        );
      }
      case "like": {
        const operand = this.#requireString(this.#bind(expr.expr, state), "LIKE", expr.expr.pos);
        const pattern = this.#requireString(this.#bind(expr.pattern, state), "LIKE", expr.pattern.pos);
        return foldConstant({
          kind: "like",
          operand,
          pattern,
          negated: expr.negated,
          caseInsensitive: expr.caseInsensitive,
          type: "boolean",
        });
      }
      case "cast": {
        const operand = this.#bind(expr.expr, state);
        return foldConstant(castTo(operand, expr.type, expr.pos));
      }
      case "case":
        return this.#case(expr, state);
    }
  }

  #integer(value: bigint, pos: SourcePosition): BoundExpr {
    if (bigintFits(value, DataType.Int64)) return literal(DataType.Int64, value, pos);
    if (bigintFits(value, DataType.UInt64)) return literal(DataType.UInt64, value, pos);
    const text = value.toString();
    const shown = text.length > MAX_INTEGER_TEXT ? `${text.slice(0, MAX_INTEGER_TEXT)}...` : text;
    throw new QueryPlanError(Code.InvalidValue, `integer ${shown} is out of range for int64 and uint64`, pos);
  }

  #column(
    qualifier: string | undefined,
    name: string,
    pos: SourcePosition,
    qualifierPos?: SourcePosition,
  ): ColumnExpr {
    const source = this.#options.source;
    if (source === undefined) {
      throw new QueryPlanError(
        Code.UnknownColumn,
        `column "${name}" does not exist (the query has no FROM)`,
        pos,
      );
    }
    if (qualifier !== undefined && qualifier !== source.name && qualifier !== source.alias) {
      throw new QueryPlanError(
        Code.UnknownQualifier,
        `table "${qualifier}" is not in FROM (it reads ${describeSource(source)})`,
        qualifierPos ?? pos,
      );
    }
    const index = this.findColumn(name);
    if (index === undefined) {
      const similar = source.fields.find((f) => f.name.toLowerCase() === name.toLowerCase());
      const hint = similar === undefined ? "" : `; did you mean "${similar.name}"?`;
      throw new QueryPlanError(
        Code.UnknownColumn,
        `column "${name}" does not exist in table ${source.name}${hint}`,
        pos,
      );
    }
    return this.columnExpr(index, pos);
  }

  #function(call: FunctionCall, state: BindState): BoundExpr {
    const name = call.name.value;
    const aggregate = aggregateFunctionOf(name);
    if (aggregate !== undefined) return this.#aggregate(aggregate, call, state);
    const lower = name.toLowerCase();
    if (call.wildcard || call.distinct) {
      throw new QueryPlanError(
        Code.InvalidArguments,
        `${call.wildcard ? "*" : "DISTINCT"} is only allowed in aggregate functions, not in ${lower}()`,
        call.pos,
      );
    }
    if (lower === "now") {
      if (call.args.length > 0) {
        throw new QueryPlanError(
          Code.InvalidArguments,
          `function now takes 0 arguments, got ${call.args.length}`,
          call.pos,
        );
      }
      return literal(DataType.Timestamp, this.#options.nowMs, call.pos);
    }
    const fn = scalarFunction(name);
    if (fn === undefined)
      throw new QueryPlanError(Code.UnknownFunction, `function ${name} does not exist`, call.name.pos);
    const args = call.args.map((a) => this.#bind(a, state));
    const signature = fn.signature(args);
    if ("message" in signature) {
      const at =
        signature.argument === undefined ? call.pos : (call.args[signature.argument]?.pos ?? call.pos);
      throw new QueryPlanError(Code.InvalidArguments, signature.message, at);
    }
    const cast = args.map((a, i) =>
      castTo(a, signature.argTypes[i] as DataType, call.args[i]?.pos ?? call.pos),
    );
    return foldConstant({ kind: "call", fn, args: cast, type: signature.returns });
  }

  #aggregate(
    fn: NonNullable<ReturnType<typeof aggregateFunctionOf>>,
    call: FunctionCall,
    state: BindState,
  ): BoundExpr {
    if (!state.aggregates.allowed) {
      throw new QueryPlanError(
        Code.MisplacedAggregate,
        `aggregate functions are not allowed in ${state.aggregates.clause}`,
        call.pos,
      );
    }
    if (state.insideAggregate) {
      throw new QueryPlanError(
        Code.MisplacedAggregate,
        "aggregate function calls cannot be nested",
        call.pos,
      );
    }
    if (call.wildcard && fn !== "count") {
      throw new QueryPlanError(Code.InvalidArguments, `${fn}(*) is not supported; only count(*)`, call.pos);
    }
    if (call.distinct && fn !== "count") {
      throw new QueryPlanError(
        Code.InvalidArguments,
        `DISTINCT is supported in count() only, not in ${fn}()`,
        call.pos,
      );
    }
    const expected = call.wildcard ? 0 : 1;
    if (call.args.length !== expected) {
      const shown = call.wildcard ? "*" : `${call.args.length} arguments`;
      throw new QueryPlanError(
        Code.InvalidArguments,
        `function ${fn} takes 1 argument, got ${shown}`,
        call.pos,
      );
    }
    const inner: BindState = { aggregates: state.aggregates, insideAggregate: true };
    const argAst = call.args[0];
    const arg = argAst === undefined ? undefined : this.#bind(argAst, inner);
    const what = argAst?.kind === "column" ? "column" : "value";
    const signature = aggregateSignature(fn, arg?.type, what);
    if (typeof signature === "string")
      throw new QueryPlanError(Code.TypeMismatch, signature, argAst?.pos ?? call.pos);
    const args: BoundExpr[] = [];
    if (arg !== undefined && signature.argType !== undefined)
      args.push(castTo(arg, signature.argType, argAst?.pos ?? call.pos));
    if (fn === "first" || fn === "last") {
      const source = this.#options.source;
      if (source === undefined) {
        throw new QueryPlanError(
          Code.InvalidArguments,
          `${fn}() needs a table with a timestamp key in FROM`,
          call.pos,
        );
      }
      args.push(this.columnExpr(source.timestampIndex, undefined));
    }
    return { kind: "aggregate", fn, args, distinct: call.distinct, type: signature.returns, pos: call.pos };
  }

  #unary(op: "-" | "+" | "NOT", operand: BoundExpr, pos: SourcePosition): BoundExpr {
    if (op === "NOT") {
      return foldConstant({
        kind: "not",
        operand: this.#requireBoolean(operand, "NOT", pos),
        type: "boolean",
      });
    }
    if (operand.type === "null") return operand;
    if (!isNumeric(operand.type)) {
      throw new QueryPlanError(Code.TypeMismatch, `unary ${op} cannot be applied to ${operand.type}`, pos);
    }
    if (op === "+") return operand;
    const type = operand.type === DataType.UInt64 ? DataType.Int64 : (operand.type as DataType);
    return foldConstant({ kind: "negate", operand: castTo(operand, type, pos), type });
  }

  #logical(op: "AND" | "OR", left: BoundExpr, right: BoundExpr, pos: SourcePosition): BoundExpr {
    const l = this.#requireBoolean(left, op, pos);
    const r = this.#requireBoolean(right, op, pos);
    return foldConstant({ kind: "logical", op, left: l, right: r, type: "boolean" });
  }

  /** `left op right` with both sides brought to a common type. */
  compare(
    op: "=" | "!=" | "<" | "<=" | ">" | ">=",
    left: BoundExpr,
    right: BoundExpr,
    pos: SourcePosition,
  ): BoundExpr {
    const unified = unifyOperands(left, right, pos);
    if (unified === undefined) {
      throw new QueryPlanError(Code.TypeMismatch, `cannot compare ${left.type} with ${right.type}`, pos);
    }
    return foldConstant({ kind: "compare", op, left: unified.left, right: unified.right, type: "boolean" });
  }

  #arithmetic(
    op: "+" | "-" | "*" | "/" | "%",
    left: BoundExpr,
    right: BoundExpr,
    pos: SourcePosition,
  ): BoundExpr {
    const mismatch = () =>
      new QueryPlanError(
        Code.TypeMismatch,
        `operator ${op} cannot be applied to ${left.type} and ${right.type}`,
        pos,
      );
    if (left.type === "interval" || right.type === "interval") {
      if (left.type === "interval" && right.type === "interval" && (op === "+" || op === "-")) {
        return intervalArithmetic(op, left, right);
      }
      if (op === "+" && left.type === "interval") return this.#arithmetic(op, right, left, pos);
      if ((op === "+" || op === "-") && (left.type === DataType.Timestamp || left.type === "null")) {
        const ts = castTo(left, DataType.Timestamp, pos);
        return foldConstant({ kind: "arithmetic", op, left: ts, right, type: DataType.Timestamp });
      }
      throw mismatch();
    }
    if (op === "-" && left.type === DataType.Timestamp && right.type === DataType.Timestamp) {
      return foldConstant({ kind: "arithmetic", op, left, right, type: DataType.Int64 });
    }
    const unified = unifyOperands(left, right, pos, true);
    if (unified === undefined || !isNumeric(unified.type)) {
      if (left.type === "null" && right.type === "null") return literal("null", null);
      throw mismatch();
    }
    // Integers compute in int64 (uint64 when both are), anything with a fraction in double.
    const type = isFloating(unified.type)
      ? DataType.Double
      : unified.type === DataType.UInt64
        ? DataType.UInt64
        : DataType.Int64;
    return foldConstant({
      kind: "arithmetic",
      op,
      left: castTo(unified.left, type, pos),
      right: castTo(unified.right, type, pos),
      type,
    });
  }

  #inList(operand: BoundExpr, list: BoundExpr[], negated: boolean, pos: SourcePosition): BoundExpr {
    let items: BoundExpr[] = [];
    let target = operand;
    let common = true;
    for (const item of list) {
      const unified = unifyOperands(operand, item, pos);
      if (unified === undefined) {
        throw new QueryPlanError(
          Code.TypeMismatch,
          `cannot compare ${operand.type} with ${item.type} in IN`,
          pos,
        );
      }
      if (unified.type !== operand.type && operand.type !== "null") common = false;
      items.push(unified.right);
      target = unified.left;
    }
    if (!common || operand.type === "null") {
      // The items do not all fit the operand's type: bring everything to one type.
      const type = commonTypeOf([operand.type, ...list.map((e) => e.type)]);
      if (type === undefined) {
        throw new QueryPlanError(
          Code.TypeMismatch,
          `IN list types do not match: ${[operand, ...list].map((e) => e.type).join(", ")}`,
          pos,
        );
      }
      target = castTo(operand, type, pos);
      items = list.map((e) => castTo(e, type, pos));
    } else {
      target = operand;
    }
    return foldConstant({ kind: "inList", operand: target, list: items, negated, type: "boolean" });
  }

  #case(expr: Extract<Expr, { kind: "case" }>, state: BindState): BoundExpr {
    const operand = expr.operand === undefined ? undefined : this.#bind(expr.operand, state);
    const whens = expr.branches.map((b) => {
      const when = this.#bind(b.when, state);
      return operand === undefined
        ? this.#requireBoolean(when, "CASE WHEN", b.when.pos)
        : this.compare("=", operand, when, b.when.pos);
    });
    const thens = expr.branches.map((b) => this.#bind(b.then, state));
    const otherwise = expr.else === undefined ? undefined : this.#bind(expr.else, state);
    const values = otherwise === undefined ? thens : [...thens, otherwise];
    const type = commonTypeOf(values.map((v) => v.type));
    if (type === undefined) {
      throw new QueryPlanError(
        Code.TypeMismatch,
        `CASE results have no common type: ${values.map((v) => v.type).join(", ")}`,
        expr.pos,
      );
    }
    const branches = whens.map((when, i) => ({ when, then: castTo(thens[i] as BoundExpr, type, expr.pos) }));
    const elseExpr = otherwise === undefined ? undefined : castTo(otherwise, type, expr.pos);
    // Branches whose condition is constant FALSE or NULL are dropped; a constant TRUE ends the list.
    const kept: { when: BoundExpr; then: BoundExpr }[] = [];
    for (const b of branches) {
      if (b.when.kind === "literal") {
        if (b.when.value !== true) continue;
        if (kept.length === 0) return b.then;
        return { kind: "case", branches: kept, else: b.then, type };
      }
      kept.push(b);
    }
    if (kept.length === 0) return elseExpr ?? literal(type, null);
    return { kind: "case", branches: kept, else: elseExpr, type };
  }

  #requireBoolean(expr: BoundExpr, what: string, pos: SourcePosition): BoundExpr {
    if (expr.type === DataType.Boolean) return expr;
    if (expr.type === "null") return literal(DataType.Boolean, null);
    throw new QueryPlanError(Code.TypeMismatch, `argument of ${what} must be boolean, not ${expr.type}`, pos);
  }

  #requireString(expr: BoundExpr, what: string, pos: SourcePosition): BoundExpr {
    if (expr.type === DataType.String) return expr;
    if (expr.type === "null") return literal(DataType.String, null);
    throw new QueryPlanError(Code.TypeMismatch, `${what} takes strings, not ${expr.type}`, pos);
  }
}

function intervalArithmetic(op: "+" | "-", left: BoundExpr, right: BoundExpr): BoundExpr {
  if (left.kind !== "literal" || right.kind !== "literal" || left.value === null || right.value === null) {
    return literal("interval", null);
  }
  const a = left.value as Interval;
  const b = right.value as Interval;
  const sign = op === "+" ? 1 : -1;
  return literal("interval", {
    months: a.months + sign * b.months,
    milliseconds: a.milliseconds + sign * b.milliseconds,
  });
}

function describeSource(source: BindSource): string {
  return source.alias === undefined ? source.name : `${source.name} AS ${source.alias}`;
}
