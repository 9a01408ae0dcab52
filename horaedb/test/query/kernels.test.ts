import { describe, expect, it } from "vitest";
import type { Column } from "../../src/batch/column.js";
import { addMonths, arithmeticColumns, shiftTimestamps } from "../../src/query/arithmetic-kernels.js";
import { castColumn } from "../../src/query/cast.js";
import { compareColumns, compareWithConstant } from "../../src/query/compare-kernels.js";
import { QueryExecutionError } from "../../src/query/errors.js";
import {
  andColumns,
  isNullColumn,
  likeColumn,
  likePattern,
  notColumn,
  orColumns,
} from "../../src/query/predicate-kernels.js";
import { dateTrunc, parseBucketPeriod, timeBucket } from "../../src/query/time-functions.js";
import { scalarAt } from "../../src/query/vectors.js";
import { DataType } from "../../src/table/data-type.js";

/** A boolean column of TRUE, FALSE and NULL (null) values. */
function bools(values: (boolean | null)[]): Column {
  return {
    type: DataType.Boolean,
    values: Uint8Array.from(values, (v) => (v === true ? 1 : 0)),
    validity: Uint8Array.from(values, (v) => (v === null ? 0 : 1)),
  };
}

const cells = (column: Column) => Array.from({ length: column.values.length }, (_, i) => scalarAt(column, i));

describe("three-valued logic", () => {
  const T = true;
  const F = false;
  const N = null;
  const left = bools([T, T, T, F, F, F, N, N, N]);
  const right = bools([T, F, N, T, F, N, T, F, N]);

  it("AND: FALSE wins over NULL", () => {
    expect(cells(andColumns(left, right, 9))).toEqual([T, F, N, F, F, F, N, F, N]);
  });

  it("OR: TRUE wins over NULL", () => {
    expect(cells(orColumns(left, right, 9))).toEqual([T, T, T, T, F, N, T, N, N]);
  });

  it("NOT keeps NULL", () => {
    expect(cells(notColumn(bools([T, F, N]), 3))).toEqual([F, T, N]);
  });

  it("IS NULL is never NULL", () => {
    expect(cells(isNullColumn(bools([T, N]), false, 2))).toEqual([F, T]);
    expect(cells(isNullColumn(bools([T, N]), true, 2))).toEqual([T, F]);
  });

  it("a comparison with a NULL operand is NULL", () => {
    const a: Column = {
      type: DataType.Double,
      values: Float64Array.from([1, 2, 3]),
      validity: Uint8Array.from([1, 0, 1]),
    };
    const b: Column = { type: DataType.Double, values: Float64Array.from([1, 2, 4]), validity: null };
    expect(cells(compareColumns("=", a, b, 3))).toEqual([T, N, F]);
    expect(cells(compareWithConstant("<", a, null, 3))).toEqual([N, N, N]);
  });
});

describe("comparison", () => {
  it("orders strings by code point (the engine's key order), not by locale", () => {
    const a: Column = { type: DataType.String, values: ["B", "a", "é", "\u{1F600}"], validity: null };
    expect(cells(compareWithConstant("<", a, "a", 4))).toEqual([true, false, false, false]);
    expect(cells(compareWithConstant(">", a, "\uFFFF", 4))).toEqual([false, false, false, true]);
  });

  it("compares int64 exactly beyond 2^53", () => {
    const a: Column = {
      type: DataType.Int64,
      values: BigInt64Array.from([9007199254740993n]),
      validity: null,
    };
    expect(cells(compareWithConstant("=", a, 9007199254740992n, 1))).toEqual([false]);
    expect(cells(compareWithConstant(">", a, 9007199254740992n, 1))).toEqual([true]);
  });
});

describe("LIKE", () => {
  it.each<[string, string, boolean]>([
    ["abc", "a%", true],
    ["abc", "%c", true],
    ["abc", "_b_", true],
    ["abc", "a_", false],
    ["a.c", "a.c", true],
    ["abc", "a.c", false],
    ["50%", "50\\%", true],
    ["500", "50\\%", false],
    ["a_b", "a\\_b", true],
    ["axb", "a\\_b", false],
    ["(x)", "(%)", true],
    ["line\nbreak", "line%", true],
    ["😀x", "_x", true],
  ])("%j LIKE %j is %s", (text, pattern, expected) => {
    const column: Column = { type: DataType.String, values: [text], validity: null };
    expect(cells(likeColumn(column, likePattern(pattern, false), false, 1))).toEqual([expected]);
  });

  it("ILIKE ignores case", () => {
    const column: Column = { type: DataType.String, values: ["HoraeDB"], validity: null };
    expect(cells(likeColumn(column, likePattern("horae%", true), false, 1))).toEqual([true]);
    expect(cells(likeColumn(column, likePattern("horae%", false), false, 1))).toEqual([false]);
  });
});

describe("arithmetic", () => {
  const int64 = (values: bigint[]): Column => ({
    type: DataType.Int64,
    values: BigInt64Array.from(values),
    validity: null,
  });

  it("rejects int64 overflow instead of wrapping", () => {
    expect(() => arithmeticColumns("*", int64([2n ** 62n]), int64([2n]), DataType.Int64, 1)).toThrow(
      "int64 result out of range",
    );
    expect(
      cells(arithmeticColumns("-", int64([-(2n ** 62n)]), int64([2n ** 62n]), DataType.Int64, 1)),
    ).toEqual([-(2n ** 63n)]);
  });

  it("truncates integer division toward zero, and the remainder takes the dividend's sign", () => {
    expect(cells(arithmeticColumns("/", int64([-7n, 7n]), int64([2n, -2n]), DataType.Int64, 2))).toEqual([
      -3n,
      -3n,
    ]);
    expect(cells(arithmeticColumns("%", int64([-7n, 7n]), int64([2n, -2n]), DataType.Int64, 2))).toEqual([
      -1n,
      1n,
    ]);
  });

  it("adds calendar months clamped to the end of the month", () => {
    expect(addMonths(Date.UTC(2024, 0, 31, 12), 1)).toBe(Date.UTC(2024, 1, 29, 12));
    expect(addMonths(Date.UTC(2023, 0, 31), 1)).toBe(Date.UTC(2023, 1, 28));
    expect(addMonths(Date.UTC(2024, 2, 15), -14)).toBe(Date.UTC(2023, 0, 15));
    const ts: Column = {
      type: DataType.Timestamp,
      values: Float64Array.from([Date.UTC(2024, 0, 31)]),
      validity: null,
    };
    expect(cells(shiftTimestamps(ts, { months: 1, milliseconds: 3_600_000 }, 1, 1))).toEqual([
      Date.UTC(2024, 1, 29, 1),
    ]);
  });
});

describe("CAST", () => {
  const strings = (values: string[]): Column => ({ type: DataType.String, values, validity: null });

  it.each<[string, DataType, unknown]>([
    [" 42 ", DataType.Int64, 42n],
    ["-7", DataType.Int32, -7],
    ["1.5e3", DataType.Double, 1500],
    ["-Infinity", DataType.Double, -Infinity],
    ["t", DataType.Boolean, true],
    ["off", DataType.Boolean, false],
    ["2024-02-29 12:00:00+02:00", DataType.Timestamp, Date.UTC(2024, 1, 29, 10)],
  ])("%j as %s is %s", (text, type, expected) => {
    expect(scalarAt(castColumn(strings([text]), type, 1), 0)).toEqual(expected);
  });

  it.each<[string, DataType, string]>([
    ["12x", DataType.Int64, "cannot cast '12x' to int64"],
    ["3000000000", DataType.Int32, "cannot cast '3000000000' to int32: out of range"],
    ["0x10", DataType.Double, "cannot cast '0x10' to double"],
    ["maybe", DataType.Boolean, "cannot cast 'maybe' to boolean"],
    [
      "2024-13-01",
      DataType.Timestamp,
      "cannot cast '2024-13-01' to timestamp: expected YYYY-MM-DD[ HH:MM[:SS[.fff]]][Z|±HH:MM]",
    ],
  ])("%j as %s fails: %s", (text, type, message) => {
    expect(() => castColumn(strings([text]), type, 1)).toThrow(
      new QueryExecutionError("invalidCast", message),
    );
  });

  it("truncates doubles to integers and refuses what does not fit", () => {
    const doubles: Column = { type: DataType.Double, values: Float64Array.from([2.9, -2.9]), validity: null };
    expect(cells(castColumn(doubles, DataType.Int64, 2))).toEqual([2n, -2n]);
    const huge: Column = { type: DataType.Double, values: Float64Array.from([1e30]), validity: null };
    expect(() => castColumn(huge, DataType.Int64, 1)).toThrow("cannot cast 1e+30 to int64: out of range");
  });

  it("leaves NULL cells NULL without converting them", () => {
    const column: Column = {
      type: DataType.String,
      values: ["not a number", "5"],
      validity: Uint8Array.from([0, 1]),
    };
    expect(cells(castColumn(column, DataType.Int64, 2))).toEqual([null, 5n]);
  });
});

describe("time functions", () => {
  it.each<[string, number | string]>([
    ["PT1S", 1000],
    ["PT1M", 60_000],
    ["PT5M", 300_000],
    ["PT1H", 3_600_000],
    ["P1D", 86_400_000],
    ["P1W", 604_800_000],
    ["P1DT12H", 129_600_000],
    ["PT0.5S", 500],
    ["P1M", "'P1M' has years or months, which have no fixed length; use days or weeks"],
    ["P1Y", "'P1Y' has years or months, which have no fixed length; use days or weeks"],
    ["PT", "'PT' is not an ISO-8601 duration such as PT1M, PT1H or P1D"],
    ["5m", "'5m' is not an ISO-8601 duration such as PT1M, PT1H or P1D"],
  ])("period %s", (text, expected) => {
    expect(parseBucketPeriod(text)).toEqual(expected);
  });

  const at = (...ms: number[]): Column => ({
    type: DataType.Timestamp,
    values: Float64Array.from(ms),
    validity: null,
  });

  it("time_bucket rounds down to multiples of the period since the epoch, before 1970 too", () => {
    expect(cells(timeBucket(at(Date.UTC(2024, 0, 1, 10, 7, 59), -1), 300_000, 2))).toEqual([
      Date.UTC(2024, 0, 1, 10, 5),
      -300_000,
    ]);
  });

  it("date_trunc truncates to calendar units, weeks starting on Monday", () => {
    const t = Date.UTC(2024, 4, 16, 13, 45, 30, 250); // a Thursday
    const trunc = (unit: Parameters<typeof dateTrunc>[1]) => scalarAt(dateTrunc(at(t), unit, 1), 0);
    expect(trunc("second")).toBe(Date.UTC(2024, 4, 16, 13, 45, 30));
    expect(trunc("minute")).toBe(Date.UTC(2024, 4, 16, 13, 45));
    expect(trunc("hour")).toBe(Date.UTC(2024, 4, 16, 13));
    expect(trunc("day")).toBe(Date.UTC(2024, 4, 16));
    expect(trunc("week")).toBe(Date.UTC(2024, 4, 13));
    expect(trunc("month")).toBe(Date.UTC(2024, 4, 1));
    expect(trunc("quarter")).toBe(Date.UTC(2024, 3, 1));
    expect(trunc("year")).toBe(Date.UTC(2024, 0, 1));
  });
});
