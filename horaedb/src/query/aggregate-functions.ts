/**
 * The aggregate functions: which names exist and what they take and return. Their per-group
 * state lives in `accumulators.ts`.
 */
import { DataType } from "../table/data-type.js";
import { isInteger, isNumeric, type ExprType } from "./types.js";

export const AGGREGATE_FUNCTIONS = ["count", "sum", "avg", "min", "max", "first", "last"] as const;
export type AggregateFunctionName = (typeof AGGREGATE_FUNCTIONS)[number];

export function aggregateFunctionOf(name: string): AggregateFunctionName | undefined {
  const lower = name.toLowerCase();
  return (AGGREGATE_FUNCTIONS as readonly string[]).includes(lower)
    ? (lower as AggregateFunctionName)
    : undefined;
}

/** The type the argument is cast to before accumulation, and the result type. */
export interface AggregateSignature {
  readonly argType: DataType | undefined;
  readonly returns: DataType;
}

/**
 * The signature of `fn` over an argument of type `arg` (undefined for count(*)), or a message
 * saying why the argument does not fit; `what` says what the argument is ("column", "value").
 */
export function aggregateSignature(
  fn: AggregateFunctionName,
  arg: ExprType | undefined,
  what: string,
): AggregateSignature | string {
  if (fn === "count") {
    if (arg === "interval") return `${fn}() of an interval is not supported`;
    // count(NULL) counts nothing; its argument is a column of NULLs.
    const argType = arg === undefined ? undefined : arg === "null" ? DataType.String : arg;
    return { argType, returns: DataType.Int64 };
  }
  if (arg === undefined) return `${fn}() takes one argument`;
  if (arg === "interval") return `${fn}() of an interval is not supported`;
  const type = arg === "null" ? DataType.Double : arg;
  switch (fn) {
    case "sum":
      if (!isNumeric(type)) return `${fn}() of a ${type} ${what} is not supported; it takes numbers`;
      if (type === DataType.UInt64) return { argType: type, returns: type };
      if (isInteger(type)) return { argType: DataType.Int64, returns: DataType.Int64 };
      return { argType: DataType.Double, returns: DataType.Double };
    case "avg":
      if (!isNumeric(type)) return `${fn}() of a ${type} ${what} is not supported; it takes numbers`;
      return { argType: DataType.Double, returns: DataType.Double };
    case "min":
    case "max":
      if (type === DataType.Varbinary) return `${fn}() of a varbinary ${what} is not supported`;
      return { argType: type, returns: type };
    case "first":
    case "last":
      return { argType: type, returns: type };
  }
}
