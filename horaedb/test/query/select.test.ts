import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resultRowObjects } from "../../src/query/index.js";
import type { CellValue } from "../../src/table/data-type.js";
import {
  MINUTE,
  NOW,
  openQueryFixture,
  SECOND,
  T0,
  visibleCpuRows,
  type CpuRow,
  type QueryFixture,
} from "./query-fixtures.js";

let f: QueryFixture;
beforeAll(async () => {
  f = await openQueryFixture();
});
afterAll(async () => {
  await f.close();
});

const key = (host: CellValue, ts: CellValue) => `${String(host)}@${String(ts)}`;

/** The (host, ts) of the rows a WHERE clause keeps, in scan order. */
async function keptRows(where: string): Promise<string[]> {
  const rows = await f.rows(`SELECT host, ts FROM cpu WHERE ${where}`);
  return rows.map(([host, ts]) => key(host ?? null, ts ?? null)).sort();
}

function expectedRows(keep: (r: CpuRow) => boolean): string[] {
  return visibleCpuRows()
    .filter(keep)
    .map((r) => key(r.host, r.ts))
    .sort();
}

describe("SELECT over SSTs and memtables", () => {
  it("returns every row once, with the memtable's overwrites winning over flushed rows", async () => {
    const rows = await f.query("SELECT host, ts, usage_user, requests, healthy, note FROM cpu");
    const got = resultRowObjects(rows).sort((a, b) =>
      key(a["host"] ?? null, a["ts"] ?? null).localeCompare(key(b["host"] ?? null, b["ts"] ?? null)),
    );
    const want = visibleCpuRows()
      .map((r) => ({
        host: r.host,
        ts: r.ts,
        usage_user: r.usage_user,
        requests: r.requests,
        healthy: r.healthy,
        note: r.note,
      }))
      .sort((a, b) => key(a.host, a.ts).localeCompare(key(b.host, b.ts)));
    expect(got).toEqual(want);
  });

  it("names columns by alias, by column name, or as the expression is written", async () => {
    const result = await f.query("SELECT host AS h, usage_user, usage_user*2, cpu.cores FROM cpu LIMIT 1");
    expect(result.columns).toEqual([
      { name: "h", type: "string", tag: true },
      { name: "usage_user", type: "double" },
      { name: "usage_user * 2", type: "double" },
      { name: "cores", type: "int32" },
    ]);
  });

  it("marks the result columns that hold a TAG column's values, and only those", async () => {
    const tagsOf = async (sql: string) =>
      (await f.query(sql)).columns.filter((c) => c.tag === true).map((c) => c.name);
    expect(await tagsOf("SELECT * FROM cpu LIMIT 1")).toEqual(["host", "region"]);
    // A TAG column selected, aliased, grouped by or made distinct is still its values.
    expect(await tagsOf("SELECT region AS r, host, note FROM cpu LIMIT 1")).toEqual(["r", "host"]);
    expect(await tagsOf("SELECT host, count(*) FROM cpu GROUP BY host")).toEqual(["host"]);
    expect(await tagsOf("SELECT host, max(usage_user) FROM cpu GROUP BY host ORDER BY host")).toEqual([
      "host",
    ]);
    expect(await tagsOf("SELECT DISTINCT region FROM cpu")).toEqual(["region"]);
    // Computed from a tag, or a string field: not a tag's values.
    expect(
      await tagsOf("SELECT upper(host) AS host, note, min(region) AS m FROM cpu GROUP BY host, note"),
    ).toEqual([]);
    expect(await tagsOf("SELECT 'x' AS host FROM cpu LIMIT 1")).toEqual([]);
  });

  it("expands * to every column in table order, the generated tsid included", async () => {
    const result = await f.query("SELECT * FROM cpu LIMIT 1");
    expect(result.columns.map((c) => c.name)).toEqual([
      "tsid",
      "host",
      "region",
      "ts",
      "usage_user",
      "usage_system",
      "requests",
      "cores",
      "healthy",
      "note",
    ]);
  });
});

describe("WHERE", () => {
  // Each predicate with a row-by-row reference (where NULL compares as not TRUE).
  const cases: [string, (r: CpuRow) => boolean][] = [
    ["usage_user > 20", (r) => r.usage_user !== null && r.usage_user > 20],
    ["usage_user <= 12", (r) => r.usage_user !== null && r.usage_user <= 12],
    ["usage_user != 99", (r) => r.usage_user !== null && r.usage_user !== 99],
    ["usage_user = usage_system * 20", (r) => r.usage_user !== null && r.usage_user === r.usage_system * 20],
    ["requests >= 240", (r) => r.requests !== null && r.requests >= 240n],
    ["requests - 5 < 110", (r) => r.requests !== null && r.requests - 5n < 110n],
    ["cores = 8", (r) => r.cores === 8],
    ["cores * 1.5 > 5", (r) => r.cores * 1.5 > 5],
    ["host = 'a' OR region = 'eu'", (r) => r.host === "a" || r.region === "eu"],
    ["NOT (host = 'a')", (r) => r.host !== "a"],
    ["healthy", (r) => r.healthy === true],
    ["NOT healthy", (r) => r.healthy === false],
    ["healthy IS NULL", (r) => r.healthy === null],
    ["healthy IS NOT FALSE", (r) => r.healthy !== false],
    ["healthy OR usage_user > 30", (r) => r.healthy === true || (r.usage_user !== null && r.usage_user > 30)],
    ["NOT (healthy AND cores > 2)", (r) => r.healthy === false || r.cores <= 2],
    ["usage_user IS NULL", (r) => r.usage_user === null],
    ["requests IS NOT NULL", (r) => r.requests !== null],
    [
      "usage_user IN (10, 21, 99, NULL)",
      (r) => r.usage_user === 10 || r.usage_user === 21 || r.usage_user === 99,
    ],
    ["cores NOT IN (4, 8)", (r) => r.cores !== 4 && r.cores !== 8],
    ["host IN ('a', 'c') AND cores IN (2)", (r) => r.host === "c"],
    [
      "usage_user BETWEEN 13 AND 25",
      (r) => r.usage_user !== null && r.usage_user >= 13 && r.usage_user <= 25,
    ],
    [
      "usage_user NOT BETWEEN 13 AND 25",
      (r) => r.usage_user !== null && (r.usage_user < 13 || r.usage_user > 25),
    ],
    ["note LIKE '%-4'", (r) => r.note !== null && r.note.endsWith("-4")],
    ["note NOT LIKE 'start%'", (r) => r.note !== null && !r.note.startsWith("start")],
    ["note ILIKE 'OVER%'", (r) => r.note === "overwritten"],
    ["CAST(usage_system AS int64) = 7", (r) => Math.trunc(r.usage_system) === 7],
    ["CAST(cores AS string) = '8'", (r) => r.cores === 8],
    [
      "ts >= TIMESTAMP '2024-01-01 00:01:00' AND ts < '2024-01-01 00:02:00'",
      (r) => r.ts >= T0 + MINUTE && r.ts < T0 + 2 * MINUTE,
    ],
    ["ts = 1704067230000", (r) => r.ts === T0 + 30 * SECOND],
    ["ts > now() - INTERVAL '1 minute'", (r) => r.ts > NOW - MINUTE],
    [
      "CASE WHEN cores > 4 THEN usage_user ELSE usage_system END > 5",
      (r) => (r.cores > 4 ? r.usage_user !== null && r.usage_user > 5 : r.usage_system > 5),
    ],
    ["coalesce(usage_user, -1) < 0", (r) => r.usage_user === null],
    ["length(note) = 3", (r) => r.note !== null && r.note.length === 3],
  ];

  it.each(cases)("%s keeps the rows a row-by-row check keeps", async (where, keep) => {
    expect(await keptRows(where)).toEqual(expectedRows(keep));
  });

  it("treats a comparison with NULL as unknown: neither it nor its negation keeps a row", async () => {
    expect(await keptRows("usage_user = NULL")).toEqual([]);
    expect(await keptRows("NOT (usage_user = NULL)")).toEqual([]);
    expect(await keptRows("usage_user > NULL OR FALSE")).toEqual([]);
    expect(await keptRows("usage_user > NULL OR TRUE")).toHaveLength(18);
  });

  it("does not divide by zero in a CASE branch that no row takes", async () => {
    const rows = await f.rows(
      "SELECT CASE WHEN cores - 4 = 0 THEN -1 ELSE 100 / (cores - 4) END FROM cpu WHERE host IN ('a', 'b') AND ts = 1704067200000",
    );
    expect(rows.map((r) => r[0])).toEqual([-1n, 25n]);
  });
});

describe("SELECT without FROM", () => {
  it("computes one row of constants", async () => {
    expect(await f.rows("SELECT 1 + 1, 'a' AS s, 7 / 2, 7.0 / 2, -(3), 10 % 4")).toEqual([
      [2n, "a", 3n, 3.5, -3n, 2n],
    ]);
  });

  it("evaluates now() once per query, from the query's clock", async () => {
    let calls = 0;
    const now = () => {
      calls++;
      return T0;
    };
    const rows = await f.rows("SELECT now(), now() - INTERVAL '1 hour', now() + INTERVAL '1 day 2 hours'", {
      now,
    });
    expect(rows).toEqual([[T0, T0 - 3_600_000, T0 + 26 * 3_600_000]]);
    expect(calls).toBe(1);
  });

  it("aggregates its single row", async () => {
    expect(await f.rows("SELECT count(*), sum(2), min('x')")).toEqual([[1n, 2n, "x"]]);
  });

  it("applies WHERE to its single row", async () => {
    expect(await f.rows("SELECT 1 WHERE 1 > 2")).toEqual([]);
  });
});

describe("types and arithmetic", () => {
  it("keeps int64 exact beyond 2^53 and rejects overflow", async () => {
    expect(await f.rows("SELECT 9007199254740993 + 1")).toEqual([[9007199254740994n]]);
    await expect(f.rows("SELECT 9223372036854775807 + requests FROM cpu WHERE requests > 0")).rejects.toThrow(
      "int64 result out of range",
    );
  });

  it("computes in double when an integer meets a whole double literal (10.0 stays a double)", async () => {
    const result = await f.query(
      "SELECT requests / 100.0, cores / 4.0, requests + 0.0, 15 / 10.0, 15.0 / 10 FROM cpu WHERE host = 'c' AND ts = 1704067200000",
    );
    expect(result.columns.map((c) => c.type)).toEqual(["double", "double", "double", "double", "double"]);
    expect(resultRowObjects(result).map((r) => Object.values(r))).toEqual([[3, 0.5, 300, 1.5, 1.5]]);
    // In comparisons a whole double literal may still meet the integer as an integer: same rows.
    expect(await keptRows("requests = 300.0")).toEqual(await keptRows("requests = 300"));
  });

  it("does not round a double literal to float32 when it meets a float", async () => {
    const result = await f.query(
      "SELECT CAST(0.5 AS float) * 0.1, CAST(0.5 AS float) + 16777217, CAST(0.1 AS float) = 0.1, CAST(0.5 AS float) = 0.5",
    );
    expect(result.columns.map((c) => c.type)).toEqual(["double", "double", "boolean", "boolean"]);
    // float32(0.1) is 0.100000001490116...: it equals 0.1 only if 0.1 is rounded to float32 too.
    expect(resultRowObjects(result).map((r) => Object.values(r))).toEqual([
      [0.5 * 0.1, 16777217.5, false, true],
    ]);
  });

  it("reads a string literal compared with a timestamp as a timestamp", async () => {
    const rows = await f.rows("SELECT count(*) FROM cpu WHERE ts < '2024-01-01T00:01:00Z'");
    expect(rows).toEqual([[6n]]);
  });

  it("shifts by calendar months, clamping to the month's last day", async () => {
    const rows = await f.rows(
      "SELECT TIMESTAMP '2024-01-31 10:00' + INTERVAL '1 month', TIMESTAMP '2024-03-31' - INTERVAL '1 month'",
    );
    expect(rows).toEqual([[Date.UTC(2024, 1, 29, 10), Date.UTC(2024, 1, 29)]]);
  });
});
