import { rm, writeFile } from "node:fs/promises";
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

/**
 * The writer: opens the engine on a data dir, then writes batches to an APPEND table (so a replayed
 * duplicate would show as an extra row). Tiny write buffers and memory budget make flushes (and WAL
 * truncation) happen all the time, so kills land in the middle of them too.
 */
const writerSource = `
import { pino } from ${JSON.stringify(pinoModule)};
import { openStandaloneEngine } from ${JSON.stringify(distUrl("engine/index.js"))};
import { TableSchema } from ${JSON.stringify(distUrl("table/schema.js"))};
const [dataDir, firstBatch] = process.argv.slice(2);
const engine = await openStandaloneEngine({
  dataDir, logger: pino({ level: "silent" }), encoderWorkers: 0, walSegmentBytes: 32 * 1024,
  memoryBudgetBytes: 256 * 1024, flushCheckIntervalMs: 20, maxUnflushedAgeMs: 50,
});
if (engine.table("public", "acks") === undefined) {
  // Timestamps are in 1970: without enable_ttl=false the rows would be expired (hidden, and dropped).
  await engine.createTable("public", "acks", ${ACKS_SCHEMA}, {
    update_mode: "APPEND", write_buffer_size: "64KB", enable_ttl: "false",
  });
}
console.log("ready");
let batch = Number(firstBatch);
${ACKING_WRITE_LOOP}`;

const TRIALS = 25;

describe("crash safety", () => {
  let dir: TempEngine;
  let script: string;

  beforeAll(async () => {
    dir = await tempEngineDir();
    script = join(dir.dataDir, "..", `${dir.dataDir.split("/").pop()}-writer.mjs`);
    await writeFile(script, writerSource);
  });
  afterAll(async () => {
    await dir.cleanup();
    await rm(script, { force: true });
  });

  it(`keeps every acknowledged row exactly once across ${TRIALS} SIGKILLs at random moments`, async () => {
    const allAcked = new Set<number>();
    let nextBatch = 0;
    const random = killTimingRandom("crash test");
    for (let trial = 0; trial < TRIALS; trial++) {
      const { acked } = await runAndKill(script, dir.dataDir, nextBatch, () =>
        sleep(50 + Math.floor(random() * 600)),
      );
      for (const b of acked) allAcked.add(b);
      // Batches issued but not acknowledged may or may not be there; later trials start past them.
      nextBatch = Math.max(nextBatch, ...acked) + 100;

      const engine = await dir.open();
      try {
        await expectAcknowledgedBatches(engine, allAcked, trial);
      } finally {
        await engine.close();
      }
    }
    expect(allAcked.size).toBeGreaterThan(TRIALS);
  }, 240_000);
});
