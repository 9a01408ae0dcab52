/**
 * The engine's time extent of a table: where its rows lie in time, from the memtables and the SST
 * time ranges (row groups' when a tag filter rules some out), rows past the TTL left out.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { StorageEngine } from "../../src/engine/engine.js";
import { TableError } from "../../src/engine/engine.js";
import { DataType } from "../../src/table/data-type.js";
import { TableSchema } from "../../src/table/schema.js";
import {
  cpuRows,
  FIXTURE_NOW_MS,
  scanAll,
  tempEngineDir,
  type CpuRow,
  type TempEngine,
} from "./engine-fixtures.js";

const SCHEMA = TableSchema.create({
  timestampColumn: "ts",
  columns: [
    { name: "host", type: DataType.String, isTag: true },
    { name: "ts", type: DataType.Timestamp },
    { name: "usage", type: DataType.Double },
  ],
});
const HOUR = 3_600_000;

/** `count` points of `host`, `step` ms apart from `from`. */
function points(host: string, from: number, count: number, step = 1000): CpuRow[] {
  return Array.from({ length: count }, (_, i) => ({ host, ts: from + i * step, usage: i }));
}

let dir: TempEngine;
let engine: StorageEngine;

beforeEach(async () => {
  dir = await tempEngineDir();
  engine = await dir.open({ compaction: { paused: true } });
});
afterEach(async () => {
  await engine.close();
  await dir.cleanup();
});

/** The smallest and largest timestamp a scan returns, and how many rows. */
async function scannedSpan(table: string, tagFilter?: Record<string, string[]>) {
  const rows = await scanAll(engine, table, tagFilter === undefined ? {} : { tagFilter });
  const ts = rows.map((r) => Number(r["ts"]));
  return { min: Math.min(...ts), max: Math.max(...ts), rows: rows.length };
}

describe("StorageEngine.timeExtent", () => {
  it("is undefined for a table without rows, and a missing table is an error", async () => {
    await engine.createTable("public", "cpu", SCHEMA, { enable_ttl: "false" });
    expect(engine.timeExtent("public", "cpu")).toBeUndefined();
    expect(() => engine.timeExtent("public", "nope")).toThrow(TableError);
  });

  it("spans the memtable's rows", async () => {
    await engine.write("public", "cpu", cpuRows([...points("a", 5000, 10), ...points("b", 2000, 3)]));
    expect(engine.timeExtent("public", "cpu")).toEqual({ min: 2000, max: 14_000, rows: 13 });
    expect(engine.timeExtent("public", "cpu")).toMatchObject(await scannedSpan("cpu"));
  });

  it("spans SSTs and memtables together, overwrites counted once per write", async () => {
    await engine.write("public", "cpu", cpuRows(points("a", 0, 10)));
    await engine.flush("public", "cpu");
    await engine.write("public", "cpu", cpuRows(points("b", 50_000, 10)));
    await engine.flush("public", "cpu");
    // An overwrite of a flushed row, and newer rows, in the memtable.
    await engine.write(
      "public",
      "cpu",
      cpuRows([{ host: "a", ts: 3000, usage: 99 }, ...points("a", 70_000, 5)]),
    );
    expect(engine.sstFiles("public", "cpu")).toHaveLength(2);
    const extent = engine.timeExtent("public", "cpu");
    expect(extent).toEqual({ min: 0, max: 74_000, rows: 26 });
    const scanned = await scannedSpan("cpu");
    expect(scanned).toEqual({ min: 0, max: 74_000, rows: 25 });
  });

  it("leaves out SST row groups whose tag statistics rule the filter out", async () => {
    // Host c only in the oldest SST; hosts a and b in one row group of the newer one.
    await engine.write("public", "cpu", cpuRows([...points("a", 0, 10), ...points("c", 0, 10)]));
    await engine.flush("public", "cpu");
    await engine.write("public", "cpu", cpuRows([...points("a", 100_000, 10), ...points("b", 100_000, 30)]));
    await engine.flush("public", "cpu");
    expect(engine.timeExtent("public", "cpu", { host: ["c"] })).toMatchObject({ min: 0, max: 9000 });
    expect(engine.timeExtent("public", "cpu", { host: ["c"] })).toMatchObject(
      (({ min, max }) => ({ min, max }))(await scannedSpan("cpu", { host: ["c"] })),
    );
    expect(engine.timeExtent("public", "cpu", { host: ["b"] })).toMatchObject({ min: 100_000, max: 129_000 });
    expect(engine.timeExtent("public", "cpu", { host: ["nobody"] })).toBeUndefined();
    // A row group's rows count by the share of wanted values among its distinct ones.
    expect(engine.timeExtent("public", "cpu", { host: ["a"] })?.rows).toBe(10 + 20);
    expect(engine.timeExtent("public", "cpu", { host: ["a", "b"] })?.rows).toBe(10 + 40);
    expect(engine.timeExtent("public", "cpu")?.rows).toBe(60);
  });

  it("counts memtables whole under a tag filter (they keep no tag statistics)", async () => {
    await engine.write("public", "cpu", cpuRows(points("a", 0, 10)));
    await engine.flush("public", "cpu");
    await engine.write("public", "cpu", cpuRows(points("b", 50_000, 4)));
    expect(engine.timeExtent("public", "cpu", { host: ["nobody"] })).toEqual({
      min: 50_000,
      max: 53_000,
      rows: 4,
    });
  });

  it("leaves out rows past the table's TTL, as scans do", async () => {
    const now = FIXTURE_NOW_MS;
    await engine.createTable("public", "cpu", SCHEMA, { enable_ttl: "true", ttl: "1h" });
    await engine.write("public", "cpu", cpuRows(points("a", now - 3 * HOUR, 3, HOUR / 4)));
    expect(engine.timeExtent("public", "cpu")).toBeUndefined();
    expect(await scanAll(engine, "cpu")).toEqual([]);
    await engine.write("public", "cpu", cpuRows(points("a", now - 2 * HOUR, 5, HOUR / 2)));
    // Rows at -2h, -1.5h, -1h (the cutoff: kept), -0.5h and now.
    const extent = engine.timeExtent("public", "cpu");
    expect(extent).toMatchObject({ min: now - HOUR, max: now });
    const scanned = await scannedSpan("cpu");
    expect(scanned).toMatchObject({ min: now - HOUR, max: now, rows: 3 });
  });

  it("bounds every row a scan returns, after flushes of overlapping data", async () => {
    const hosts = ["a", "b", "c", "d"];
    for (let part = 0; part < 4; part++) {
      const rows = hosts.flatMap((host, h) => points(host, part * 7000 + h * 1300, 9, 1700));
      await engine.write("public", "cpu", cpuRows(rows));
      if (part < 3) await engine.flush("public", "cpu");
    }
    for (const filter of [undefined, { host: ["a"] }, { host: ["b", "d"] }]) {
      const extent = engine.timeExtent("public", "cpu", filter);
      const scanned = await scannedSpan("cpu", filter);
      expect(extent?.min).toBeLessThanOrEqual(scanned.min);
      expect(extent?.max).toBeGreaterThanOrEqual(scanned.max);
    }
  });
});
