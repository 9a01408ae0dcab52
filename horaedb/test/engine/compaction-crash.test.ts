import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cellAt, type Column } from "../../src/batch/column.js";
import { tempEngineDir, type TempEngine } from "./engine-fixtures.js";

const distUrl = (path: string) =>
  pathToFileURL(fileURLToPath(new URL(`../../dist/src/${path}`, import.meta.url))).href;
// The script lives in a temp dir, so it imports its dependencies by absolute URL.
const pinoModule = pathToFileURL(createRequire(import.meta.url).resolve("pino")).href;
const ROWS_PER_BATCH = 50;
const TRIALS = 12;

/**
 * The child: writes batches to an APPEND table (a row written twice, or lost, shows in the counts),
 * printing "ack <batch>" once each write resolved, while tiny write buffers flush all the time and
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
  const schema = TableSchema.create({ timestampColumn: "ts", columns: [
    { name: "writer", type: "string", isTag: true }, { name: "ts", type: "timestamp" }, { name: "batch", type: "int32" },
  ] });
  await engine.createTable("public", "acks", schema, {
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
const inflight = new Set();
for (;;) {
  const n = ${ROWS_PER_BATCH};
  const id = batch++;
  const rows = {
    batch: { names: ["writer", "ts", "batch"], numRows: n, columns: [
      { type: "string", values: Array.from({ length: n }, (_, i) => "w" + (i % 5)), validity: null },
      { type: "timestamp", values: Float64Array.from({ length: n }, (_, i) => id * 1000 + i), validity: null },
      { type: "int32", values: new Int32Array(n).fill(id), validity: null },
    ] },
    tagNames: new Set(["writer"]), timestampColumn: "ts",
  };
  const attempt = () => engine.write("public", "acks", rows).catch(async (error) => {
    if (error.kind !== "resource_exhausted") throw error;
    await new Promise((r) => setTimeout(r, 5));
    return attempt();
  });
  const p = attempt().then(() => { console.log("ack " + id); inflight.delete(p); });
  inflight.add(p);
  if (inflight.size >= 4) await Promise.race(inflight);
}
`;

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

  async function runAndKill(firstBatch: number, killAfterMs: number, extraMs: number): Promise<Trial> {
    const child = spawn(process.execPath, [script, dir.dataDir, String(firstBatch)], {
      stdio: ["ignore", "pipe", "pipe"],
      cwd: fileURLToPath(new URL("../..", import.meta.url)),
    });
    const acked = new Set<number>();
    let compactions = 0;
    let stderr = "";
    let buffered = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const ready = new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (d: Buffer) => {
        buffered += d.toString();
        const lines = buffered.split("\n");
        buffered = lines.pop() ?? "";
        for (const line of lines) {
          if (line === "ready") resolve();
          else if (line.startsWith("ack ")) acked.add(Number(line.slice(4)));
          else if (line.startsWith("compactions ")) compactions = Number(line.slice(12));
        }
      });
      child.once("exit", (code) => reject(new Error(`child exited with ${code} before ready: ${stderr}`)));
    });
    await ready;
    await new Promise((r) => setTimeout(r, killAfterMs));
    // On a busy machine the child may not have compacted yet: let it get that far (it must, or
    // the test fails below), then kill it a moment later.
    for (let waited = 0; compactions === 0 && waited < 30_000; waited += 20) {
      await new Promise((r) => setTimeout(r, 20));
    }
    if (compactions > 0) await new Promise((r) => setTimeout(r, Math.floor(extraMs)));
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`child exited by itself (${child.exitCode ?? child.signalCode}): ${stderr}`);
    }
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGKILL");
    await exited;
    if (stderr.trim().length > 0) throw new Error(`child failed: ${stderr}`);
    return { acked, compactions };
  }

  it(`keeps every acknowledged row exactly once across ${TRIALS} SIGKILLs during writes, flushes and compactions`, async () => {
    const allAcked = new Set<number>();
    let nextBatch = 0;
    let compactions = 0;
    let trialsWithCompactions = 0;
    let seed = Number(process.env["CRASH_TEST_SEED"] ?? Date.now() % 100_000);
    const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    console.log(`compaction crash test seed=${seed} (replay with CRASH_TEST_SEED)`);
    for (let trial = 0; trial < TRIALS; trial++) {
      const result = await runAndKill(nextBatch, 400 + Math.floor(random() * 1100), random() * 300);
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
        const counts = new Map<number, number>();
        for await (const batch of engine.scan("public", "acks", { projection: ["batch"] })) {
          const column = batch.columns[0] as Column;
          for (let r = 0; r < batch.numRows; r++) {
            const id = cellAt(column, r) as number;
            counts.set(id, (counts.get(id) ?? 0) + 1);
          }
        }
        for (const id of allAcked)
          expect(counts.get(id), `trial ${trial}: acknowledged batch ${id}`).toBe(ROWS_PER_BATCH);
        for (const [id, count] of counts) expect(count, `trial ${trial}: batch ${id}`).toBe(ROWS_PER_BATCH);
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
