/**
 * Arithmetic on columns: doubles in Float64Arrays, int64/uint64 as bigints with overflow checks
 * (an out-of-range result is an error, as in PostgreSQL), timestamps shifted by intervals.
 * Rows where an operand is NULL are NULL and are not computed, so a NULL divisor is not a
 * division by zero.
 */
import type { Column } from "../batch/column.js";
import type { ArithmeticOperator } from "../sql/index.js";
import { DataType, MAX_TIMESTAMP_MS, MIN_TIMESTAMP_MS } from "../table/data-type.js";
import { QueryExecutionError, QueryExecutionErrorCode } from "./errors.js";
import { INT64_MAX, INT64_MIN, UINT64_MAX, type Interval } from "./types.js";
import { bothValid } from "./vectors.js";

const divisionByZero = () =>
  new QueryExecutionError(QueryExecutionErrorCode.DivisionByZero, "division by zero");

const overflow = (type: DataType) =>
  new QueryExecutionError(QueryExecutionErrorCode.NumericOverflow, `${type} result out of range`);

/** `left op right` for two columns of the numeric result type (double, int64 or uint64). */
export function arithmeticColumns(
  op: ArithmeticOperator,
  left: Column,
  right: Column,
  type: DataType,
  n: number,
): Column {
  const validity = bothValid(left.validity, right.validity, n);
  if (type === DataType.Double) {
    return {
      type,
      values: doubleArithmetic(op, left.values as Float64Array, right.values as Float64Array, validity, n),
      validity,
    };
  }
  if (type === DataType.Int64 || type === DataType.UInt64) {
    const out = type === DataType.Int64 ? new BigInt64Array(n) : new BigUint64Array(n);
    const a = left.values as BigInt64Array | BigUint64Array;
    const b = right.values as BigInt64Array | BigUint64Array;
    const [min, max] = type === DataType.Int64 ? [INT64_MIN, INT64_MAX] : [0n, UINT64_MAX];
    for (let i = 0; i < n; i++) {
      if (validity !== null && validity[i] === 0) continue;
      const r = bigintOp(op, a[i] as bigint, b[i] as bigint);
      if (r < min || r > max) throw overflow(type);
      out[i] = r;
    }
    return { type, values: out, validity };
  }
  throw new TypeError(`no arithmetic on ${type}`);
}

function doubleArithmetic(
  op: ArithmeticOperator,
  a: Float64Array,
  b: Float64Array,
  validity: Uint8Array | null,
  n: number,
): Float64Array {
  const out = new Float64Array(n);
  switch (op) {
    case "+":
      for (let i = 0; i < n; i++) out[i] = (a[i] as number) + (b[i] as number);
      break;
    case "-":
      for (let i = 0; i < n; i++) out[i] = (a[i] as number) - (b[i] as number);
      break;
    case "*":
      for (let i = 0; i < n; i++) out[i] = (a[i] as number) * (b[i] as number);
      break;
    case "/":
    case "%":
      for (let i = 0; i < n; i++) {
        if (b[i] === 0 && (validity === null || validity[i] === 1)) throw divisionByZero();
        out[i] = op === "/" ? (a[i] as number) / (b[i] as number) : (a[i] as number) % (b[i] as number);
      }
      break;
  }
  return out;
}

function bigintOp(op: ArithmeticOperator, a: bigint, b: bigint): bigint {
  switch (op) {
    case "+":
      return a + b;
    case "-":
      return a - b;
    case "*":
      return a * b;
    case "/":
      if (b === 0n) throw divisionByZero();
      return a / b;
    case "%":
      if (b === 0n) throw divisionByZero();
      return a % b;
  }
}

/** Negation of a double, float, int32 or int64 column. */
export function negateColumn(column: Column, n: number): Column {
  const { type, validity } = column;
  if (type === DataType.Int64) {
    const a = column.values as BigInt64Array;
    const out = new BigInt64Array(n);
    for (let i = 0; i < n; i++) {
      if (validity !== null && validity[i] === 0) continue;
      if (a[i] === INT64_MIN) throw overflow(type);
      out[i] = -(a[i] as bigint);
    }
    return { type, values: out, validity };
  }
  if (type === DataType.Int32) {
    const a = column.values as Int32Array;
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      if (a[i] === -2147483648 && (validity === null || validity[i] === 1)) throw overflow(type);
      out[i] = -(a[i] as number);
    }
    return { type, values: out, validity };
  }
  const a = column.values as Float64Array | Float32Array;
  const out = type === DataType.Float ? new Float32Array(n) : new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = -(a[i] as number);
  return { type, values: out, validity };
}

/** Timestamps moved by `sign` times an interval; months move the calendar date (clamped to month end). */
export function shiftTimestamps(column: Column, interval: Interval, sign: 1 | -1, n: number): Column {
  const a = column.values as Float64Array;
  const out = new Float64Array(n);
  const { validity } = column;
  const months = sign * interval.months;
  const ms = sign * interval.milliseconds;
  for (let i = 0; i < n; i++) {
    if (validity !== null && validity[i] === 0) continue;
    const t = months === 0 ? (a[i] as number) : addMonths(a[i] as number, months);
    const shifted = t + ms;
    if (shifted > MAX_TIMESTAMP_MS || shifted < MIN_TIMESTAMP_MS) throw overflow(DataType.Timestamp);
    out[i] = shifted;
  }
  return { type: DataType.Timestamp, values: out, validity };
}

/** The timestamp `months` calendar months later, the day clamped to the target month's length (UTC). */
export function addMonths(ms: number, months: number): number {
  const date = new Date(ms);
  const day = date.getUTCDate();
  date.setUTCDate(1);
  date.setUTCMonth(date.getUTCMonth() + months);
  const target = new Date(date.getTime());
  target.setUTCMonth(target.getUTCMonth() + 1, 0);
  date.setUTCDate(Math.min(day, target.getUTCDate()));
  return date.getTime();
}

/** `left - right` of two timestamp columns, as int64 milliseconds. */
export function subtractTimestamps(left: Column, right: Column, n: number): Column {
  const validity = bothValid(left.validity, right.validity, n);
  const a = left.values as Float64Array;
  const b = right.values as Float64Array;
  const out = new BigInt64Array(n);
  for (let i = 0; i < n; i++) {
    if (validity !== null && validity[i] === 0) continue;
    out[i] = BigInt((a[i] as number) - (b[i] as number));
  }
  return { type: DataType.Int64, values: out, validity };
}
