import { describe, expect, it } from "vitest";
import { parseIntervalText, parseTimestampText } from "../../src/sql/time-literals.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

describe("parseIntervalText", () => {
  it.each<[string, number, number]>([
    ["5 minutes", 0, 5 * MINUTE],
    ["1 hour", 0, HOUR],
    ["1 hour 30 minutes", 0, 90 * MINUTE],
    ["1h30m", 0, 90 * MINUTE],
    ["1.5 hours", 0, 90 * MINUTE],
    ["250 ms", 0, 250],
    ["10 seconds", 0, 10_000],
    ["2d", 0, 2 * DAY],
    ["1 week", 0, 7 * DAY],
    ["-2 days", 0, -2 * DAY],
    ["1 year 2 months 3 days", 14, 3 * DAY],
    ["  3 MONTHS  ", 3, 0],
    ["1.5 years", 18, 0],
  ])("reads %j as %i months and %i ms", (text, months, milliseconds) => {
    expect(parseIntervalText(text, undefined)).toEqual({ months, milliseconds });
  });

  it("reads a bare number in the unit given after the string", () => {
    expect(parseIntervalText("1", "HOUR")).toEqual({ months: 0, milliseconds: HOUR });
    expect(parseIntervalText(" 2.5 ", "SECOND")).toEqual({ months: 0, milliseconds: 2500 });
    expect(parseIntervalText("2", "YEAR")).toEqual({ months: 24, milliseconds: 0 });
  });

  it.each<[string, "HOUR" | "MONTH" | undefined]>([
    ["", undefined],
    ["5", undefined],
    ["PT1M", undefined],
    ["1 fortnight", undefined],
    ["hour", undefined],
    ["1 hour and 2 minutes", undefined],
    ["0.1 year", undefined],
    ["1 hour", "HOUR"],
    ["1.5", "MONTH"],
  ])("refuses %j (unit %s)", (text, unit) => {
    expect(parseIntervalText(text, unit)).toBeUndefined();
  });
});

describe("parseTimestampText", () => {
  it.each<[string, number]>([
    ["2024-01-01", Date.UTC(2024, 0, 1)],
    ["2024-01-01 12:34", Date.UTC(2024, 0, 1, 12, 34)],
    ["2024-01-01 12:34:56", Date.UTC(2024, 0, 1, 12, 34, 56)],
    ["2024-01-01T12:34:56.7", Date.UTC(2024, 0, 1, 12, 34, 56, 700)],
    ["2024-01-01 12:34:56.123456789", Date.UTC(2024, 0, 1, 12, 34, 56, 123)],
    ["2024-01-01T00:00:00Z", Date.UTC(2024, 0, 1)],
    ["2024-01-01T08:00:00+08:00", Date.UTC(2024, 0, 1)],
    ["2024-01-01 00:00:00 -0130", Date.UTC(2024, 0, 1, 1, 30)],
    ["2024-01-01T05:00:00+05", Date.UTC(2024, 0, 1)],
    ["2024-02-29", Date.UTC(2024, 1, 29)],
    ["0001-01-01", -62135596800000],
  ])("reads %j", (text, value) => {
    expect(parseTimestampText(text)).toBe(value);
  });

  it.each([
    "",
    "yesterday",
    "2024-1-1",
    "2023-02-29",
    "2024-13-01",
    "2024-01-01 24:00",
    "2024-01-01 10:60",
    "2024-01-01T00:00:00+25:00",
    "2024-01-01 00:00:00 UTC",
  ])("refuses %j", (text) => {
    expect(parseTimestampText(text)).toBeUndefined();
  });
});
