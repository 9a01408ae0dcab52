/**
 * ORDER BY a time bucket, or the timestamp itself, with LIMIT runs the plan below the top-N over
 * narrowed time windows; its answers must be those of the whole range. Random sparse data (series
 * with bursts and long gaps, bucket edges off the epoch's alignment, equal timestamps and values,
 * NULLs, SSTs that overlap and a memtable) and random queries of those shapes, with and without
 * time ranges, are compared with the same query without LIMIT (a full sort, no window), cut to the
 * LIMIT and OFFSET.
 *
 *   DIFF_TEST_SEED=<seed> npx vitest run --project unit horaedb/test/query/time-window.test.ts
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StorageEngine } from "../../src/engine/engine.js";
import { openStandaloneEngine } from "../../src/engine/standalone.js";
import { executeSql } from "../../src/interpreters/index.js";
import { executeSelect, explain, resultRowArrays } from "../../src/query/index.js";
import { parseStatement, type ExplainStatement, type SelectStatement } from "../../src/sql/index.js";
import { differentialSeed, Rng } from "./differential-rng.js";

const SEED = differentialSeed();
const QUERIES = 300;
const DATABASE = "public";
const T0 = Date.UTC(2024, 0, 1);
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const SPAN = 40 * DAY;
const HOSTS = ["h0", "h1", "h2", "h3", "h4"];

interface Row {
  host: string;
  ts: number;
  v: number | null;
}

/**
 * Bursts of points per host with long gaps between, values from a small set (ties), and bursts
 * that several hosts share, on whole seconds (rows with equal timestamps).
 */
function generateRows(rng: Rng): Row[] {
  const rows: Row[] = [];
  for (let shared = rng.int(1, 3); shared > 0; shared--) {
    const hosts = rng.sample(HOSTS, rng.int(2, HOSTS.length));
    const start = T0 + rng.int(0, SPAN / SECOND) * SECOND;
    const step = rng.pick([SECOND, 10 * SECOND, MINUTE, HOUR]);
    const points = rng.int(1, 40);
    for (let p = 0; p < points; p++) {
      for (const host of hosts)
        rows.push({ host, ts: start + p * step, v: rng.chance(0.1) ? null : rng.int(0, 20) / 2 });
    }
  }
  for (const host of HOSTS) {
    const bursts = rng.int(0, 6);
    for (let b = 0; b < bursts; b++) {
      let ts = T0 + rng.int(0, SPAN);
      const step = rng.pick([SECOND, 7 * SECOND, MINUTE, 13 * MINUTE, HOUR]) + rng.int(0, 999);
      const points = rng.int(1, 60);
      for (let p = 0; p < points; p++) {
        rows.push({ host, ts, v: rng.chance(0.1) ? null : rng.int(0, 20) / 2 });
        ts += step;
      }
    }
  }
  return rows;
}

function literal(value: number | null): string {
  return value === null ? "NULL" : Number.isInteger(value) ? `${value}.0` : String(value);
}

function timestampLiteral(ms: number): string {
  return `TIMESTAMP '${new Date(ms).toISOString().replace("T", " ").replace("Z", "")}'`;
}

const BUCKETS = [
  "time_bucket(ts, 'PT1S')",
  "time_bucket(ts, 'PT10S')",
  "time_bucket(ts, 'PT1M')",
  "time_bucket(ts, 'PT7M')",
  "time_bucket(ts, 'PT1H')",
  "time_bucket(ts, 'P1D')",
  "time_bucket(ts, 'P1W')",
  "date_trunc('hour', ts)",
  "date_trunc('day', ts)",
  "date_trunc('week', ts)",
  "date_trunc('month', ts)",
];
const AGGREGATES = ["count(*)", "count(v)", "max(v)", "min(v)", "avg(v)", "sum(v)", "first(v)", "last(v)"];

interface Query {
  readonly limited: string;
  readonly whole: string;
  readonly limit: number;
  readonly offset: number;
}

function generateQuery(rng: Rng): Query {
  return rng.chance(0.4) ? generateRawQuery(rng) : generateBucketQuery(rng);
}

/** Conditions on the time range (either side, both, or none) and on the tags and values. */
function generateWhere(rng: Rng, descending: boolean): string {
  const conditions: string[] = [];
  const edge = () => T0 + rng.int(-DAY, SPAN + DAY);
  const upper = rng.chance(0.5) ? "<" : "<=";
  const lower = rng.chance(0.5) ? ">=" : ">";
  // Often bounded where the order starts; otherwise the window starts at the data's newest (oldest) row.
  if (descending ? rng.chance(0.6) : rng.chance(0.3))
    conditions.push(`ts ${upper} ${timestampLiteral(edge())}`);
  if (descending ? rng.chance(0.3) : rng.chance(0.6))
    conditions.push(`ts ${lower} ${timestampLiteral(edge())}`);
  if (rng.chance(0.2)) conditions.push(`host = '${rng.pick([...HOSTS, "none"])}'`);
  if (rng.chance(0.2))
    conditions.push(
      `host IN (${rng
        .sample(HOSTS, rng.int(1, 3))
        .map((h) => `'${h}'`)
        .join(", ")})`,
    );
  if (rng.chance(0.2)) conditions.push(`v > ${literal(rng.int(0, 20) / 2)}`);
  return conditions.length === 0 ? "" : ` WHERE ${conditions.join(" AND ")}`;
}

/** Raw rows ORDER BY the timestamp first (maybe aliased, maybe other keys after it). */
function generateRawQuery(rng: Rng): Query {
  const descending = rng.chance(0.6);
  const aliased = rng.chance(0.25);
  const select = aliased
    ? "SELECT v, ts AS t, host FROM w"
    : rng.pick(["SELECT host, ts, v FROM w", "SELECT * FROM w", "SELECT v FROM w"]);
  const direction = descending ? "DESC" : "ASC";
  // Without more keys, rows of equal timestamps tie: they must keep the order of the whole run.
  const more = rng.pick(["", ", host ASC", ", host DESC", ", v DESC NULLS LAST, host"]);
  const base = `${select}${generateWhere(rng, descending)} ORDER BY ${aliased ? "t" : "ts"} ${direction}${more}`;
  const limit = rng.int(1, 40);
  const offset = rng.chance(0.3) ? rng.int(1, 10) : 0;
  const limited = `${base} LIMIT ${limit}${offset > 0 ? ` OFFSET ${offset}` : ""}`;
  return { limited, whole: base, limit, offset };
}

function generateBucketQuery(rng: Rng): Query {
  const bucket = rng.pick(BUCKETS);
  const byHost = rng.chance(0.5);
  const aggregates = rng.sample(AGGREGATES, rng.int(1, 2));
  const descending = rng.chance(0.6);
  const where = generateWhere(rng, descending);
  const groupBy = byHost ? " GROUP BY b, host" : " GROUP BY b";
  const having = rng.chance(0.15) ? ` HAVING count(*) > ${rng.int(1, 3)}` : "";
  const direction = descending ? "DESC" : "ASC";
  // Without host in ORDER BY, rows of one bucket tie: they must keep the order of the whole run.
  const hostOrder = byHost && rng.chance(0.6) ? `, host ${rng.pick(["ASC", "DESC"])}` : "";
  const select = `SELECT ${bucket} AS b${byHost ? ", host" : ""}, ${aggregates.join(", ")} FROM w`;
  const base = `${select}${where}${groupBy}${having} ORDER BY b ${direction}${hostOrder}`;
  const limit = rng.int(1, 12);
  const offset = rng.chance(0.3) ? rng.int(1, 3) : 0;
  const limited = `${base} LIMIT ${limit}${offset > 0 ? ` OFFSET ${offset}` : ""}`;
  return { limited, whole: base, limit, offset };
}

describe("ORDER BY the timestamp or a time bucket with LIMIT over time windows", () => {
  const rng = new Rng(SEED);
  let dataDir: string;
  let engine: StorageEngine;

  beforeAll(async () => {
    console.log(`time window test seed: ${SEED} (replay with DIFF_TEST_SEED=${SEED})`);
    dataDir = await mkdtemp(join(tmpdir(), "horaedb-time-window-"));
    engine = await openStandaloneEngine({
      dataDir,
      logger: pino({ level: "silent" }),
      encoderWorkers: 0,
      fsyncObjects: false,
      flushCheckIntervalMs: 3_600_000,
      compaction: { paused: true },
    });
    await executeSql(
      engine,
      DATABASE,
      "CREATE TABLE w (host string TAG, ts timestamp NOT NULL, v double, TIMESTAMP KEY(ts)) ENGINE=Analytic " +
        "WITH (enable_ttl='false', update_mode='OVERWRITE', num_rows_per_row_group='16')",
    );
    // Written in parts, each flushed but the last, so SSTs overlap in time and rows are overwritten.
    const rows = rng.shuffle(generateRows(rng));
    const parts = 4;
    for (let p = 0; p < parts; p++) {
      const part = rows.filter((_, i) => i % parts === p);
      const overwrites = rng.sample(rows, 5).map((r) => ({ ...r, v: rng.int(0, 20) / 2 }));
      const values = [...part, ...overwrites].map((r) => `('${r.host}', ${r.ts}, ${literal(r.v)})`);
      if (values.length > 0)
        await executeSql(engine, DATABASE, `INSERT INTO w (host, ts, v) VALUES ${values.join(", ")}`);
      if (p < parts - 1) await engine.flush(DATABASE, "w");
    }
  }, 60_000);

  afterAll(async () => {
    await engine?.close();
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  });

  const rowsOf = async (sql: string) =>
    resultRowArrays(await executeSelect(engine, DATABASE, parseStatement(sql) as SelectStatement));
  const explainLines = async (sql: string) => {
    const result = await explain(
      engine,
      DATABASE,
      parseStatement(`EXPLAIN ANALYZE ${sql}`) as ExplainStatement,
    );
    return resultRowArrays(result).map((r) => r[0] as string);
  };

  it(`returns the rows of the whole range on ${QUERIES} random queries`, async () => {
    const failures: string[] = [];
    let windowed = 0;
    let widened = 0;
    let nonEmpty = 0;
    for (let q = 0; q < QUERIES && failures.length < 5; q++) {
      const query = generateQuery(rng);
      const expected = (await rowsOf(query.whole)).slice(query.offset, query.offset + query.limit);
      const actual = await rowsOf(query.limited);
      if (JSON.stringify(actual, bigintText) !== JSON.stringify(expected, bigintText)) {
        failures.push(
          `query #${q} (seed ${SEED}): ${query.limited}\n  expected ${JSON.stringify(expected, bigintText)}\n` +
            `  actual   ${JSON.stringify(actual, bigintText)}`,
        );
      }
      if (expected.length > 0) nonEmpty++;
      const windows = (await explainLines(query.limited)).find((l) => l.trim().startsWith("windows: "));
      if (windows !== undefined) {
        windowed++;
        if (windows.includes(";")) widened++;
      }
    }
    console.log(`time window test: ${windowed} windowed, ${widened} widened, ${nonEmpty} with rows`);
    expect(failures.join("\n\n")).toBe("");
    // Most queries take the windowed path, and some need wider windows, or the test says little.
    expect(windowed).toBeGreaterThan(QUERIES * 0.5);
    expect(widened).toBeGreaterThan(QUERIES * 0.05);
    // Random tables and windows leave some results empty (175-225 of 300 have rows in most seeds).
    expect(nonEmpty).toBeGreaterThan(QUERIES * 0.3);
  }, 240_000);

  it("widens the window over gaps until it has the rows, and stops at the data's start", async () => {
    await executeSql(
      engine,
      DATABASE,
      "CREATE TABLE gaps (host string TAG, ts timestamp NOT NULL, v double, TIMESTAMP KEY(ts)) ENGINE=Analytic " +
        "WITH (enable_ttl='false')",
    );
    // Three points a day apart, the rest of the time empty.
    const points = [T0, T0 + DAY, T0 + 2 * DAY].map((ts, i) => `('a', ${ts}, ${i}.0)`);
    await executeSql(engine, DATABASE, `INSERT INTO gaps (host, ts, v) VALUES ${points.join(", ")}`);
    const sql = (limit: number) =>
      `SELECT time_bucket(ts, 'PT1M') AS m, max(v) FROM gaps WHERE ts < ${timestampLiteral(T0 + 3 * DAY)} ` +
      `GROUP BY m ORDER BY m DESC LIMIT ${limit}`;
    expect(await rowsOf(sql(2))).toEqual([
      [T0 + 2 * DAY, 2],
      [T0 + DAY, 1],
    ]);
    const twoRows = windowsOf(await explainLines(sql(2)));
    // The first window starts at the newest row, not at the query's bound a day later.
    expect(twoRows[0]?.end).toBe(T0 + 2 * DAY + 1);
    expect(twoRows.length).toBeGreaterThan(1);
    expect(twoRows.reduce((n, w) => n + w.rows, 0)).toBe(2);
    expect(twoRows.at(-1)?.rows).toBe(1);
    // Asking for more rows than there are: the windows grow to the oldest row, then stop.
    expect(await rowsOf(sql(5))).toEqual([
      [T0 + 2 * DAY, 2],
      [T0 + DAY, 1],
      [T0, 0],
    ]);
    const allRows = windowsOf(await explainLines(sql(5)));
    expect(allRows.reduce((n, w) => n + w.rows, 0)).toBe(3);
    expect(allRows.at(-1)?.start).toBe(T0);
    // Windows follow each other without gaps or overlaps.
    for (let i = 1; i < allRows.length; i++) expect(allRows[i]?.end).toBe(allRows[i - 1]?.start);
  });
});

interface WindowRead {
  readonly start: number;
  readonly end: number;
  readonly rows: number;
}

/** The windows an EXPLAIN ANALYZE lists for the TimeWindow operator, in the order read. */
function windowsOf(lines: readonly string[]): WindowRead[] {
  const line = lines.find((l) => l.trim().startsWith("windows: "));
  if (line === undefined) throw new Error(`no windows in:\n${lines.join("\n")}`);
  return line
    .trim()
    .slice("windows: ".length)
    .split("; ")
    .map((part) => {
      const match = /^\[(\S+), (\S+)\) rows=(\d+)/.exec(part);
      if (match === null) throw new Error(`not a window: ${part}`);
      return {
        start: Date.parse(match[1] as string),
        end: Date.parse(match[2] as string),
        rows: Number(match[3]),
      };
    });
}

function bigintText(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? `${value}n` : value;
}
