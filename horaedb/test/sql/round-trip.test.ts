import { describe, expect, it } from "vitest";
import { formatExpr, formatStatement, parseExpression, parseStatement } from "../../src/sql/index.js";
import { withoutPositions } from "./ast-helpers.js";
import { VALID_STATEMENTS } from "./corpus.js";

describe("format then parse", () => {
  it("has a corpus of about a hundred statements", () => {
    expect(VALID_STATEMENTS.length).toBeGreaterThanOrEqual(100);
  });

  it.each(VALID_STATEMENTS.map((sql) => [sql]))("gives back the same tree: %s", (sql) => {
    const parsed = parseStatement(sql);
    const formatted = formatStatement(parsed);
    const reparsed = parseStatement(formatted);
    expect(withoutPositions(reparsed)).toEqual(withoutPositions(parsed));
    // The canonical form is a fixed point.
    expect(formatStatement(reparsed)).toBe(formatted);
  });
});

describe("canonical SQL", () => {
  it.each([
    ["select a from t where x<>1", "SELECT a FROM t WHERE x != 1"],
    ["SELECT a b FROM t c", "SELECT a AS b FROM t AS c"],
    ["SELECT * FROM t LIMIT 5, 10", "SELECT * FROM t LIMIT 10 OFFSET 5"],
    ["SELECT ((a + b)) * (c)", "SELECT (a + b) * c"],
    ["SELECT a - (b - c), (a - b) - c", "SELECT a - (b - c), a - b - c"],
    ["SELECT - - a, -(5), - (-a)", "SELECT -(-a), -5, -(-a)"],
    ["SELECT NOT (a = b), (NOT a) = b", "SELECT NOT a = b, (NOT a) = b"],
    ["SELECT a::BIGINT", "SELECT CAST(a AS int64)"],
    ["SELECT 1e3, 2.50", "SELECT 1000.0, 2.5"],
    ['SELECT "select", "x y", plain, "ok_1"', "SELECT `select`, `x y`, plain, ok_1"],
    ["SELECT 'it''s'", "SELECT 'it''s'"],
    [
      "create table t (ts timestamp not null timestamp key, h varchar tag) with (TTL = '1d')",
      "CREATE TABLE t (ts timestamp NOT NULL, h string TAG, TIMESTAMP KEY(ts)) WITH (TTL='1d')",
    ],
    ["CREATE TABLE t (ts timestamp)", "CREATE TABLE t (ts timestamp, TIMESTAMP KEY(ts))"],
    [
      "CREATE TABLE t (h string TAG, ts timestamp) PARTITION BY KEY(h)",
      "CREATE TABLE t (h string TAG, ts timestamp, TIMESTAMP KEY(ts)) PARTITION BY KEY(h) PARTITIONS 1",
    ],
    ["ALTER TABLE t ADD COLUMN a int, ADD COLUMN b int", "ALTER TABLE t ADD COLUMN (a int32, b int32)"],
    ["desc t", "DESCRIBE t"],
    ["exists t", "EXISTS TABLE t"],
    ["explain analyze select 1", "EXPLAIN ANALYZE SELECT 1"],
  ])("formats %j as %j", (sql, canonical) => {
    expect(formatStatement(parseStatement(sql))).toBe(canonical);
  });

  it("formats expressions on their own", () => {
    expect(formatExpr(parseExpression("a   OR b AND (c OR d)"))).toBe("a OR b AND (c OR d)");
    expect(formatExpr(parseExpression("now() - interval '1' hour"))).toBe("now() - INTERVAL '1' HOUR");
  });
});
