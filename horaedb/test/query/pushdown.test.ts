import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { planSelect, type LogicalPlan } from "../../src/query/index.js";
import type { ScanNode } from "../../src/query/logical-plan.js";
import { parseStatement, type SelectStatement } from "../../src/sql/index.js";
import { CPU_SCHEMA, DAY, HOUR, NOW, openQueryFixture, T0, type QueryFixture } from "./query-fixtures.js";

const catalog = {
  table: (_db: string, name: string) => (name === "cpu" ? { schema: CPU_SCHEMA } : undefined),
};

function scanOf(sql: string): ScanNode {
  let plan: LogicalPlan = planSelect(catalog, "public", parseStatement(sql) as SelectStatement, {
    nowMs: NOW,
  });
  while (plan.kind !== "scan") {
    if (plan.kind === "values") throw new Error("no scan");
    plan = plan.input;
  }
  return plan;
}

const ts = (text: string) => Date.parse(`${text}Z`);

describe("pushdown into the scan", () => {
  it.each<[string, number, number]>([
    [
      "ts >= TIMESTAMP '2024-01-01 01:00' AND ts < TIMESTAMP '2024-01-01 02:00'",
      ts("2024-01-01T01:00"),
      ts("2024-01-01T02:00"),
    ],
    ["ts > 1000 AND ts <= 2000", 1001, 2001],
    ["1000 < ts AND 2000 >= ts", 1001, 2001],
    ["ts BETWEEN 5 AND 9", 5, 10],
    ["ts = 42", 42, 43],
    ["ts IN (7, 3, 5)", 3, 8],
    ["ts >= '2024-01-01' AND ts < '2024-01-02'", T0, T0 + DAY],
    ["ts >= now() - INTERVAL '1 hour'", NOW - HOUR, Infinity],
    ["ts < 100 AND ts < 50 AND ts >= 10 AND ts >= 20", 20, 50],
    ["ts >= 50 AND ts < 10", 50, 50],
    ["ts = NULL", 0, 0],
    ["FALSE", 0, 0],
  ])("WHERE %s scans [%d, %d)", (where, start, end) => {
    expect(scanOf(`SELECT usage_user FROM cpu WHERE ${where}`).timeRange).toEqual({ start, end });
  });

  it.each<[string, Record<string, string[]>]>([
    ["host = 'a'", { host: ["a"] }],
    ["'a' = host", { host: ["a"] }],
    ["host IN ('b', 'a', NULL)", { host: ["a", "b"] }],
    ["host IN ('a', 'b') AND host IN ('b', 'c')", { host: ["b"] }],
    ["host = 'a' AND region = 'eu'", { host: ["a"], region: ["eu"] }],
    ["host = 'a' AND host = 'b'", { host: [] }],
  ])("WHERE %s filters tags %j", (where, tagFilter) => {
    expect(scanOf(`SELECT usage_user FROM cpu WHERE ${where}`).tagFilter).toEqual(tagFilter);
  });

  it.each([
    "ts != 5",
    "ts > 5 OR ts < 3",
    "NOT (ts > 5)",
    "CAST(ts AS int64) > 5",
    "ts + INTERVAL '1 hour' > TIMESTAMP '2024-01-01'",
    "host != 'a'",
    "host NOT IN ('a')",
    "host LIKE 'a%'",
    "host = 'a' OR host = 'b'",
    "note = 'x'",
    "usage_user > 5",
  ])("leaves WHERE %s to the filter", (where) => {
    const scan = scanOf(`SELECT usage_user FROM cpu WHERE ${where}`);
    expect(scan.timeRange).toBeUndefined();
    expect(scan.tagFilter).toBeUndefined();
  });

  it("reads only the columns the query uses, in table order", () => {
    expect(
      scanOf("SELECT max(usage_user) FROM cpu WHERE host = 'a' GROUP BY time_bucket(ts, 'PT1M')").projection,
    ).toEqual(["host", "ts", "usage_user"]);
    expect(scanOf("SELECT count(*) FROM cpu").projection).toEqual([]);
    expect(scanOf("SELECT last(note) FROM cpu").projection).toEqual(["ts", "note"]);
    expect(scanOf("SELECT region FROM cpu ORDER BY cores").projection).toEqual(["region", "cores"]);
  });
});

describe("pushdown effect", () => {
  let f: QueryFixture;
  beforeAll(async () => {
    f = await openQueryFixture();
  });
  afterAll(async () => {
    await f.close();
  });

  const scanMetrics = (lines: string[]) => {
    const text = lines.join("\n");
    const number = (name: string) => Number(new RegExp(`\\b${name}=(\\d+)`).exec(text)?.[1]);
    return {
      ssts: number("ssts"),
      sstsPruned: number("sstsPruned"),
      rowGroups: number("rowGroups"),
      rowGroupsPruned: number("rowGroupsPruned"),
      rowsFromSsts: number("rowsFromSsts"),
    };
  };

  it("skips the SSTs and row groups outside the time range and tag filter, as EXPLAIN ANALYZE reports", async () => {
    const pruned = scanMetrics(
      await f.explainLines(
        "EXPLAIN ANALYZE SELECT avg(value) FROM readings WHERE ts >= TIMESTAMP '2024-01-02 00:00' AND ts < TIMESTAMP '2024-01-02 04:00' AND sensor = 's1'",
      ),
    );
    const full = scanMetrics(await f.explainLines("EXPLAIN ANALYZE SELECT avg(value) FROM readings"));
    expect(full).toMatchObject({ ssts: 3, sstsPruned: 0, rowGroupsPruned: 0, rowsFromSsts: 288 });
    expect(pruned.ssts).toBe(3);
    expect(pruned.sstsPruned).toBe(2);
    expect(pruned.rowGroupsPruned).toBeGreaterThan(0);
    expect(pruned.rowsFromSsts).toBeLessThan(96);
  });

  it("gives the same rows as the same conditions written so that they cannot be pushed down", async () => {
    const pushed = await f.rows(
      "SELECT sensor, ts, value FROM readings WHERE ts >= TIMESTAMP '2024-01-02 22:00' AND ts <= TIMESTAMP '2024-01-03 01:00' AND sensor IN ('s0', 's3') ORDER BY sensor, ts",
    );
    const filtered = await f.rows(
      "SELECT sensor, ts, value FROM readings WHERE CAST(ts AS int64) >= CAST(TIMESTAMP '2024-01-02 22:00' AS int64) AND CAST(ts AS int64) <= CAST(TIMESTAMP '2024-01-03 01:00' AS int64) AND (sensor = 's0' OR sensor = 's3') ORDER BY sensor, ts",
    );
    expect(pushed).toHaveLength(8);
    expect(pushed).toEqual(filtered);
  });

  it("shows in EXPLAIN what was pushed into the scan", async () => {
    const lines = await f.explainLines(
      "EXPLAIN SELECT sensor FROM readings WHERE ts >= TIMESTAMP '2024-01-02' AND sensor IN ('s1', 's0') AND value > 1",
    );
    expect(lines.at(-1)?.trim()).toBe(
      "Scan: public.readings projection=[sensor, ts, value] timeRange=[2024-01-02T00:00:00.000Z, +inf) tagFilter=[sensor IN ('s0', 's1')] predicate=[value > 1]",
    );
  });
});
