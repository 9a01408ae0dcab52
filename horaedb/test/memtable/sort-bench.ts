/**
 * Memtable benchmark on TSBS cpu rows (100 hosts x 8640 timestamps = 864,000 rows, 22 columns
 * with tsid and timestamp, appended in batches of 5,000). Prints one JSON object per figure.
 *
 *   npx tsc -b horaedb && node horaedb/dist/test/memtable/sort-bench.js
 */
import { Memtable } from "../../src/memtable/memtable.js";
import { buildSortedView } from "../../src/memtable/sorted-view.js";
import { UpdateMode } from "../../src/table/options.js";
import { tsbsCpuBatches, tsbsCpuSchema } from "../../src/testing/tsbs.js";

const HOSTS = 100;
const TIMESTAMPS = 8640;
const ROUNDS = 5;

function report(name: string, value: number, unit: string): void {
  console.log(JSON.stringify({ name, value: Math.round(value * 10) / 10, unit }));
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

const schema = tsbsCpuSchema();
const batches = tsbsCpuBatches({ hosts: HOSTS, timestamps: TIMESTAMPS, batchRows: 5000 });
const rows = HOSTS * TIMESTAMPS;

const appendMs: number[] = [];
const sortMs: number[] = [];
const scanMs: number[] = [];
const coldScanMs: number[] = [];
let memtable: Memtable | undefined;
for (let round = 0; round < ROUNDS; round++) {
  memtable = new Memtable({ schema, updateMode: UpdateMode.Overwrite });
  let t = performance.now();
  batches.forEach((b, i) => memtable?.append(b, i + 1));
  appendMs.push(performance.now() - t);

  const snapshot = memtable.snapshot();
  t = performance.now();
  const view = buildSortedView(snapshot.chunks, schema, UpdateMode.Overwrite);
  sortMs.push(performance.now() - t);
  if (view.chunk.length !== rows)
    throw new Error(`expected ${rows} rows after dedup, got ${view.chunk.length}`);

  // Cold: sort, dedup and gather every column into 8192-row batches.
  t = performance.now();
  let out = 0;
  for (const batch of memtable.sortedBatches({ batchSize: 8192 })) out += batch.numRows;
  coldScanMs.push(performance.now() - t);
  if (out !== rows) throw new Error(`scan returned ${out} rows`);

  // Warm: the sorted order is cached, so this is the gather alone.
  t = performance.now();
  for (const batch of memtable.sortedBatches({ batchSize: 8192 })) out += batch.numRows;
  scanMs.push(performance.now() - t);
}

report("memtable_append_rows_per_s", rows / (median(appendMs) / 1000), "rows/s");
report("memtable_sort_dedup_864k_ms", median(sortMs), "ms");
report("memtable_scan_cold_864k_ms", median(coldScanMs), "ms");
report("memtable_scan_warm_864k_ms", median(scanMs), "ms");
report("memtable_byte_size_864k", (memtable?.byteSize ?? 0) / 1024 / 1024, "MiB");
