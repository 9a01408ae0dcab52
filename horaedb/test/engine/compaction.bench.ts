/**
 * Compaction throughput: one job merging 4 SSTs of 100,000 TSBS cpu rows each (100 hosts x 1,000
 * timestamps; tsid, timestamp, 10 tags, 10 double fields), read, merged, written as one SST and
 * committed. Two layouts: "in order" (the 4 files hold consecutive time ranges of one window, as
 * in-order ingestion leaves them) and "overwrite" (the 4 files hold the same 100,000 keys, so the
 * merge keeps 100,000 rows). Output encoded in one encoder worker, as the engine does by default.
 *
 *   npx tsc -b horaedb && npx vitest bench --run --project unit horaedb/test/engine/compaction.bench.ts
 *
 * Besides vitest's table (whose times include putting the inputs back after each run), prints one
 * JSON line per figure: {"name", "value", "unit"}; throughputs are input rows per second of the job
 * alone, the median of the measured runs.
 */
import { afterAll, beforeAll, bench, describe } from "vitest";
import { pickCompaction, DEFAULT_PICKER_OPTIONS } from "../../src/engine/compaction/index.js";
import { ManifestOp } from "../../src/manifest/index.js";
import { SstEncoderPool, SstWriter } from "../../src/sst/index.js";
import { tsbsCpuBatches, tsbsCpuSchema } from "../../src/testing/tsbs.js";
import { tableHarness, type TableHarness } from "./compaction-fixtures.js";

const FILES = 4;
const HOSTS = 100;
const TIMESTAMPS = 1000;
const ROWS_PER_FILE = HOSTS * TIMESTAMPS;
const INTERVAL_MS = 10_000;
const RUNS = { iterations: 3, warmupIterations: 1, time: 0, warmupTime: 0 };

type Layout = "in_order" | "overwrite";
const tables = new Map<Layout, TableHarness>();
const timings = new Map<Layout, number[]>();
const stalls = new Map<Layout, number[]>();
const peaks = new Map<Layout, number>();
const outputs = new Map<Layout, { rows: number; bytes: number; inputBytes: number }>();
const runs = new Map<Layout, number>();
let pool: SstEncoderPool;
let writer: SstWriter;

/** A table holding the 4 input files. */
async function inputs(layout: Layout): Promise<TableHarness> {
  const h = await tableHarness(tsbsCpuSchema(), { segment_duration: "1d" });
  const start = Date.UTC(2024, 0, 1);
  for (let f = 0; f < FILES; f++) {
    const startMs = layout === "in_order" ? start + f * TIMESTAMPS * INTERVAL_MS : start;
    await h.flush(tsbsCpuBatches({ hosts: HOSTS, timestamps: TIMESTAMPS, batchRows: 5000, startMs }));
  }
  return h;
}

/**
 * Runs `work` while a 1 ms timer measures the longest gap the event loop went without a turn, and
 * a 10 ms one the peak of JavaScript heap plus array-buffer memory above that at the start.
 */
async function watching<T>(
  work: () => Promise<T>,
): Promise<{ result: T; longestStallMs: number; peakExtraBytes: number }> {
  const used = () => {
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  const base = used();
  let peak = base;
  let last = performance.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 1);
  // Sampling memory costs more than the stall timer should, so it runs less often.
  const sampler = setInterval(() => (peak = Math.max(peak, used())), 10);
  try {
    const result = await work();
    return {
      result,
      longestStallMs: Math.max(longest, performance.now() - last),
      peakExtraBytes: Math.max(peak, used()) - base,
    };
  } finally {
    clearInterval(timer);
    clearInterval(sampler);
  }
}

/**
 * Runs the job, then puts the table back as it was (inputs listed again, output deleted; the job
 * keeps the input objects), so every run merges the same files. Only the job is timed.
 */
async function timedJob(layout: Layout): Promise<void> {
  const h = tables.get(layout);
  if (h === undefined) throw new Error(`no table for ${layout}`);
  const job = pickCompaction(
    { ssts: h.files(), segmentDurationMs: h.table.options.segmentDurationMs, expiredBefore: undefined },
    DEFAULT_PICKER_OPTIONS,
  );
  if (job?.inputs.length !== FILES)
    throw new Error(`expected a job of ${FILES} files, got ${job?.inputs.length}`);
  const started = performance.now();
  const { result, longestStallMs, peakExtraBytes } = await watching(() =>
    h.run(job, { sstWriter: writer, retire: () => undefined }),
  );
  const ms = performance.now() - started;
  const expectedRows = layout === "in_order" ? FILES * ROWS_PER_FILE : ROWS_PER_FILE;
  if (result.rowsOut !== expectedRows)
    throw new Error(`wrote ${result.rowsOut} rows, expected ${expectedRows}`);
  const run = (runs.get(layout) ?? 0) + 1;
  runs.set(layout, run);
  // The first run of each layout is vitest's warm-up.
  if (run > 1) {
    timings.set(layout, [...(timings.get(layout) ?? []), ms]);
    stalls.set(layout, [...(stalls.get(layout) ?? []), longestStallMs]);
    peaks.set(layout, Math.max(peaks.get(layout) ?? 0, peakExtraBytes));
  }
  outputs.set(layout, { rows: result.rowsOut, bytes: result.bytesOut, inputBytes: result.bytesIn });
  const made = h.files();
  await h.table.manifest.commit([
    ...job.inputs.map((f) => ManifestOp.addSst(f)),
    ...made.map((f) => ManifestOp.removeSst(f.fileId)),
  ]);
  for (const f of made) await h.store.delete(f.key);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

beforeAll(async () => {
  pool = new SstEncoderPool({ workers: 1 });
  writer = new SstWriter({ pool });
  for (const layout of ["in_order", "overwrite"] as const) tables.set(layout, await inputs(layout));
}, 600_000);

afterAll(async () => {
  const print = (name: string, value: number, unit: string) =>
    console.log(JSON.stringify({ name, value: Math.round(value * 100) / 100, unit }));
  for (const [layout, ms] of timings) {
    print(`compaction_${layout}_4x100k_rows_per_s`, (FILES * ROWS_PER_FILE) / (median(ms) / 1000), "rows/s");
    print(`compaction_${layout}_4x100k_ms`, median(ms), "ms");
    print(`compaction_${layout}_longest_event_loop_stall`, Math.max(...(stalls.get(layout) ?? [])), "ms");
    print(`compaction_${layout}_peak_extra_memory`, peaks.get(layout) ?? 0, "bytes");
    const out = outputs.get(layout);
    if (out !== undefined) {
      print(`compaction_${layout}_input_bytes`, out.inputBytes, "bytes");
      print(`compaction_${layout}_output_bytes`, out.bytes, "bytes");
    }
  }
  for (const h of tables.values()) await h.cleanup();
  await pool.close();
});

describe(`compaction, ${FILES} SSTs x ${ROWS_PER_FILE} TSBS cpu rows`, () => {
  bench("in order (consecutive time ranges)", () => timedJob("in_order"), RUNS);
  bench("overwrite (the same keys in every file)", () => timedJob("overwrite"), RUNS);
});
