/**
 * Recognises time bucketing in bound expressions: `time_bucket(ts, 'PT1M')` and
 * `date_trunc('hour', ts)` over a timestamp column. Aggregation computes such group keys straight
 * from the timestamps, and ORDER BY such a key with LIMIT can read a narrower time range.
 */
import { DataType } from "../table/data-type.js";
import type { BoundExpr, ColumnExpr } from "./bound-expr.js";
import { constantText } from "./scalar-functions.js";
import {
  dateTruncBucketing,
  isDateTruncUnit,
  parseBucketPeriod,
  timeBucketing,
  type TimeBucketing,
} from "./time-functions.js";

/** A bucketing function applied to a timestamp column of the input. */
export interface BucketKey {
  readonly column: ColumnExpr;
  readonly bucketing: TimeBucketing;
}

/** The bucketing `expr` computes, or undefined when it is not time_bucket/date_trunc of a column. */
export function bucketKeyOf(expr: BoundExpr): BucketKey | undefined {
  if (expr.kind !== "call") return undefined;
  if (expr.fn.name === "time_bucket") {
    const [ts, period] = expr.args;
    const text = constantText(period);
    if (ts?.kind !== "column" || ts.type !== DataType.Timestamp || text === undefined) return undefined;
    const ms = parseBucketPeriod(text);
    return typeof ms === "number" ? { column: ts, bucketing: timeBucketing(text, ms) } : undefined;
  }
  if (expr.fn.name === "date_trunc") {
    const [unit, ts] = expr.args;
    const text = constantText(unit)?.toLowerCase();
    if (ts?.kind !== "column" || ts.type !== DataType.Timestamp || text === undefined) return undefined;
    return isDateTruncUnit(text) ? { column: ts, bucketing: dateTruncBucketing(text) } : undefined;
  }
  return undefined;
}
