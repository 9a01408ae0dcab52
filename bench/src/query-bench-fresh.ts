/**
 * `node bench/dist/src/query-bench-fresh.js`: latency of TSBS queries over fresh data, where the
 * newest stretch of time is held by several overlapping sources that a scan has to merge.
 *
 * TSBS cpu-only data (100 hosts x 1 day by default) is written, flushed and compacted, as in
 * query-bench. Then the last hours are written again (values changed, so the rewrite overwrites):
 * `--flushed-rewrites N` times flushed to SSTs that overlap the compacted ones, and once more left
 * in the memtable. Queries then run warm on the open engine (compaction paused, decoded column
 * cache filled), against the end of the data:
 *
 * - lastpoint: last(usage_user) of every host;
 * - single-groupby-1-1-1 over the last hour (one random host);
 * - high-cpu-1 over the last 12 hours (one random host);
 * - double-groupby-1 over the last 12 hours (every host: the overlapping stretch merged in full).
 *
 * Prints the median and p99 of each, one JSON object per line: {"name","value","unit"}.
 *
 * Flags: --hosts N, --hours N (scale), --rewrite-hours N (how much of the end is written again),
 * --flushed-rewrites N (rewrites flushed before the one left in the memtable; 0 for none),
 * --repeat N (warm runs per query), --seed N, --batch N (rows per write), --queries a,b.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { pino } from "pino";
import { openStandaloneEngine, type StorageEngine } from "@horaedb/horaedb/engine";
import { executeSelect, resultRowCount } from "@horaedb/horaedb/query";
import { parseStatement, type SelectStatement } from "@horaedb/horaedb/sql";
import {
  DEFAULT_SCALE,
  TSBS_FIELDS,
  tsbsBatches,
  tsbsExpectedRows,
  tsbsQuery,
  tsbsQueryRandom,
  tsbsQuerySql,
  type TsbsBatch,
  type TsbsQuery,
  type TsbsScale,
} from "@horaedb/horaedb/testing";
import { cleanupOnSignals, onCleanup, runCleanup } from "./cleanup.js";
import { ProgressBar } from "./progress.js";
import { writeTsbsBatches } from "./tsbs-engine-writes.js";
import { emit, emitHostLoad, FlagError, median, percentile, positiveInteger, readFlags } from "./report.js";

const TABLE = "cpu";
const HOUR = 3_600_000;
const logger = pino({ level: "warn" });

const FRESH_QUERIES = ["lastpoint", "single-groupby-1-1-1", "high-cpu-1", "double-groupby-1"] as const;
type FreshQuery = (typeof FRESH_QUERIES)[number];
/** How far back from the end of the data each query looks; undefined: no time condition. */
const WINDOW_MS: Readonly<Record<FreshQuery, number | undefined>> = {
  lastpoint: undefined,
  "single-groupby-1-1-1": HOUR,
  "high-cpu-1": 12 * HOUR,
  "double-groupby-1": 12 * HOUR,
};

function nonNegativeInteger(flag: string, text: string | undefined): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) {
    throw new FlagError(`--${flag} must be a non-negative integer, got ${JSON.stringify(text)}`);
  }
  return value;
}

function parseQueries(list: string | undefined): FreshQuery[] {
  const names = (list ?? "")
    .split(",")
    .map((n) => n.trim())
    .filter((n) => n.length > 0);
  const unknown = names.filter((n) => !(FRESH_QUERIES as readonly string[]).includes(n));
  if (unknown.length > 0 || names.length === 0) {
    throw new FlagError(`--queries takes some of ${FRESH_QUERIES.join(", ")}; got ${JSON.stringify(list)}`);
  }
  return names as FreshQuery[];
}

const config = readFlags(() => {
  const { values: flags } = parseArgs({
    options: {
      hosts: { type: "string", default: String(DEFAULT_SCALE.hosts) },
      hours: { type: "string", default: "24" },
      "rewrite-hours": { type: "string", default: "2" },
      "flushed-rewrites": { type: "string", default: "1" },
      repeat: { type: "string", default: "50" },
      seed: { type: "string", default: "1" },
      batch: { type: "string", default: "5000" },
      queries: { type: "string", default: FRESH_QUERIES.join(",") },
    },
  });
  const scale: TsbsScale = {
    ...DEFAULT_SCALE,
    hosts: positiveInteger("hosts", flags.hosts),
    durationMs: positiveInteger("hours", flags.hours) * HOUR,
  };
  return {
    scale,
    rewriteMs: Math.min(scale.durationMs, positiveInteger("rewrite-hours", flags["rewrite-hours"]) * HOUR),
    flushedRewrites: nonNegativeInteger("flushed-rewrites", flags["flushed-rewrites"]),
    warmRuns: positiveInteger("repeat", flags.repeat),
    seed: positiveInteger("seed", flags.seed),
    batchRows: positiveInteger("batch", flags.batch),
    queries: parseQueries(flags.queries),
  };
});
const { scale } = config;
const dataEnd = scale.start + scale.durationMs;
const random = tsbsQueryRandom(config.seed);

/** The data set's rows from `from` on, with every field shifted by `shift` (a rewrite of them). */
function* rewriteOf(from: number, shift: number): Generator<TsbsBatch> {
  for (const batch of tsbsBatches(scale, config.batchRows)) {
    const last = batch.timestamps[batch.numRows - 1] as number;
    if (last < from) continue;
    const first = batch.timestamps.findIndex((t) => t >= from);
    const numRows = batch.numRows - first;
    const cut = (values: Float64Array) => values.slice(first);
    yield {
      numRows,
      tags: Object.fromEntries(
        Object.entries(batch.tags).map(([tag, values]) => [tag, values.slice(first)]),
      ) as TsbsBatch["tags"],
      timestamps: cut(batch.timestamps),
      fields: Object.fromEntries(
        TSBS_FIELDS.map((f) => [f, cut(batch.fields[f]).map((v) => Math.min(100, v + shift))]),
      ) as TsbsBatch["fields"],
    };
  }
}

/** Loads, flushes and compacts the data set, then writes the rewrites; the engine stays open. */
async function load(engine: StorageEngine): Promise<void> {
  const total = scale.hosts * Math.floor(scale.durationMs / scale.intervalMs);
  const rewriteRows = scale.hosts * Math.floor(config.rewriteMs / scale.intervalMs);
  const progress = new ProgressBar("loading", total + (config.flushedRewrites + 1) * rewriteRows, "rows");
  emit(
    "query_fresh.rows",
    await writeTsbsBatches(engine, TABLE, tsbsBatches(scale, config.batchRows), progress),
    "rows",
  );
  await engine.flush();
  await engine.compact("public", TABLE);
  engine.setCompactionPaused(true);
  const from = dataEnd - config.rewriteMs;
  for (let i = 0; i < config.flushedRewrites; i++) {
    await writeTsbsBatches(engine, TABLE, rewriteOf(from, i + 1), progress);
    await engine.flush();
  }
  const memtableRows = await writeTsbsBatches(
    engine,
    TABLE,
    rewriteOf(from, config.flushedRewrites + 1),
    progress,
  );
  progress.finish();
  emit("query_fresh.ssts", engine.sstFiles("public", TABLE).length, "files");
  emit("query_fresh.memtable_rows", memtableRows, "rows");
}

/** A query of the kind over the end of the data, with a random host where it takes one. */
function draw(kind: FreshQuery): TsbsQuery {
  const window = WINDOW_MS[kind];
  const everyHost = kind === "lastpoint" || kind === "double-groupby-1";
  const hosts = everyHost ? [] : [`host_${Math.floor(random() * scale.hosts)}`];
  const start = window === undefined ? scale.start : Math.max(scale.start, dataEnd - window);
  return tsbsQuery(kind, { hosts, start, end: dataEnd });
}

/** Runs one query; returns its latency in ms (its result size checked where it is known). */
async function timedQuery(engine: StorageEngine, kind: FreshQuery): Promise<number> {
  const query = draw(kind);
  const sql = tsbsQuerySql(query, TABLE);
  const started = performance.now();
  const result = await executeSelect(engine, "public", parseStatement(sql) as SelectStatement);
  const ms = performance.now() - started;
  const expected = tsbsExpectedRows(query, scale.hosts);
  const rows = resultRowCount(result);
  if (expected !== undefined && rows !== expected) {
    throw new Error(`${kind} returned ${rows} rows, expected ${expected}: ${sql}`);
  }
  return ms;
}

async function main(): Promise<void> {
  cleanupOnSignals();
  const dataDir = await mkdtemp(join(tmpdir(), "horaedb-bench-query-fresh-"));
  onCleanup("the data directory", () => rm(dataDir, { recursive: true, force: true }));
  const engine = await openStandaloneEngine({
    dataDir,
    logger,
    fsyncObjects: false,
    flushCheckIntervalMs: 3_600_000,
  });
  try {
    await load(engine);
    const samples = new Map<FreshQuery, number[]>(config.queries.map((q) => [q, []]));
    const progress = new ProgressBar("queries", config.queries.length * (config.warmRuns + 1), "runs");
    for (const kind of config.queries) {
      await timedQuery(engine, kind);
      progress.tick();
    }
    // Rounds go over every query in turn, so that a busy moment of the machine spreads over all.
    for (let round = 0; round < config.warmRuns; round++) {
      for (const kind of config.queries) {
        samples.get(kind)?.push(await timedQuery(engine, kind));
        progress.tick();
      }
    }
    progress.finish();
    for (const [kind, values] of samples) {
      emit(`query_fresh.${kind}.warm.median`, median(values), "ms");
      emit(`query_fresh.${kind}.warm.p99`, percentile(values, 99), "ms");
    }
    emitHostLoad();
  } finally {
    await engine.close();
  }
}

try {
  await main();
} finally {
  await runCleanup();
}
