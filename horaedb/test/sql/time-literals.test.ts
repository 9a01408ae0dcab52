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

  it("agrees with Date on every day of years 0 to 9999 sampled, and on every day of 1900 to 2100", () => {
    const pad = (n: number, width: number) => String(n).padStart(width, "0");
    const check = (year: number, month: number, day: number, ms: number) => {
      const date = new Date(0);
      date.setUTCFullYear(year, month - 1, day);
      date.setUTCHours(
        Math.floor(ms / 3_600_000),
        Math.floor(ms / 60_000) % 60,
        Math.floor(ms / 1000) % 60,
        ms % 1000,
      );
      const text = `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}T${date.toISOString().slice(11, 23)}`;
      expect(parseTimestampText(text), text).toBe(date.getTime());
    };
    const lastDay = (year: number, month: number) =>
      new Date(Date.UTC(2000, month, 0)).setUTCFullYear(year, month, 0);
    for (let year = 1900; year <= 2100; year++) {
      for (let month = 1; month <= 12; month++) {
        const days = new Date(lastDay(year, month)).getUTCDate();
        for (let day = 1; day <= days; day++)
          check(year, month, day, (year * 7919 + day * 104_729) % 86_400_000);
        // The day after the month's last is not a date.
        expect(parseTimestampText(`${year}-${pad(month, 2)}-${pad(days + 1, 2)}`)).toBeUndefined();
      }
    }
    for (let year = 0; year <= 9999; year += 37) {
      for (const [month, day] of [
        [1, 1],
        [2, 28],
        [3, 1],
        [12, 31],
      ] as const)
        check(year, month, day, 86_399_999);
    }
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
