import { describe, expect, it } from "vitest";
import { ALL_DATA_TYPES } from "../../src/table/data-type.js";
import {
  formatExpr,
  formatStatement,
  parseExpression,
  parseIntervalText,
  parseStatements,
  SqlSyntaxError,
  type BinaryOperator,
  type Expr,
  type SourcePosition,
  type Statement,
} from "../../src/sql/index.js";
import { withoutPositions } from "./ast-helpers.js";
import { VALID_STATEMENTS } from "./corpus.js";

/** A small deterministic generator (mulberry32), so a failure can be replayed. */
function randomGenerator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const VOCABULARY = [
  ...["SELECT", "FROM", "WHERE", "GROUP", "BY", "HAVING", "ORDER", "LIMIT", "OFFSET", "AS", "DISTINCT"],
  ...["AND", "OR", "NOT", "IS", "NULL", "IN", "BETWEEN", "LIKE", "ILIKE", "TRUE", "FALSE", "ASC", "DESC"],
  ...["NULLS", "FIRST", "LAST", "CASE", "WHEN", "THEN", "ELSE", "END", "CAST", "INTERVAL", "TIMESTAMP"],
  ...["CREATE", "TABLE", "IF", "EXISTS", "DROP", "ALTER", "ADD", "COLUMN", "MODIFY", "SETTING", "TAG"],
  ...["KEY", "PRIMARY", "PARTITION", "PARTITIONS", "ENGINE", "WITH", "DEFAULT", "COMMENT", "INSERT"],
  ...["INTO", "VALUES", "SHOW", "TABLES", "DATABASES", "DESCRIBE", "EXPLAIN", "ANALYZE", "HOUR"],
  ...["cpu", "host", "ts", "usage", "count", "now", "time_bucket", "string", "double", "timestamp"],
  ...["0", "1", "42", "-7", "1.5", ".5", "1e3", "18446744073709551615", "'x'", "'it''s'", "'1 hour'"],
  ...["'2024-01-01'", "`q`", '"Q"', "(", ")", ",", ";", ".", "*", "+", "-", "/", "%", "=", "!="],
  ...["<>", "<", "<=", ">", ">=", "::", "--c\n", "/*c*/", "\n"],
  // Lexically broken pieces.
  ...["'open", "`open", '"open', "/* open", "@", "#", "1x", "1.2.3", '""'],
];

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

/** The line and column of an offset, counted as the lexer counts them. */
function lineAndColumn(sql: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset; i++) {
    const c = sql[i];
    if (c === "\n" || (c === "\r" && sql[i + 1] !== "\n")) {
      line += 1;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/**
 * Parses `sql` and checks the outcome is one of the two allowed ones: statements that format and
 * parse back to the same trees, or an SqlSyntaxError whose position is inside the text. Any other
 * exception fails the test (with the SQL that caused it).
 */
function checkParse(sql: string): "parsed" | "rejected" {
  let statements: Statement[];
  try {
    statements = parseStatements(sql);
  } catch (e) {
    if (!(e instanceof SqlSyntaxError)) {
      throw new Error(`not a syntax error for ${JSON.stringify(sql)}: ${String(e)}`, { cause: e });
    }
    expect(e.offset).toBeGreaterThanOrEqual(0);
    expect(e.offset).toBeLessThanOrEqual(sql.length);
    expect({ line: e.line, column: e.column }).toEqual(lineAndColumn(sql, e.offset));
    return "rejected";
  }
  for (const statement of statements) {
    const formatted = formatStatement(statement);
    const [again] = parseStatements(formatted);
    expect(withoutPositions(again), `${sql}\n-> ${formatted}`).toEqual(withoutPositions(statement));
  }
  return "parsed";
}

describe("parsing arbitrary text", () => {
  it("answers random token soup with statements or a syntax error, nothing else", () => {
    const random = randomGenerator(20240101);
    const outcomes = { parsed: 0, rejected: 0 };
    for (let i = 0; i < 20_000; i++) {
      const length = 1 + Math.floor(random() * 25);
      const parts: string[] = [];
      for (let j = 0; j < length; j++) parts.push(pick(random, VOCABULARY));
      outcomes[checkParse(parts.join(random() < 0.8 ? " " : ""))] += 1;
    }
    expect(outcomes.rejected).toBeGreaterThan(0);
    expect(outcomes.parsed).toBeGreaterThan(0);
  });

  it("answers every truncation of every valid statement with statements or a syntax error", () => {
    let rejected = 0;
    for (const sql of VALID_STATEMENTS) {
      for (let end = 0; end <= sql.length; end++) {
        if (checkParse(sql.slice(0, end)) === "rejected") rejected += 1;
      }
    }
    expect(rejected).toBeGreaterThan(VALID_STATEMENTS.length);
  });

  it("answers valid statements with one token dropped, doubled or replaced", () => {
    const random = randomGenerator(7);
    for (const sql of VALID_STATEMENTS) {
      const words = sql.split(" ");
      for (let i = 0; i < 30; i++) {
        const at = Math.floor(random() * words.length);
        const mutated = [...words];
        const roll = random();
        if (roll < 0.33) mutated.splice(at, 1);
        else if (roll < 0.66) mutated.splice(at, 0, words[at] ?? "");
        else mutated[at] = pick(random, VOCABULARY);
        checkParse(mutated.join(" "));
      }
    }
  });
});

const AT: SourcePosition = { offset: 0, line: 1, column: 1 };
const NAMES = [
  "a",
  "B",
  "ts",
  "timestamp",
  "interval",
  "first",
  "select",
  "x y",
  "it's",
  "a`b",
  'q"',
  "温度",
];
const BINARY_OPERATORS: readonly BinaryOperator[] = [
  ...(["OR", "AND", "=", "!=", "<", "<=", ">", ">="] as const),
  ...(["+", "-", "*", "/", "%"] as const),
];
const INTERVAL_TEXTS: readonly [string, "HOUR" | undefined][] = [
  ["1 hour", undefined],
  ["5 minutes 3s", undefined],
  ["2", "HOUR"],
];

/** A random tree of every expression kind, in the shape the parser produces. */
function randomExpr(random: () => number, depth: number): Expr {
  const name = () => ({ value: pick(random, NAMES), pos: AT });
  const sub = () => randomExpr(random, depth - 1);
  const roll = Math.floor(random() * (depth <= 0 ? 8 : 20));
  switch (roll) {
    case 0:
      return { kind: "integer", value: BigInt(Math.floor(random() * 2000) - 1000) * 10n ** 15n, pos: AT };
    case 1:
      return { kind: "float", value: (Math.floor(random() * 200) - 100) / 8, pos: AT };
    case 2:
      return { kind: "string", value: pick(random, ["", "x", "it's", "%_"]), pos: AT };
    case 3:
      return { kind: "boolean", value: random() < 0.5, pos: AT };
    case 4:
      return { kind: "null", pos: AT };
    case 5: {
      const [text, unit] = pick(random, INTERVAL_TEXTS);
      const length = parseIntervalText(text, unit);
      if (length === undefined) throw new Error(`bad interval text ${text}`);
      return { kind: "interval", text, unit, ...length, pos: AT };
    }
    case 6:
      return { kind: "timestamp", text: "2024-01-01 00:00:00", value: Date.UTC(2024, 0, 1), pos: AT };
    case 7:
      return { kind: "column", table: random() < 0.3 ? name() : undefined, name: name(), pos: AT };
    case 8: {
      const wildcard = random() < 0.2;
      const args = wildcard ? [] : Array.from({ length: Math.floor(random() * 3) }, sub);
      return {
        kind: "function",
        name: name(),
        args,
        distinct: args.length > 0 && random() < 0.3,
        wildcard,
        pos: AT,
      };
    }
    case 9: {
      const operand = sub();
      // The parser folds a minus into a number literal, so that shape never comes out of it.
      const foldable = operand.kind === "integer" || operand.kind === "float";
      const op = pick(random, foldable ? (["+", "NOT"] as const) : (["-", "+", "NOT"] as const));
      return { kind: "unary", op, operand, pos: AT };
    }
    case 10:
    case 11:
    case 12:
      return { kind: "binary", op: pick(random, BINARY_OPERATORS), left: sub(), right: sub(), pos: AT };
    case 13:
      return {
        kind: "is",
        expr: sub(),
        test: pick(random, ["NULL", "TRUE", "FALSE"] as const),
        negated: random() < 0.5,
        pos: AT,
      };
    case 14:
      return { kind: "inList", expr: sub(), list: [sub(), sub()], negated: random() < 0.5, pos: AT };
    case 15:
      return { kind: "between", expr: sub(), low: sub(), high: sub(), negated: random() < 0.5, pos: AT };
    case 16:
      return {
        kind: "like",
        expr: sub(),
        pattern: sub(),
        negated: random() < 0.5,
        caseInsensitive: random() < 0.5,
        pos: AT,
      };
    case 17:
      return { kind: "cast", expr: sub(), type: pick(random, ALL_DATA_TYPES), pos: AT };
    default:
      return {
        kind: "case",
        operand: random() < 0.5 ? sub() : undefined,
        branches: [{ when: sub(), then: sub() }],
        else: random() < 0.5 ? sub() : undefined,
        pos: AT,
      };
  }
}

describe("formatting arbitrary trees", () => {
  it("formats random expression trees into SQL that parses back to the same tree", () => {
    const random = randomGenerator(99);
    for (let i = 0; i < 5_000; i++) {
      const expr = randomExpr(random, 4);
      const sql = formatExpr(expr);
      expect(withoutPositions(parseExpression(sql)), sql).toEqual(withoutPositions(expr));
    }
  });
});
