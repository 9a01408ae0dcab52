import { readdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { StorageEngine } from "../../src/engine/engine.js";
import { DataType } from "../../src/table/data-type.js";
import {
  type CpuRow,
  cpuRows,
  cpuSchema,
  scanAll,
  type TempEngine,
  tempEngineDir,
} from "./engine-fixtures.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const SEGMENT = 2 * HOUR;
const paused = { compaction: { paused: true } };

/** Rows for hosts h0..h{hosts-1} at each timestamp. */
function grid(
  hosts: number,
  timestamps: readonly number[],
  usage: (h: number, t: number) => number,
): CpuRow[] {
  const rows: CpuRow[] = [];
  for (const ts of timestamps)
    for (let h = 0; h < hosts; h++) rows.push({ host: `h${h}`, ts, usage: usage(h, ts) });
  return rows;
}

const range = (from: number, count: number, step: number) =>
  Array.from({ length: count }, (_, i) => from + i * step);

describe("compaction in the engine", () => {
  let dir: TempEngine;
  let engine: StorageEngine | undefined;

  beforeEach(async () => {
    dir = await tempEngineDir();
  });
  afterEach(async () => {
    await engine?.close();
    engine = undefined;
    await dir.cleanup();
  });

  const objectPath = (key: string) => join(dir.dataDir, "store", key);
  const exists = (key: string) =>
    stat(objectPath(key)).then(
      () => true,
      () => false,
    );
  async function sstObjects(tableId: number): Promise<string[]> {
    try {
      return (
        await readdir(join(dir.dataDir, "store", "standalone", "tables", String(tableId), "sst"))
      ).sort();
    } catch {
      return [];
    }
  }

  async function writeAndFlush(e: StorageEngine, table: string, rows: CpuRow[]): Promise<void> {
    await e.write("public", table, cpuRows(rows));
    await e.flush("public", table);
  }

  it("merges overwritten rows in each window into one file and reads exactly the same rows (OVERWRITE)", async () => {
    engine = await dir.open(paused);
    // Six flushes, each overwriting most keys of the flush before and adding new ones, in two windows.
    for (let f = 0; f < 6; f++) {
      const stamps = [...range(f * MINUTE, 20, MINUTE), ...range(SEGMENT + f * MINUTE, 20, MINUTE)];
      await writeAndFlush(
        engine,
        "cpu",
        grid(10, stamps, (h, t) => f * 1000 + h + t / MINUTE),
      );
    }
    await engine.write("public", "cpu", cpuRows(grid(3, [5 * MINUTE], () => -1)));
    expect(engine.sstFiles("public", "cpu")).toHaveLength(12);
    const before = await scanAll(engine, "cpu");
    expect(before).toHaveLength(10 * 25 * 2);

    const jobs = await engine.compact("public", "cpu");
    expect(jobs.map((j) => [j.kind, j.window, j.inputs.length, j.outputs.length])).toEqual([
      ["merge", 0, 6, 1],
      ["merge", 1, 6, 1],
    ]);
    for (const job of jobs) {
      expect(job.rowsIn).toBe(6 * 200);
      expect(job.rowsOut).toBe(250);
    }
    expect(engine.sstFiles("public", "cpu")).toHaveLength(2);
    expect(await scanAll(engine, "cpu")).toEqual(before);
    // The inputs are gone from object storage, and the result survives a restart.
    const id = engine.table("public", "cpu")?.id ?? -1;
    await vi.waitFor(async () => expect(await sstObjects(id)).toHaveLength(2));
    await engine.close();
    engine = await dir.open(paused);
    expect(await scanAll(engine, "cpu")).toEqual(before);
    expect(await engine.compact()).toEqual([]);
  });

  it("keeps every row of an APPEND table, duplicates included", async () => {
    engine = await dir.open(paused);
    await engine.createTable("public", "events", cpuSchema(), { update_mode: "APPEND" });
    for (let f = 0; f < 5; f++) {
      // The same keys every time, plus one row only this flush has.
      const rows = [...grid(4, range(0, 10, 1000), (h) => h), { host: "x", ts: f * 1000, usage: f }];
      await writeAndFlush(engine, "events", rows);
    }
    const before = await scanAll(engine, "events");
    expect(before).toHaveLength(5 * 41);
    const jobs = await engine.compact();
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ kind: "merge", rowsIn: 205, rowsOut: 205 });
    expect(engine.sstFiles("public", "events")).toHaveLength(1);
    expect(await scanAll(engine, "events")).toEqual(before);
  });

  it("merges files written under older schema versions, reading their missing columns as null", async () => {
    engine = await dir.open(paused);
    for (let f = 0; f < 2; f++)
      await writeAndFlush(
        engine,
        "cpu",
        grid(2, [f * 1000], () => f),
      );
    await engine.addColumns("public", "cpu", [{ name: "idle", type: DataType.Double }]);
    for (let f = 2; f < 4; f++)
      await writeAndFlush(
        engine,
        "cpu",
        grid(2, [f * 1000], () => f),
      );
    await engine.write("public", "cpu", {
      ...cpuRows([]),
      batch: {
        names: ["host", "ts", "usage", "idle"],
        columns: [
          { type: DataType.String, values: ["h0"], validity: null },
          { type: DataType.Timestamp, values: Float64Array.of(0), validity: null },
          { type: DataType.Double, values: Float64Array.of(9), validity: null },
          { type: DataType.Double, values: Float64Array.of(0.5), validity: null },
        ],
        numRows: 1,
      },
    });
    await engine.flush();
    const before = await scanAll(engine, "cpu", { projection: ["host", "ts", "usage", "idle"] });
    expect(before[0]).toEqual({ host: "h0", ts: 0, usage: 9, idle: 0.5 });
    expect(before[1]).toEqual({ host: "h0", ts: 1000, usage: 1, idle: null });
    expect(await engine.compact()).toHaveLength(1);
    const [file] = engine.sstFiles("public", "cpu");
    expect(file?.schemaVersion).toBe(engine.table("public", "cpu")?.schema.version);
    expect(await scanAll(engine, "cpu", { projection: ["host", "ts", "usage", "idle"] })).toEqual(before);
  });

  it("hides rows past the TTL on reads, removes expired files unread, and drops expired rows in merges", async () => {
    let now = 9 * DAY;
    engine = await dir.open({ ...paused, now: () => now });
    await engine.createTable("public", "m", cpuSchema(), { ttl: "1d", segment_duration: "2h" });
    const oldStamps = range(8 * DAY, 30, MINUTE); // a window long expired
    const edgeStamps = range(9 * DAY, 120, MINUTE); // the window the cutoff will cut in half
    for (let f = 0; f < 4; f++) {
      await writeAndFlush(engine, "m", [
        ...grid(3, oldStamps, () => f),
        ...grid(3, edgeStamps, (h, t) => f * 100 + h + (t % DAY) / MINUTE),
      ]);
    }
    // Nothing expired yet (cutoff 8d): every row reads.
    expect(await scanAll(engine, "m")).toHaveLength(3 * 150);
    now = 10 * DAY + HOUR; // cutoff 9d + 1h: the old window and half of the edge window expire
    const visible = await scanAll(engine, "m");
    expect(visible).toHaveLength(3 * 60);
    expect(visible.every((r) => (r["ts"] as number) >= 9 * DAY + HOUR)).toBe(true);
    // A time range reaching into expired rows is clipped too.
    expect(await scanAll(engine, "m", { timeRange: { start: 8 * DAY, end: 9 * DAY + 2 * HOUR } })).toEqual(
      visible,
    );

    // Damage the expired files: removing them must not read them.
    const files = engine.sstFiles("public", "m");
    const expired = files.filter((f) => f.timeRange.max < 9 * DAY);
    expect(expired).toHaveLength(4);
    for (const f of expired) await writeFile(objectPath(f.key), "not parquet");

    const jobs = await engine.compact();
    expect(jobs.map((j) => [j.kind, j.inputs.length, j.outputs.length])).toEqual([
      ["expire", 4, 0],
      ["merge", 4, 1],
    ]);
    expect(jobs[1]?.rowsOut).toBe(3 * 60);
    const [merged] = engine.sstFiles("public", "m");
    expect(merged?.timeRange.min).toBe(9 * DAY + HOUR);
    expect(merged?.rowCount).toBe(3 * 60);
    expect(await scanAll(engine, "m")).toEqual(visible);
    await vi.waitFor(async () => {
      for (const f of expired) expect(await exists(f.key)).toBe(false);
    });
    // Once the whole table is past the TTL, compaction removes its last file.
    now = 12 * DAY;
    expect(await scanAll(engine, "m")).toEqual([]);
    expect((await engine.compact()).map((j) => j.kind)).toEqual(["expire"]);
    expect(engine.sstFiles("public", "m")).toEqual([]);
  });

  it("lets a scan that started before a compaction finish on the removed files, then deletes them", async () => {
    engine = await dir.open(paused);
    // Four files of one window with disjoint time ranges: a scan reads them one after another.
    for (let f = 0; f < 4; f++) {
      await writeAndFlush(
        engine,
        "cpu",
        grid(5, range(f * 10 * MINUTE, 5, MINUTE), (h) => f * 10 + h),
      );
    }
    const expected = await scanAll(engine, "cpu");
    const inputs = engine.sstFiles("public", "cpu");
    expect(inputs).toHaveLength(4);

    const scan = engine.scan("public", "cpu", { batchSize: 5 });
    const iterator = scan[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(first.done).toBe(false);

    const [job] = await engine.compact();
    expect(job?.inputs).toHaveLength(4);
    expect(engine.compactionStats().sstsWaitingForScans).toBe(4);
    for (const f of inputs) expect(await exists(f.key)).toBe(true);

    let rows = first.done === true ? 0 : first.value.numRows;
    for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) {
      rows += next.value.numRows;
    }
    expect(rows).toBe(expected.length);
    expect(scan.metrics.rowsFromSsts).toBe(expected.length);
    await vi.waitFor(async () => {
      for (const f of inputs) expect(await exists(f.key)).toBe(false);
    });
    expect(engine.compactionStats()).toMatchObject({ sstsWaitingForScans: 0, sstsDeleted: 4 });
    expect(await scanAll(engine, "cpu")).toEqual(expected);
  });

  it("releases the files of a scan returned early, and of one closed without being iterated", async () => {
    engine = await dir.open(paused);
    for (let f = 0; f < 4; f++)
      await writeAndFlush(
        engine,
        "cpu",
        grid(3, range(f * 10 * MINUTE, 3, MINUTE), () => f),
      );
    const inputs = engine.sstFiles("public", "cpu");
    const broken = engine.scan("public", "cpu", { batchSize: 1 });
    const neverIterated = engine.scan("public", "cpu");
    const returnedBeforeStart = engine.scan("public", "cpu");
    expect(await engine.compact()).toHaveLength(1);
    expect(engine.compactionStats().sstsWaitingForScans).toBe(4);

    for await (const batch of broken) {
      expect(batch.numRows).toBe(1);
      break;
    }
    neverIterated.close();
    await returnedBeforeStart[Symbol.asyncIterator]().return?.();
    await vi.waitFor(async () => {
      for (const f of inputs) expect(await exists(f.key)).toBe(false);
    });
    expect(engine.compactionStats().sstsWaitingForScans).toBe(0);
    expect(() => broken[Symbol.asyncIterator]()).toThrow(/only once/);
  });

  it("removes SST objects the manifest does not list when it opens, and nothing else", async () => {
    engine = await dir.open(paused);
    for (let f = 0; f < 4; f++)
      await writeAndFlush(
        engine,
        "cpu",
        grid(2, [f * 1000], () => f),
      );
    const id = engine.table("public", "cpu")?.id ?? -1;
    const inputs = engine.sstFiles("public", "cpu");
    // A scan still holds the inputs when the engine closes: they are left behind.
    const scan = engine.scan("public", "cpu");
    await engine.compact();
    await engine.close();
    engine = undefined;
    scan.close();
    const sstDir = join(dir.dataDir, "store", "standalone", "tables", String(id), "sst");
    for (const f of inputs) expect(await exists(f.key)).toBe(true);
    // Not ours to delete: a file id not yet allocated, and a name that is not an SST's.
    await writeFile(join(sstDir, "1000000.parquet"), "future");
    await writeFile(join(sstDir, "notes.txt"), "keep");
    expect(await sstObjects(id)).toHaveLength(4 + 1 + 2);

    engine = await dir.open(paused);
    const [output] = engine.sstFiles("public", "cpu");
    expect(await sstObjects(id)).toEqual(
      [`${output?.fileId}.parquet`, "1000000.parquet", "notes.txt"].sort(),
    );
    expect(await scanAll(engine, "cpu")).toHaveLength(8);
  });

  it("compacts in the background after flushes, not while paused, and picks up work after a restart", async () => {
    engine = await dir.open(paused);
    for (let f = 0; f < 4; f++)
      await writeAndFlush(
        engine,
        "cpu",
        grid(2, [f * 1000], () => f),
      );
    const expected = await scanAll(engine, "cpu");
    await new Promise((r) => setTimeout(r, 50));
    expect(engine.compactionStats()).toMatchObject({ mergeJobs: 0, paused: true });
    expect(engine.sstFiles("public", "cpu")).toHaveLength(4);
    await engine.close();

    // Reopened with compaction on: the pending work is found at open.
    engine = await dir.open();
    await vi.waitFor(() => expect(engine?.compactionStats().mergeJobs).toBe(1));
    expect(engine.sstFiles("public", "cpu")).toHaveLength(1);
    expect(await scanAll(engine, "cpu")).toEqual(expected);

    // Three more flushes make four files again; the last flush triggers the job.
    for (let f = 4; f < 7; f++)
      await writeAndFlush(
        engine,
        "cpu",
        grid(2, [f * 1000], () => f),
      );
    await vi.waitFor(() => expect(engine?.compactionStats().mergeJobs).toBe(2));
    expect(engine.sstFiles("public", "cpu")).toHaveLength(1);
    expect(await scanAll(engine, "cpu")).toHaveLength(14);

    // Paused at run time: flushes pile up until it resumes.
    engine.setCompactionPaused(true);
    for (let f = 7; f < 11; f++)
      await writeAndFlush(
        engine,
        "cpu",
        grid(2, [f * 1000], () => f),
      );
    await new Promise((r) => setTimeout(r, 50));
    expect(engine.sstFiles("public", "cpu")).toHaveLength(5);
    engine.setCompactionPaused(false);
    await vi.waitFor(() => expect(engine?.sstFiles("public", "cpu")).toHaveLength(1));
    const stats = engine.compactionStats();
    expect(stats).toMatchObject({ mergeJobs: 3, failedJobs: 0, running: 0, filesIn: 13, filesOut: 3 });
    expect(stats.rowsIn).toBe(stats.rowsOut);
  });

  it("splits a large output by time into files that do not overlap", async () => {
    engine = await dir.open({ compaction: { paused: true, maxOutputFileRows: 150 } });
    for (let f = 0; f < 4; f++) {
      await writeAndFlush(
        engine,
        "cpu",
        grid(10, range(f * 10 * 1000 + 7, 10, 1000), (h) => f + h),
      );
    }
    const before = await scanAll(engine, "cpu");
    const [job] = await engine.compact();
    expect(job).toMatchObject({ rowsIn: 400, rowsOut: 400 });
    const files = engine.sstFiles("public", "cpu").sort((a, b) => a.timeRange.min - b.timeRange.min);
    expect(files).toHaveLength(3);
    expect(files.reduce((sum, f) => sum + f.rowCount, 0)).toBe(400);
    for (let i = 1; i < files.length; i++) {
      expect(files[i]?.timeRange.min).toBeGreaterThan(files[i - 1]?.timeRange.max ?? Infinity);
    }
    expect(await scanAll(engine, "cpu")).toEqual(before);
  });

  it("drops the decoded columns of the files it replaces, keeping only its outputs'", async () => {
    engine = await dir.open({ compaction: { paused: true, maxOutputFileRows: 150 } });
    await engine.createTable("public", "cpu", cpuSchema(), { num_rows_per_row_group: "32" });
    for (let f = 0; f < 4; f++) {
      await writeAndFlush(
        engine,
        "cpu",
        grid(10, range(f * 10 * 1000 + 7, 10, 1000), (h) => f + h),
      );
    }
    const flushed = engine.decodedCacheStats()?.entries ?? 0;
    expect(flushed).toBeGreaterThan(0);
    await engine.compact();
    const afterCompaction = engine.decodedCacheStats();
    // What the outputs hold: every column chunk an engine with an empty cache decodes to read them.
    await engine.close();
    engine = await dir.open({ compaction: { paused: true }, prepopulateDecodedCache: false });
    await scanAll(engine, "cpu");
    expect(afterCompaction?.entries).toBe(engine.decodedCacheStats()?.misses);
    expect(afterCompaction?.evictions).toBe(0);
  });

  it("puts what it writes in the decoded cache, as reading those files decodes it", async () => {
    engine = await dir.open({ compaction: { paused: true, maxOutputFileRows: 150 } });
    await engine.createTable("public", "cpu", cpuSchema(), { num_rows_per_row_group: "32" });
    for (let f = 0; f < 4; f++) {
      const rows = grid(10, range(f * 10 * 1000 + 7, 10, 1000), (h) => f + h);
      // Nulls in some row groups and not in others.
      await writeAndFlush(
        engine,
        "cpu",
        rows.map((r) => (f === 1 && r.host === "h3" ? { ...r, usage: null } : r)),
      );
    }
    const before = await scanAll(engine, "cpu");
    const [job] = await engine.compact();
    expect(job?.outputs).toHaveLength(3);
    const missesBefore = engine.decodedCacheStats()?.misses;
    expect(await scanAll(engine, "cpu")).toEqual(before);
    // Every column chunk of the outputs was in the cache: the read decoded nothing.
    expect(engine.decodedCacheStats()?.misses).toBe(missesBefore);

    await engine.close();
    engine = await dir.open({ compaction: { paused: true }, prepopulateDecodedCache: false });
    expect(await scanAll(engine, "cpu")).toEqual(before);
    expect(engine.decodedCacheStats()?.misses).toBeGreaterThan(0);
  });

  it("lets writes and flushes go on while a compaction runs", async () => {
    engine = await dir.open(paused);
    for (let f = 0; f < 4; f++) {
      await writeAndFlush(
        engine,
        "cpu",
        grid(50, range(f * 100 * 1000, 100, 1000), (h) => f * 100 + h),
      );
    }
    const running = engine.compact();
    const e = engine;
    // Overwrite rows the compaction is merging, and add new ones, and flush them, meanwhile.
    await writeAndFlush(
      e,
      "cpu",
      grid(50, range(0, 10, 1000), () => -1),
    );
    await e.write("public", "cpu", cpuRows(grid(5, [999_000], () => -2)));
    const jobs = await running;
    expect(jobs.length).toBeGreaterThanOrEqual(1);
    const rows = await scanAll(engine, "cpu");
    expect(rows).toHaveLength(50 * 400 + 5);
    expect(rows.filter((r) => r["usage"] === -1)).toHaveLength(500);
    expect(rows.filter((r) => r["usage"] === -2)).toHaveLength(5);
    await engine.close();
    engine = await dir.open(paused);
    expect(await scanAll(engine, "cpu")).toEqual(rows);
  });

  it("checks tables on a timer too: files expire with no flush to trigger it", async () => {
    let now = 10 * DAY;
    engine = await dir.open({ compaction: { intervalMs: 20 }, now: () => now });
    await engine.createTable("public", "m", cpuSchema(), { ttl: "1d" });
    await writeAndFlush(
      engine,
      "m",
      grid(2, [10 * DAY - HOUR], () => 1),
    );
    await new Promise((r) => setTimeout(r, 60));
    expect(engine.sstFiles("public", "m")).toHaveLength(1);
    now = 11 * DAY;
    await vi.waitFor(() => expect(engine?.sstFiles("public", "m")).toEqual([]));
    expect(engine.compactionStats()).toMatchObject({ expireJobs: 1, mergeJobs: 0 });
  });
});
