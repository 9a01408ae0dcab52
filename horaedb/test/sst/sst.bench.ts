/**
 * SST encode/decode throughput on 864,000 TSBS cpu rows (100 hosts x 8,640 timestamps; tsid,
 * timestamp, 10 tags, 10 double fields), sorted by (tsid, timestamp) as a flush produces them.
 *
 *   npx tsc -b horaedb && npx vitest bench --run --project unit horaedb/test/sst/sst.bench.ts
 *
 * Besides vitest's table, prints one JSON line per figure: {"name", "value", "unit"}. Throughputs
 * are the median of the measured runs.
 */
import { afterAll, beforeAll, bench, describe } from "vitest";
import type { SstCompression } from "../../src/table/options.js";
import {
  readSst,
  SstEncoderPool,
  SstWriter,
  type SstMeta,
  type SstWriteRequest,
} from "../../src/sst/index.js";
import { tsbsCpuSchema, tsbsSortedBatch } from "../../src/testing/tsbs.js";
import { openTempStore, type TempStore } from "./fixtures.js";

const HOSTS = 100;
const TIMESTAMPS = 8640;
const ROWS = HOSTS * TIMESTAMPS;
const RUNS = { iterations: 3, warmupIterations: 1, time: 0, warmupTime: 0 };

const batch = tsbsSortedBatch(HOSTS, TIMESTAMPS);
const schema = tsbsCpuSchema();
const request = (compression: SstCompression): SstWriteRequest => ({
  schema,
  batches: [batch],
  options: { compression },
  maxSequence: ROWS,
});

let temp: TempStore;
let pool: SstEncoderPool;
const timings = new Map<string, number[]>();
const files = new Map<SstCompression, SstMeta>();
let longestMainThreadStallMs = 0;

const warmedUp = new Set<string>();

/** Keeps a run's time, except the first run of each figure (vitest's warm-up iteration). */
function record(name: string, ms: number): void {
  if (!warmedUp.has(name)) {
    warmedUp.add(name);
    return;
  }
  const list = timings.get(name) ?? [];
  list.push(ms);
  timings.set(name, list);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/** Runs `work` while a 1 ms timer measures the longest gap the event loop went without a turn. */
async function watchingEventLoop<T>(work: () => Promise<T>): Promise<{ result: T; longestStallMs: number }> {
  let last = performance.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 1);
  try {
    const result = await work();
    longest = Math.max(longest, performance.now() - last);
    return { result, longestStallMs: longest };
  } finally {
    clearInterval(timer);
  }
}

async function timedEncode(name: string, writer: SstWriter, compression: SstCompression): Promise<void> {
  const started = performance.now();
  await writer.encode(request(compression));
  record(name, performance.now() - started);
}

async function timedDecode(name: string, compression: SstCompression, projection?: string[]): Promise<void> {
  const meta = files.get(compression) as SstMeta;
  const started = performance.now();
  let rows = 0;
  for await (const b of readSst(temp.store, `sst/${compression}.parquet`, { meta, projection }))
    rows += b.numRows;
  record(name, performance.now() - started);
  if (rows !== ROWS) throw new Error(`decoded ${rows} rows, expected ${ROWS}`);
}

beforeAll(async () => {
  temp = await openTempStore();
  pool = new SstEncoderPool({ workers: 1 });
  for (const compression of ["ZSTD", "SNAPPY"] as const) {
    const { bytes, meta } = await new SstWriter().encode(request(compression));
    await temp.store.put(`sst/${compression}.parquet`, bytes);
    files.set(compression, meta);
  }
});

afterAll(async () => {
  const print = (name: string, value: number, unit: string) =>
    console.log(JSON.stringify({ name, value: Math.round(value * 100) / 100, unit }));
  for (const [name, ms] of timings) print(`${name}_rows_per_s`, ROWS / (median(ms) / 1000), "rows/s");
  for (const [compression, meta] of files) {
    print(`sst_file_size_${compression.toLowerCase()}`, meta.fileSize, "bytes");
    print(`sst_bytes_per_row_${compression.toLowerCase()}`, meta.fileSize / ROWS, "bytes");
  }
  print("sst_meta_json_size_zstd", JSON.stringify(files.get("ZSTD")).length, "bytes");
  print("sst_encode_worker_longest_main_thread_stall", longestMainThreadStallMs, "ms");
  await pool.close();
  await temp.remove();
});

describe(`SST encode, ${ROWS} TSBS cpu rows`, () => {
  bench(
    "ZSTD, in the calling thread",
    () => timedEncode("sst_encode_zstd_in_thread", new SstWriter(), "ZSTD"),
    RUNS,
  );
  bench(
    "SNAPPY, in the calling thread",
    () => timedEncode("sst_encode_snappy_in_thread", new SstWriter(), "SNAPPY"),
    RUNS,
  );
  bench(
    "ZSTD, in the encoder worker",
    async () => {
      const { longestStallMs } = await watchingEventLoop(() =>
        timedEncode("sst_encode_zstd_worker", new SstWriter({ pool }), "ZSTD"),
      );
      if (warmedUp.has("sst_encode_zstd_worker")) {
        longestMainThreadStallMs = Math.max(longestMainThreadStallMs, longestStallMs);
      }
    },
    RUNS,
  );
});

describe(`SST decode, ${ROWS} TSBS cpu rows`, () => {
  bench("ZSTD, all columns", () => timedDecode("sst_decode_zstd_all_columns", "ZSTD"), RUNS);
  bench("SNAPPY, all columns", () => timedDecode("sst_decode_snappy_all_columns", "SNAPPY"), RUNS);
  bench(
    "ZSTD, 3 columns",
    () => timedDecode("sst_decode_zstd_3_columns", "ZSTD", ["timestamp", "hostname", "usage_user"]),
    RUNS,
  );
});
