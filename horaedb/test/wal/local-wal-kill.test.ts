import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LocalShardWal } from "../../src/wal/local/index.js";
import { collect, makeTempDir, removeDir, silentLogger } from "./wal-test-support.js";

// The writer runs the built module, as the server does; `npx tsc -b horaedb` must have run.
const builtModule = pathToFileURL(
  fileURLToPath(new URL("../../dist/src/wal/local/index.js", import.meta.url)),
).href;

const SEGMENT_BYTES = 256 * 1024;

/**
 * Payload of writer `writer`'s `index`-th record. Sizes range from tens of bytes to over 64 KiB, so
 * both copied and referenced payloads are written, and segments roll often.
 */
function payloadOf(writer: number, index: number): Uint8Array {
  const length = index % 50 === 7 ? 70_000 + (index % 13) : 16 + ((index * 131 + writer * 17) % 3000);
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (writer * 101 + index * 7 + i * 13) & 0xff;
  return bytes;
}

// Four concurrent writers append (single records and batches) and print every acknowledged sequence
// with a synchronous write, so a printed line is always one the writer saw acknowledged. From time
// to time it truncates below an older sequence, printing the floor before it starts.
const writerSource = `
import { writeSync } from "node:fs";
import { LocalWalManager } from ${JSON.stringify(builtModule)};
const payloadOf = ${payloadOf.toString()};
const manager = new LocalWalManager({ rootDir: process.argv[2], segmentBytes: ${SEGMENT_BYTES} });
const wal = await manager.open(0);
const print = (line) => writeSync(1, line + "\\n");
print("ready " + wal.nextSequence());
const run = Number(process.argv[3]);
async function writer(w) {
  for (let i = 0; ; i += 1) {
    if (i % 5 === 4) {
      const batch = [0, 1, 2].map((k) => ({ tableId: w, shardVersion: run, payload: payloadOf(w, i * 10 + k) }));
      const sequences = await wal.appendBatch(batch);
      sequences.forEach((s, k) => print("ack " + s + " " + w + " " + (i * 10 + k)));
    } else {
      const s = await wal.append({ tableId: w, shardVersion: run, payload: payloadOf(w, i * 10) });
      print("ack " + s + " " + w + " " + i * 10);
    }
    if (w === 0 && i % 40 === 39) {
      const floor = Math.max(0, wal.nextSequence() - 300);
      print("truncate " + floor);
      await wal.truncateBelow(floor);
    }
  }
}
await Promise.all([0, 1, 2, 3].map(writer));
`;

interface Acknowledged {
  readonly writer: number;
  readonly index: number;
  readonly run: number;
}

let dir: string;
let scriptPath: string;

beforeEach(async () => {
  dir = await makeTempDir("wal-kill");
  scriptPath = join(dir, "writer.mjs");
  await writeFile(scriptPath, writerSource);
});
afterEach(async () => {
  await removeDir(dir);
});

/** Runs the writer until it is ready, lets it append for `delayMs`, then SIGKILLs it. */
async function runAndKill(
  logDir: string,
  run: number,
  delayMs: number,
): Promise<{ acked: Map<number, Acknowledged>; truncateFloor: number; start: number }> {
  const child = spawn(process.execPath, [scriptPath, logDir, String(run)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const acked = new Map<number, Acknowledged>();
  let truncateFloor = 0;
  let start = -1;
  let stderr = "";
  let pending = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<string>((resolve) =>
    child.on("exit", (code, signal) => resolve(signal ?? `exit code ${code}`)),
  );
  const ready = new Promise<void>((resolve, reject) => {
    child.on("exit", () => reject(new Error(`writer exited before it was ready: ${stderr}`)));
    child.stdout.on("data", (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split("\n");
      pending = lines.pop()!;
      for (const line of lines) {
        const [kind, a, b, c] = line.split(" ");
        if (kind === "ready") {
          start = Number(a);
          resolve();
        } else if (kind === "ack") {
          acked.set(Number(a), { writer: Number(b), index: Number(c), run });
        } else if (kind === "truncate") {
          truncateFloor = Math.max(truncateFloor, Number(a));
        }
      }
    });
  });
  await ready;
  await new Promise((resolve) => setTimeout(resolve, delayMs));
  child.kill("SIGKILL");
  const signal = await exited;
  expect(signal, stderr).toBe("SIGKILL");
  return { acked, truncateFloor, start };
}

describe("LocalShardWal after SIGKILL", () => {
  it("keeps every acknowledged record across 12 kills at random times", { timeout: 120_000 }, async () => {
    const logDir = join(dir, "log");
    const expected = new Map<number, Acknowledged>();
    let floor = 0;
    let totalAcked = 0;
    let nextAfterRecovery = 0;
    for (let run = 1; run <= 12; run++) {
      const delayMs = 20 + Math.floor(Math.random() * 400);
      const result = await runAndKill(logDir, run, delayMs);
      // The writer resumed exactly where the last recovery left the log.
      expect(result.start).toBe(nextAfterRecovery);
      totalAcked += result.acked.size;
      for (const [sequence, ack] of result.acked) expected.set(sequence, ack);
      floor = Math.max(floor, result.truncateFloor);

      const wal = await LocalShardWal.open({
        shardId: 0,
        directory: join(logDir, "shard-0"),
        logger: silentLogger,
        segmentBytes: SEGMENT_BYTES,
      });
      try {
        // Recovery never goes back past an acknowledged record.
        const highestAcked = Math.max(-1, ...result.acked.keys());
        expect(wal.nextSequence()).toBeGreaterThan(highestAcked);
        const records = await collect(wal.read(floor));
        const bySequence = new Map(records.map((r) => [r.sequence, r]));
        // Contiguous from the first record kept to the end.
        const sequences = records.map((r) => r.sequence);
        expect(sequences).toEqual(sequences.map((_, i) => sequences[0]! + i));
        expect(sequences.at(-1) ?? -1).toBe(wal.nextSequence() - 1);
        nextAfterRecovery = wal.nextSequence();
        for (const [sequence, ack] of expected) {
          if (sequence < floor) continue;
          const record = bySequence.get(sequence);
          expect(record, `acknowledged sequence ${sequence} (run ${ack.run}) is missing`).toBeDefined();
          expect(record!.tableId).toBe(ack.writer);
          expect(record!.shardVersion).toBe(ack.run);
          expect(Buffer.from(record!.payload).equals(Buffer.from(payloadOf(ack.writer, ack.index)))).toBe(
            true,
          );
        }
      } finally {
        await wal.close();
      }
    }
    // The runs did real work: many appends were acknowledged and truncation ran.
    expect(totalAcked).toBeGreaterThan(500);
    expect(floor).toBeGreaterThan(0);
  });
});
