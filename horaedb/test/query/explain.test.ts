import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { explain } from "../../src/query/index.js";
import { parseStatement, type ExplainStatement } from "../../src/sql/index.js";
import { openQueryFixture, type QueryFixture } from "./query-fixtures.js";

let f: QueryFixture;
beforeAll(async () => {
  f = await openQueryFixture();
});
afterAll(async () => {
  await f.close();
});

const SQL =
  "SELECT host, max(usage_user) AS peak FROM cpu WHERE region = 'us' AND usage_user > 1 GROUP BY host ORDER BY peak DESC LIMIT 1";

describe("EXPLAIN", () => {
  it("returns the operator tree as rows of one string column, plan", async () => {
    const result = await explain(f.engine, "public", parseStatement(`EXPLAIN ${SQL}`) as ExplainStatement);
    expect(result.columns).toEqual([{ name: "plan", type: "string" }]);
    expect(await f.explainLines(`EXPLAIN ${SQL}`)).toEqual([
      "Limit: offset=0 limit=1",
      "  TopN: fetch=1 peak DESC NULLS FIRST",
      "    Projection: host, max(usage_user) AS peak",
      "      Aggregate: groupBy=[host] aggregates=[max(usage_user)]",
      // region = 'us' is in the scan's tag filter, which applies it exactly; the rest of WHERE is the
      // scan's predicate, so no Filter is left above it.
      "        Scan: public.cpu projection=[host, region, usage_user] tagFilter=[region IN ('us')] predicate=[usage_user > 1]",
    ]);
  });

  it("shows constants folded: now() - INTERVAL is one timestamp", async () => {
    const lines = await f.explainLines(
      "EXPLAIN SELECT ts FROM cpu WHERE ts > now() - INTERVAL '1 minute' OR cores > 2 * 2",
    );
    expect(lines[1]).toBe(
      "  Scan: public.cpu projection=[ts, cores] predicate=[(ts > TIMESTAMP '2024-01-01T00:02:00.000Z') OR (cores > 4)]",
    );
  });

  it("leaves out of the scan's predicate the conditions its time range and tag filter apply", async () => {
    const lines = await f.explainLines(
      "EXPLAIN SELECT ts FROM cpu WHERE ts > now() - INTERVAL '1 minute' AND host IN ('a', 'b') AND cores > 2",
    );
    expect(lines.slice(1)).toEqual([
      "  Scan: public.cpu projection=[host, ts, cores] timeRange=[2024-01-01T00:02:00.001Z, +inf) tagFilter=[host IN ('a', 'b')] predicate=[cores > 2]",
    ]);
    const pushedOnly = await f.explainLines(
      "EXPLAIN SELECT ts FROM cpu WHERE ts >= TIMESTAMP '2024-01-01' AND ts < TIMESTAMP '2024-01-02' AND host = 'a'",
    );
    expect(pushedOnly.map((l) => l.trim().split(":")[0])).toEqual(["Projection", "Scan"]);
  });
});

describe("EXPLAIN ANALYZE", () => {
  it("runs the query and reports rows and time per operator, and what the scan read", async () => {
    const lines = await f.explainLines(`EXPLAIN ANALYZE ${SQL}`);
    expect(lines[0]).toMatch(/^Query: rows=1 time=\d+\.\d{3}ms peakMemory=\d+ bytes$/);
    const rowsOf = (operator: string) => {
      const line = lines.find((l) => l.trimStart().startsWith(operator)) as string;
      expect(line).toMatch(/ \[rows=\d+ batches=\d+ time=\d+\.\d{3}ms\]$/);
      return Number(/\[rows=(\d+)/.exec(line)?.[1]);
    };
    expect(rowsOf("Limit:")).toBe(1);
    expect(rowsOf("TopN:")).toBe(1);
    expect(rowsOf("Aggregate:")).toBe(2);
    // The scan tests usage_user > 1 itself, before reading the rows' other columns, and returns only
    // the rows that pass (host b has a NULL and a 0.5): no Filter above it.
    expect(lines.some((l) => l.trimStart().startsWith("Filter"))).toBe(false);
    expect(rowsOf("Scan:")).toBe(10);
    expect(lines.some((l) => /^\s+rowsDroppedByPredicate=2 seriesPrunedByPredicate=\d+$/.test(l))).toBe(true);
    expect(lines.some((l) => /^\s+ssts=2 sstsPruned=0 rowGroups=\d+ rowGroupsPruned=\d+$/.test(l))).toBe(
      true,
    );
    expect(lines.some((l) => /^\s+rowsFromSsts=\d+ rowsFromMemtables=3 bytesRead=\d+$/.test(l))).toBe(true);
    expect(lines.some((l) => /^\s+groups=2 memory=\d+ bytes$/.test(l))).toBe(true);
  });
});
