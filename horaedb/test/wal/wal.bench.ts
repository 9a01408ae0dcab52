/**
 * Append throughput of the local WAL with fsync, on the machine's temp directory.
 *
 *   npx vitest bench --run --project unit horaedb/test/wal/wal.bench.ts
 *
 * Besides vitest's table, prints one JSON line per figure: {"name", "value", "unit"}.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, bench, describe } from "vitest";
import { LocalWalManager, type LocalShardWal } from "../../src/wal/local/index.js";
import type { WalAppend } from "../../src/wal/wal.js";
import { makeTempDir, removeDir, silentLogger } from "./wal-test-support.js";

/** A TSBS cpu batch of 5,000 rows encodes to about 1 MiB. */
const LARGE_PAYLOAD_BYTES = 1024 * 1024;
const SMALL_PAYLOAD_BYTES = 256;
const SMALL_WRITERS = 8;
const SMALL_APPENDS_PER_WRITER = 50;

interface Measure {
  bytes: number;
  appends: number;
  syncs: number;
  elapsedMs: number;
}

const READ_LOG_RECORDS = 128;

let root: string;
let manager: LocalWalManager;
/** A log of READ_LOG_RECORDS 1 MiB records for the read benchmark. */
let readWal: LocalShardWal;
const readMeasure = { bytes: 0, elapsedMs: 0 };
let nextShard = 0;
const measures = new Map<string, { wal: LocalShardWal; measure: Measure }>();
const largeRecord: WalAppend = { tableId: 1, shardVersion: 1, payload: randomBytes(LARGE_PAYLOAD_BYTES) };
const smallRecord: WalAppend = { tableId: 1, shardVersion: 1, payload: randomBytes(SMALL_PAYLOAD_BYTES) };

beforeAll(async () => {
  root = await makeTempDir("wal-bench");
  manager = new LocalWalManager({ rootDir: root, logger: silentLogger });
  readWal = await manager.open(nextShard++);
  for (let i = 0; i < READ_LOG_RECORDS; i += 4) {
    await Promise.all([0, 1, 2, 3].map(() => readWal.append(largeRecord)));
  }
});

afterAll(async () => {
  const print = (name: string, value: number, unit: string) =>
    console.log(JSON.stringify({ name, value: Math.round(value * 100) / 100, unit }));
  const large1 = measures.get("large-1")?.measure;
  const large4 = measures.get("large-4")?.measure;
  const small = measures.get("small-8")?.measure;
  if (large1 !== undefined) {
    print("wal_append_1mib_1_writer_throughput", large1.bytes / 1e6 / (large1.elapsedMs / 1000), "MB/s");
  }
  if (large4 !== undefined) {
    print("wal_append_1mib_4_writers_throughput", large4.bytes / 1e6 / (large4.elapsedMs / 1000), "MB/s");
  }
  if (small !== undefined) {
    print(
      `wal_append_${SMALL_PAYLOAD_BYTES}b_8_writers_rate`,
      small.appends / (small.elapsedMs / 1000),
      "appends/s",
    );
    print(
      `wal_append_${SMALL_PAYLOAD_BYTES}b_8_writers_syncs_per_1000_appends`,
      (small.syncs / small.appends) * 1000,
      "syncs",
    );
  }
  if (readMeasure.elapsedMs > 0) {
    print(
      "wal_read_1mib_records_throughput",
      readMeasure.bytes / 1e6 / (readMeasure.elapsedMs / 1000),
      "MB/s",
    );
  }
  await manager.close();
  await removeDir(root);
});

/** Runs `work` against this scenario's WAL, adding what it did to the scenario's totals. */
async function measured(key: string, work: (wal: LocalShardWal) => Promise<number>): Promise<void> {
  let entry = measures.get(key);
  if (entry === undefined) {
    entry = {
      wal: await manager.open(nextShard++),
      measure: { bytes: 0, appends: 0, syncs: 0, elapsedMs: 0 },
    };
    measures.set(key, entry);
  }
  const { wal, measure } = entry;
  const { syncs: syncsBefore, bytesWritten: bytesBefore } = wal.stats;
  const started = performance.now();
  const appends = await work(wal);
  measure.elapsedMs += performance.now() - started;
  measure.appends += appends;
  measure.syncs += wal.stats.syncs - syncsBefore;
  measure.bytes += wal.stats.bytesWritten - bytesBefore;
  // Keep the disk footprint bounded, outside the measured time (a flush would do this).
  if (wal.segmentFirstSequences.length > 4) await wal.truncateBelow(wal.nextSequence());
}

describe("local WAL append with fsync", () => {
  bench(
    "1 MiB records, 1 writer",
    async () => {
      await measured("large-1", async (wal) => {
        await wal.append(largeRecord);
        return 1;
      });
    },
    { time: 4000, warmupIterations: 5 },
  );

  bench(
    "1 MiB records, 4 concurrent writers",
    async () => {
      await measured("large-4", async (wal) => {
        await Promise.all([0, 1, 2, 3].map(() => wal.append(largeRecord)));
        return 4;
      });
    },
    { time: 4000, warmupIterations: 5 },
  );

  bench(
    `${SMALL_PAYLOAD_BYTES} B records, ${SMALL_WRITERS} concurrent writers x ${SMALL_APPENDS_PER_WRITER}`,
    async () => {
      await measured("small-8", async (wal) => {
        await Promise.all(
          Array.from({ length: SMALL_WRITERS }, async () => {
            for (let i = 0; i < SMALL_APPENDS_PER_WRITER; i++) await wal.append(smallRecord);
          }),
        );
        return SMALL_WRITERS * SMALL_APPENDS_PER_WRITER;
      });
    },
    { time: 4000, warmupIterations: 2 },
  );
});

describe("local WAL read", () => {
  bench(
    `${READ_LOG_RECORDS} x 1 MiB records, checked, from the page cache`,
    async () => {
      const started = performance.now();
      let bytes = 0;
      for await (const record of readWal.read(0)) bytes += record.payload.byteLength;
      readMeasure.elapsedMs += performance.now() - started;
      readMeasure.bytes += bytes;
    },
    { time: 3000, warmupIterations: 1 },
  );
});
