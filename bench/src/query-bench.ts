/**
 * `npm run bench:query`: latency of the TSBS query shapes on the query engine in-process, over TSBS
 * cpu-only data (100 hosts x 1 day = 864,000 rows by default) flushed to SSTs and compacted.
 *
 * - cold: the engine is reopened before each run, so its object-store read cache is empty (the
 *   operating system's page cache is not: the files were just written);
 * - warm: runs on one open engine after a warm-up run of each shape.
 *
 * Each run draws new parameters (hosts, time window) from a seeded generator, as TSBS does, and its
 * result size is checked. Prints the median and p99 of each shape, cold and warm, one JSON object
 * per line: {"name","value","unit"}. Background compaction is paused while queries run.
 *
 * Flags: --hosts N, --hours N (scale), --repeat N (warm runs per shape), --cold-repeat N (cold runs
 * per shape), --queries a,b (shapes to run), --seed N (query parameters), --batch N (rows per write
 * while loading), --keep (keep the data directory).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { pino } from "pino";
import { openStandaloneEngine, prepareWrite, type StorageEngine } from "@horaedb/horaedb/engine";
import { executeSelect, resultRowCount } from "@horaedb/horaedb/query";
import { parseStatement, type SelectStatement } from "@horaedb/horaedb/sql";
import {
  DEFAULT_SCALE,
  drawTsbsQuery,
  TSBS_QUERY_SHAPES,
  tsbsBatches,
  tsbsExpectedRows,
  tsbsQueryRandom,
  tsbsQuerySql,
  tsbsWriteRows,
  type TsbsQueryShape,
  type TsbsScale,
} from "@horaedb/horaedb/testing";
import { cleanupOnSignals, onCleanup, runCleanup } from "./cleanup.js";
import { ProgressBar } from "./progress.js";
import { emit, emitHostLoad, median, percentile, positiveInteger, readFlags } from "./report.js";
import { parseShapes } from "./tsbs-shapes.js";

const TABLE = "cpu";
const logger = pino({ level: "warn" });

const config = readFlags(() => {
  const { values: flags } = parseArgs({
    options: {
      hosts: { type: "string", default: String(DEFAULT_SCALE.hosts) },
      hours: { type: "string", default: "24" },
      repeat: { type: "string", default: "50" },
      "cold-repeat": { type: "string", default: "10" },
      queries: { type: "string", default: TSBS_QUERY_SHAPES.join(",") },
      seed: { type: "string", default: "1" },
      batch: { type: "string", default: "5000" },
      keep: { type: "boolean", default: false },
    },
  });
  const scale: TsbsScale = {
    ...DEFAULT_SCALE,
    hosts: positiveInteger("hosts", flags.hosts),
    durationMs: positiveInteger("hours", flags.hours) * 3_600_000,
  };
  return {
    scale,
    shapes: parseShapes(flags.queries),
    warmRuns: positiveInteger("repeat", flags.repeat),
    coldRuns: positiveInteger("cold-repeat", flags["cold-repeat"]),
    seed: positiveInteger("seed", flags.seed),
    batchRows: positiveInteger("batch", flags.batch),
    keep: flags.keep,
  };
});
const { scale, shapes, warmRuns, coldRuns } = config;
const random = tsbsQueryRandom(config.seed);

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
    for (const batch of tsbsBatches(scale, config.batchRows)) {
      const writeRows = tsbsWriteRows(batch);
      if (engine.table("public", TABLE) === undefined) {
        // TSBS timestamps are fixed dates in the past: keep them from expiring under the default TTL.
        const policy = { autoCreateTable: true, autoAddColumns: true };
        const { schema } = prepareWrite(TABLE, undefined, writeRows, policy);
        await engine.createTable("public", TABLE, schema, { enable_ttl: "false" });
      }
      await engine.write("public", TABLE, writeRows);
      rows += batch.numRows;
      progress.tick(batch.numRows);
    }
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

/** Runs one query with freshly drawn parameters; returns its latency in ms. */
async function timedQuery(engine: StorageEngine, shape: TsbsQueryShape): Promise<number> {
  const query = drawTsbsQuery(shape, scale, random);
  const sql = tsbsQuerySql(query, TABLE);
  const started = performance.now();
  const result = await executeSelect(engine, "public", parseStatement(sql) as SelectStatement);
  const ms = performance.now() - started;
  const expected = tsbsExpectedRows(query, scale.hosts);
  const rows = resultRowCount(result);
  if (expected !== undefined && rows !== expected) {
    throw new Error(`${shape} returned ${rows} rows, expected ${expected}: ${sql}`);
  }
  return ms;
}

async function main(): Promise<void> {
  cleanupOnSignals();
  const dataDir = await mkdtemp(join(tmpdir(), "horaedb-bench-query-"));
  onCleanup("the data directory", async () => {
    if (config.keep) console.error(`data kept in ${dataDir}`);
    else await rm(dataDir, { recursive: true, force: true });
  });
  emit("query.rows", await load(dataDir), "rows");

  const cold = new Map<TsbsQueryShape, number[]>(shapes.map((s) => [s, []]));
  const warm = new Map<TsbsQueryShape, number[]>(shapes.map((s) => [s, []]));
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
