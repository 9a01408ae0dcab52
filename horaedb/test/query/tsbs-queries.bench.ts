/**
 * Query latency on TSBS cpu-only data (100 hosts x 1 day = 864,000 rows, written in batches of
 * 5,000, flushed to SSTs and compacted), warm: the median (and the fastest) of the measured runs
 * after one warm-up run, with background compaction paused.
 *
 *   npx vitest bench --run --project unit horaedb/test/query/tsbs-queries.bench.ts
 *
 * Prints one JSON line per figure: {"name", "value", "unit"}. The queries are the six TSBS shapes
 * of `src/testing/tsbs-queries.ts` with fixed parameters (host_42, windows from 06:00);
 * "scan only" runs the engine's scan of a query alone, to tell the query's own cost from reading.
 * `npm run bench:query` runs the same shapes with random parameters, cold and warm.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, bench, describe } from "vitest";
import type { StorageEngine } from "../../src/engine/engine.js";
import type { ScanRequest } from "../../src/engine/index.js";
import { openStandaloneEngine } from "../../src/engine/standalone.js";
import { executeSelect, resultRowCount } from "../../src/query/index.js";
import { parseStatement, type SelectStatement } from "../../src/sql/index.js";
import {
  TSBS_QUERY_SHAPES,
  tsbsExpectedRows,
  tsbsQuery,
  tsbsQuerySql,
  type TsbsQuery,
  type TsbsQueryShape,
} from "../../src/testing/tsbs-queries.js";
import { DEFAULT_SCALE, tsbsBatches, tsbsWriteRows } from "../../src/testing/tsbs.js";

const RUNS = { iterations: 10, warmupIterations: 1, time: 0, warmupTime: 0 };

const HOUR = 3_600_000;
const AT_06 = DEFAULT_SCALE.start + 6 * HOUR;
const QUERIES: Record<TsbsQueryShape, TsbsQuery> = {
  "single-groupby-1-1-1": tsbsQuery("single-groupby-1-1-1", {
    hosts: ["host_42"],
    start: AT_06,
    end: AT_06 + HOUR,
  }),
  "single-groupby-5-1-12": tsbsQuery("single-groupby-5-1-12", {
    hosts: ["host_42"],
    start: AT_06,
    end: AT_06 + 12 * HOUR,
  }),
  "double-groupby-1": tsbsQuery("double-groupby-1", { start: AT_06, end: AT_06 + 12 * HOUR }),
  "high-cpu-1": tsbsQuery("high-cpu-1", { hosts: ["host_42"], start: AT_06, end: AT_06 + 12 * HOUR }),
  lastpoint: tsbsQuery("lastpoint", { start: DEFAULT_SCALE.start, end: DEFAULT_SCALE.start + 24 * HOUR }),
  "groupby-orderby-limit": tsbsQuery("groupby-orderby-limit", {
    start: DEFAULT_SCALE.start,
    end: AT_06 + 12 * HOUR,
  }),
};

let dataDir: string;
let engine: StorageEngine;
const statements = new Map<string, SelectStatement>();
const timings = new Map<string, number[]>();
const warmedUp = new Set<string>();
let totalRows = 0;

async function timedQuery(name: TsbsQueryShape): Promise<void> {
  const started = performance.now();
  const result = await executeSelect(engine, "public", statements.get(name) as SelectStatement);
  const ms = performance.now() - started;
  const expected = tsbsExpectedRows(QUERIES[name], DEFAULT_SCALE.hosts);
  if (expected !== undefined && resultRowCount(result) !== expected) {
    throw new Error(`${name} returned ${resultRowCount(result)} rows, expected ${expected}`);
  }
  record(name, ms);
}

/** Keeps a run's time, except the first run of each figure (the warm-up). */
function record(name: string, ms: number): void {
  if (!warmedUp.has(name)) {
    warmedUp.add(name);
    return;
  }
  timings.set(name, [...(timings.get(name) ?? []), ms]);
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "horaedb-query-bench-"));
  engine = await openStandaloneEngine({
    dataDir,
    logger: pino({ level: "silent" }),
    fsyncObjects: false,
    flushCheckIntervalMs: 3_600_000,
  });
  let created = false;
  for (const batch of tsbsBatches(DEFAULT_SCALE, 5000)) {
    const rows = tsbsWriteRows(batch);
    if (!created) {
      // TSBS timestamps are fixed dates in the past: keep them from expiring under the default TTL.
      const { prepareWrite } = await import("../../src/engine/write-validation.js");
      const schema = prepareWrite("cpu", undefined, rows, {
        autoCreateTable: true,
        autoAddColumns: true,
      }).schema;
      await engine.createTable("public", "cpu", schema, { enable_ttl: "false" });
      created = true;
    }
    await engine.write("public", "cpu", rows);
    totalRows += batch.numRows;
  }
  await engine.flush();
  // Measure a settled table: compact now, then keep background compaction from competing.
  await engine.compact("public", "cpu");
  engine.setCompactionPaused(true);
  for (const [name, query] of Object.entries(QUERIES))
    statements.set(name, parseStatement(tsbsQuerySql(query)) as SelectStatement);
  // Settle: the first runs after ingest pay for collecting its garbage, whichever runs first.
  for (let round = 0; round < 3; round++) {
    for (const statement of statements.values()) await executeSelect(engine, "public", statement);
    for (const request of Object.values(SCANS)) await drain(engine.scan("public", "cpu", request));
  }
}, 600_000);

async function drain(batches: AsyncIterable<unknown>): Promise<void> {
  for await (const batch of batches) void batch;
}

afterAll(async () => {
  const print = (name: string, value: number, unit: string) =>
    console.log(JSON.stringify({ name, value: Math.round(value * 100) / 100, unit }));
  print("query_tsbs_rows", totalRows, "rows");
  print("query_tsbs_ssts", engine.sstFiles("public", "cpu").length, "files");
  for (const [name, ms] of timings) {
    const sorted = [...ms].sort((a, b) => a - b);
    const figure = `query_${name.replaceAll("-", "_")}`;
    print(`${figure}_median_warm`, sorted[Math.floor(sorted.length / 2)] as number, "ms");
    print(`${figure}_min_warm`, sorted[0] as number, "ms");
  }
  // Latencies depend on what else the machine runs; the load average says how busy it was.
  print("host_load_average_1m", loadavg()[0] as number, "runnable");
  print("host_cpus", cpus().length, "cpus");
  await engine.close();
  await rm(dataDir, { recursive: true, force: true });
});

/** The engine's scan alone with a query's pushdown: what the query costs above reading. */
const SCANS: Record<string, ScanRequest> = {
  "double-groupby-1": {
    projection: ["hostname", "timestamp", "usage_user"],
    timeRange: { start: Date.UTC(2024, 0, 1, 6), end: Date.UTC(2024, 0, 1, 18) },
  },
  lastpoint: { projection: ["hostname", "timestamp", "usage_user"] },
};

async function timedScan(name: string): Promise<void> {
  const started = performance.now();
  let rows = 0;
  for await (const batch of engine.scan("public", "cpu", SCANS[name])) rows += batch.numRows;
  record(`scan-only-${name}`, performance.now() - started);
  if (rows === 0) throw new Error(`scan for ${name} read no rows`);
}

describe("TSBS cpu-only queries, 100 hosts x 1 day, flushed to SSTs", () => {
  for (const name of TSBS_QUERY_SHAPES) {
    bench(name, () => timedQuery(name), RUNS);
  }
  for (const name of Object.keys(SCANS)) bench(`scan only, ${name}`, () => timedScan(name), RUNS);
});
