import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { expect } from "vitest";
import { cellAt, type Column } from "../../src/batch/column.js";
import type { StorageEngine } from "../../src/engine/engine.js";

/**
 * What the crash tests share: a child process that writes numbered batches to an APPEND table and
 * prints "ack <batch>" once each write resolved, a runner that SIGKILLs it, and the check that every
 * acknowledged batch is present exactly once afterwards.
 */
export const ROWS_PER_BATCH = 50;

/** A module of the built package, by absolute URL: child scripts live in a temp dir. */
export const distUrl = (path: string): string =>
  pathToFileURL(fileURLToPath(new URL(`../../dist/src/${path}`, import.meta.url))).href;
export const pinoModule = pathToFileURL(createRequire(import.meta.url).resolve("pino")).href;

/**
 * The body of a child script after it opened `engine` and defined `batch` (the first batch id): an
 * endless write loop, 4 writes in flight, retrying refusals for memory pressure as a client would.
 */
export const ACKING_WRITE_LOOP = `
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

/** The schema of the `acks` table, as child-script source (`TableSchema` must be imported). */
export const ACKS_SCHEMA = `TableSchema.create({ timestampColumn: "ts", columns: [
  { name: "writer", type: "string", isTag: true }, { name: "ts", type: "timestamp" }, { name: "batch", type: "int32" },
] })`;

export interface KilledChild {
  readonly acked: Set<number>;
}

/**
 * Runs `script dataDir firstBatch` until it prints "ready", lets `whileRunning` decide when to kill
 * it (lines other than "ready" and "ack" go to `onLine`), then SIGKILLs it. A child that exits on
 * its own or writes to stderr fails the test.
 */
export async function runAndKill(
  script: string,
  dataDir: string,
  firstBatch: number,
  whileRunning: () => Promise<void>,
  onLine: (line: string) => void = () => undefined,
): Promise<KilledChild> {
  const child = spawn(process.execPath, [script, dataDir, String(firstBatch)], {
    stdio: ["ignore", "pipe", "pipe"],
    cwd: fileURLToPath(new URL("../..", import.meta.url)),
  });
  const acked = new Set<number>();
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
        else onLine(line);
      }
    });
    child.once("exit", (code) => reject(new Error(`child exited with ${code} before ready: ${stderr}`)));
  });
  await ready;
  await whileRunning();
  if (child.exitCode !== null || child.signalCode !== null) {
    throw new Error(`child exited by itself (${child.exitCode ?? child.signalCode}): ${stderr}`);
  }
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGKILL");
  await exited;
  if (stderr.trim().length > 0) throw new Error(`child failed: ${stderr}`);
  return { acked };
}

/**
 * Checks that every acknowledged batch is in the table exactly once, and that any batch present at
 * all is present whole (a write is atomic).
 */
export async function expectAcknowledgedBatches(
  engine: StorageEngine,
  acknowledged: ReadonlySet<number>,
  trial: number,
): Promise<void> {
  const counts = new Map<number, number>();
  for await (const batch of engine.scan("public", "acks", { projection: ["batch"] })) {
    const column = batch.columns[0] as Column;
    for (let r = 0; r < batch.numRows; r++) {
      const id = cellAt(column, r) as number;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
  }
  for (const id of acknowledged) {
    expect(counts.get(id), `trial ${trial}: acknowledged batch ${id}`).toBe(ROWS_PER_BATCH);
  }
  for (const [id, count] of counts) expect(count, `trial ${trial}: batch ${id}`).toBe(ROWS_PER_BATCH);
}

/** A seeded random source for kill timings; the seed is printed so a failure can be replayed. */
export function killTimingRandom(label: string): () => number {
  let seed = Number(process.env["CRASH_TEST_SEED"] ?? Date.now() % 100_000);
  console.log(`${label} seed=${seed} (replay with CRASH_TEST_SEED)`);
  return () => (seed = (seed * 16807) % 2147483647) / 2147483647;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
