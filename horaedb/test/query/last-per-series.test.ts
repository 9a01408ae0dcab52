/**
 * The lastPerSeries scan: which plans use it (EXPLAIN shows it on the Scan line), and that a query
 * using it answers exactly as the same query forced onto the full scan (an always-true condition
 * the scan cannot take keeps the planner from choosing it).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lcgRandom } from "../../src/testing/tsbs.js";
import {
  CPU_SCHEMA,
  cpuWriteRows,
  HOUR,
  MINUTE,
  openQueryFixture,
  T0,
  type CpuRow,
  type QueryFixture,
} from "./query-fixtures.js";

const HOSTS = [
  ["h0", "us"],
  ["h1", "us"],
  ["h2", "eu"],
  ["h3", "eu"],
  ["h4", "ap"],
  ["h5", "ap"],
] as const;

/** `metrics` (the cpu schema): 6 hosts every 10 minutes over 6 hours, with NULLs, overwrites, ties. */
async function loadMetrics(f: QueryFixture): Promise<void> {
  const random = lcgRandom(77);
  const row = (h: number, ts: number): CpuRow => {
    const [host, region] = HOSTS[h] as (typeof HOSTS)[number];
    return {
      host,
      region,
      ts,
      // h5 never reports usage_user; the others miss some.
      usage_user: h === 5 || random() < 0.3 ? null : Math.round(random() * 1000) / 10,
      usage_system: random(),
      requests: random() < 0.5 ? null : BigInt(Math.floor(random() * 500)),
      cores: h,
      healthy: random() < 0.2 ? null : random() < 0.5,
      note: random() < 0.6 ? null : `n${Math.floor(random() * 9)}`,
    };
  };
  await f.engine.createTable("public", "metrics", CPU_SCHEMA, {
    enable_ttl: "false",
    segment_duration: "2h",
    num_rows_per_row_group: "10",
  });
  const all: CpuRow[] = [];
  for (let ts = T0; ts < T0 + 6 * HOUR; ts += 10 * MINUTE)
    for (let h = 0; h < HOSTS.length; h++) all.push(row(h, ts));
  await f.engine.write("public", "metrics", cpuWriteRows(all));
  await f.engine.flush("public", "metrics");
  // Overwrites of the middle segment (its SSTs overlap), then of the last one left in the memtable.
  const rewrite = (from: number, to: number) =>
    all
      .filter((r) => r.ts >= from && r.ts < to && random() < 0.3)
      .map((r) =>
        row(
          HOSTS.findIndex(([h]) => h === r.host),
          r.ts,
        ),
      );
  await f.engine.write("public", "metrics", cpuWriteRows(rewrite(T0 + 2 * HOUR, T0 + 4 * HOUR)));
  await f.engine.flush("public", "metrics");
  await f.engine.write("public", "metrics", cpuWriteRows(rewrite(T0 + 4 * HOUR, T0 + 6 * HOUR)));
}

const at = (hours: number, minutes = 0) =>
  `TIMESTAMP '${new Date(T0 + hours * HOUR + minutes * MINUTE).toISOString().replace("T", " ").replace("Z", "")}'`;

/** Queries answered through the lastPerSeries scan: FROM, WHERE, and the rest after it. */
const ELIGIBLE: ReadonlyArray<{ select: string; where?: string; rest: string }> = [
  { select: "host, last(usage_user)", rest: "GROUP BY host ORDER BY host" },
  { select: "region, last(usage_user), last(note), last(requests)", rest: "GROUP BY region ORDER BY region" },
  { select: "last(usage_user), last(healthy)", rest: "" },
  {
    select: "host, region, last(note)",
    where: `ts >= ${at(1, 5)} AND ts < ${at(4, 45)}`,
    rest: "GROUP BY host, region ORDER BY host, region",
  },
  {
    select: "region, last(usage_user)",
    where: "host IN ('h1', 'h3', 'h5')",
    rest: "GROUP BY region ORDER BY 1",
  },
  { select: "region, last(usage_user)", where: "host = 'h5'", rest: "GROUP BY region ORDER BY 1" },
  {
    select: "host, last(usage_user) AS lu",
    rest: "GROUP BY host HAVING last(usage_user) > 20 ORDER BY lu DESC LIMIT 3",
  },
  { select: "last(usage_user)", where: `ts < ${at(-1)}`, rest: "" },
  { select: "region, last(cores)", where: `region = 'eu' AND ts >= ${at(5)}`, rest: "GROUP BY region" },
  { select: "host, last(usage_user)", where: "host = NULL", rest: "GROUP BY host" },
];

/** Queries the planner must not give the lastPerSeries scan. */
const NOT_ELIGIBLE = [
  "SELECT host, last(usage_user) FROM metrics WHERE usage_user > 1 GROUP BY host",
  "SELECT host, last(usage_user), max(usage_user) FROM metrics GROUP BY host",
  "SELECT host, last(usage_user) FROM metrics GROUP BY host HAVING count(*) > 1",
  "SELECT cores, last(usage_user) FROM metrics GROUP BY cores",
  "SELECT time_bucket(ts, 'PT1H') AS hour, last(usage_user) FROM metrics GROUP BY hour",
  "SELECT host, last(usage_user + 1) FROM metrics GROUP BY host",
  `SELECT host, last(usage_user) FROM metrics WHERE ts IN (${at(1)}, ${at(2)}) GROUP BY host`,
  "SELECT host, last(usage_user) FROM metrics WHERE host != 'h1' GROUP BY host",
  "SELECT host, usage_user FROM metrics",
];

describe("lastPerSeries scans", () => {
  let f: QueryFixture;
  beforeAll(async () => {
    f = await openQueryFixture();
    await loadMetrics(f);
  });
  afterAll(async () => {
    await f.close();
  });

  const scanLine = async (sql: string) => {
    const lines = await f.explainLines(`EXPLAIN ${sql}`);
    return lines.find((l) => l.trim().startsWith("Scan:")) as string;
  };
  const sqlOf = (q: (typeof ELIGIBLE)[number], where?: string) =>
    `SELECT ${q.select} FROM metrics${where === undefined ? "" : ` WHERE ${where}`} ${q.rest}`;

  it("is planned for last() of columns grouped by TAG columns, and shown on the Scan line", async () => {
    expect((await scanLine("SELECT host, last(usage_user) FROM cpu GROUP BY host")).trim()).toBe(
      "Scan: public.cpu projection=[host, ts, usage_user] lastPerSeries=[usage_user]",
    );
    for (const q of ELIGIBLE)
      expect(await scanLine(sqlOf(q, q.where)), sqlOf(q, q.where)).toMatch(/ lastPerSeries=\[/);
  });

  it("is not planned when something else needs the other rows", async () => {
    for (const sql of NOT_ELIGIBLE) expect(await scanLine(sql), sql).not.toMatch(/lastPerSeries/);
  });

  it("answers as the full scan does, over overlapping SSTs, overwrites in the memtable, NULLs and ties", async () => {
    const alwaysTrue = "(usage_user IS NULL OR usage_user IS NOT NULL)";
    for (const q of ELIGIBLE) {
      const full = sqlOf(q, q.where === undefined ? alwaysTrue : `${q.where} AND ${alwaysTrue}`);
      expect(await scanLine(full)).not.toMatch(/lastPerSeries/);
      const sql = sqlOf(q, q.where);
      expect(await f.rows(sql), sql).toEqual(await f.rows(full));
    }
    // The fixture's cpu table: two SSTs and overwrites of flushed rows in the memtable.
    expect(
      await f.rows("SELECT host, last(usage_user), last(note) FROM cpu GROUP BY host ORDER BY host"),
    ).toEqual(
      await f.rows(
        "SELECT host, last(usage_user), last(note) FROM cpu WHERE note IS NULL OR note IS NOT NULL GROUP BY host ORDER BY host",
      ),
    );
  });

  it("reads fewer rows than the full scan, as EXPLAIN ANALYZE shows", async () => {
    const returned = async (sql: string) => {
      const lines = await f.explainLines(`EXPLAIN ANALYZE ${sql}`);
      const scan = lines.find((l) => l.trim().startsWith("Scan:")) as string;
      return Number(/\[rows=(\d+)/.exec(scan)?.[1]);
    };
    const last = await returned("SELECT host, last(usage_user) FROM metrics GROUP BY host");
    const full = await returned(
      "SELECT host, last(usage_user) FROM metrics WHERE usage_user IS NULL OR usage_user IS NOT NULL GROUP BY host",
    );
    expect(full).toBe(6 * 36);
    expect(last).toBeLessThan(30);
    // Read again, every SST column chunk comes from the decoded column cache.
    const again = await f.explainLines(
      "EXPLAIN ANALYZE SELECT host, last(usage_user) FROM metrics GROUP BY host",
    );
    expect(again.some((l) => /^\s+decodedCacheHits=[1-9]\d* decodedCacheMisses=0$/.test(l))).toBe(true);
  });
});
