/**
 * Time bucketing: `time_bucket(ts, 'PT1M')` with ISO-8601 durations of a fixed length, and
 * `date_trunc('hour', ts)` with calendar units. Both work in UTC and return timestamps.
 */
import type { Column } from "../batch/column.js";
import { DataType } from "../table/data-type.js";

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;

const DURATION =
  /^P(?:(\d+)W|(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d{1,3})?)S)?)?)$/i;

/**
 * The length in milliseconds of an ISO-8601 duration (`PT1S`, `PT5M`, `PT1H`, `P1D`, `P1W`,
 * `P1DT12H`), or a reason it cannot be a bucket width: malformed, zero, or of calendar months or
 * years (which have no fixed length).
 */
export function parseBucketPeriod(text: string): number | string {
  const m = DURATION.exec(text.trim());
  if (m === null || text.trim().toUpperCase() === "P" || /T$/i.test(text.trim())) {
    return `'${text}' is not an ISO-8601 duration such as PT1M, PT1H or P1D`;
  }
  if (m[2] !== undefined || m[3] !== undefined) {
    return `'${text}' has years or months, which have no fixed length; use days or weeks`;
  }
  const ms =
    Number(m[1] ?? 0) * WEEK +
    Number(m[4] ?? 0) * DAY +
    Number(m[5] ?? 0) * HOUR +
    Number(m[6] ?? 0) * MINUTE +
    Math.round(Number(m[7] ?? 0) * SECOND);
  if (ms <= 0) return `'${text}' is not a positive duration`;
  return ms;
}

/** Each timestamp rounded down to a multiple of `periodMs` since the epoch. */
export function timeBucket(column: Column, periodMs: number, n: number): Column {
  const a = column.values as Float64Array;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor((a[i] as number) / periodMs) * periodMs;
  return { type: DataType.Timestamp, values: out, validity: column.validity };
}

export const DATE_TRUNC_UNITS = [
  "second",
  "minute",
  "hour",
  "day",
  "week",
  "month",
  "quarter",
  "year",
] as const;
export type DateTruncUnit = (typeof DATE_TRUNC_UNITS)[number];

export function isDateTruncUnit(text: string): text is DateTruncUnit {
  return (DATE_TRUNC_UNITS as readonly string[]).includes(text);
}

/** 1970-01-05 was a Monday: weeks start on Mondays, as in PostgreSQL. */
const FIRST_MONDAY = 4 * DAY;

/** Each timestamp truncated to the start of its `unit` (UTC). */
export function dateTrunc(column: Column, unit: DateTruncUnit, n: number): Column {
  const a = column.values as Float64Array;
  const out = new Float64Array(n);
  const fixed = fixedUnit(unit);
  if (fixed !== undefined) {
    for (let i = 0; i < n; i++) out[i] = Math.floor((a[i] as number) / fixed) * fixed;
  } else if (unit === "week") {
    for (let i = 0; i < n; i++)
      out[i] = Math.floor(((a[i] as number) - FIRST_MONDAY) / WEEK) * WEEK + FIRST_MONDAY;
  } else {
    const { validity } = column;
    for (let i = 0; i < n; i++) {
      if (validity !== null && validity[i] === 0) continue;
      const date = new Date(a[i] as number);
      const year = date.getUTCFullYear();
      const month =
        unit === "year"
          ? 0
          : unit === "quarter"
            ? date.getUTCMonth() - (date.getUTCMonth() % 3)
            : date.getUTCMonth();
      const start = new Date(0);
      start.setUTCFullYear(year, month, 1);
      out[i] = start.getTime();
    }
  }
  return { type: DataType.Timestamp, values: out, validity: column.validity };
}

/**
 * How a bucketing function (time_bucket, date_trunc) maps a timestamp to the start of its bucket.
 * Buckets partition time into consecutive intervals, so a group key of bucket starts can be
 * computed straight from the timestamps, and a time range cut at a bucket start holds whole buckets.
 */
export interface TimeBucketing {
  /** As written in EXPLAIN: `PT1M`, `day`. */
  readonly name: string;
  /** The bucket width when it is fixed (every unit but month, quarter and year). */
  readonly widthMs: number | undefined;
  /** Added to the epoch to align fixed buckets (weeks start on Monday 1970-01-05). */
  readonly originMs: number;
  /** The start of the bucket holding `t`, exactly as the SQL function computes it. */
  start(t: number): number;
  /** The start of the bucket after the one starting at `bucketStart`. */
  next(bucketStart: number): number;
}

/** Buckets of `widthMs` aligned to the epoch plus `originMs` (time_bucket, fixed date_trunc units). */
class FixedBucketing implements TimeBucketing {
  constructor(
    readonly name: string,
    readonly widthMs: number,
    readonly originMs: number,
  ) {}
  start(t: number): number {
    const w = this.widthMs;
    // The same expressions as timeBucket and dateTrunc, so keys computed either way are equal.
    return this.originMs === 0
      ? Math.floor(t / w) * w
      : Math.floor((t - this.originMs) / w) * w + this.originMs;
  }
  next(bucketStart: number): number {
    return bucketStart + this.widthMs;
  }
}

/** Months, quarters and years (UTC). */
class CalendarBucketing implements TimeBucketing {
  readonly widthMs = undefined;
  readonly originMs = 0;
  constructor(readonly name: "month" | "quarter" | "year") {}
  start(t: number): number {
    const date = new Date(t);
    const year = date.getUTCFullYear();
    const month =
      this.name === "year"
        ? 0
        : this.name === "quarter"
          ? date.getUTCMonth() - (date.getUTCMonth() % 3)
          : date.getUTCMonth();
    const start = new Date(0);
    start.setUTCFullYear(year, month, 1);
    return start.getTime();
  }
  next(bucketStart: number): number {
    const date = new Date(bucketStart);
    const months = this.name === "year" ? 12 : this.name === "quarter" ? 3 : 1;
    const next = new Date(0);
    next.setUTCFullYear(date.getUTCFullYear(), date.getUTCMonth() + months, 1);
    return next.getTime();
  }
}

/** The bucketing of `time_bucket(ts, period)`. */
export function timeBucketing(periodText: string, periodMs: number): TimeBucketing {
  return new FixedBucketing(periodText, periodMs, 0);
}

/** The bucketing of `date_trunc(unit, ts)`. */
export function dateTruncBucketing(unit: DateTruncUnit): TimeBucketing {
  const fixed = fixedUnit(unit);
  if (fixed !== undefined) return new FixedBucketing(unit, fixed, 0);
  if (unit === "week") return new FixedBucketing(unit, WEEK, FIRST_MONDAY);
  return new CalendarBucketing(unit as "month" | "quarter" | "year");
}

function fixedUnit(unit: DateTruncUnit): number | undefined {
  switch (unit) {
    case "second":
      return SECOND;
    case "minute":
      return MINUTE;
    case "hour":
      return HOUR;
    case "day":
      return DAY;
    default:
      return undefined;
  }
}
