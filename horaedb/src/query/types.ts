/**
 * The types of expressions. Every value a query computes has one of the column types; two more
 * types exist only for literals while a statement is planned: the type of a bare NULL (which takes
 * the type of whatever it meets) and intervals (which only shift timestamps).
 */
import { DataType } from "../table/data-type.js";

/** The type of a bare `NULL` literal before it meets a typed operand. */
export const NULL_TYPE = "null";
/** The type of `INTERVAL '...'` literals. */
export const INTERVAL_TYPE = "interval";

export type ExprType = DataType | typeof NULL_TYPE | typeof INTERVAL_TYPE;

/** A length of time split as the SQL parser reads it: calendar months plus milliseconds. */
export interface Interval {
  readonly months: number;
  readonly milliseconds: number;
}

/**
 * One value: numbers for timestamp (ms), double, float and int32; bigint for int64 and uint64;
 * booleans, strings, byte arrays, intervals; null for NULL.
 */
export type ScalarValue = number | bigint | boolean | string | Uint8Array | Interval | null;

/** A named, typed column of a plan node's output. */
export interface Field {
  readonly name: string;
  readonly type: DataType;
  /**
   * Set when the column holds a table's TAG values as they are (a TAG column, selected or grouped
   * by): few distinct values, each repeated over many rows. Results send such columns
   * dictionary-encoded.
   */
  readonly tag?: true;
}

/** A field of `type` named `name`, a TAG column's values when `tag` is true. */
export function makeField(name: string, type: DataType, tag: boolean): Field {
  return tag ? { name, type, tag: true } : { name, type };
}

export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;
export const UINT64_MAX = 2n ** 64n - 1n;
export const INT32_MIN = -(2 ** 31);
export const INT32_MAX = 2 ** 31 - 1;

export function isNumeric(type: ExprType): boolean {
  return (
    type === DataType.Double ||
    type === DataType.Float ||
    type === DataType.Int64 ||
    type === DataType.Int32 ||
    type === DataType.UInt64
  );
}

export function isInteger(type: ExprType): boolean {
  return type === DataType.Int64 || type === DataType.Int32 || type === DataType.UInt64;
}

export function isFloating(type: ExprType): boolean {
  return type === DataType.Double || type === DataType.Float;
}

/** Types whose values live in bigint arrays (BigInt64Array / BigUint64Array). */
export function isBigIntBacked(type: ExprType): boolean {
  return type === DataType.Int64 || type === DataType.UInt64;
}

/**
 * Types whose values are JS numbers in typed arrays (timestamp, double, float, int32, and boolean
 * held as 0/1), so comparisons and keys need no conversion.
 */
export function isNumberBacked(type: ExprType): boolean {
  return (
    type === DataType.Timestamp ||
    type === DataType.Double ||
    type === DataType.Float ||
    type === DataType.Int32 ||
    type === DataType.Boolean
  );
}

/** Whether a bigint fits in the type's range (int32, int64, uint64). */
export function bigintFits(value: bigint, type: DataType): boolean {
  switch (type) {
    case DataType.Int32:
      return value >= BigInt(INT32_MIN) && value <= BigInt(INT32_MAX);
    case DataType.Int64:
      return value >= INT64_MIN && value <= INT64_MAX;
    case DataType.UInt64:
      return value >= 0n && value <= UINT64_MAX;
    default:
      return false;
  }
}
