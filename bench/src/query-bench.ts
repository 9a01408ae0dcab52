/**
 * `npm run bench:query`: latency of the TSBS query shapes on the query engine in-process, over TSBS
 * cpu-only data (100 hosts x 1 day = 864,000 rows by default) flushed to SSTs and compacted.
 *
 * - cold: the engine is reopened before each run, so its object-store read cache is empty (the
 *   operating system's page cache is not: the files were just written);
 * - warm: runs on one open engine after a warm-up run of each shape.
 *
 * Each run draws new parameters (hosts, time window) from a seeded generator, as TSBS does, and its
 * result size is checked. Beside the TSBS shapes, `latest-rows` reads the newest 10 raw rows of one
 * host (`ORDER BY timestamp DESC LIMIT 10`, no time range) and checks they are the newest ones. Prints the median and p99 of each shape, cold and warm, one JSON object
 * per line: {"name","value","unit"}. Background compaction is paused while queries run.
 *
 * Flags: --hosts N, --hours N (scale), --repeat N (warm runs per shape), --cold-repeat N (cold runs
 * per shape), --queries a,b (shapes to run: the TSBS shapes and latest-rows), --seed N (query
 * parameters), --batch N (rows per write while loading), --keep (keep the data directory),
 * --without-time-extent (queries see the engine without its time extent, for comparison: ORDER BY
 * timestamp LIMIT without a time range then reads and sorts the whole range).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { pino } from "pino";
import { openStandaloneEngine, type StorageEngine } from "@horaedb/horaedb/engine";
import {
  executeSelect,
  resultRowArrays,
  resultRowCount,
  type QueryEngine,
  type QueryResult,
} from "@horaedb/horaedb/query";
import { parseStatement, type SelectStatement } from "@horaedb/horaedb/sql";
import {
  DEFAULT_SCALE,
  drawTsbsQuery,
  TSBS_QUERY_SHAPES,
  tsbsBatches,
  tsbsExpectedRows,
  tsbsQueryRandom,
  tsbsQuerySql,
  type TsbsQueryShape,
  type TsbsScale,
} from "@horaedb/horaedb/testing";
import { cleanupOnSignals, onCleanup, runCleanup } from "./cleanup.js";
import { ProgressBar } from "./progress.js";
import { writeTsbsBatches } from "./tsbs-engine-writes.js";
import { emit, emitHostLoad, FlagError, median, percentile, positiveInteger, readFlags } from "./report.js";
import { parseShapes } from "./tsbs-shapes.js";

const TABLE = "cpu";
/** Queries of this bench beyond the TSBS shapes. */
const EXTRA_QUERIES = ["latest-rows"] as const;
type ExtraQuery = (typeof EXTRA_QUERIES)[number];
type BenchQuery = TsbsQueryShape | ExtraQuery;
/** Rows latest-rows asks for. */
const LATEST_ROWS_LIMIT = 10;
const logger = pino({ level: "warn" });

const config = readFlags(() => {
  const { values: flags } = parseArgs({
    options: {
      hosts: { type: "string", default: String(DEFAULT_SCALE.hosts) },
      hours: { type: "string", default: "24" },
      repeat: { type: "string", default: "50" },
      "cold-repeat": { type: "string", default: "10" },
      queries: { type: "string", default: [...TSBS_QUERY_SHAPES, ...EXTRA_QUERIES].join(",") },
      seed: { type: "string", default: "1" },
      batch: { type: "string", default: "5000" },
      keep: { type: "boolean", default: false },
      "without-time-extent": { type: "boolean", default: false },
    },
  });
  const scale: TsbsScale = {
    ...DEFAULT_SCALE,
    hosts: positiveInteger("hosts", flags.hosts),
    durationMs: positiveInteger("hours", flags.hours) * 3_600_000,
  };
  return {
    scale,
    shapes: parseQueries(flags.queries),
    warmRuns: positiveInteger("repeat", flags.repeat),
    coldRuns: positiveInteger("cold-repeat", flags["cold-repeat"]),
    seed: positiveInteger("seed", flags.seed),
    batchRows: positiveInteger("batch", flags.batch),
    keep: flags.keep,
    withoutTimeExtent: flags["without-time-extent"],
  };
});
const { scale, shapes, warmRuns, coldRuns } = config;
const random = tsbsQueryRandom(config.seed);

/** The --queries list: TSBS shapes (checked by parseShapes) and this bench's own queries. */
function parseQueries(list: string): BenchQuery[] {
  const names = list
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name.length > 0);
  const isExtra = (name: string): name is ExtraQuery => (EXTRA_QUERIES as readonly string[]).includes(name);
  const tsbs = names.filter((name) => !isExtra(name));
  if (names.length === 0) throw new FlagError("--queries names no query");
  const shapes = tsbs.length === 0 ? [] : parseShapes(tsbs.join(","));
  return names.map((name) => (isExtra(name) ? name : (shapes[tsbs.indexOf(name)] as TsbsQueryShape)));
}

/** An engine over the loaded data: no flush checks or compactions to compete with the queries. */
async function openEngine(dataDir: string): Promise<StorageEngine> {
  const engine = await openStandaloneEngine({
    dataDir,
    logger,
    fsyncObjects: false,
    flushCheckIntervalMs: 3_600_000,
  });
  engine.setCompactionPaused(true);
  return engine;
}

/** Writes the data set, flushes it and compacts it; returns the rows written. */
async function load(dataDir: string): Promise<number> {
  const engine = await openStandaloneEngine({
    dataDir,
    logger,
    fsyncObjects: false,
    flushCheckIntervalMs: 3_600_000,
  });
  const total = scale.hosts * Math.floor(scale.durationMs / scale.intervalMs);
  const progress = new ProgressBar("loading", total, "rows");
  let rows = 0;
  try {
    rows = await writeTsbsBatches(engine, TABLE, tsbsBatches(scale, config.batchRows), progress);
    progress.finish();
    await engine.flush();
    // Measure a settled table, as after background compaction caught up.
    await engine.compact("public", TABLE);
    emit("query.ssts", engine.sstFiles("public", TABLE).length, "files");
  } finally {
    await engine.close();
  }
  return rows;
}

/** What queries run on: the engine, or with --without-time-extent its catalog and scans alone. */
function queryEngine(engine: StorageEngine): QueryEngine {
  if (!config.withoutTimeExtent) return engine;
  return {
    table: (database, name) => engine.table(database, name),
    scan: (database, table, request) => engine.scan(database, table, request),
  };
}

/** Runs one query with freshly drawn parameters; returns its latency in ms. */
async function timedQuery(engine: StorageEngine, shape: BenchQuery): Promise<number> {
  if (shape === "latest-rows") return timedLatestRows(engine);
  const query = drawTsbsQuery(shape, scale, random);
  const sql = tsbsQuerySql(query, TABLE);
  const started = performance.now();
  const result = await executeSelect(queryEngine(engine), "public", parseStatement(sql) as SelectStatement);
  const ms = performance.now() - started;
  const expected = tsbsExpectedRows(query, scale.hosts);
  const rows = resultRowCount(result);
  if (expected !== undefined && rows !== expected) {
    throw new Error(`${shape} returned ${rows} rows, expected ${expected}: ${sql}`);
  }
  return ms;
}

/**
 * latest-rows: the newest rows of one random host, without a time range. Checks that they are the
 * host's last LATEST_ROWS_LIMIT points, newest first (every host has a point every interval).
 */
async function timedLatestRows(engine: StorageEngine): Promise<number> {
  const host = `host_${Math.floor(random() * scale.hosts)}`;
  const sql = `SELECT * FROM ${TABLE} WHERE hostname = '${host}' ORDER BY timestamp DESC LIMIT ${LATEST_ROWS_LIMIT}`;
  const started = performance.now();
  const result = await executeSelect(queryEngine(engine), "public", parseStatement(sql) as SelectStatement);
  const ms = performance.now() - started;
  const points = Math.floor(scale.durationMs / scale.intervalMs);
  const expected = Array.from(
    { length: Math.min(LATEST_ROWS_LIMIT, points) },
    (_, i) => scale.start + (points - 1 - i) * scale.intervalMs,
  );
  const actual = timestampsOf(result);
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    throw new Error(
      `latest-rows returned timestamps ${actual.join(", ")}, expected ${expected.join(", ")}: ${sql}`,
    );
  }
  return ms;
}

/** The `timestamp` column of a result, as ms. */
function timestampsOf(result: QueryResult): number[] {
  const index = result.columns.findIndex((c) => c.name === "timestamp");
  if (index < 0) throw new Error("the result has no timestamp column");
  return resultRowArrays(result).map((row) => Number(row[index]));
}

async function main(): Promise<void> {
  cleanupOnSignals();
  const dataDir = await mkdtemp(join(tmpdir(), "horaedb-bench-query-"));
  onCleanup("the data directory", async () => {
    if (config.keep) console.error(`data kept in ${dataDir}`);
    else await rm(dataDir, { recursive: true, force: true });
  });
  emit("query.rows", await load(dataDir), "rows");

  const cold = new Map<BenchQuery, number[]>(shapes.map((s) => [s, []]));
  const warm = new Map<BenchQuery, number[]>(shapes.map((s) => [s, []]));
  const progress = new ProgressBar("queries", shapes.length * (coldRuns + warmRuns + 1), "runs");
  // Rounds go over every shape in turn, so that a busy moment of the machine spreads over all.
  for (let round = 0; round < coldRuns; round++) {
    for (const shape of shapes) {
      const engine = await openEngine(dataDir);
      try {
        cold.get(shape)?.push(await timedQuery(engine, shape));
      } finally {
        await engine.close();
      }
      progress.tick();
    }
  }
  const engine = await openEngine(dataDir);
  try {
    for (const shape of shapes) {
      await timedQuery(engine, shape);
      progress.tick();
    }
    for (let round = 0; round < warmRuns; round++) {
      for (const shape of shapes) {
        warm.get(shape)?.push(await timedQuery(engine, shape));
        progress.tick();
      }
    }
  } finally {
    await engine.close();
  }
  progress.finish();

  for (const shape of shapes) {
    for (const [state, samples] of [
      ["cold", cold.get(shape) ?? []],
      ["warm", warm.get(shape) ?? []],
    ] as const) {
      emit(`query.${shape}.${state}.median`, median(samples), "ms");
      emit(`query.${shape}.${state}.p99`, percentile(samples, 99), "ms");
    }
  }
  emitHostLoad();
}

try {
  await main();
} finally {
  await runCleanup();
}
