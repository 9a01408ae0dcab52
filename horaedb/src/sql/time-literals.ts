/**
 * Reading the text of INTERVAL and TIMESTAMP literals. Malformed text is a syntax error of the
 * statement (reported at the literal), so that later stages only ever see valid times.
 */
import type { IntervalUnit } from "./ast.js";

export interface IntervalLength {
  readonly months: number;
  readonly milliseconds: number;
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;

/** What one of a unit is worth: a fixed number of milliseconds, or calendar months. */
type UnitFactor = { readonly ms: number } | { readonly months: number };

/** Unit names allowed inside interval text (case-insensitive). */
const TEXT_UNITS: ReadonlyMap<string, UnitFactor> = new Map([
  ...unitNames(["ms", "msec", "msecs", "millisecond", "milliseconds"], { ms: 1 }),
  ...unitNames(["s", "sec", "secs", "second", "seconds"], { ms: SECOND }),
  ...unitNames(["m", "min", "mins", "minute", "minutes"], { ms: MINUTE }),
  ...unitNames(["h", "hr", "hrs", "hour", "hours"], { ms: HOUR }),
  ...unitNames(["d", "day", "days"], { ms: DAY }),
  ...unitNames(["w", "week", "weeks"], { ms: WEEK }),
  ...unitNames(["mon", "mons", "month", "months"], { months: 1 }),
  ...unitNames(["y", "yr", "yrs", "year", "years"], { months: 12 }),
]);

function unitNames(names: readonly string[], factor: UnitFactor): [string, UnitFactor][] {
  return names.map((n) => [n, factor]);
}

/** The units of the `INTERVAL '<n>' UNIT` form. */
const QUALIFIER_FACTORS: Readonly<Record<IntervalUnit, UnitFactor>> = {
  MILLISECOND: { ms: 1 },
  SECOND: { ms: SECOND },
  MINUTE: { ms: MINUTE },
  HOUR: { ms: HOUR },
  DAY: { ms: DAY },
  WEEK: { ms: WEEK },
  MONTH: { months: 1 },
  YEAR: { months: 12 },
};

/** The unit keywords, singular and plural, mapped to the unit they name. */
const QUALIFIER_UNITS: ReadonlyMap<string, IntervalUnit> = new Map(
  (Object.keys(QUALIFIER_FACTORS) as IntervalUnit[]).flatMap((u): [string, IntervalUnit][] => [
    [u, u],
    [`${u}S`, u],
  ]),
);

/** The interval unit named by an upper-cased keyword (`HOUR`, `HOURS`, ...), if it is one. */
export function intervalUnitOf(keyword: string): IntervalUnit | undefined {
  return QUALIFIER_UNITS.get(keyword);
}

const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$/;

/** Whether interval text is a bare number, the form that takes a unit after it (`'5' MINUTE`). */
export function isBareIntervalNumber(text: string): boolean {
  return NUMBER.test(text.trim());
}

const COMPONENT = /\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*([a-zA-Z]+)\s*/y;

/**
 * Reads `'1 hour 30 minutes'`, `'5m'`, `'-2 days'` (no unit after the string), or a plain number
 * with the unit after the string (`'5' MINUTE`). Undefined when malformed, or when a number of
 * months (or years) has a fraction of a month.
 */
export function parseIntervalText(text: string, unit: IntervalUnit | undefined): IntervalLength | undefined {
  let months = 0;
  let milliseconds = 0;
  const add = (amount: number, factor: UnitFactor): void => {
    if ("ms" in factor) milliseconds += amount * factor.ms;
    else months += amount * factor.months;
  };

  if (unit !== undefined) {
    if (!isBareIntervalNumber(text)) return undefined;
    add(Number(text), QUALIFIER_FACTORS[unit]);
  } else {
    COMPONENT.lastIndex = 0;
    let components = 0;
    while (COMPONENT.lastIndex < text.length) {
      const m = COMPONENT.exec(text);
      if (m === null) return undefined;
      const factor = TEXT_UNITS.get((m[2] ?? "").toLowerCase());
      if (factor === undefined) return undefined;
      add(Number(m[1]), factor);
      components += 1;
    }
    if (components === 0) return undefined;
  }
  if (!Number.isInteger(months) || !Number.isFinite(milliseconds)) return undefined;
  // Normalise -0 so that equal intervals compare equal.
  return { months: months + 0, milliseconds: milliseconds + 0 };
}

const TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * Reads `YYYY-MM-DD[( |T)HH:MM[:SS[.fraction]]][Z|+HH:MM|-HHMM|+HH]` as epoch milliseconds (UTC
 * when no offset is given; digits of the fraction past milliseconds are dropped). Undefined when
 * malformed or not a real date and time.
 */
export function parseTimestampText(text: string): number | undefined {
  const m = TIMESTAMP.exec(text.trim());
  if (m === null) return undefined;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4] ?? 0);
  const minute = Number(m[5] ?? 0);
  const second = Number(m[6] ?? 0);
  const millis = Number((m[7] ?? "").padEnd(3, "0").slice(0, 3));
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;

  let offsetMinutes = 0;
  const zone = m[8];
  if (zone !== undefined && zone.toUpperCase() !== "Z") {
    const digits = zone.slice(1).replace(":", "");
    const hh = Number(digits.slice(0, 2));
    const mm = Number(digits.slice(2) || "0");
    if (hh > 23 || mm > 59) return undefined;
    offsetMinutes = (zone.startsWith("-") ? -1 : 1) * (hh * 60 + mm);
  }
  // Arithmetic rather than Date objects, which cost more than the rest of parsing a short query.
  const days = daysFromCivil(year, month, day);
  return (((days * 24 + hour) * 60 + minute) * 60 + second) * 1000 + millis - offsetMinutes * MINUTE;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

function daysInMonth(year: number, month: number): number {
  return month === 2 && isLeapYear(year) ? 29 : (DAYS_IN_MONTH[month - 1] as number);
}

/** Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146097 + dayOfEra - 719468;
}
