/**
 * `npm run bench:engine`: the storage engine in-process on TSBS cpu-only rows (100 hosts x 1 day =
 * 864,000 rows by default, batches of 5,000): durable ingest, flush, cold and cached scans, peak RSS.
 * Prints one JSON object per figure: {"name","value","unit"}.
 *
 * Ingest is measured twice: the write path alone (`engine_ingest_rows_per_sec`: WAL fsync'd with
 * group commit, memtable apply; the table's write buffer large enough that no flush runs meanwhile),
 * and with the default write buffer (`engine_ingest_with_flushes_rows_per_sec`), where flushes run in
 * the background and share the machine's cores with the writes.
 *
 * The flush also reports the longest stretch the event loop went without a turn while it ran
 * (`engine_flush_longest_event_loop_stall`): writes and queries wait that long at worst.
 *
 * Flags: --hosts N, --hours N, --batch N, --concurrency N (writes in flight), --encoder-workers N,
 * --keep (keep the data dir).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { pino } from "pino";
import {
  openStandaloneEngine,
  prepareWrite,
  type StorageEngine,
  type WriteRows,
} from "@horaedb/horaedb/engine";
import { DEFAULT_SCALE, tsbsBatches, tsbsWriteRows } from "@horaedb/horaedb/testing";

const { values: flags } = parseArgs({
  options: {
    hosts: { type: "string", default: String(DEFAULT_SCALE.hosts) },
    hours: { type: "string", default: "24" },
    batch: { type: "string", default: "5000" },
    concurrency: { type: "string", default: "4" },
    keep: { type: "boolean", default: false },
    "encoder-workers": { type: "string" },
  },
});
/** `--encoder-workers N`: SST encoder threads (default: the engine's default). */
const encoderWorkers =
  flags["encoder-workers"] === undefined ? {} : { encoderWorkers: Number(flags["encoder-workers"]) };

function emit(name: string, value: number, unit: string): void {
  console.log(JSON.stringify({ name, value: Math.round(value * 100) / 100, unit }));
}

/** Writes every batch with `--concurrency` writes in flight; returns rows/s. */
async function ingest(engine: StorageEngine, table: string): Promise<number> {
  const started = performance.now();
  // TSBS timestamps are fixed dates in the past: keep them from expiring under the default TTL.
  if (engine.table("public", table) === undefined) {
    await engine.createTable("public", table, tsbsSchema(), { enable_ttl: "false" });
  }
  await engine.write("public", table, batches[0] as WriteRows);
  let next = 1;
  await Promise.all(
    Array.from({ length: Number(flags.concurrency) }, async () => {
      while (next < batches.length) await engine.write("public", table, batches[next++] as WriteRows);
    }),
  );
  return totalRows / ((performance.now() - started) / 1000);
}

/** The schema a first write of TSBS rows would create. */
function tsbsSchema() {
  return prepareWrite("cpu", undefined, batches[0] as WriteRows, {
    autoCreateTable: true,
    autoAddColumns: true,
  }).schema;
}

/** Measures the longest time the event loop went without a turn until `stop()` (a 1 ms timer). */
function stallWatch(): { stop(): number } {
  let last = performance.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 1);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(longest, performance.now() - last);
    },
  };
}

async function scanAllRows(engine: StorageEngine): Promise<number> {
  let rows = 0;
  for await (const batch of engine.scan("public", "cpu")) rows += batch.numRows;
  return rows;
}

const logger = pino({ level: "warn" });
const scale = { ...DEFAULT_SCALE, hosts: Number(flags.hosts), durationMs: Number(flags.hours) * 3_600_000 };
const dataDir = await mkdtemp(join(tmpdir(), "horaedb-bench-engine-"));
const batches = [...tsbsBatches(scale, Number(flags.batch))].map(tsbsWriteRows);
const totalRows = batches.reduce((sum, b) => sum + b.batch.numRows, 0);
emit("engine_rows", totalRows, "rows");

try {
  // Ingest with background flushes (default table options), in a table of its own.
  let engine = await openStandaloneEngine({
    dataDir,
    logger,
    memoryBudgetBytes: 8 * 1024 ** 3,
    ...encoderWorkers,
  });
  emit("engine_ingest_with_flushes_rows_per_sec", await ingest(engine, "cpu_default"), "rows/s");
  await engine.flush();
  await engine.dropTable("public", "cpu_default");

  // The write path alone: the table's write buffer holds the whole data set.
  await engine.createTable("public", "cpu", tsbsSchema(), { write_buffer_size: "4GB", enable_ttl: "false" });
  emit("engine_ingest_rows_per_sec", await ingest(engine, "cpu"), "rows/s");

  const stalls = stallWatch();
  const flushStarted = performance.now();
  await engine.flush();
  const flushMs = performance.now() - flushStarted;
  emit("engine_flush_rows_per_sec", totalRows / (flushMs / 1000), "rows/s");
  emit("engine_flush_longest_event_loop_stall", stalls.stop(), "ms");
  await engine.close();

  // Cold: a fresh engine, so the read cache is empty (the OS page cache is not).
  engine = await openStandaloneEngine({ dataDir, logger });
  let scanStarted = performance.now();
  const coldRows = await scanAllRows(engine);
  emit("engine_scan_cold_rows_per_sec", coldRows / ((performance.now() - scanStarted) / 1000), "rows/s");
  scanStarted = performance.now();
  const warmRows = await scanAllRows(engine);
  emit("engine_scan_cached_rows_per_sec", warmRows / ((performance.now() - scanStarted) / 1000), "rows/s");
  if (coldRows !== totalRows || warmRows !== totalRows) {
    throw new Error(`scans returned ${coldRows} and ${warmRows} rows, expected ${totalRows}`);
  }
  await engine.close();
  emit("engine_peak_rss", process.resourceUsage().maxRSS / 1024, "MiB");
} finally {
  if (flags.keep) console.error(`data kept in ${dataDir}`);
  else await rm(dataDir, { recursive: true, force: true });
}
