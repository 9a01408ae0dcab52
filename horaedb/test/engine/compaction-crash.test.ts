import { readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempEngineDir, type TempEngine } from "./engine-fixtures.js";
import {
  ACKING_WRITE_LOOP,
  ACKS_SCHEMA,
  distUrl,
  expectAcknowledgedBatches,
  killTimingRandom,
  pinoModule,
  runAndKill,
  sleep,
} from "./kill-harness.js";

const TRIALS = 12;

/**
 * The child: writes batches to an APPEND table (a row written twice, or lost, shows in the counts)
 * with the shared acking write loop, while tiny write buffers flush all the time and
 * compaction merges any two files of a one-minute window as soon as they exist. A reader scans the
 * table over and over, so compactions remove files that scans are reading; a scan failing (say, on
 * a deleted file) ends the child with an error. Every 20 ms it prints "compactions <n>".
 */
const childSource = `
import { pino } from ${JSON.stringify(pinoModule)};
import { openStandaloneEngine } from ${JSON.stringify(distUrl("engine/index.js"))};
import { TableSchema } from ${JSON.stringify(distUrl("table/schema.js"))};
const [dataDir, firstBatch] = process.argv.slice(2);
const engine = await openStandaloneEngine({
  dataDir, logger: pino({ level: "silent" }), encoderWorkers: 0, walSegmentBytes: 32 * 1024,
  memoryBudgetBytes: 256 * 1024, flushCheckIntervalMs: 20, maxUnflushedAgeMs: 50,
  compaction: { intervalMs: 20, minFilesPerJob: 2, maxFilesPerJob: 4 },
});
if (engine.table("public", "acks") === undefined) {
  await engine.createTable("public", "acks", ${ACKS_SCHEMA}, {
    update_mode: "APPEND", write_buffer_size: "64KB", segment_duration: "1m", enable_ttl: "false",
  });
}
console.log("ready");
setInterval(() => console.log("compactions " + engine.compactionStats().mergeJobs), 20);
let batch = Number(firstBatch);
(async () => {
  for (;;) {
    let rows = 0;
    for await (const b of engine.scan("public", "acks", { projection: ["batch"] })) rows += b.numRows;
    if (rows === 0 && batch > Number(firstBatch) + 10) throw new Error("the scan found no rows");
    await new Promise((r) => setTimeout(r, 50));
  }
})().catch((error) => { console.error("scan failed: " + error.stack); process.exit(1); });
${ACKING_WRITE_LOOP}`;

interface Trial {
  readonly acked: Set<number>;
  readonly compactions: number;
}

describe("crash safety with compaction", () => {
  let dir: TempEngine;
  let script: string;

  beforeAll(async () => {
    dir = await tempEngineDir();
    script = join(dir.dataDir, "..", `${dir.dataDir.split("/").pop()}-compacting-writer.mjs`);
    await writeFile(script, childSource);
  });
  afterAll(async () => {
    await dir.cleanup();
    await rm(script, { force: true });
  });

  async function runTrial(firstBatch: number, killAfterMs: number, extraMs: number): Promise<Trial> {
    let compactions = 0;
    const { acked } = await runAndKill(
      script,
      dir.dataDir,
      firstBatch,
      async () => {
        await sleep(killAfterMs);
        // On a busy machine the child may not have compacted yet: let it get that far (it must, or
        // the test fails below), then kill it a moment later.
        for (let waited = 0; compactions === 0 && waited < 30_000; waited += 20) await sleep(20);
        if (compactions > 0) await sleep(Math.floor(extraMs));
      },
      (line) => {
        if (line.startsWith("compactions ")) compactions = Number(line.slice(12));
      },
    );
    return { acked, compactions };
  }

  it(`keeps every acknowledged row exactly once across ${TRIALS} SIGKILLs during writes, flushes and compactions`, async () => {
    const allAcked = new Set<number>();
    let nextBatch = 0;
    let compactions = 0;
    let trialsWithCompactions = 0;
    const random = killTimingRandom("compaction crash test");
    for (let trial = 0; trial < TRIALS; trial++) {
      const result = await runTrial(nextBatch, 400 + Math.floor(random() * 1100), random() * 300);
      for (const b of result.acked) allAcked.add(b);
      compactions += result.compactions;
      if (result.compactions > 0) trialsWithCompactions++;
      console.log(
        `trial ${trial}: ${result.acked.size} batches acknowledged, ${result.compactions} compactions`,
      );
      // Batches issued but not acknowledged may or may not be there; later trials start past them.
      nextBatch = Math.max(nextBatch, ...result.acked) + 100;

      const engine = await dir.open({ compaction: { paused: true } });
      try {
        await expectAcknowledgedBatches(engine, allAcked, trial);
        // Opening removed whatever the kill left behind: the objects are exactly the manifest's files.
        const tableId = engine.table("public", "acks")?.id ?? -1;
        const sstDir = join(dir.dataDir, "store", "standalone", "tables", String(tableId), "sst");
        // A put the kill interrupted leaves a temporary file, which is not an object.
        const objects = (await readdir(sstDir)).filter((name) => !name.startsWith(".horaedb-tmp-"));
        const listed = engine.sstFiles("public", "acks").map((f) => `${f.fileId}.parquet`);
        expect(objects.sort(), `trial ${trial}: SST objects`).toEqual(listed.sort());
      } finally {
        await engine.close();
      }
    }
    expect(allAcked.size).toBeGreaterThan(TRIALS);
    expect(compactions, "compactions that committed before the kills").toBeGreaterThanOrEqual(TRIALS);
    expect(trialsWithCompactions, "trials in which the child compacted").toBe(TRIALS);
  }, 240_000);
});
