import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Column } from "../../src/batch/column.js";
import { GroupKeyTable } from "../../src/query/operators/group-keys.js";
import { DataType } from "../../src/table/data-type.js";
import {
  MINUTE,
  openQueryFixture,
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

/** Reference aggregates of `usage_user` over rows (NULLs skipped), in the shape the query returns. */
function reference(rows: readonly CpuRow[]): unknown[] {
  const values = rows.filter((r) => r.usage_user !== null);
  const usage = values.map((r) => r.usage_user as number);
  const byTime = [...values].sort((a, b) => a.ts - b.ts);
  const sum = usage.reduce((a, b) => a + b, 0);
  return [
    BigInt(rows.length),
    BigInt(usage.length),
    usage.length === 0 ? null : sum,
    usage.length === 0 ? null : sum / usage.length,
    usage.length === 0 ? null : Math.min(...usage),
    usage.length === 0 ? null : Math.max(...usage),
    byTime[0]?.usage_user ?? null,
    byTime.at(-1)?.usage_user ?? null,
  ];
}

const AGGREGATES =
  "count(*), count(usage_user), sum(usage_user), avg(usage_user), min(usage_user), max(usage_user), first(usage_user), last(usage_user)";

describe("aggregates", () => {
  it("per host, match a reference computation", async () => {
    const rows = await f.rows(`SELECT host, ${AGGREGATES} FROM cpu GROUP BY host ORDER BY host`);
    const expected = ["a", "b", "c"].map((h) => [
      h,
      ...reference(visibleCpuRows().filter((r) => r.host === h)),
    ]);
    expect(rows).toEqual(expected);
  });

  it("per minute (time_bucket) and host, match a reference computation", async () => {
    const rows = await f.rows(
      `SELECT time_bucket(ts, 'PT1M') AS minute, host, ${AGGREGATES} FROM cpu GROUP BY minute, host ORDER BY minute, host`,
    );
    const expected: unknown[][] = [];
    for (let m = 0; m < 3; m++) {
      for (const h of ["a", "b", "c"]) {
        const inGroup = visibleCpuRows().filter(
          (r) => r.host === h && Math.floor((r.ts - T0) / MINUTE) === m,
        );
        expected.push([T0 + m * MINUTE, h, ...reference(inGroup)]);
      }
    }
    expect(rows).toEqual(expected);
  });

  it("over no rows: count is 0 and every other aggregate NULL, in one row", async () => {
    const rows = await f.rows(`SELECT ${AGGREGATES} FROM cpu WHERE host = 'none'`);
    expect(rows).toEqual([[0n, 0n, null, null, null, null, null, null]]);
    expect(await f.rows("SELECT sum(value), count(DISTINCT sensor), max(sensor) FROM empty")).toEqual([
      [null, 0n, null],
    ]);
  });

  it("over no rows with GROUP BY: no groups at all", async () => {
    expect(await f.rows("SELECT sensor, count(*) FROM empty GROUP BY sensor")).toEqual([]);
  });

  it("return int64 for count and integer sums, double for avg and double sums, the input type for min/max/first/last", async () => {
    const result = await f.query(
      "SELECT count(*), sum(cores), sum(requests), sum(usage_user), avg(cores), min(note), max(ts), first(healthy), last(requests) FROM cpu",
    );
    expect(result.columns.map((c) => c.type)).toEqual([
      "int64",
      "int64",
      "int64",
      "double",
      "double",
      "string",
      "timestamp",
      "boolean",
      "int64",
    ]);
  });

  it("count(DISTINCT x) counts distinct non-null values per group", async () => {
    const rows = await f.rows(
      "SELECT region, count(DISTINCT host), count(DISTINCT healthy), count(DISTINCT note) FROM cpu GROUP BY region ORDER BY region",
    );
    expect(rows).toEqual([
      ["eu", 1n, 2n, 5n],
      ["us", 2n, 2n, 10n],
    ]);
  });

  it("first/last take the value at the smallest/largest timestamp, not the first/last read", async () => {
    // host a's point 1 was overwritten from the memtable, which the scan reads after the SSTs.
    const rows = await f.rows(
      "SELECT first(note), last(note), first(usage_user), last(requests) FROM cpu WHERE host = 'a' AND ts <= 1704067260000",
    );
    expect(rows).toEqual([["start a", "a-2", 10, 120n]]);
  });

  it("groups by date_trunc, by expressions, by aliases and by positions alike", async () => {
    const byTrunc = await f.rows(
      "SELECT date_trunc('minute', ts), count(*) FROM cpu GROUP BY date_trunc('minute', ts) ORDER BY 1",
    );
    const byAlias = await f.rows(
      "SELECT time_bucket(ts, 'PT1M') AS m, count(*) FROM cpu GROUP BY m ORDER BY m",
    );
    const byPosition = await f.rows(
      "SELECT time_bucket(ts, 'PT1M'), count(*) FROM cpu GROUP BY 1 ORDER BY 1",
    );
    expect(byTrunc).toEqual([
      [T0, 6n],
      [T0 + MINUTE, 6n],
      [T0 + 2 * MINUTE, 6n],
    ]);
    expect(byAlias).toEqual(byTrunc);
    expect(byPosition).toEqual(byTrunc);
  });

  it("puts NULL keys in a group of their own", async () => {
    expect(
      await f.rows("SELECT healthy, count(*) FROM cpu GROUP BY healthy ORDER BY healthy NULLS FIRST"),
    ).toEqual([
      [null, 3n],
      [false, 7n],
      [true, 8n],
    ]);
  });

  it("filters groups with HAVING, on aggregates not selected too", async () => {
    expect(
      await f.rows(
        "SELECT host FROM cpu GROUP BY host HAVING min(usage_user) < 10 OR max(usage_user) > 50 ORDER BY host",
      ),
    ).toEqual([["a"], ["b"]]);
  });

  it("SELECT DISTINCT drops duplicate rows, NULLs being equal", async () => {
    expect(await f.rows("SELECT DISTINCT healthy FROM cpu ORDER BY healthy")).toEqual([
      [false],
      [true],
      [null],
    ]);
  });
});

describe("GroupKeyTable", () => {
  const strings = (values: (string | null)[]): Column => ({
    type: DataType.String,
    values: values.map((v) => v ?? ""),
    validity: values.some((v) => v === null) ? Uint8Array.from(values, (v) => (v === null ? 0 : 1)) : null,
  });
  const numbers = (values: number[]): Column => ({
    type: DataType.Timestamp,
    values: Float64Array.from(values),
    validity: null,
  });

  it("numbers groups in first-seen order across batches, NULL as a key of its own", () => {
    const table = new GroupKeyTable([DataType.String]);
    expect([...table.assign([strings(["x", "y", "x", null])], 4)]).toEqual([0, 1, 0, 2]);
    expect([...table.assign([strings([null, "z", "y"])], 3)]).toEqual([2, 3, 1]);
    expect(table.numGroups).toBe(4);
    const [keys] = table.keyColumns();
    expect(keys?.values).toEqual(["x", "y", "", "z"]);
    expect(keys?.validity).toEqual(Uint8Array.from([1, 1, 0, 1]));
  });

  it("combines two keys and gives the same group to the same pair only", () => {
    const table = new GroupKeyTable([DataType.Timestamp, DataType.String]);
    const ids = table.assign([numbers([1, 1, 2, 2, 1]), strings(["a", "b", "a", "a", "a"])], 5);
    expect([...ids]).toEqual([0, 1, 2, 2, 0]);
    expect(table.keyColumns().map((c) => Array.from(c.values as ArrayLike<unknown>))).toEqual([
      [1, 1, 2],
      ["a", "b", "a"],
    ]);
  });

  it("keeps groups apart when three keys have more distinct values than fit in one packed number", () => {
    const table = new GroupKeyTable([DataType.Timestamp, DataType.Timestamp, DataType.String]);
    const n = 300_000; // more than 2^17 distinct values in the first key
    const first = numbers(Array.from({ length: n }, (_, i) => i));
    const second = numbers(Array.from({ length: n }, (_, i) => i % 3));
    const third = strings(Array.from({ length: n }, (_, i) => (i % 2 === 0 ? "even" : "odd")));
    table.assign([first, second, third], n);
    expect(table.numGroups).toBe(n);
    const again = table.assign([numbers([5, 5]), numbers([2, 2]), strings(["odd", "even"])], 2);
    expect([...again]).toEqual([5, n]);
  });

  it("has exactly one group without keys, even before any row", () => {
    const table = new GroupKeyTable([]);
    expect(table.numGroups).toBe(1);
    expect([...table.assign([], 3)]).toEqual([0, 0, 0]);
  });
});
