/**
 * CAST between column types, explicit or implied by an operator. A value that cannot be converted
 * (text that is not a number, a number out of the target's range) is an error naming the value;
 * NULL stays NULL.
 */
import { allocateValues, type Column } from "../batch/column.js";
import { parseTimestampText } from "../sql/index.js";
import { DataType, MAX_TIMESTAMP_MS, MIN_TIMESTAMP_MS } from "../table/data-type.js";
import { QueryExecutionError, QueryExecutionErrorCode } from "./errors.js";
import { INT32_MAX, INT32_MIN, bigintFits, isNumeric, type ExprType } from "./types.js";
import type { IndexedValues } from "./vectors.js";

/** Whether values of `from` can be cast to `to` at all (each value may still fail). */
export function canCast(from: ExprType, to: DataType): boolean {
  if (from === to || from === "null") return true;
  if (from === "interval") return false;
  if (from === DataType.String || to === DataType.String) return true;
  if (from === DataType.Varbinary || to === DataType.Varbinary) return false;
  if (from === DataType.Boolean) return isNumeric(to);
  if (to === DataType.Boolean) return isNumeric(from);
  // Numbers and timestamps (milliseconds) convert to each other.
  return true;
}

const invalid = (value: unknown, to: DataType, why = "") =>
  new QueryExecutionError(
    QueryExecutionErrorCode.InvalidCast,
    `cannot cast ${describeValue(value)} to ${to}${why === "" ? "" : `: ${why}`}`,
  );

function describeValue(value: unknown): string {
  if (typeof value === "string") return `'${value.length > 40 ? `${value.slice(0, 40)}...` : value}'`;
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  return String(value);
}

/** Converts one non-null value as held in a `from` column to how a `to` column holds it. */
type Converter = (value: unknown) => unknown;

/** The column converted to `to`; the column itself when it already has that type. */
export function castColumn(column: Column, to: DataType, n: number): Column {
  if (column.type === to) return column;
  const convert = converter(column.type, to);
  const src = column.values as IndexedValues;
  const out = allocateValues(to, n);
  const dst = out as IndexedValues;
  const { validity } = column;
  for (let i = 0; i < n; i++) {
    if (validity !== null && validity[i] === 0) continue;
    dst[i] = convert(src[i]);
  }
  return { type: to, values: out, validity };
}

function converter(from: DataType, to: DataType): Converter {
  switch (from) {
    case DataType.String:
      return fromString(to);
    case DataType.Varbinary:
      if (to === DataType.String) return (v) => Buffer.from(v as Uint8Array).toString("utf8");
      break;
    case DataType.Boolean:
      if (to === DataType.String) return (v) => (v === 1 ? "true" : "false");
      if (to === DataType.Int64 || to === DataType.UInt64) return (v) => BigInt(v as number);
      if (isNumeric(to)) return (v) => v;
      break;
    case DataType.Int64:
    case DataType.UInt64:
      return fromBigInt(to);
    default:
      return fromNumber(from, to);
  }
  throw new TypeError(`no cast from ${from} to ${to}`);
}

function fromBigInt(to: DataType): Converter {
  switch (to) {
    case DataType.String:
      return (v) => String(v);
    case DataType.Boolean:
      return (v) => (v === 0n ? 0 : 1);
    case DataType.Double:
    case DataType.Float:
      return (v) => Number(v);
    case DataType.Timestamp:
      return (v) => {
        const ms = Number(v);
        if (ms > MAX_TIMESTAMP_MS || ms < MIN_TIMESTAMP_MS) throw invalid(v, to, "out of range");
        return ms;
      };
    default:
      return (v) => {
        if (!bigintFits(v as bigint, to)) throw invalid(v, to, "out of range");
        return to === DataType.Int32 ? Number(v) : v;
      };
  }
}

/** From timestamp, double, float or int32 (all JS numbers). */
function fromNumber(from: DataType, to: DataType): Converter {
  switch (to) {
    case DataType.String:
      return from === DataType.Timestamp
        ? (v) => formatTimestamp(v as number)
        : (v) => formatNumber(v as number);
    case DataType.Boolean:
      return (v) => (v === 0 ? 0 : 1);
    case DataType.Double:
    case DataType.Float:
      return (v) => v;
    case DataType.Timestamp:
      return (v) => {
        const ms = Math.trunc(v as number);
        if (!(ms <= MAX_TIMESTAMP_MS && ms >= MIN_TIMESTAMP_MS)) throw invalid(v, to, "out of range");
        return ms;
      };
    case DataType.Int32:
      return (v) => {
        const x = Math.trunc(v as number);
        if (!(x >= INT32_MIN && x <= INT32_MAX)) throw invalid(v, to, "out of range");
        return x;
      };
    default:
      // int64 / uint64
      return (v) => {
        const x = v as number;
        if (!Number.isFinite(x)) throw invalid(v, to, "out of range");
        const big = BigInt(Math.trunc(x));
        if (!bigintFits(big, to)) throw invalid(v, to, "out of range");
        return big;
      };
  }
}

const DECIMAL = /^[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|infinity|inf|nan)$/i;
const INTEGER = /^[+-]?\d+$/;
const TRUE_TEXT = new Set(["true", "t", "yes", "y", "on", "1"]);
const FALSE_TEXT = new Set(["false", "f", "no", "n", "off", "0"]);

function fromString(to: DataType): Converter {
  switch (to) {
    case DataType.Double:
    case DataType.Float:
      return (v) => {
        const text = (v as string).trim();
        if (!DECIMAL.test(text)) throw invalid(v, to);
        const lower = text.toLowerCase().replace(/^[+]/, "");
        if (lower === "nan") return NaN;
        if (lower.endsWith("inf") || lower.endsWith("infinity"))
          return lower.startsWith("-") ? -Infinity : Infinity;
        return Number(text);
      };
    case DataType.Int32:
    case DataType.Int64:
    case DataType.UInt64:
      return (v) => {
        const text = (v as string).trim();
        if (!INTEGER.test(text)) throw invalid(v, to);
        const big = BigInt(text);
        if (!bigintFits(big, to)) throw invalid(v, to, "out of range");
        return to === DataType.Int32 ? Number(big) : big;
      };
    case DataType.Timestamp:
      return (v) => {
        const ms = parseTimestampText(v as string);
        if (ms === undefined) throw invalid(v, to, "expected YYYY-MM-DD[ HH:MM[:SS[.fff]]][Z|±HH:MM]");
        return ms;
      };
    case DataType.Boolean:
      return (v) => {
        const text = (v as string).trim().toLowerCase();
        if (TRUE_TEXT.has(text)) return 1;
        if (FALSE_TEXT.has(text)) return 0;
        throw invalid(v, to);
      };
    case DataType.Varbinary:
      return (v) => new Uint8Array(Buffer.from(v as string, "utf8"));
    case DataType.String:
      return (v) => v;
  }
}

/** A timestamp as ISO-8601 text in UTC, e.g. `2024-01-01T00:00:00.000Z`. */
export function formatTimestamp(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? String(ms) : date.toISOString();
}

/** A double as text: integral values without a fraction, as JavaScript prints numbers. */
export function formatNumber(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "Infinity";
  if (value === -Infinity) return "-Infinity";
  return String(value);
}
