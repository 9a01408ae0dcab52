import { appendFile, open, readFile, rename, stat, truncate, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  encodeRecord,
  LocalShardWal,
  RECORD_HEADER_BYTES,
  WalCorruptionError,
  type LocalShardWalOptions,
} from "../../src/wal/local/index.js";
import type { Logger } from "pino";
import {
  capturingLogger,
  collect,
  makeTempDir,
  payloadFor,
  recordLocations,
  removeDir,
  segmentPaths,
  silentLogger,
} from "./wal-test-support.js";

let dir: string;
const opened: LocalShardWal[] = [];

beforeEach(async () => {
  dir = await makeTempDir("wal-recovery");
});
afterEach(async () => {
  for (const wal of opened.splice(0)) await wal.close();
  await removeDir(dir);
});

async function openWal(
  options: Partial<LocalShardWalOptions> & { logger?: Logger } = {},
): Promise<LocalShardWal> {
  const wal = await LocalShardWal.open({
    shardId: 0,
    directory: dir,
    logger: silentLogger,
    segmentBytes: 2048,
    readChunkBytes: 1024,
    ...options,
  });
  opened.push(wal);
  return wal;
}

async function closeWal(wal: LocalShardWal): Promise<void> {
  await wal.close();
  opened.splice(opened.indexOf(wal), 1);
}

/** Appends `count` records one by one (one write group each), then closes the log. */
async function writeLog(count: number, segmentBytes = 2048): Promise<void> {
  const wal = await openWal({ segmentBytes });
  for (let i = 0; i < count; i++) await wal.append({ tableId: 1, shardVersion: 1, payload: payloadFor(i) });
  await closeWal(wal);
}

async function flipByte(path: string, offset: number): Promise<void> {
  const handle = await open(path, "r+");
  try {
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, offset);
    byte[0] = byte[0]! ^ 0x40;
    await handle.write(byte, 0, 1, offset);
  } finally {
    await handle.close();
  }
}

async function expectPayloads(wal: LocalShardWal, from: number, to: number): Promise<void> {
  const records = await collect(wal.read(from));
  expect(records.map((r) => r.sequence)).toEqual(Array.from({ length: to - from }, (_, i) => from + i));
  for (const r of records)
    expect(Buffer.from(r.payload).equals(Buffer.from(payloadFor(r.sequence)))).toBe(true);
}

async function lastSegment(): Promise<string> {
  return (await segmentPaths(dir)).at(-1)!;
}

describe("recovery of a torn tail", () => {
  const tornCases: { name: string; tear: (path: string) => Promise<void> }[] = [
    {
      name: "a short header",
      tear: async (path) => {
        const record = encodeRecord({ sequence: 999, tableId: 1, shardVersion: 1, payload: payloadFor(999) });
        await appendFile(path, record.subarray(0, 20));
      },
    },
    {
      name: "a short payload",
      tear: async (path) => {
        const last = (await recordLocations(path)).at(-1)!;
        await truncate(path, last.end - 5);
      },
    },
    {
      name: "a flipped CRC byte in the last record",
      tear: async (path) => {
        const last = (await recordLocations(path)).at(-1)!;
        await flipByte(path, last.offset + 40);
      },
    },
    {
      name: "a flipped payload byte in the last record",
      tear: async (path) => {
        const last = (await recordLocations(path)).at(-1)!;
        await flipByte(path, last.end - 1);
      },
    },
    {
      name: "zeros where the last record should be",
      tear: async (path) => {
        await appendFile(path, Buffer.alloc(300));
      },
    },
  ];

  for (const { name, tear } of tornCases) {
    it(`cuts off ${name}, keeps earlier records and continues the sequence`, async () => {
      await writeLog(40);
      const path = await lastSegment();
      const before = await recordLocations(path);
      const tearsLastRecord = !name.startsWith("a short header") && !name.startsWith("zeros");
      await tear(path);
      const expectedNext = tearsLastRecord ? 39 : 40;
      const expectedEnd = tearsLastRecord ? before.at(-1)!.offset : before.at(-1)!.end;

      const { logger, warnings } = capturingLogger();
      const wal = await openWal({ logger });
      expect(wal.nextSequence()).toBe(expectedNext);
      expect((await stat(path)).size).toBe(expectedEnd);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatchObject({ file: path, offset: expectedEnd });
      await expectPayloads(wal, 0, expectedNext);

      for (let i = expectedNext; i < 45; i++) {
        expect(await wal.append({ tableId: 1, shardVersion: 1, payload: payloadFor(i) })).toBe(i);
      }
      await closeWal(wal);
      const reopened = await openWal();
      await expectPayloads(reopened, 0, 45);
    });
  }

  it("cuts off a torn write group even when a later record of the same group survived", async () => {
    // One group of five records whose third record never reached the disk intact (pages written
    // back out of order before a power loss): none of the group was acknowledged.
    const wal = await openWal({ segmentBytes: 1 << 20 });
    await wal.append({ tableId: 1, shardVersion: 1, payload: payloadFor(0) });
    await wal.appendBatch(
      [1, 2, 3, 4, 5].map((i) => ({ tableId: 1, shardVersion: 1, payload: payloadFor(i) })),
    );
    await closeWal(wal);
    const path = await lastSegment();
    const locations = await recordLocations(path);
    expect(locations).toHaveLength(6);
    await flipByte(path, locations[3]!.offset + RECORD_HEADER_BYTES + 2);

    const { logger, warnings } = capturingLogger();
    const reopened = await openWal({ logger, segmentBytes: 1 << 20 });
    expect(reopened.nextSequence()).toBe(3);
    expect(warnings[0]).toMatchObject({ file: path, offset: locations[3]!.offset });
    await expectPayloads(reopened, 0, 3);
  });

  it("cuts a torn record in a freshly rolled, otherwise empty last segment", async () => {
    await writeLog(30);
    const segments = await segmentPaths(dir);
    expect(segments.length).toBeGreaterThan(1);
    // Make the last segment hold only a torn first record.
    const last = segments.at(-1)!;
    const first = (await recordLocations(last))[0]!;
    await truncate(last, first.end - 1);
    const wal = await openWal();
    expect(wal.nextSequence()).toBe(first.sequence);
    await expectPayloads(wal, 0, first.sequence);
  });

  it("deletes an unfinished segment file left by a crash during a roll", async () => {
    await writeLog(10);
    await writeFile(join(dir, "00000000000000000010.wal.tmp"), Buffer.alloc(7));
    const wal = await openWal();
    expect(wal.nextSequence()).toBe(10);
    expect((await segmentPaths(dir)).some((p) => p.endsWith(".tmp"))).toBe(false);
    await expectPayloads(wal, 0, 10);
  });
});

describe("corruption", () => {
  it("a flipped byte in a middle record of the last segment fails open with file and offset", async () => {
    await writeLog(10, 1 << 20);
    const path = await lastSegment();
    const target = (await recordLocations(path))[4]!;
    await flipByte(path, target.offset + RECORD_HEADER_BYTES + 1);
    const error = await openWal({ segmentBytes: 1 << 20 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WalCorruptionError);
    expect(error).toMatchObject({ path, offset: target.offset });
    // Nothing was cut off.
    expect((await recordLocations(path)).length).toBe(4);
    expect((await stat(path)).size).toBeGreaterThan(target.end);
  });

  it("a flipped length field that points past the end of the file, with valid records after it", async () => {
    await writeLog(10, 1 << 20);
    const path = await lastSegment();
    const target = (await recordLocations(path))[6]!;
    await flipByte(path, target.offset + 35); // high byte of the payload length
    const error = await openWal({ segmentBytes: 1 << 20 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WalCorruptionError);
    expect(error).toMatchObject({ path, offset: target.offset });
  });

  it("a flipped byte in an earlier segment fails the read that reaches it, and a full open", async () => {
    await writeLog(60);
    const segments = await segmentPaths(dir);
    expect(segments.length).toBeGreaterThan(2);
    const path = segments[1]!;
    const target = (await recordLocations(path))[2]!;
    await flipByte(path, target.offset + RECORD_HEADER_BYTES + 3);

    const fullOpen = await openWal({ verifyOnOpen: "full" }).catch((e: unknown) => e);
    expect(fullOpen).toBeInstanceOf(WalCorruptionError);
    expect(fullOpen).toMatchObject({ path, offset: target.offset });

    // The default open scans only the last segment; the read finds the damage.
    const wal = await openWal();
    expect(wal.nextSequence()).toBe(60);
    const seen: number[] = [];
    const readError = await (async () => {
      for await (const record of wal.read(0)) seen.push(record.sequence);
    })().catch((e: unknown) => e);
    expect(readError).toBeInstanceOf(WalCorruptionError);
    expect(readError).toMatchObject({ path, offset: target.offset });
    expect(seen).toEqual(Array.from({ length: target.sequence }, (_, i) => i));
    // A read that starts after the damaged segment is not affected.
    const from = (await recordLocations(segments[2]!))[0]!.sequence;
    await expectPayloads(wal, from, 60);
  });

  it("a read detects a record damaged after open in the active segment", async () => {
    const wal = await openWal({ segmentBytes: 1 << 20 });
    for (let i = 0; i < 10; i++) await wal.append({ tableId: 1, shardVersion: 1, payload: payloadFor(i) });
    const path = await lastSegment();
    const target = (await recordLocations(path))[7]!;
    await flipByte(path, target.offset + 12);
    const error = await collect(wal.read(0)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WalCorruptionError);
    expect(error).toMatchObject({ path, offset: target.offset });
  });

  it("an earlier segment that ends short of the next one is corruption on read", async () => {
    await writeLog(60);
    const segments = await segmentPaths(dir);
    const path = segments[0]!;
    const last = (await recordLocations(path)).at(-1)!;
    await truncate(path, last.offset);
    const wal = await openWal();
    const error = await collect(wal.read(0)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WalCorruptionError);
    expect(error).toMatchObject({ path, offset: last.offset });
  });

  it("a missing middle segment is corruption at open; a missing prefix is not", async () => {
    await writeLog(80);
    const segments = await segmentPaths(dir);
    expect(segments.length).toBeGreaterThan(3);
    // A truncation that stopped after deleting the first two segments.
    await unlink(segments[0]!);
    await unlink(segments[1]!);
    const firstLeft = (await recordLocations(segments[2]!))[0]!.sequence;
    const wal = await openWal();
    expect(wal.nextSequence()).toBe(80);
    await expectPayloads(wal, firstLeft, 80);
    await closeWal(wal);

    await rename(segments[3]!, `${segments[3]!}.moved`);
    const error = await openWal().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WalCorruptionError);
    expect(error).toMatchObject({ path: segments[4]!, offset: 16 });
  });

  it("a damaged segment file header is corruption", async () => {
    await writeLog(40);
    const path = (await segmentPaths(dir))[1]!;
    await flipByte(path, 9);
    const error = await openWal().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WalCorruptionError);
    expect(error).toMatchObject({ path, offset: 0 });
  });

  it("a record with the wrong sequence followed by valid records is corruption", async () => {
    await writeLog(6, 1 << 20);
    const path = await lastSegment();
    const locations = await recordLocations(path);
    // Replace record 2 with a valid record claiming sequence 9, same length.
    const original = await readFile(path);
    const target = locations[2]!;
    const payload = original.subarray(target.offset + RECORD_HEADER_BYTES, target.end);
    const forged = encodeRecord({ sequence: 9, tableId: 1, shardVersion: 1, payload });
    const handle = await open(path, "r+");
    await handle.write(forged, 0, forged.byteLength, target.offset);
    await handle.close();
    const error = await openWal({ segmentBytes: 1 << 20 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WalCorruptionError);
    expect(error).toMatchObject({ path, offset: target.offset });
    expect((error as WalCorruptionError).reason).toMatch(/sequence 9, expected 2/);
  });
});
