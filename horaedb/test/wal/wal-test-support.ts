import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino, type Logger } from "pino";
import type { WalRecord } from "../../src/wal/wal.js";
import { decodeRecord, SEGMENT_HEADER_BYTES } from "../../src/wal/local/index.js";

export async function makeTempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `horaedb-${prefix}-`));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** A deterministic payload for a sequence, with a length that varies from record to record. */
export function payloadFor(key: number, length = 20 + ((key * 37) % 200)): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (key * 31 + i * 7) & 0xff;
  return bytes;
}

export async function collect(records: AsyncIterable<WalRecord>): Promise<WalRecord[]> {
  const out: WalRecord[] = [];
  for await (const record of records) out.push(record);
  return out;
}

/** A logger that keeps the objects of its warn lines. */
export function capturingLogger(): { logger: Logger; warnings: Record<string, unknown>[] } {
  const warnings: Record<string, unknown>[] = [];
  const logger = pino(
    { level: "warn" },
    {
      write(line: string) {
        const entry = JSON.parse(line) as Record<string, unknown>;
        if (entry.level === 40) warnings.push(entry);
      },
    },
  );
  return { logger, warnings };
}

export const silentLogger: Logger = pino({ level: "silent" });

/** Segment file paths of a log directory, oldest first. */
export async function segmentPaths(dir: string): Promise<string[]> {
  return (await readdir(dir))
    .filter((n) => n.endsWith(".wal"))
    .sort()
    .map((n) => join(dir, n));
}

export interface RecordLocation {
  readonly sequence: number;
  readonly offset: number;
  readonly end: number;
}

/** Offsets of the valid records of a segment file, front to back. */
export async function recordLocations(path: string): Promise<RecordLocation[]> {
  const bytes = await readFile(path);
  const out: RecordLocation[] = [];
  let offset = SEGMENT_HEADER_BYTES;
  while (offset < bytes.byteLength) {
    const decoded = decodeRecord(bytes, offset);
    if (typeof decoded === "string") break;
    out.push({ sequence: decoded.record.sequence, offset, end: decoded.end });
    offset = decoded.end;
  }
  return out;
}
