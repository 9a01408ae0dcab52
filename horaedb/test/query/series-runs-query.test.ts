/**
 * SQL aggregations grouped by TAG columns and time buckets give, with the scan's series runs, the
 * rows of the same query without them (the row-by-row ways), in the same order and to the bit: a
 * table of series sharing tag values, NULL tags, equal and extreme values, in non-overlapping SSTs
 * (read by runs), overlapping ones and a memtable (read without), row groups and batches that cut
 * series apart, and WHERE conditions pushed into the scan or evaluated above it.
 *
 *   DIFF_TEST_SEED=<seed> npx vitest run --project unit horaedb/test/query/series-runs-query.test.ts
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StorageEngine } from "../../src/engine/engine.js";
import { openStandaloneEngine } from "../../src/engine/standalone.js";
import { executeSql } from "../../src/interpreters/index.js";
import { executeSelect, explain, resultRowArrays, type QueryEngine } from "../../src/query/index.js";
import { parseStatement, type ExplainStatement, type SelectStatement } from "../../src/sql/index.js";
import { differentialSeed, Rng } from "./differential-rng.js";

const SEED = differentialSeed();
const QUERIES = 150;
const DATABASE = "public";
const T0 = Date.UTC(2024, 0, 1);
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const SPAN = 12 * HOUR;

const HOSTS = ["h0", "h1", "h2"];
const REGIONS = ["r0", "r1", null];

function timestampLiteral(ms: number): string {
  return `TIMESTAMP '${new Date(ms).toISOString().replace("T", " ").replace("Z", "")}'`;
}

function valueLiteral(rng: Rng): string {
  if (rng.chance(0.08)) return "NULL";
  if (rng.chance(0.03)) return "-0.0";
  return `${rng.int(0, 40) / 4}`;
}

/** One value row of `INSERT INTO s (host, region, dc, ts, x)`. */
function rowText(host: string, region: string | null, dc: string, ts: number, x: string): string {
  return `('${host}', ${region === null ? "NULL" : `'${region}'`}, '${dc}', ${ts}, ${x})`;
}

const BUCKETS = [
  "time_bucket(ts, 'PT1M')",
  "time_bucket(ts, 'PT7M')",
  "time_bucket(ts, 'PT1H')",
  "date_trunc('hour', ts)",
  "date_trunc('day', ts)",
  "date_trunc('month', ts)",
];
const TAG_SETS = [[], ["host"], ["region"], ["host", "region"], ["region", "host"], ["dc"]];
const AGGREGATES = ["count(*)", "count(x)", "sum(x)", "avg(x)", "min(x)", "max(x)", "first(x)", "last(x)"];

interface Query {
  /** Grouped by plain TAG columns: series runs apply. */
  readonly sql: string;
}

function generateQuery(rng: Rng): Query {
  const tags = rng.pick(TAG_SETS);
  const bucket = tags.length === 0 || rng.chance(0.7) ? rng.pick(BUCKETS) : undefined;
  const keys = [...(bucket === undefined ? [] : [`${bucket} AS b`]), ...tags];
  // Key order varies: the bucket first or last.
  if (bucket !== undefined && rng.chance(0.3)) keys.push(keys.shift() as string);
  const groupBy = keys.map((k) => (k.endsWith(" AS b") ? "b" : k));
  const conditions: string[] = [];
  if (rng.chance(0.5)) conditions.push(`ts >= ${timestampLiteral(T0 + rng.int(-HOUR, SPAN))}`);
  if (rng.chance(0.5)) conditions.push(`ts < ${timestampLiteral(T0 + rng.int(0, SPAN + HOUR))}`);
  if (rng.chance(0.2)) conditions.push(`host IN ('${rng.pick(HOSTS)}', '${rng.pick(HOSTS)}')`);
  // Not pushed into the scan: evaluated over the scan's batches, keeping the runs.
  if (rng.chance(0.25)) conditions.push(`x > ${rng.int(0, 30) / 4}`);
  if (rng.chance(0.1)) conditions.push(`region IS NULL OR x < 3`);
  const where = conditions.length === 0 ? "" : ` WHERE ${conditions.join(" AND ")}`;
  const aggregates = rng.sample(AGGREGATES, rng.int(1, 4));
  // No ORDER BY: the rows come in the order groups were created, which must be the same too.
  return {
    sql: `SELECT ${[...keys, ...aggregates].join(", ")} FROM s${where} GROUP BY ${groupBy.join(", ")}`,
  };
}

/** Values as text that tells -0 from 0 and keeps NaN, bigints and nulls apart. */
function rowsText(rows: unknown[][]): string {
  return JSON.stringify(rows, (_key, value: unknown) => {
    if (typeof value === "bigint") return `${value}n`;
    if (typeof value === "number") return Object.is(value, -0) ? "-0" : String(value);
    return value;
  });
}

describe("aggregation by series runs through SQL", () => {
  const rng = new Rng(SEED);
  let dataDir: string;
  let engine: StorageEngine;
  /** The engine with its scans asked for no series runs: the row-by-row ways. */
  let withoutRuns: QueryEngine;

  beforeAll(async () => {
    console.log(`series runs query test seed: ${SEED} (replay with DIFF_TEST_SEED=${SEED})`);
    dataDir = await mkdtemp(join(tmpdir(), "horaedb-series-runs-"));
    engine = await openStandaloneEngine({
      dataDir,
      logger: pino({ level: "silent" }),
      encoderWorkers: 0,
      fsyncObjects: false,
      flushCheckIntervalMs: 3_600_000,
      compaction: { paused: true },
    });
    withoutRuns = {
      table: (database, name) => engine.table(database, name),
      scan: (database, name, request) => engine.scan(database, name, { ...request, seriesRuns: false }),
    };
    await executeSql(
      engine,
      DATABASE,
      "CREATE TABLE s (host string TAG, region string TAG, dc string TAG, ts timestamp NOT NULL, x double, " +
        "TIMESTAMP KEY(ts)) ENGINE=Analytic WITH (enable_ttl='false', update_mode='APPEND', " +
        "segment_duration='2h', num_rows_per_row_group='40')",
    );
    // Series (host, region): several per host and per region; dc is one value for many series.
    const series = HOSTS.flatMap((host) =>
      REGIONS.map((region) => ({ host, region, dc: host === "h2" ? "b" : "a" })),
    );
    // Segment by segment, each flushed: SSTs that overlap no other, read by runs.
    for (let segment = 0; segment < SPAN / (2 * HOUR); segment++) {
      const values: string[] = [];
      for (const s of series) {
        if (rng.chance(0.15)) continue;
        const step = rng.pick([30_000, 70_000, 5 * MINUTE]);
        for (let ts = T0 + segment * 2 * HOUR + rng.int(0, 600_000); ts < T0 + (segment + 1) * 2 * HOUR;) {
          values.push(rowText(s.host, s.region, s.dc, ts, valueLiteral(rng)));
          // Equal timestamps now and then (APPEND keeps both rows).
          if (!rng.chance(0.05)) ts += step;
        }
      }
      if (values.length > 0)
        await executeSql(
          engine,
          DATABASE,
          `INSERT INTO s (host, region, dc, ts, x) VALUES ${values.join(", ")}`,
        );
      await engine.flush(DATABASE, "s");
    }
    // A second SST over one segment (merged with the first when read), and rows left in the memtable.
    for (const [from, flush] of [
      [4 * HOUR, true],
      [SPAN - HOUR, false],
    ] as const) {
      const values = Array.from({ length: 60 }, () => {
        const s = rng.pick(series);
        return rowText(s.host, s.region, s.dc, T0 + from + rng.int(0, HOUR), valueLiteral(rng));
      });
      await executeSql(
        engine,
        DATABASE,
        `INSERT INTO s (host, region, dc, ts, x) VALUES ${values.join(", ")}`,
      );
      if (flush) await engine.flush(DATABASE, "s");
    }
  }, 60_000);

  afterAll(async () => {
    await engine?.close();
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  });

  it(`returns the rows of the row-by-row ways on ${QUERIES} random queries`, async () => {
    const failures: string[] = [];
    let bySeriesRuns = 0;
    for (let q = 0; q < QUERIES && failures.length < 5; q++) {
      const { sql } = generateQuery(rng);
      const statement = parseStatement(sql) as SelectStatement;
      // Small batches: series runs continue from one batch to the next.
      const batchSize = rng.pick([7, 64, undefined]);
      const options = batchSize === undefined ? {} : { batchSize };
      const expected = rowsText(
        resultRowArrays(await executeSelect(withoutRuns, DATABASE, statement, options)),
      );
      const actual = rowsText(resultRowArrays(await executeSelect(engine, DATABASE, statement, options)));
      if (actual !== expected)
        failures.push(
          `query #${q} (seed ${SEED}, batch ${batchSize}): ${sql}\n  expected ${expected}\n  actual   ${actual}`,
        );
      const plan = await explain(
        engine,
        DATABASE,
        parseStatement(`EXPLAIN ANALYZE ${sql}`) as ExplainStatement,
        options,
      );
      const line = resultRowArrays(plan)
        .map((r) => r[0] as string)
        .find((l) => l.includes("batchesBySeriesRuns="));
      const batches = Number(/batchesBySeriesRuns=(\d+)/.exec(line ?? "")?.[1] ?? 0);
      if (batches > 0) bySeriesRuns++;
    }
    expect(failures.join("\n\n")).toBe("");
    // Most queries read some SSTs by runs, or the comparison says little.
    expect(bySeriesRuns).toBeGreaterThan(QUERIES * 0.5);
  });

  it("groups by a TAG column and a bucket through series runs, with and without a residual filter", async () => {
    for (const where of ["", " WHERE x > 2"]) {
      const sql = `SELECT time_bucket(ts, 'PT1H') AS b, host, avg(x) FROM s${where} GROUP BY b, host`;
      const plan = await explain(
        engine,
        DATABASE,
        parseStatement(`EXPLAIN ANALYZE ${sql}`) as ExplainStatement,
      );
      const text = resultRowArrays(plan)
        .map((r) => r[0] as string)
        .join("\n");
      expect(text).toMatch(/batchesBySeriesRuns=[1-9]/);
    }
    // A key that is an expression of a tag is not a TAG column: the row-by-row ways.
    const sql = "SELECT lower(host) AS h, count(*) FROM s GROUP BY h";
    const plan = await explain(
      engine,
      DATABASE,
      parseStatement(`EXPLAIN ANALYZE ${sql}`) as ExplainStatement,
    );
    const text = resultRowArrays(plan)
      .map((r) => r[0] as string)
      .join("\n");
    expect(text).not.toMatch(/batchesBySeriesRuns/);
  });
});
