import { describe, expect, it } from "vitest";
import { parseExpression } from "../../src/sql/index.js";
import { sexpr, selectExpr, withoutPositions } from "./ast-helpers.js";

const grouped = (sql: string): string => sexpr(parseExpression(sql));

describe("expression precedence", () => {
  it("binds OR < AND < NOT < comparison < + - < * / % < unary", () => {
    expect(grouped("a OR b AND NOT c = 1 + 2 * 3")).toBe("(OR a (AND b (NOT (= c (+ 1 (* 2 3))))))");
    expect(grouped("-a * b + c")).toBe("(+ (* (- a) b) c)");
    expect(grouped("NOT a AND b")).toBe("(AND (NOT a) b)");
    expect(grouped("NOT NOT a")).toBe("(NOT (NOT a))");
  });

  it("associates binary operators of one level to the left", () => {
    expect(grouped("a - b - c")).toBe("(- (- a b) c)");
    expect(grouped("a / b * c % d")).toBe("(% (* (/ a b) c) d)");
    expect(grouped("a OR b OR c")).toBe("(OR (OR a b) c)");
    expect(grouped("a = b = c")).toBe("(= (= a b) c)");
  });

  it("lets parentheses override precedence", () => {
    expect(grouped("(a OR b) AND c")).toBe("(AND (OR a b) c)");
    expect(grouped("(1 + 2) * 3")).toBe("(* (+ 1 2) 3)");
    expect(grouped("NOT (a = b) = c")).toBe("(NOT (= (= a b) c))");
  });

  it("reads every comparison operator, with <> as !=", () => {
    expect(["=", "!=", "<>", "<", "<=", ">", ">="].map((op) => grouped(`a ${op} 1`))).toEqual([
      "(= a 1)",
      "(!= a 1)",
      "(!= a 1)",
      "(< a 1)",
      "(<= a 1)",
      "(> a 1)",
      "(>= a 1)",
    ]);
  });

  it("puts IS, IN, BETWEEN and LIKE on the comparison level", () => {
    expect(grouped("a + 1 IS NULL AND b IS NOT NULL")).toBe("(AND (is (+ a 1) NULL) (is-not b NULL))");
    expect(grouped("x IS TRUE OR x IS NOT FALSE")).toBe("(OR (is x TRUE) (is-not x FALSE))");
    expect(grouped("host IN ('a', 'b') AND h NOT IN (1)")).toBe("(AND (in host ['a' 'b']) (not-in h [1]))");
    expect(grouped("ts BETWEEN 1 + 1 AND 10 AND ok")).toBe("(AND (between ts (+ 1 1) 10) ok)");
    expect(grouped("v NOT BETWEEN -1 AND 1")).toBe("(not-between v -1 1)");
    expect(grouped("name LIKE 'a%' OR name NOT ILIKE 'B_'")).toBe(
      "(OR (like name 'a%') (not-ilike name 'B_'))",
    );
    expect(grouped("NOT a IN (1)")).toBe("(NOT (in a [1]))");
  });

  it("binds :: casts tighter than unary minus", () => {
    expect(grouped("-a::int64 * 2")).toBe("(* (- (cast a int64)) 2)");
  });
});

describe("literals", () => {
  it("keeps integers exact, including int64 and uint64 extremes", () => {
    expect(selectExpr("18446744073709551615")).toMatchObject({
      kind: "integer",
      value: 18446744073709551615n,
    });
    expect(selectExpr("-9223372036854775808")).toMatchObject({
      kind: "integer",
      value: -9223372036854775808n,
    });
    expect(selectExpr("0")).toMatchObject({ kind: "integer", value: 0n });
  });

  it("folds a minus sign into number literals but not into other operands", () => {
    expect(selectExpr("-5")).toMatchObject({ kind: "integer", value: -5n, pos: { column: 8 } });
    expect(selectExpr("- -5")).toMatchObject({ kind: "integer", value: 5n });
    expect(selectExpr("-(2.5)")).toMatchObject({ kind: "float", value: -2.5 });
    expect(selectExpr("+5")).toMatchObject({
      kind: "unary",
      op: "+",
      operand: { kind: "integer", value: 5n },
    });
    expect(sexpr(selectExpr("-x"))).toBe("(- x)");
    expect(sexpr(selectExpr("3 - -2"))).toBe("(- 3 -2)");
  });

  it("reads decimals and exponents as floats", () => {
    expect([".5", "1.25", "1.", "1e3", "2.5E-3"].map((t) => selectExpr(t))).toMatchObject([
      { kind: "float", value: 0.5 },
      { kind: "float", value: 1.25 },
      { kind: "float", value: 1 },
      { kind: "float", value: 1000 },
      { kind: "float", value: 0.0025 },
    ]);
  });

  it("reads strings with doubled quotes, booleans and NULL in any case", () => {
    expect(withoutPositions(selectExpr("'it''s'"))).toEqual({ kind: "string", value: "it's" });
    expect(withoutPositions(selectExpr("true"))).toEqual({ kind: "boolean", value: true });
    expect(withoutPositions(selectExpr("FALSE"))).toEqual({ kind: "boolean", value: false });
    expect(withoutPositions(selectExpr("Null"))).toEqual({ kind: "null" });
  });

  it("reads intervals in both forms into months and milliseconds", () => {
    expect(withoutPositions(selectExpr("INTERVAL '5 minutes'"))).toEqual({
      kind: "interval",
      text: "5 minutes",
      unit: undefined,
      months: 0,
      milliseconds: 300_000,
    });
    expect(withoutPositions(selectExpr("interval '1' HOUR"))).toEqual({
      kind: "interval",
      text: "1",
      unit: "HOUR",
      months: 0,
      milliseconds: 3_600_000,
    });
    expect(selectExpr("INTERVAL '1 year 2 months 1 day'")).toMatchObject({
      months: 14,
      milliseconds: 86_400_000,
    });
    expect(selectExpr("INTERVAL '2' DAYS")).toMatchObject({ unit: "DAY", milliseconds: 172_800_000 });
  });

  it("reads `now() - INTERVAL '1 hour'` as a subtraction", () => {
    expect(sexpr(selectExpr("now() - INTERVAL '1 hour'"))).toBe("(- (now) (interval 0mo 3600000ms))");
  });

  it("reads timestamp literals as UTC epoch milliseconds unless they carry an offset", () => {
    expect(withoutPositions(selectExpr("TIMESTAMP '2024-01-01 00:00:00'"))).toEqual({
      kind: "timestamp",
      text: "2024-01-01 00:00:00",
      value: Date.UTC(2024, 0, 1),
    });
    expect(selectExpr("TIMESTAMP '2024-01-01T01:00:00.5+01:00'")).toMatchObject({
      value: Date.UTC(2024, 0, 1, 0, 0, 0, 500),
    });
  });

  it("treats TIMESTAMP and INTERVAL not followed by a string as names", () => {
    expect(sexpr(selectExpr("timestamp + interval"))).toBe("(+ timestamp interval)");
    expect(sexpr(selectExpr("timestamp(ts)"))).toBe("(timestamp ts)");
  });
});

describe("names", () => {
  it("keeps the case of bare and quoted identifiers and removes the quotes", () => {
    expect(withoutPositions(selectExpr("CpuUsage"))).toEqual({
      kind: "column",
      table: undefined,
      name: { value: "CpuUsage" },
    });
    expect(sexpr(selectExpr('"My Col" + `select`'))).toBe("(+ My Col select)");
  });

  it("reads qualified columns", () => {
    expect(withoutPositions(selectExpr("cpu.usage"))).toEqual({
      kind: "column",
      table: { value: "cpu" },
      name: { value: "usage" },
    });
    expect(sexpr(selectExpr('"t 1"."c 2"'))).toBe("t 1.c 2");
  });

  it("records where each name starts", () => {
    expect(selectExpr("\n  cpu.usage")).toMatchObject({
      pos: { line: 2, column: 3, offset: 10 },
      table: { pos: { line: 2, column: 3 } },
      name: { pos: { line: 2, column: 7, offset: 14 } },
    });
  });
});

describe("function calls and special forms", () => {
  it("reads calls of any name, with *, DISTINCT, no or several arguments", () => {
    expect(sexpr(selectExpr("count(*)"))).toBe("(count *)");
    expect(sexpr(selectExpr("COUNT(DISTINCT host)"))).toBe("(COUNT distinct host)");
    expect(sexpr(selectExpr("now()"))).toBe("(now)");
    expect(sexpr(selectExpr("time_bucket(ts, 'PT1M')"))).toBe("(time_bucket ts 'PT1M')");
    expect(sexpr(selectExpr("date_trunc('minute', ts)"))).toBe("(date_trunc 'minute' ts)");
    expect(sexpr(selectExpr("first(v) + last(v)"))).toBe("(+ (first v) (last v))");
    expect(sexpr(selectExpr("my_udf(a + 1, sum(b), 'x')"))).toBe("(my_udf (+ a 1) (sum b) 'x')");
    expect(selectExpr("  avg(x)")).toMatchObject({
      kind: "function",
      pos: { column: 10 },
      name: { value: "avg" },
    });
  });

  it("reads CAST and :: into the same node, with types by parseDataType", () => {
    expect(sexpr(selectExpr("CAST(a AS BIGINT)"))).toBe("(cast a int64)");
    expect(sexpr(selectExpr("CAST('1' AS varchar(20))"))).toBe("(cast '1' string)");
    expect(sexpr(selectExpr("a::double"))).toBe("(cast a double)");
    expect(sexpr(selectExpr("ts::timestamp::int64"))).toBe("(cast (cast ts timestamp) int64)");
  });

  it("reads searched and simple CASE", () => {
    expect(sexpr(selectExpr("CASE WHEN a > 1 THEN 'big' WHEN a > 0 THEN 'small' ELSE 'none' END"))).toBe(
      "(case [(> a 1) 'big'] [(> a 0) 'small'] else 'none')",
    );
    expect(sexpr(selectExpr("CASE host WHEN 'a' THEN 1 END"))).toBe("(case host ['a' 1])");
  });
});
