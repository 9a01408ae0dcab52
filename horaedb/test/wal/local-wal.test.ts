import { open, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  InvalidWalAppendError,
  LocalWalManager,
  type LocalShardWal,
  WalAlreadyOpenError,
  WalClosedError,
  WalWriteError,
} from "../../src/wal/local/index.js";
import type { WalAppend, WalRecord } from "../../src/wal/wal.js";
import {
  collect,
  makeTempDir,
  payloadFor,
  removeDir,
  segmentPaths,
  silentLogger,
} from "./wal-test-support.js";

let root: string;
let manager: LocalWalManager;

beforeEach(async () => {
  root = await makeTempDir("wal");
});
afterEach(async () => {
  await manager?.close();
  await removeDir(root);
});

function openManager(segmentBytes?: number): LocalWalManager {
  manager = new LocalWalManager({ rootDir: root, segmentBytes, logger: silentLogger, readChunkBytes: 4096 });
  return manager;
}

function recordFor(key: number): WalAppend {
  return { tableId: 1000 + (key % 3), shardVersion: 7, payload: payloadFor(key) };
}

async function appendMany(wal: LocalShardWal, count: number, from = 0): Promise<number[]> {
  const sequences: number[] = [];
  for (let i = from; i < from + count; i++) sequences.push(await wal.append(recordFor(i)));
  return sequences;
}

function expectRecords(records: Awaited<ReturnType<typeof collect>>, fromKey: number, toKey: number): void {
  expect(records.map((r) => r.sequence)).toEqual(
    Array.from({ length: toKey - fromKey }, (_, i) => fromKey + i),
  );
  for (const record of records) {
    const expected = recordFor(record.sequence);
    expect(record.tableId).toBe(expected.tableId);
    expect(record.shardVersion).toBe(expected.shardVersion);
    expect(Buffer.from(record.payload).equals(Buffer.from(expected.payload))).toBe(true);
  }
}

describe("LocalShardWal", () => {
  it("round-trips records across segment rolls, from any start sequence", async () => {
    const wal = await openManager(1024).open(0);
    expect(wal.nextSequence()).toBe(0);
    const sequences = await appendMany(wal, 200);
    expect(sequences).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(wal.nextSequence()).toBe(200);
    const files = await segmentPaths(manager.shardDirectory(0));
    expect(files.length).toBeGreaterThan(10);
    expect(wal.segmentFirstSequences.length).toBe(files.length);
    for (const file of files) expect((await stat(file)).size).toBeLessThanOrEqual(1024);

    expectRecords(await collect(wal.read(0)), 0, 200);
    expectRecords(await collect(wal.read(57)), 57, 200);
    expectRecords(await collect(wal.read(199)), 199, 200);
    expect(await collect(wal.read(200))).toEqual([]);
    expect(await collect(wal.read(10_000))).toEqual([]);
  });

  it("names segment files by their first sequence, zero-padded", async () => {
    const wal = await openManager(1024).open(3);
    await appendMany(wal, 30);
    const names = (await readdir(manager.shardDirectory(3))).sort();
    expect(names[0]).toBe("00000000000000000000.wal");
    expect(names.map((n) => Number(n.slice(0, 20)))).toEqual(wal.segmentFirstSequences);
  });

  it("reads records larger than the read chunk and larger than a segment", async () => {
    const wal = await openManager(8192).open(0);
    const big = payloadFor(1, 100_000);
    await wal.append({ tableId: 1, shardVersion: 1, payload: payloadFor(0, 10) });
    await wal.append({ tableId: 1, shardVersion: 1, payload: big });
    await wal.append({ tableId: 1, shardVersion: 1, payload: new Uint8Array(0) });
    const records = await collect(wal.read(0));
    expect(records.map((r) => r.payload.byteLength)).toEqual([10, 100_000, 0]);
    expect(Buffer.from(records[1]!.payload).equals(Buffer.from(big))).toBe(true);
  });

  it("reopens after close with every record and the right next sequence", async () => {
    let wal = await openManager(2048).open(1);
    await appendMany(wal, 120);
    await wal.close();
    wal = await manager.open(1);
    expect(wal.nextSequence()).toBe(120);
    expectRecords(await collect(wal.read(0)), 0, 120);
    expect(await wal.append(recordFor(120))).toBe(120);
    await wal.close();
    wal = await openManager(2048).open(1);
    expectRecords(await collect(wal.read(0)), 0, 121);
  });

  it("appendBatch assigns consecutive sequences in input order", async () => {
    const wal = await openManager().open(0);
    await wal.append(recordFor(0));
    const sequences = await wal.appendBatch([recordFor(1), recordFor(2), recordFor(3)]);
    expect(sequences).toEqual([1, 2, 3]);
    expect(await wal.appendBatch([])).toEqual([]);
    expectRecords(await collect(wal.read(0)), 0, 4);
  });

  it("assigns sequences in call order to concurrent appends", async () => {
    const wal = await openManager(4096).open(0);
    const sequences = await Promise.all(Array.from({ length: 100 }, (_, i) => wal.append(recordFor(i))));
    expect(sequences).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expectRecords(await collect(wal.read(0)), 0, 100);
  });

  it("group commit: concurrent appends share one write and one sync", async () => {
    const wal = await openManager().open(0);
    // Appends issued in the same tick form one group.
    await Promise.all(Array.from({ length: 50 }, (_, i) => wal.append(recordFor(i))));
    expect(wal.stats.syncs).toBe(1);
    expect(wal.stats.groups).toBe(1);

    // Eight writers that each wait for their previous append: while one sync is in flight the
    // others queue, so there are far fewer syncs than appends.
    const before = wal.stats.syncs;
    let key = 50;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let i = 0; i < 50; i++) await wal.append(recordFor(key++));
      }),
    );
    const syncs = wal.stats.syncs - before;
    expect(wal.stats.records).toBe(450);
    expect(syncs).toBeLessThan(400 / 2);
    expectRecords(await collect(wal.read(0)), 0, 450);
  });

  it("a sequential writer syncs once per append", async () => {
    const wal = await openManager().open(0);
    await appendMany(wal, 10);
    expect(wal.stats.syncs).toBe(10);
  });

  it("read sees records appended while it runs, up to the durable end when it gets there", async () => {
    const wal = await openManager(1024).open(0);
    await appendMany(wal, 20);
    const seen: number[] = [];
    let appended = 20;
    for await (const record of wal.read(0)) {
      seen.push(record.sequence);
      // Keep appending while reading, across segment rolls.
      if (appended < 200) await wal.append(recordFor(appended++));
    }
    // Each record read led to one more durable append, so the read never ran out before the last.
    expect(appended).toBe(200);
    expect(seen).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expectRecords(await collect(wal.read(0)), 0, 200);
  });

  it("a read started while appends are in flight returns every record acknowledged before it", async () => {
    const wal = await openManager(1024).open(0);
    const acknowledged: number[] = [];
    const writers = Array.from({ length: 4 }, async (_, w) => {
      for (let i = 0; i < 40; i++) acknowledged.push(await wal.append(recordFor(w * 1000 + i)));
    });
    const reads: Promise<void>[] = [];
    for (let i = 0; i < 10; i++) {
      await new Promise((resolve) => setTimeout(resolve, 2));
      const ackedBefore = [...acknowledged];
      reads.push(
        collect(wal.read(0)).then((records) => {
          const sequences = new Set(records.map((r) => r.sequence));
          for (const s of ackedBefore) expect(sequences.has(s)).toBe(true);
          expect(records.map((r) => r.sequence)).toEqual(records.map((_, j) => j));
        }),
      );
    }
    await Promise.all(writers);
    await Promise.all(reads);
  });

  it("truncateBelow deletes only whole segments below the sequence, never the active one", async () => {
    const wal = await openManager(1024).open(0);
    await appendMany(wal, 100);
    const firsts = wal.segmentFirstSequences;
    expect(firsts.length).toBeGreaterThan(4);
    const cut = firsts[3]! + 1; // inside the fourth segment
    await wal.truncateBelow(cut);
    expect(wal.segmentFirstSequences).toEqual(firsts.slice(3));
    expect(wal.stats.segmentsDeleted).toBe(3);
    expect((await segmentPaths(manager.shardDirectory(0))).length).toBe(firsts.length - 3);
    // Records at or above the cut are all there; the first segment left starts below it.
    expectRecords(await collect(wal.read(cut)), cut, 100);
    expectRecords(await collect(wal.read(0)), firsts[3]!, 100);

    await wal.truncateBelow(1_000_000);
    expect(wal.segmentFirstSequences).toEqual(firsts.slice(-1));
    expect(wal.nextSequence()).toBe(100);
    await wal.close();

    const reopened = await manager.open(0);
    expect(reopened.nextSequence()).toBe(100);
    expect(await reopened.append(recordFor(100))).toBe(100);
    expectRecords(await collect(reopened.read(0)), firsts.at(-1)!, 101);
  });

  it("truncateBelow waits for a reader positioned on a segment, then deletes it", async () => {
    const wal = await openManager(1024).open(0);
    await appendMany(wal, 100);
    const firsts = wal.segmentFirstSequences;
    const iterator = wal.read(0)[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(first.done).toBe(false);
    expect((first.value as WalRecord).sequence).toBe(0);
    await wal.truncateBelow(firsts[2]!);
    expect(wal.segmentFirstSequences).toEqual(firsts);
    // The reader still gets every record.
    const rest: number[] = [];
    for (let step = await iterator.next(); step.done !== true; step = await iterator.next()) {
      rest.push(step.value.sequence);
    }
    expect(rest).toEqual(Array.from({ length: 99 }, (_, i) => i + 1));
    await wal.close();
    expect((await segmentPaths(manager.shardDirectory(0))).map((p) => Number(p.slice(-24, -4)))).toEqual(
      firsts.slice(2),
    );
  });

  it("rejects appends with invalid fields", async () => {
    const wal = await openManager().open(0);
    await expect(
      wal.append({ tableId: -1, shardVersion: 0, payload: new Uint8Array(1) }),
    ).rejects.toBeInstanceOf(InvalidWalAppendError);
    await expect(wal.append({ tableId: 1.5, shardVersion: 0, payload: new Uint8Array(1) })).rejects.toThrow(
      /tableId/,
    );
    await expect(
      wal.append({ tableId: 1, shardVersion: 2 ** 60, payload: new Uint8Array(1) }),
    ).rejects.toThrow(/shardVersion/);
    expect(wal.nextSequence()).toBe(0);
  });

  it("keeps 53-bit ids intact", async () => {
    const wal = await openManager().open(0);
    await wal.append({ tableId: Number.MAX_SAFE_INTEGER, shardVersion: 2 ** 40 + 3, payload: payloadFor(1) });
    const [record] = await collect(wal.read(0));
    expect(record?.tableId).toBe(Number.MAX_SAFE_INTEGER);
    expect(record?.shardVersion).toBe(2 ** 40 + 3);
  });

  it("after a failed sync, rejects every later append until reopened", async () => {
    const wal = await openManager().open(0);
    await appendMany(wal, 5);
    // FileHandle is not exported; take its prototype from an open handle.
    const probe = await open(join(root, "probe"), "w");
    const prototype = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> };
    await probe.close();
    const datasync = vi.spyOn(prototype, "datasync").mockRejectedValueOnce(new Error("EIO: simulated"));
    try {
      await expect(wal.append(recordFor(5))).rejects.toBeInstanceOf(WalWriteError);
      await expect(wal.append(recordFor(6))).rejects.toBeInstanceOf(WalWriteError);
      expect(datasync).toHaveBeenCalledTimes(1);
    } finally {
      datasync.mockRestore();
    }
    // Acknowledged records are still readable; the failed one may or may not have reached the disk.
    const records = await collect(wal.read(0));
    expectRecords(records.slice(0, 5), 0, 5);
    await wal.close();
    const reopened = await manager.open(0);
    const next = reopened.nextSequence();
    expect([5, 6]).toContain(next);
    expect(await reopened.append(recordFor(next))).toBe(next);
    expectRecords(await collect(reopened.read(0)), 0, next + 1);
  });

  it("close waits for queued appends; afterwards appends, truncation and reads fail", async () => {
    const wal = await openManager().open(0);
    const pending = Array.from({ length: 20 }, (_, i) => wal.append(recordFor(i)));
    await wal.close();
    expect(await Promise.all(pending)).toHaveLength(20);
    await expect(wal.append(recordFor(20))).rejects.toBeInstanceOf(WalClosedError);
    await expect(wal.truncateBelow(1)).rejects.toBeInstanceOf(WalClosedError);
    await expect(collect(wal.read(0))).rejects.toBeInstanceOf(WalClosedError);
    const reopened = await manager.open(0);
    expectRecords(await collect(reopened.read(0)), 0, 20);
  });
});

describe("LocalWalManager", () => {
  it("keeps one log directory per shard", async () => {
    openManager();
    const a = await manager.open(1);
    const b = await manager.open(2);
    await a.append(recordFor(0));
    await b.append(recordFor(0));
    await b.append(recordFor(1));
    expect((await readdir(root)).sort()).toEqual(["shard-1", "shard-2"]);
    expect(a.directory).toBe(join(root, "shard-1"));
    expect(a.nextSequence()).toBe(1);
    expect(b.nextSequence()).toBe(2);
  });

  it("refuses a second open of a shard until the first is closed", async () => {
    openManager();
    const first = await manager.open(4);
    await expect(manager.open(4)).rejects.toBeInstanceOf(WalAlreadyOpenError);
    await first.close();
    const second = await manager.open(4);
    expect(second.nextSequence()).toBe(0);
  });

  it("close closes every open shard", async () => {
    openManager();
    const a = await manager.open(1);
    const b = await manager.open(2);
    await manager.close();
    await expect(a.append(recordFor(0))).rejects.toBeInstanceOf(WalClosedError);
    await expect(b.append(recordFor(0))).rejects.toBeInstanceOf(WalClosedError);
  });
});
