/**
 * Expressions of the differential test's random SELECTs, each written twice: in the engine's
 * dialect and in SQLite's. They keep to what the two engines define alike; left out, and why:
 *
 * - Division and modulo only by non-zero literals: the engine fails on division by zero, SQLite
 *   returns NULL. `%` only on integers: SQLite casts REAL operands of `%` to integers.
 * - Integer arithmetic stays far from the int64 range (a bound per expression): the engine fails
 *   on overflow, SQLite silently switches to REAL. Integer division truncates in both. The data
 *   leave out int32's minimum: abs() and unary minus of an int32 stay int32 here and fail on it
 *   (as in PostgreSQL), where SQLite's integers are 64-bit.
 * - An int64 beyond 2^53 compared with a double: SQLite compares integer and real exactly, the
 *   engine (as PostgreSQL) converts the integer to double first. A comparison of an integer with
 *   a double never reads such a column on both sides.
 * - No comparisons between unrelated types (text with numbers, booleans with integers): SQLite's
 *   type affinity compares them where the engine refuses or converts differently. Booleans are
 *   0/1 in SQLite and only meet booleans, with = and != only.
 * - Strings are ASCII: SQLite's BINARY collation compares UTF-8 bytes, the engine code points, and
 *   lower/upper/ILIKE fold only ASCII in SQLite. LIKE patterns have no `\` (the engine's escape;
 *   SQLite needs ESCAPE) and SQLite runs with case_sensitive_like. ILIKE is `lower(x) LIKE lower(p)`.
 * - sum/avg of doubles (and avg of anything) add in a different order and precision (SQLite uses
 *   compensated summation and exact integer sums): they carry a tolerance, and read no int64
 *   column with values beyond 2^53.
 * - Timestamps are integers (ms) in SQLite: time_bucket(ts, 'PT5M') and date_trunc('minute', ts)
 *   are `ts / n * n` there (all timestamps are after the epoch, so truncation is flooring),
 *   `ts + INTERVAL '5 minutes'` adds milliseconds, and the engine's time literals (TIMESTAMP
 *   '...', text, integers) are integers.
 * - Functions only where both define them alike: abs, ceil, floor, round (half away from zero in
 *   both), lower, upper, length, coalesce, concat (NULL as empty), CAST between integers, doubles
 *   and text (doubles are never cast to text: the two format them differently).
 */
import type { CellValue } from "../../src/table/data-type.js";
import type { Rng } from "./differential-rng.js";
import {
  doubleLiteral,
  stringLiteral,
  TIMESTAMP_COLUMN,
  type FieldType,
  type TableData,
} from "./differential-tables.js";

export type ValueType = "int" | "double" | "boolean" | "string" | "timestamp";

/** One expression written in both dialects. */
export interface Sql {
  readonly ours: string;
  readonly ref: string;
  readonly type: ValueType;
  /** The largest magnitude a numeric value may reach in one row. */
  readonly bound: number;
  /** Absolute tolerance of a floating-point sum whose order and precision differ; 0 when exact. */
  readonly tolerance: number;
}

export interface ColumnModel {
  readonly name: string;
  readonly type: ValueType;
  readonly tag: boolean;
  readonly bound: number;
  /** int64 with values beyond 2^53: kept out of sums and averages that go through doubles. */
  readonly wide: boolean;
  /** Some of the column's (non-NULL) values, for literals that match rows. */
  readonly samples: readonly CellValue[];
}

const VALUE_TYPES: Record<FieldType, ValueType> = {
  double: "double",
  float: "double",
  int64: "int",
  int32: "int",
  boolean: "boolean",
  string: "string",
};

/** Per-row magnitude an integer expression may reach; sums of it over a table stay within int64. */
const INT_BOUND = 1e17;
/** Unit roundoff of a double, for the tolerance of sums. */
const EPSILON = 2 ** -52;
const MAX_SAMPLES = 24;

/** What the generator knows of a table: its columns, some of their values, its row count. */
export class TableModel {
  readonly name: string;
  readonly columns: readonly ColumnModel[];
  readonly tags: readonly ColumnModel[];
  readonly rowCount: number;

  constructor(data: TableData) {
    const { spec, visible } = data;
    this.name = spec.name;
    this.rowCount = visible.length;
    const samples = (name: string): CellValue[] => {
      const distinct = [...new Set(visible.map((r) => r[name] ?? null).filter((v) => v !== null))];
      return distinct.slice(0, MAX_SAMPLES);
    };
    const tags = spec.tags.map((t): ColumnModel => ({
      name: t.name,
      type: "string",
      tag: true,
      bound: 0,
      wide: false,
      samples: t.values,
    }));
    const timestamp: ColumnModel = {
      name: TIMESTAMP_COLUMN,
      type: "timestamp",
      tag: false,
      bound: 0,
      wide: false,
      samples: samples(TIMESTAMP_COLUMN),
    };
    const fields = spec.fields.map((f): ColumnModel => ({
      name: f.name,
      type: VALUE_TYPES[f.type],
      tag: false,
      bound:
        f.type === "double" || f.type === "float" ? 1e3 : f.type === "int32" ? 2.2e9 : f.wide ? 1e16 : 1e9,
      wide: f.wide,
      samples: samples(f.name),
    }));
    this.tags = tags;
    this.columns = [...tags, timestamp, ...fields];
  }

  ofType(type: ValueType): ColumnModel[] {
    return this.columns.filter((c) => c.type === type);
  }
}

export const COMPARISONS = ["=", "!=", "<>", "<", "<=", ">", ">="];
const TIME_BUCKETS: ReadonlyArray<readonly [string, number]> = [
  ["PT10S", 10_000],
  ["PT1M", 60_000],
  ["PT5M", 300_000],
  ["PT15M", 900_000],
  ["PT1H", 3_600_000],
  ["P1D", 86_400_000],
];
const TRUNC_UNITS: ReadonlyArray<readonly [string, number]> = [
  ["second", 1000],
  ["minute", 60_000],
  ["hour", 3_600_000],
  ["day", 86_400_000],
];
const INTERVALS: ReadonlyArray<readonly [string, number]> = [
  ["90 seconds", 90_000],
  ["5 minutes", 300_000],
  ["2 hours", 7_200_000],
  ["1 day", 86_400_000],
];

export function same(text: string, type: ValueType, bound = 0, tolerance = 0): Sql {
  return { ours: text, ref: text, type, bound, tolerance };
}

export function isNumeric(type: ValueType): boolean {
  return type === "int" || type === "double";
}

/** `2024-01-01 00:01:02.500` (milliseconds only when there are some). */
function timestampText(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace("T", " ")
    .replace("Z", "")
    .replace(/\.000$/, "");
}

export class ExpressionGenerator {
  readonly #rng: Rng;
  readonly #table: TableModel;
  /** Set while generating the input of sum/avg that runs through doubles. */
  #narrowOnly = false;

  constructor(rng: Rng, table: TableModel) {
    this.#rng = rng;
    this.#table = table;
  }

  intLiteral(value: bigint | number): Sql {
    return same(String(value), "int", Math.abs(Number(value)));
  }

  doubleLiteral(value: number): Sql {
    return same(doubleLiteral(value === 0 ? 0 : value), "double", Math.abs(value));
  }

  /** A time literal: integer ms in SQLite; ms, TIMESTAMP '...' or (where text is read as a time) '...' here. */
  timeLiteral(ms: number, textAllowed: boolean): Sql {
    const form = this.#rng.int(0, textAllowed ? 2 : 1);
    const ours =
      form === 0 ? String(ms) : form === 1 ? `TIMESTAMP '${timestampText(ms)}'` : `'${timestampText(ms)}'`;
    return { ours, ref: String(ms), type: "timestamp", bound: 0, tolerance: 0 };
  }

  timeValue(): number {
    const rng = this.#rng;
    const samples = this.#table.columns.find((c) => c.name === TIMESTAMP_COLUMN)?.samples ?? [];
    const known = samples.length > 0 ? (rng.pick(samples) as number) : 1_704_067_200_000;
    switch (rng.int(0, 3)) {
      case 0:
        return known;
      case 1:
        return known + rng.pick([-1, 1, -1000, 1000, 60_000]);
      case 2:
        return Math.floor(known / 60_000) * 60_000;
      default:
        return known + rng.int(-3_600_000, 3_600_000);
    }
  }

  /** A literal of `type`, often one of `column`'s own values. */
  literal(type: ValueType, column?: ColumnModel): Sql {
    const rng = this.#rng;
    const sample =
      column !== undefined && column.samples.length > 0 && rng.chance(0.7) ? rng.pick(column.samples) : null;
    switch (type) {
      case "int":
        if (typeof sample === "bigint" || typeof sample === "number") return this.intLiteral(sample);
        return this.intLiteral(rng.chance(0.7) ? rng.int(-20, 20) : rng.int(-2_000_000, 2_000_000));
      case "double":
        if (typeof sample === "number") return this.doubleLiteral(sample);
        return this.doubleLiteral(rng.chance(0.5) ? rng.int(-4000, 4000) / 4 : (rng.float() - 0.5) * 2000);
      case "string": {
        if (typeof sample === "string") return same(stringLiteral(sample), "string");
        const anyString = this.#table.ofType("string").flatMap((c) => c.samples);
        const text =
          anyString.length > 0 && rng.chance(0.7)
            ? (rng.pick(anyString) as string)
            : rng.pick(["", "a", "m", "zz", "ab c"]);
        return same(stringLiteral(text), "string");
      }
      case "boolean":
        return same(rng.chance(0.5) ? "TRUE" : "FALSE", "boolean");
      case "timestamp":
        return this.timeLiteral(this.timeValue(), false);
    }
  }

  column(type: ValueType): Sql | undefined {
    const columns = this.#table.ofType(type).filter((c) => !(this.#narrowOnly && c.wide));
    if (columns.length === 0) return undefined;
    const c = this.#rng.pick(columns);
    return same(c.name, c.type, c.bound);
  }

  expr(type: ValueType, depth: number): Sql {
    switch (type) {
      case "int":
        return this.#intExpr(depth);
      case "double":
        return this.#doubleExpr(depth);
      case "string":
        return this.#stringExpr(depth);
      case "boolean":
        return this.predicate(depth);
      case "timestamp":
        return this.#timestampExpr(depth);
    }
  }

  anyType(): ValueType {
    return this.#rng.pick<ValueType>([
      "int",
      "int",
      "double",
      "double",
      "string",
      "string",
      "boolean",
      "timestamp",
    ]);
  }

  #numericExpr(depth: number): Sql {
    return this.#rng.chance(0.5) ? this.#intExpr(depth) : this.#doubleExpr(depth);
  }

  #caseExpr(type: ValueType, depth: number): Sql {
    const when = this.predicate(depth - 1);
    const then = this.expr(type, depth - 1);
    const otherwise = this.#rng.chance(0.8) ? this.expr(type, depth - 1) : undefined;
    const text = (p: string, a: string, b: string | undefined) =>
      `(CASE WHEN ${p} THEN ${a}${b === undefined ? "" : ` ELSE ${b}`} END)`;
    return {
      ours: text(when.ours, then.ours, otherwise?.ours),
      ref: text(when.ref, then.ref, otherwise?.ref),
      type,
      bound: Math.max(then.bound, otherwise?.bound ?? 0),
      tolerance: 0,
    };
  }

  call(name: string, args: readonly Sql[], type: ValueType, bound: number, refName = name): Sql {
    return {
      ours: `${name}(${args.map((a) => a.ours).join(", ")})`,
      ref: `${refName}(${args.map((a) => a.ref).join(", ")})`,
      type,
      bound,
      tolerance: 0,
    };
  }

  binary(a: Sql, op: string, b: Sql, type: ValueType, bound: number): Sql {
    return {
      ours: `(${a.ours} ${op} ${b.ours})`,
      ref: `(${a.ref} ${op} ${b.ref})`,
      type,
      bound,
      tolerance: 0,
    };
  }

  #intExpr(depth: number): Sql {
    const rng = this.#rng;
    const leaf = () => (rng.chance(0.8) ? this.column("int") : undefined) ?? this.literal("int");
    if (depth <= 0 || rng.chance(0.35)) return leaf();
    const nonZero = () => this.intLiteral(rng.pick([-7, -3, -2, -1, 1, 2, 3, 5, 10]));
    switch (rng.int(0, 9)) {
      case 0:
      case 1: {
        const a = this.#intExpr(depth - 1);
        const b = this.#intExpr(depth - 1);
        return a.bound + b.bound <= INT_BOUND
          ? this.binary(a, rng.pick(["+", "-"]), b, "int", a.bound + b.bound)
          : a;
      }
      case 2: {
        const a = this.#intExpr(depth - 1);
        const b = rng.chance(0.6) ? this.intLiteral(rng.int(-10, 10)) : this.#intExpr(depth - 1);
        return a.bound * b.bound <= INT_BOUND ? this.binary(a, "*", b, "int", a.bound * b.bound) : a;
      }
      case 3: {
        const a = this.#intExpr(depth - 1);
        return this.binary(a, rng.pick(["/", "%"]), nonZero(), "int", a.bound);
      }
      case 4: {
        const a = this.#intExpr(depth - 1);
        return { ours: `(-(${a.ours}))`, ref: `(-(${a.ref}))`, type: "int", bound: a.bound, tolerance: 0 };
      }
      case 5: {
        const a = this.#intExpr(depth - 1);
        return this.call(rng.pick(["abs", "ceil", "floor"]), [a], "int", a.bound);
      }
      case 6:
        return this.call(
          rng.pick(["length", "char_length"]),
          [this.#stringExpr(depth - 1)],
          "int",
          1e3,
          "length",
        );
      case 7: {
        const d = this.#doubleExpr(depth - 1);
        if (d.bound > 1e15) return leaf();
        return {
          ours: `CAST(${d.ours} AS bigint)`,
          ref: `CAST(${d.ref} AS INTEGER)`,
          type: "int",
          bound: d.bound,
          tolerance: 0,
        };
      }
      case 8: {
        const c = this.#caseExpr("int", depth);
        return c.bound <= INT_BOUND ? c : leaf();
      }
      default: {
        const ts = this.timeLiteral(this.timeValue(), false);
        // timestamp - timestamp is milliseconds; the engine wants a timestamp literal on the right.
        const ours = ts.ours.startsWith("TIMESTAMP")
          ? ts.ours
          : `TIMESTAMP '${timestampText(Number(ts.ref))}'`;
        return {
          ours: `(${TIMESTAMP_COLUMN} - ${ours})`,
          ref: `(${TIMESTAMP_COLUMN} - ${ts.ref})`,
          type: "int",
          bound: 1e10,
          tolerance: 0,
        };
      }
    }
  }

  #doubleExpr(depth: number): Sql {
    const rng = this.#rng;
    const leaf = () => (rng.chance(0.8) ? this.column("double") : undefined) ?? this.literal("double");
    if (depth <= 0 || rng.chance(0.35)) return leaf();
    switch (rng.int(0, 8)) {
      case 0:
      case 1: {
        const a = this.#doubleExpr(depth - 1);
        const b = this.#numericExpr(depth - 1);
        const [x, y] = rng.chance(0.5) ? [a, b] : [b, a];
        return this.binary(x, rng.pick(["+", "-"]), y, "double", x.bound + y.bound);
      }
      case 2: {
        const a = this.#doubleExpr(depth - 1);
        const b = rng.chance(0.5)
          ? this.doubleLiteral(rng.pick([0.5, 1.5, -2.0, 0.1, 3.0]))
          : this.#numericExpr(depth - 1);
        return this.binary(a, "*", b, "double", a.bound * b.bound);
      }
      case 3: {
        const a = this.#numericExpr(depth - 1);
        const b = this.doubleLiteral(rng.pick([0.5, 2.0, -4.0, 3.0, 0.25, 10.0]));
        return this.binary(a, "/", b, "double", a.bound * 4);
      }
      case 4: {
        const a = this.#doubleExpr(depth - 1);
        return { ours: `(-(${a.ours}))`, ref: `(-(${a.ref}))`, type: "double", bound: a.bound, tolerance: 0 };
      }
      case 5: {
        const a = this.#doubleExpr(depth - 1);
        return this.call(rng.pick(["abs", "ceil", "floor", "round"]), [a], "double", a.bound + 1);
      }
      case 6: {
        const i = this.#intExpr(depth - 1);
        return {
          ours: `CAST(${i.ours} AS double)`,
          ref: `CAST(${i.ref} AS REAL)`,
          type: "double",
          bound: i.bound,
          tolerance: 0,
        };
      }
      case 7:
        return this.#caseExpr("double", depth);
      default: {
        const a = this.#doubleExpr(depth - 1);
        const b = this.#doubleExpr(depth - 1);
        return this.call("coalesce", [a, b], "double", Math.max(a.bound, b.bound));
      }
    }
  }

  #stringExpr(depth: number): Sql {
    const rng = this.#rng;
    const leaf = () => (rng.chance(0.8) ? this.column("string") : undefined) ?? this.literal("string");
    if (depth <= 0 || rng.chance(0.4)) return leaf();
    switch (rng.int(0, 5)) {
      case 0:
        return this.call(rng.pick(["lower", "upper"]), [this.#stringExpr(depth - 1)], "string", 0);
      case 1:
        return this.call("concat", [this.#stringExpr(depth - 1), this.#stringExpr(depth - 1)], "string", 0);
      case 2:
        return this.call("coalesce", [this.#stringExpr(depth - 1), this.literal("string")], "string", 0);
      case 3:
        return this.#caseExpr("string", depth);
      case 4: {
        const i = this.#intExpr(depth - 1);
        return {
          ours: `CAST(${i.ours} AS string)`,
          ref: `CAST(${i.ref} AS TEXT)`,
          type: "string",
          bound: 0,
          tolerance: 0,
        };
      }
      default:
        return leaf();
    }
  }

  #timestampExpr(depth: number): Sql {
    const rng = this.#rng;
    const ts = same(TIMESTAMP_COLUMN, "timestamp");
    if (depth <= 0 || rng.chance(0.4)) return ts;
    switch (rng.int(0, 2)) {
      case 0:
        return this.timeBucket();
      case 1: {
        const [text, ms] = rng.pick(INTERVALS);
        const op = rng.pick(["+", "-"]);
        return {
          ours: `(${TIMESTAMP_COLUMN} ${op} INTERVAL '${text}')`,
          ref: `(${TIMESTAMP_COLUMN} ${op} ${ms})`,
          type: "timestamp",
          bound: 0,
          tolerance: 0,
        };
      }
      default:
        return this.#caseExpr("timestamp", depth);
    }
  }

  /** time_bucket / date_trunc here, integer flooring in SQLite. */
  timeBucket(): Sql {
    const rng = this.#rng;
    if (rng.chance(0.5)) {
      const [duration, ms] = rng.pick(TIME_BUCKETS);
      return {
        ours: `time_bucket(${TIMESTAMP_COLUMN}, '${duration}')`,
        ref: `((${TIMESTAMP_COLUMN} / ${ms}) * ${ms})`,
        type: "timestamp",
        bound: 0,
        tolerance: 0,
      };
    }
    const [unit, ms] = rng.pick(TRUNC_UNITS);
    return {
      ours: `date_trunc('${unit}', ${TIMESTAMP_COLUMN})`,
      ref: `((${TIMESTAMP_COLUMN} / ${ms}) * ${ms})`,
      type: "timestamp",
      bound: 0,
      tolerance: 0,
    };
  }

  predicate(depth: number): Sql {
    const rng = this.#rng;
    const choice = depth <= 0 ? rng.int(0, 6) : rng.int(0, 10);
    switch (choice) {
      case 0:
      case 1:
        return this.#comparison(depth);
      case 2:
        return this.#isNull(depth);
      case 3:
        return this.#inList(depth);
      case 4:
        return this.#between(depth);
      case 5:
        return this.#like(depth);
      case 6:
        return this.column("boolean") ?? this.#comparison(depth);
      case 7:
      case 8: {
        const a = this.predicate(depth - 1);
        const b = this.predicate(depth - 1);
        return this.binary(a, rng.pick(["AND", "OR"]), b, "boolean", 0);
      }
      case 9: {
        const a = this.predicate(depth - 1);
        return { ours: `(NOT ${a.ours})`, ref: `(NOT ${a.ref})`, type: "boolean", bound: 0, tolerance: 0 };
      }
      default: {
        const a = this.predicate(depth - 1);
        const test = `${rng.pick(["IS", "IS NOT"])} ${rng.pick(["TRUE", "FALSE"])}`;
        return {
          ours: `(${a.ours} ${test})`,
          ref: `(${a.ref} ${test})`,
          type: "boolean",
          bound: 0,
          tolerance: 0,
        };
      }
    }
  }

  /** A column (mostly) or an expression of `type`, with the column it is when it is one. */
  #operand(type: ValueType, depth: number): { sql: Sql; column: ColumnModel | undefined } {
    const rng = this.#rng;
    const columns = this.#table.ofType(type);
    if (columns.length > 0 && (depth <= 0 || rng.chance(0.6))) {
      const column = rng.pick(columns);
      return { sql: same(column.name, type, column.bound), column };
    }
    return { sql: this.expr(type, Math.max(depth - 1, 0)), column: undefined };
  }

  #comparison(depth: number): Sql {
    const rng = this.#rng;
    const type = rng.pick<ValueType>(["int", "double", "double", "string", "string", "timestamp", "boolean"]);
    const op = rng.pick(COMPARISONS);
    if (type === "boolean") {
      const a = this.column("boolean") ?? this.predicate(depth - 1);
      const b = rng.chance(0.6) ? this.literal("boolean") : this.predicate(depth - 1);
      return this.binary(a, rng.pick(["=", "!=", "<>"]), b, "boolean", 0);
    }
    const { sql: left, column } = this.#operand(type, depth);
    let right: Sql;
    if (type === "timestamp") right = this.timeLiteral(this.timeValue(), true);
    else if (rng.chance(0.7)) right = this.literal(type, column);
    else right = isNumeric(type) ? this.#numericExpr(depth - 1) : this.expr(type, depth - 1);
    // An integer beyond 2^53 against a double near it: SQLite compares exactly, the engine (as
    // PostgreSQL) in double. Only one side may read such an integer column when the types differ.
    if (left.type !== right.type && this.readsWide(left) && this.readsWide(right))
      right = this.literal(type, column);
    return rng.chance(0.85)
      ? this.binary(left, op, right, "boolean", 0)
      : this.binary(right, op, left, "boolean", 0);
  }

  #isNull(depth: number): Sql {
    const a = this.#operand(this.anyType(), depth).sql;
    const test = this.#rng.pick(["IS NULL", "IS NOT NULL"]);
    return {
      ours: `(${a.ours} ${test})`,
      ref: `(${a.ref} ${test})`,
      type: "boolean",
      bound: 0,
      tolerance: 0,
    };
  }

  #inList(depth: number): Sql {
    const rng = this.#rng;
    const type = rng.pick<ValueType>(["int", "double", "string", "string", "timestamp", "boolean"]);
    const { sql: left, column } = this.#operand(type, depth);
    const items: Sql[] = [];
    for (let n = rng.int(1, 4); n > 0; n--) {
      items.push(
        type === "timestamp" ? this.timeLiteral(this.timeValue(), false) : this.literal(type, column),
      );
    }
    if (rng.chance(0.15)) items.push(same("NULL", type));
    const op = rng.chance(0.7) ? "IN" : "NOT IN";
    const list = (f: (s: Sql) => string) => items.map(f).join(", ");
    return {
      ours: `(${left.ours} ${op} (${list((s) => s.ours)}))`,
      ref: `(${left.ref} ${op} (${list((s) => s.ref)}))`,
      type: "boolean",
      bound: 0,
      tolerance: 0,
    };
  }

  #between(depth: number): Sql {
    const rng = this.#rng;
    const type = rng.pick<ValueType>(["int", "double", "string", "timestamp"]);
    const { sql: left, column } = this.#operand(type, depth);
    const bound = () =>
      type === "timestamp" ? this.timeLiteral(this.timeValue(), true) : this.literal(type, column);
    const lo = bound();
    const hi = bound();
    const op = rng.chance(0.75) ? "BETWEEN" : "NOT BETWEEN";
    return {
      ours: `(${left.ours} ${op} ${lo.ours} AND ${hi.ours})`,
      ref: `(${left.ref} ${op} ${lo.ref} AND ${hi.ref})`,
      type: "boolean",
      bound: 0,
      tolerance: 0,
    };
  }

  /** A LIKE pattern made from a value: characters replaced by `_`, ends cut to `%`. */
  #pattern(column: ColumnModel | undefined): string {
    const rng = this.#rng;
    const pool = column?.samples ?? this.#table.ofType("string").flatMap((c) => c.samples);
    let text = pool.length > 0 ? (rng.pick(pool) as string) : "ab";
    if (rng.chance(0.3)) text = text.toUpperCase();
    const chars = [...text].map((c) => (rng.chance(0.15) ? "_" : c));
    let start = 0;
    let end = chars.length;
    if (rng.chance(0.5)) start = rng.int(0, chars.length);
    if (rng.chance(0.5)) end = rng.int(start, chars.length);
    const prefix = start > 0 || rng.chance(0.2) ? "%" : "";
    const suffix = end < chars.length || rng.chance(0.2) ? "%" : "";
    return prefix + chars.slice(start, end).join("") + suffix;
  }

  #like(depth: number): Sql {
    const rng = this.#rng;
    const { sql: left, column } = this.#operand("string", depth);
    const pattern = stringLiteral(this.#pattern(column));
    const not = rng.chance(0.25) ? "NOT " : "";
    if (rng.chance(0.7)) {
      return {
        ours: `(${left.ours} ${not}LIKE ${pattern})`,
        ref: `(${left.ref} ${not}LIKE ${pattern})`,
        type: "boolean",
        bound: 0,
        tolerance: 0,
      };
    }
    return {
      ours: `(${left.ours} ${not}ILIKE ${pattern})`,
      ref: `(lower(${left.ref}) ${not}LIKE lower(${pattern}))`,
      type: "boolean",
      bound: 0,
      tolerance: 0,
    };
  }

  /** An aggregate call; `exactOnly` leaves out sum/avg through doubles. */
  aggregate(exactOnly: boolean): Sql {
    const rng = this.#rng;
    const choice = rng.int(0, exactOnly ? 6 : 9);
    switch (choice) {
      case 0:
        return same("count(*)", "int", 1e6);
      case 1: {
        const a = this.#operand(this.anyType(), 1).sql;
        return this.call("count", [a], "int", 1e6);
      }
      case 2: {
        const column = rng.pick(this.#table.columns);
        return same(`count(DISTINCT ${column.name})`, "int", 1e6);
      }
      case 3:
      case 4:
      case 5: {
        const type = rng.pick<ValueType>(["int", "double", "string", "timestamp", "boolean"]);
        const a = this.#operand(type, 2).sql;
        return this.call(rng.pick(["min", "max"]), [a], type, a.bound);
      }
      case 6: {
        const a = this.#intExpr(1);
        return this.call("sum", [a], "int", a.bound * this.#table.rowCount);
      }
      default: {
        this.#narrowOnly = true;
        const a = rng.chance(0.5) ? this.#doubleExpr(1) : this.#intExpr(1);
        this.#narrowOnly = false;
        const fn = a.type === "double" ? rng.pick(["sum", "avg"]) : "avg";
        const tolerance = 8 * a.bound * this.#table.rowCount * EPSILON;
        return { ...this.call(fn, [a], "double", a.bound * this.#table.rowCount), tolerance };
      }
    }
  }

  /** Whether `sql` reads a column: an ORDER BY constant may be taken for a position, in both engines. */
  readsColumn(sql: Sql): boolean {
    return this.#table.columns.some((c) => new RegExp(`\\b${c.name}\\b`).test(sql.ref));
  }

  readsWide(sql: Sql): boolean {
    return this.#table.columns.some((c) => c.wide && new RegExp(`\\b${c.name}\\b`).test(sql.ref));
  }
}
