import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ColumnBatch } from "../../src/batch/column-batch.js";
import type { ScanRequest } from "../../src/engine/index.js";
import {
  executeSelect,
  executeSelectStream,
  explain,
  QueryExecutionError,
  QueryExecutionErrorCode as ExecCode,
  QueryPlanError,
  QueryPlanErrorCode as Code,
  type QueryEngine,
} from "../../src/query/index.js";
import { parseStatement, type ExplainStatement, type SelectStatement } from "../../src/sql/index.js";
import { openQueryFixture, type QueryFixture } from "./query-fixtures.js";

let f: QueryFixture;
beforeAll(async () => {
  f = await openQueryFixture();
});
afterAll(async () => {
  await f.close();
});

async function planError(sql: string): Promise<QueryPlanError> {
  try {
    await f.query(sql);
  } catch (error) {
    if (error instanceof QueryPlanError) return error;
    throw error;
  }
  throw new Error(`no error for ${sql}`);
}

describe("planning errors name what they blame and where it is", () => {
  // [sql, code, line, column, message without the position]
  it.each<[string, Code, number, number, string]>([
    ["SELECT x FROM cpu", Code.UnknownColumn, 1, 8, 'column "x" does not exist in table cpu'],
    [
      "SELECT host,\n  HOST FROM cpu",
      Code.UnknownColumn,
      2,
      3,
      'column "HOST" does not exist in table cpu; did you mean "host"?',
    ],
    [
      "SELECT * FROM cpu WHERE nope > 1",
      Code.UnknownColumn,
      1,
      25,
      'column "nope" does not exist in table cpu',
    ],
    [
      "SELECT 1 FROM cpu ORDER BY nope",
      Code.UnknownColumn,
      1,
      28,
      'column "nope" does not exist in table cpu',
    ],
    ["SELECT x", Code.UnknownColumn, 1, 8, 'column "x" does not exist (the query has no FROM)'],
    ["SELECT * FROM missing", Code.UnknownTable, 1, 15, 'table "missing" does not exist in database public'],
    ["SELECT * FROM other.cpu", Code.UnknownTable, 1, 21, 'table "cpu" does not exist in database other'],
    ["SELECT t.host FROM cpu", Code.UnknownQualifier, 1, 8, 'table "t" is not in FROM (it reads cpu)'],
    ["SELECT t.* FROM cpu c", Code.UnknownQualifier, 1, 8, 'table "t" is not in FROM'],
    ["SELECT *", Code.Unsupported, 1, 8, "SELECT * needs a FROM clause"],
    ["SELECT foo(usage_user) FROM cpu", Code.UnknownFunction, 1, 8, "function foo does not exist"],
    ["SELECT\n\n   bar()", Code.UnknownFunction, 3, 4, "function bar does not exist"],
    [
      "SELECT sum(host) FROM cpu",
      Code.TypeMismatch,
      1,
      12,
      "sum() of a string column is not supported; it takes numbers",
    ],
    [
      "SELECT sum(lower(host)) FROM cpu",
      Code.TypeMismatch,
      1,
      12,
      "sum() of a string value is not supported; it takes numbers",
    ],
    [
      "SELECT avg(ts) FROM cpu",
      Code.TypeMismatch,
      1,
      12,
      "avg() of a timestamp column is not supported; it takes numbers",
    ],
    [
      "SELECT usage_user + host FROM cpu",
      Code.TypeMismatch,
      1,
      19,
      "operator + cannot be applied to double and string",
    ],
    ["SELECT * FROM cpu WHERE host > 1.5", Code.TypeMismatch, 1, 30, "cannot compare string with double"],
    [
      "SELECT * FROM cpu WHERE cores",
      Code.TypeMismatch,
      1,
      25,
      "argument of WHERE condition must be boolean, not int32",
    ],
    [
      "SELECT * FROM cpu WHERE NOT cores",
      Code.TypeMismatch,
      1,
      25,
      "argument of NOT must be boolean, not int32",
    ],
    [
      "SELECT * FROM cpu WHERE ts > 'yesterday'",
      Code.InvalidValue,
      1,
      30,
      "cannot cast 'yesterday' to timestamp: expected YYYY-MM-DD[ HH:MM[:SS[.fff]]][Z|±HH:MM]",
    ],
    [
      "SELECT CAST(healthy AS timestamp) FROM cpu",
      Code.TypeMismatch,
      1,
      8,
      "cannot cast boolean to timestamp",
    ],
    [
      "SELECT time_bucket(ts) FROM cpu",
      Code.InvalidArguments,
      1,
      8,
      "function time_bucket takes 2 arguments, got 1",
    ],
    [
      "SELECT time_bucket(ts, 'PT0S') FROM cpu",
      Code.InvalidArguments,
      1,
      24,
      "time_bucket(): 'PT0S' is not a positive duration",
    ],
    [
      "SELECT time_bucket(ts, note) FROM cpu",
      Code.InvalidArguments,
      1,
      24,
      "time_bucket() takes a constant period such as 'PT1M' second",
    ],
    ["SELECT now(1)", Code.InvalidArguments, 1, 8, "function now takes 0 arguments, got 1"],
    [
      "SELECT count(x, y) FROM cpu",
      Code.InvalidArguments,
      1,
      8,
      "function count takes 1 argument, got 2 arguments",
    ],
    [
      "SELECT * FROM cpu WHERE max(usage_user) > 1",
      Code.MisplacedAggregate,
      1,
      25,
      "aggregate functions are not allowed in WHERE",
    ],
    [
      "SELECT 1 FROM cpu GROUP BY max(cores)",
      Code.MisplacedAggregate,
      1,
      28,
      "aggregate functions are not allowed in GROUP BY",
    ],
    [
      "SELECT count(*) AS n FROM cpu GROUP BY n",
      Code.MisplacedAggregate,
      1,
      40,
      'GROUP BY "n" refers to an aggregate; aggregates are not allowed in GROUP BY',
    ],
    [
      "SELECT sum(max(cores)) FROM cpu",
      Code.MisplacedAggregate,
      1,
      12,
      "aggregate function calls cannot be nested",
    ],
    [
      "SELECT host, max(cores) FROM cpu",
      Code.NotGrouped,
      1,
      8,
      'column "host" must appear in the GROUP BY clause or be used in an aggregate function',
    ],
    [
      "SELECT host FROM cpu GROUP BY region HAVING count(*) > 1",
      Code.NotGrouped,
      1,
      8,
      'column "host" must appear in the GROUP BY clause or be used in an aggregate function',
    ],
    [
      "SELECT count(*) FROM cpu ORDER BY\n  ts",
      Code.NotGrouped,
      2,
      3,
      'column "ts" must appear in the GROUP BY clause or be used in an aggregate function',
    ],
    [
      "SELECT host AS x, region AS x FROM cpu ORDER BY x",
      Code.AmbiguousColumn,
      1,
      49,
      'ORDER BY "x" is ambiguous',
    ],
    [
      "SELECT host FROM cpu ORDER BY 0",
      Code.InvalidValue,
      1,
      31,
      "ORDER BY position 0 is not in the select list (it has 1 column)",
    ],
    [
      "SELECT 99999999999999999999",
      Code.InvalidValue,
      1,
      8,
      "integer 99999999999999999999 is out of range for int64 and uint64",
    ],
    [
      "SELECT ts - INTERVAL '1 day' > INTERVAL '1 day' FROM cpu",
      Code.TypeMismatch,
      1,
      30,
      "cannot compare timestamp with interval",
    ],
  ])("%j: %s at %i:%i", async (sql, code, line, column, reason) => {
    const error = await planError(sql);
    expect(error).toBeInstanceOf(QueryPlanError);
    expect({ code: error.code, line: error.line, column: error.column, reason: error.reason }).toEqual({
      code,
      line,
      column,
      reason,
    });
    expect(error.message).toBe(`${reason} (at line ${line}, column ${column})`);
  });

  it("refuses EXPLAIN of anything but SELECT", async () => {
    const statement = parseStatement("EXPLAIN SHOW TABLES") as ExplainStatement;
    await expect(explain(f.engine, "public", statement)).rejects.toMatchObject({
      code: Code.Unsupported,
      line: 1,
      column: 9,
    });
  });
});

describe("execution errors", () => {
  it("division by zero", async () => {
    await expect(
      f.query("SELECT requests / (cores - 4) FROM cpu WHERE requests IS NOT NULL"),
    ).rejects.toMatchObject({
      code: ExecCode.DivisionByZero,
      message: "division by zero",
    });
  });

  it("a NULL divisor is not a division by zero", async () => {
    const rows = await f.rows("SELECT usage_system / usage_user FROM cpu WHERE usage_user IS NULL");
    expect(rows).toEqual([[null]]);
  });

  it("a value that a CAST cannot convert", async () => {
    await expect(f.query("SELECT CAST(note AS double) FROM cpu")).rejects.toMatchObject({
      code: ExecCode.InvalidCast,
      message: "cannot cast 'start a' to double",
    });
  });
});

describe("memory limit", () => {
  it("stops a hash aggregation that holds more than the limit, saying so", async () => {
    const error = await f
      .query("SELECT ts, host, count(*) FROM cpu GROUP BY ts, host", { memoryLimitBytes: 600 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueryExecutionError);
    expect((error as QueryExecutionError).code).toBe(ExecCode.MemoryLimitExceeded);
    expect((error as QueryExecutionError).message).toMatch(
      /^query exceeded its memory limit of 600 bytes \(hash aggregation needed \d+ bytes in all\)$/,
    );
  });

  it("stops a sort that buffers more than the limit", async () => {
    await expect(
      f.query("SELECT * FROM cpu ORDER BY usage_user", { memoryLimitBytes: 1000 }),
    ).rejects.toThrow(/^query exceeded its memory limit of 1000 bytes \(sort needed \d+ bytes in all\)$/);
  });

  it("lets the same queries run under a limit they fit in", async () => {
    expect(
      await f.rows("SELECT ts, host, count(*) FROM cpu GROUP BY ts, host", { memoryLimitBytes: 100_000 }),
    ).toHaveLength(18);
    expect(await f.rows("SELECT * FROM cpu ORDER BY usage_user", { memoryLimitBytes: 100_000 })).toHaveLength(
      18,
    );
  });
});

/** The fixture's engine with every scan batch delayed, so that a query takes a while. */
function slowEngine(delayMs: number): QueryEngine & { batchesRead: number } {
  const engine = f.engine;
  const slow = {
    batchesRead: 0,
    table: (database: string, name: string) => engine.table(database, name),
    scan(database: string, name: string, request: ScanRequest) {
      const scan = engine.scan(database, name, { ...request, batchSize: 2 });
      return {
        metrics: scan.metrics,
        async *[Symbol.asyncIterator](): AsyncGenerator<ColumnBatch> {
          for await (const batch of scan) {
            await sleep(delayMs);
            slow.batchesRead++;
            yield batch;
          }
        },
      };
    },
  };
  return slow;
}

const select = (sql: string) => parseStatement(sql) as SelectStatement;

describe("timeout and cancellation", () => {
  it("stops a query that runs past its timeout, between batches", async () => {
    const engine = slowEngine(20);
    const started = performance.now();
    const error = await executeSelect(
      engine,
      "public",
      select("SELECT host, count(*) FROM cpu GROUP BY host"),
      { timeoutMs: 50 },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueryExecutionError);
    expect(error).toMatchObject({ code: ExecCode.Timeout, message: "query exceeded its timeout of 50 ms" });
    expect(performance.now() - started).toBeLessThan(1000);
    expect(engine.batchesRead).toBeLessThan(9);
  });

  it("stops a query whose signal is aborted while it runs", async () => {
    const engine = slowEngine(5);
    const controller = new AbortController();
    const stream = executeSelectStream(engine, "public", select("SELECT host, ts FROM cpu"), {
      signal: controller.signal,
    });
    const seen: number[] = [];
    const error = await (async () => {
      for await (const batch of stream) {
        seen.push(batch.numRows);
        controller.abort(new Error("client went away"));
      }
    })().catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: ExecCode.Cancelled,
      message: "query was cancelled: client went away",
    });
    expect(seen).toHaveLength(1);
  });

  it("does not start a query whose signal is already aborted", async () => {
    const engine = slowEngine(0);
    await expect(
      executeSelect(engine, "public", select("SELECT * FROM cpu"), {
        signal: AbortSignal.abort("shutting down"),
      }),
    ).rejects.toMatchObject({ code: ExecCode.Cancelled, message: "query was cancelled: shutting down" });
    expect(engine.batchesRead).toBe(0);
  });
});
