import { describe, expect, it } from "vitest";
import {
  MAX_EXPRESSION_DEPTH,
  parseExpression,
  parseStatement,
  parseStatements,
  SqlSyntaxError,
  SqlSyntaxErrorCode as Code,
} from "../../src/sql/index.js";

function syntaxError(parse: () => unknown): SqlSyntaxError {
  try {
    parse();
  } catch (e) {
    if (e instanceof SqlSyntaxError) return e;
    throw e;
  }
  throw new Error("parsing did not fail");
}

const errorOf = (sql: string) => syntaxError(() => parseStatement(sql));

describe("SqlSyntaxError", () => {
  it("names the expectation, the offending token and its line and column", () => {
    const error = errorOf("INSERT INTO cpu\n (host, usage FROM x");
    expect(error).toBeInstanceOf(SqlSyntaxError);
    expect(error.name).toBe("SqlSyntaxError");
    expect(error.message).toBe(
      "SQL syntax error at line 2, column 15: expected ')' after column list, found 'FROM'",
    );
    expect(error).toMatchObject({
      code: Code.UnexpectedToken,
      line: 2,
      column: 15,
      offset: 30,
      found: "FROM",
      expected: "')' after column list",
    });
  });

  // [sql, code, line, column, found, message after "at line L, column C: "]
  it.each<[string, Code, number, number, string | undefined, string]>([
    [
      "SELECT a FROM t WHERE",
      Code.UnexpectedEnd,
      1,
      22,
      undefined,
      "expected an expression, found end of input",
    ],
    [
      "CREATE TABLE t (a double",
      Code.UnexpectedEnd,
      1,
      25,
      undefined,
      "expected ',' or ')' after a column definition, found end of input",
    ],
    ["SELECT a FROM t b c", Code.TrailingInput, 1, 19, "c", "expected ';' or end of input, found 'c'"],
    [
      "SELECT 1;\nSELECT 2",
      Code.TrailingInput,
      2,
      1,
      "SELECT",
      "expected end of input (only one statement is allowed), found 'SELECT'",
    ],
    ["SELECT a FROM t WHERE a > 1\n  WHERE b", Code.DuplicateClause, 2, 3, "WHERE", "duplicate WHERE clause"],
    ["SELECT a FROM t LIMIT 1 LIMIT 2", Code.DuplicateClause, 1, 25, "LIMIT", "duplicate LIMIT clause"],
    ["SELECT a FROM t LIMIT 5, 1 OFFSET 2", Code.DuplicateClause, 1, 28, "OFFSET", "duplicate OFFSET clause"],
    [
      "SELECT a FROM t ORDER BY a WHERE b > 1",
      Code.MisplacedClause,
      1,
      28,
      "WHERE",
      "misplaced WHERE: it must come before ORDER BY",
    ],
    [
      "SELECT a WHERE b FROM t",
      Code.MisplacedClause,
      1,
      18,
      "FROM",
      "misplaced FROM: it must come before WHERE",
    ],
    [
      "CREATE TABLE t (ts timestamp) ENGINE=Analytic ENGINE=Analytic",
      Code.DuplicateClause,
      1,
      47,
      "ENGINE",
      "duplicate ENGINE clause",
    ],
    [
      "CREATE TABLE t (ts timestamp TIMESTAMP KEY, TIMESTAMP KEY(ts))",
      Code.DuplicateClause,
      1,
      45,
      "TIMESTAMP",
      "duplicate TIMESTAMP KEY",
    ],
    ["CREATE TABLE t (h string TAG TAG)", Code.DuplicateClause, 1, 30, "TAG", "duplicate TAG for column 'h'"],
    [
      "CREATE TABLE t (h string NULL NOT NULL)",
      Code.DuplicateClause,
      1,
      31,
      "NOT",
      "duplicate NULL / NOT NULL for column 'h'",
    ],
    [
      "CREATE TABLE t (ts timestamp) WITH (ttl='1d', TTL='2d')",
      Code.DuplicateClause,
      1,
      47,
      "TTL",
      "duplicate option 'TTL'",
    ],
    [
      "CREATE TABLE order (ts timestamp)",
      Code.ReservedWord,
      1,
      14,
      "order",
      "expected a table name, found reserved word 'order' (write `order` to use it as a name)",
    ],
    [
      "CREATE TABLE t (ts timestamp, select double)",
      Code.ReservedWord,
      1,
      31,
      "select",
      "expected a column name, found reserved word 'select' (write `select` to use it as a name)",
    ],
    [
      "SELECT a AS from FROM t",
      Code.ReservedWord,
      1,
      13,
      "from",
      "expected an alias after AS, found reserved word 'from' (write `from` to use it as a name)",
    ],
    [
      "CREATE TABLE t (ts timestamp, price decimal)",
      Code.UnknownDataType,
      1,
      37,
      "decimal",
      "unknown data type 'decimal'; known types are timestamp, double, float, int64, int32, uint64, boolean, string, varbinary",
    ],
    [
      "SELECT CAST(a AS money)",
      Code.UnknownDataType,
      1,
      18,
      "money",
      "unknown data type 'money'; known types are timestamp, double, float, int64, int32, uint64, boolean, string, varbinary",
    ],
    [
      "SELECT now() - INTERVAL 'banana'",
      Code.InvalidLiteral,
      1,
      25,
      "'banana'",
      "invalid interval 'banana'; expected an interval such as '5 minutes', '1 hour 30 minutes' or '2d'",
    ],
    [
      "SELECT a FROM t WHERE ts > now() - INTERVAL '1 hour' HOUR",
      Code.TrailingInput,
      1,
      54,
      "HOUR",
      "expected ';' or end of input, found 'HOUR'",
    ],
    [
      "SELECT INTERVAL '1.5' MONTH",
      Code.InvalidLiteral,
      1,
      17,
      "'1.5'",
      "invalid interval '1.5'; expected a number of months",
    ],
    [
      "SELECT TIMESTAMP '2024-02-30 00:00:00'",
      Code.InvalidLiteral,
      1,
      18,
      "'2024-02-30 00:00:00'",
      "invalid timestamp '2024-02-30 00:00:00'; expected a timestamp such as '2024-01-01 00:00:00' or '2024-01-01T00:00:00.000Z'",
    ],
    ["SELECT 1e999", Code.InvalidLiteral, 1, 8, "1e999", "number '1e999' is out of range"],
    [
      "CREATE TABLE t (h string TAG) PARTITION BY KEY(h) PARTITIONS 0",
      Code.InvalidLiteral,
      1,
      62,
      "0",
      "invalid number of partitions '0'",
    ],
    [
      "UPDATE t SET a = 1",
      Code.UnexpectedToken,
      1,
      1,
      "UPDATE",
      "expected a statement (SELECT, INSERT, CREATE TABLE, DROP TABLE, ALTER TABLE, DESCRIBE, SHOW, EXISTS or EXPLAIN), found 'UPDATE'",
    ],
    [
      "SELECT * FROM a JOIN b ON a.x = b.x",
      Code.UnexpectedToken,
      1,
      17,
      "JOIN",
      "expected one table after FROM (no joins), found 'JOIN'",
    ],
    [
      "SELECT count(DISTINCT *) FROM t",
      Code.UnexpectedToken,
      1,
      23,
      "*",
      "expected an expression, found '*'",
    ],
    [
      "EXPLAIN EXPLAIN SELECT 1",
      Code.UnexpectedToken,
      1,
      9,
      "EXPLAIN",
      "expected a statement to explain, found 'EXPLAIN'",
    ],
    ["CREATE TABLE t ()", Code.UnexpectedToken, 1, 17, ")", "expected a column name, found ')'"],
    [
      "ALTER TABLE t DROP COLUMN a",
      Code.UnexpectedToken,
      1,
      15,
      "DROP",
      "expected ADD COLUMN or MODIFY SETTING after the table name, found 'DROP'",
    ],
    [
      "SELECT a FROM t WHERE a = 'x' 'y'",
      Code.TrailingInput,
      1,
      31,
      "'y'",
      "expected ';' or end of input, found 'y'",
    ],
    [
      "SELECT a FROM t WHERE a IN ()",
      Code.UnexpectedToken,
      1,
      29,
      ")",
      "expected a value in the IN list, found ')'",
    ],
    ["SELECT CASE END", Code.UnexpectedToken, 1, 13, "END", "expected an expression, found 'END'"],
    [
      "SELECT a FROM t ORDER BY a NULLS",
      Code.UnexpectedEnd,
      1,
      33,
      undefined,
      "expected FIRST or LAST after NULLS, found end of input",
    ],
    [
      "SELECT 'abc",
      Code.UnterminatedString,
      1,
      8,
      "'abc",
      "unterminated string literal: no closing quote (')",
    ],
    [
      "SELECT `abc",
      Code.UnterminatedIdentifier,
      1,
      8,
      "`abc",
      "unterminated quoted identifier: no closing `",
    ],
    ["SELECT 1 ^ 2", Code.UnexpectedCharacter, 1, 10, "^", "unexpected character '^'"],
  ])("%j fails with %s at line %i, column %i", (sql, code, line, column, found, reason) => {
    const error = errorOf(sql);
    expect({ code: error.code, line: error.line, column: error.column, found: error.found }).toEqual({
      code,
      line,
      column,
      found,
    });
    expect(error.message).toBe(`SQL syntax error at line ${line}, column ${column}: ${reason}`);
    expect(error.offset).toBe(
      sql
        .split("\n")
        .slice(0, line - 1)
        .reduce((n, l) => n + l.length + 1, 0) +
        column -
        1,
    );
    expect(error.expected.length).toBeGreaterThan(0);
  });

  it("reports the first error in source order: a syntax error before a lexical one", () => {
    expect(errorOf("SELECT FROM t WHERE a = 'open")).toMatchObject({ code: Code.UnexpectedToken, column: 8 });
  });

  it("refuses expressions nested deeper than the limit, without exhausting the stack", () => {
    const depth = MAX_EXPRESSION_DEPTH + 1;
    const deep = `SELECT ${"(".repeat(depth)}1${")".repeat(depth)}`;
    expect(errorOf(deep)).toMatchObject({ code: Code.NestingTooDeep });
    expect(errorOf(`SELECT ${"- ".repeat(100_000)}1`)).toMatchObject({ code: Code.NestingTooDeep });
    expect(errorOf(`SELECT ${"NOT ".repeat(100_000)}1`)).toMatchObject({ code: Code.NestingTooDeep });
    const ok = MAX_EXPRESSION_DEPTH - 2;
    expect(parseStatement(`SELECT ${"(".repeat(ok)}1${")".repeat(ok)}`).kind).toBe("select");
  });

  it("reports trailing input in statement lists and expressions", () => {
    expect(syntaxError(() => parseStatements("SHOW TABLES SHOW TABLES"))).toMatchObject({
      code: Code.TrailingInput,
      column: 13,
      expected: "';' or end of input",
    });
    expect(syntaxError(() => parseExpression("a + b c"))).toMatchObject({
      code: Code.TrailingInput,
      column: 7,
      found: "c",
    });
  });

  it("reports an empty statement as an unexpected end", () => {
    expect(errorOf("  -- nothing")).toMatchObject({
      code: Code.UnexpectedEnd,
      line: 1,
      column: 13,
      found: undefined,
    });
  });
});
