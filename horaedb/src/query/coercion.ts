/**
 * Implicit conversions: which common type two operands are compared or computed in, and the casts
 * that bring them there. A literal adapts to the other operand when its value fits (so
 * `int32_col = 5` compares int32s and `ts >= '2024-01-01'` compares timestamps); otherwise both
 * sides widen (integers to int64, anything with a fraction to double).
 */
import type { SourcePosition } from "../sql/index.js";
import { DataType } from "../table/data-type.js";
import { literal, type BoundExpr, type LiteralExpr } from "./bound-expr.js";
import { canCast, castColumn } from "./cast.js";
import { QueryExecutionError, QueryPlanError, QueryPlanErrorCode } from "./errors.js";
import { isFloating, isInteger, isNumeric, type ExprType } from "./types.js";
import { broadcast, scalarAt } from "./vectors.js";

/** `expr` as type `to`: unchanged, a literal converted now, or a cast node. */
export function castTo(expr: BoundExpr, to: DataType, pos: SourcePosition): BoundExpr {
  if (expr.type === to) return expr;
  if (!canCast(expr.type, to)) {
    throw new QueryPlanError(QueryPlanErrorCode.TypeMismatch, `cannot cast ${expr.type} to ${to}`, pos);
  }
  if (expr.kind === "literal") return castLiteral(expr, to, expr.pos ?? pos);
  return { kind: "cast", operand: expr, type: to };
}

/** A literal converted to `to` now; a value that does not convert is blamed on the literal. */
export function castLiteral(lit: LiteralExpr, to: DataType, pos: SourcePosition): LiteralExpr {
  if (lit.value === null) return literal(to, null, lit.pos);
  const from = lit.type as DataType;
  try {
    const column = castColumn(broadcast(from, lit.value, 1), to, 1);
    return literal(to, scalarAt(column, 0), lit.pos);
  } catch (error) {
    if (error instanceof QueryExecutionError) {
      throw new QueryPlanError(QueryPlanErrorCode.InvalidValue, error.message, pos);
    }
    throw error;
  }
}

/**
 * The literal as type `target` when the conversion keeps its value (integers that fit, numbers
 * into doubles, text that parses), else undefined. Only numbers and text adapt. In arithmetic a
 * double literal never becomes an integer, even a whole one: `n / 10.0` divides in double.
 */
function adaptLiteral(
  lit: LiteralExpr,
  target: DataType,
  operatorPos: SourcePosition,
  forArithmetic: boolean,
): LiteralExpr | undefined {
  if (lit.value === null || lit.type === target) return undefined;
  const pos = lit.pos ?? operatorPos;
  if (lit.type === DataType.String) {
    // Text meeting a typed operand is read as that type (PostgreSQL's untyped literals).
    if (target === DataType.String || target === DataType.Varbinary) return undefined;
    return castLiteral(lit, target, pos);
  }
  if (!isNumeric(lit.type)) return undefined;
  if (isFloating(target)) {
    // Into float32 only when the value survives the rounding: `float_col * 0.1` computes in
    // double with 0.1 itself, not with 0.1 rounded to float32.
    if (target === DataType.Float && !exactInFloat32(lit.value)) return undefined;
    return castLiteral(lit, target, pos);
  }
  if (isInteger(target) || target === DataType.Timestamp) {
    if (forArithmetic && isFloating(lit.type)) return undefined;
    const value = lit.value;
    if (typeof value === "number" && !Number.isInteger(value)) return undefined;
    try {
      return castLiteral(lit, target, pos);
    } catch {
      return undefined; // out of the target's range: widen both sides instead
    }
  }
  return undefined;
}

function exactInFloat32(value: unknown): boolean {
  if (typeof value === "number") return Number.isNaN(value) || Math.fround(value) === value;
  if (typeof value === "bigint") {
    const n = Number(value);
    return Math.fround(n) === n && BigInt(n) === value;
  }
  return false;
}

/** Wider of two numeric types: int32 stays int32 in comparisons, any fraction makes double. */
function numericSupertype(a: DataType, b: DataType, forArithmetic: boolean): DataType {
  if (isFloating(a) || isFloating(b)) return DataType.Double;
  if (a === DataType.UInt64 && b === DataType.UInt64) return DataType.UInt64;
  // uint64 against a signed integer: no integer type holds both ranges; compare as doubles
  // rather than fail on values above int64's range.
  if (!forArithmetic && (a === DataType.UInt64 || b === DataType.UInt64)) return DataType.Double;
  if (!forArithmetic && a === DataType.Int32 && b === DataType.Int32) return DataType.Int32;
  return DataType.Int64;
}

/** Both operands, converted to one type, or undefined when they have none in common. */
export interface UnifiedOperands {
  readonly left: BoundExpr;
  readonly right: BoundExpr;
  readonly type: DataType;
}

/**
 * The operands of a comparison (or IN, BETWEEN, CASE, coalesce) converted to one type. Undefined
 * when the types do not compare (e.g. string with double).
 */
export function unifyOperands(
  left: BoundExpr,
  right: BoundExpr,
  pos: SourcePosition,
  forArithmetic = false,
): UnifiedOperands | undefined {
  const lt = left.type;
  const rt = right.type;
  if (lt === "interval" || rt === "interval") return undefined;
  if (lt === rt) return lt === "null" ? { left, right, type: DataType.String } : { left, right, type: lt };
  if (lt === "null") return { left: castTo(left, rt as DataType, pos), right, type: rt as DataType };
  if (rt === "null") return { left, right: castTo(right, lt, pos), type: lt };

  // A literal adapts to the other operand; of two literals, either may adapt to the other.
  if (right.kind === "literal") {
    const adapted = adaptLiteral(right, lt, pos, forArithmetic);
    if (adapted !== undefined) return { left, right: adapted, type: lt };
  }
  if (left.kind === "literal") {
    const adapted = adaptLiteral(left, rt, pos, forArithmetic);
    if (adapted !== undefined) return { left: adapted, right, type: rt };
  }
  const type = commonType(lt, rt, forArithmetic);
  if (type === undefined) return undefined;
  return { left: castTo(left, type, pos), right: castTo(right, type, pos), type };
}

function commonType(a: DataType, b: DataType, forArithmetic: boolean): DataType | undefined {
  if (isNumeric(a) && isNumeric(b)) return numericSupertype(a, b, forArithmetic);
  // Integers next to timestamps are milliseconds.
  if ((a === DataType.Timestamp && isInteger(b)) || (b === DataType.Timestamp && isInteger(a))) {
    return forArithmetic ? undefined : DataType.Timestamp;
  }
  return undefined;
}

/** The type all of `types` convert to (for CASE branches and coalesce), if there is one. */
export function commonTypeOf(types: readonly ExprType[]): DataType | undefined {
  let result: DataType | undefined;
  for (const t of types) {
    if (t === "null") continue;
    if (t === "interval") return undefined;
    if (result === undefined || result === t) {
      result = t;
      continue;
    }
    const next = commonType(result, t, false);
    if (next === undefined) return undefined;
    result = next;
  }
  return result ?? DataType.String;
}
