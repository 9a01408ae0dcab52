import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { StorageEngine } from "../../src/engine/engine.js";
import { WriteError } from "../../src/engine/errors.js";
import { DataType } from "../../src/table/data-type.js";
import { cellAt, type Column } from "../../src/batch/column.js";
import type { ColumnBatch } from "../../src/batch/column-batch.js";
import { allTypesBatch, allTypesSchema } from "../sst/fixtures.js";
import { cpuRows, cpuSchema, scanAll, tempEngineDir, type TempEngine } from "./engine-fixtures.js";

const HOUR = 3_600_000;
const project = { projection: ["host", "ts", "usage"] };

describe("StorageEngine (standalone)", () => {
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

  it("creates a table on first write and reads the rows back from the memtable", async () => {
    engine = await dir.open();
    const result = await engine.write(
      "public",
      "cpu",
      cpuRows([
        { host: "a", ts: 1000, usage: 1 },
        { host: "b", ts: 1000, usage: null },
      ]),
    );
    expect(result.rows).toBe(2);
    expect(engine.table("public", "cpu")?.schema.tagColumns.map((c) => c.name)).toEqual(["host"]);
    expect(await scanAll(engine, "cpu", project)).toEqual([
      { host: "a", ts: 1000, usage: 1 },
      { host: "b", ts: 1000, usage: null },
    ]);
  });

  it("reads the same rows from SSTs after a flush, and a later overwrite wins over the SST", async () => {
    engine = await dir.open();
    await engine.write(
      "public",
      "cpu",
      cpuRows([
        { host: "a", ts: 1000, usage: 1 },
        { host: "a", ts: 2000, usage: 2 },
      ]),
    );
    await engine.flush("public", "cpu");
    const scan = engine.scan("public", "cpu", project);
    const rows: unknown[] = [];
    for await (const b of scan) rows.push(b.numRows);
    expect(scan.metrics.rowsFromSsts).toBe(2);
    expect(scan.metrics.rowsFromMemtables).toBe(0);
    await engine.write("public", "cpu", cpuRows([{ host: "a", ts: 1000, usage: 10 }]));
    expect(await scanAll(engine, "cpu", project)).toEqual([
      { host: "a", ts: 1000, usage: 10 },
      { host: "a", ts: 2000, usage: 2 },
    ]);
  });

  it("merges an SST and the memtable only where their time ranges overlap, and the newest row wins there", async () => {
    engine = await dir.open();
    // The SST holds ts 0..99 s of hosts a and b; the memtable 95..199 s of host a, overwriting 95..99.
    const older = Array.from({ length: 100 }, (_, i) => i * 1000).flatMap((ts) => [
      { host: "a", ts, usage: 1 },
      { host: "b", ts, usage: 2 },
    ]);
    await engine.write("public", "cpu", cpuRows(older));
    await engine.flush("public", "cpu");
    const newer = Array.from({ length: 105 }, (_, i) => ({ host: "a", ts: (95 + i) * 1000, usage: 3 }));
    await engine.write("public", "cpu", cpuRows(newer));

    const scan = engine.scan("public", "cpu", project);
    const rows: Array<[string, number, number]> = [];
    for await (const batch of scan) {
      for (let r = 0; r < batch.numRows; r++) {
        rows.push(batch.columns.map((c) => c.values[r]) as [string, number, number]);
      }
    }
    // Only ts 95..99 s is held by both: the SST's 10 rows there and the memtable's 5.
    expect(scan.metrics.rowsMerged).toBe(15);
    expect(rows).toHaveLength(200 + 100);
    const usageOf = (host: string, ts: number) =>
      rows.filter((r) => r[0] === host && r[1] === ts).map((r) => r[2]);
    expect(usageOf("a", 94_000)).toEqual([1]);
    expect(usageOf("a", 95_000)).toEqual([3]);
    expect(usageOf("b", 95_000)).toEqual([2]);
    expect(usageOf("a", 199_000)).toEqual([3]);
    // Time stretches come out in order: every row before 95 s precedes every row after 99 s.
    const lastEarly = rows.findLastIndex((r) => r[1] < 95_000);
    const firstLate = rows.findIndex((r) => r[1] > 99_000);
    expect(lastEarly).toBeLessThan(firstLate);
  });

  it.each([
    [true, "finds a flushed SST already decoded in the cache"],
    [false, "decodes a flushed SST on its first read when prepopulating is off"],
  ] as const)("prepopulateDecodedCache %s: %s", async (prepopulate, _what) => {
    engine = await dir.open({ prepopulateDecodedCache: prepopulate });
    await engine.write("public", "cpu", cpuRows([{ host: "a", ts: 1000, usage: 1 }]));
    await engine.flush("public", "cpu");
    const scan = engine.scan("public", "cpu", project);
    for await (const batch of scan) expect(batch.numRows).toBe(1);
    if (prepopulate) {
      expect(scan.metrics.decodedCacheMisses).toBe(0);
      expect(scan.metrics.decodedCacheHits).toBeGreaterThan(0);
    } else {
      expect(scan.metrics.decodedCacheMisses).toBeGreaterThan(0);
    }
  });

  it("puts a flush's rows in the decoded cache as reading its SSTs decodes them", async () => {
    engine = await dir.open();
    const schema = allTypesSchema();
    await engine.createTable("public", "all_types", schema, { num_rows_per_row_group: "16" });
    const all = allTypesBatch(60, 3);
    // Timestamps near the engine clock (one segment); host h has rows 0..19 of its own.
    const ts = Float64Array.from({ length: 60 }, (_, row) => 1000 + (row % 20) * 1000);
    const rows: ColumnBatch = {
      ...all,
      columns: all.columns.map((c, i) => (all.names[i] === "ts" ? { ...c, values: ts } : c)),
    };
    // Two writes, the second without `note`: its rows gather that column as nulls.
    const first = sliceRows(rows, 0, 30);
    const second = sliceRows(rows, 30, 60);
    const withoutNote = {
      ...second,
      names: second.names.filter((n) => n !== "note"),
      columns: second.columns.filter((_, i) => second.names[i] !== "note"),
    };
    const tags = new Set(["host", "dc"]);
    await engine.write("public", "all_types", { batch: first, tagNames: tags, timestampColumn: "ts" });
    await engine.write("public", "all_types", { batch: withoutNote, tagNames: tags, timestampColumn: "ts" });
    await engine.flush("public", "all_types");
    const names = schema.columns.map((c) => c.name);
    const fromFlush = engine.scan("public", "all_types", { projection: names });
    const cachedRows = [];
    for await (const batch of fromFlush) cachedRows.push(...rowsOfBatch(batch));
    expect(fromFlush.metrics.rowsFromSsts).toBe(60);
    expect(fromFlush.metrics.decodedCacheMisses).toBe(0);
    expect(fromFlush.metrics.decodedCacheHits).toBe(names.length * 4);
    expect(engine.decodedCacheStats()?.misses).toBe(0);

    // The same rows decoded from the SSTs by an engine that starts with an empty cache.
    await engine.close();
    engine = await dir.open({ prepopulateDecodedCache: false });
    const decoded = engine.scan("public", "all_types", { projection: names });
    const decodedRows = [];
    for await (const batch of decoded) decodedRows.push(...rowsOfBatch(batch));
    expect(decoded.metrics.decodedCacheMisses).toBe(names.length * 4);
    expect(cachedRows).toEqual(decodedRows);
    expect(cachedRows.filter((r) => r[names.indexOf("note")] === null).length).toBeGreaterThanOrEqual(30);
  });

  it("puts only the newest SSTs of a flush in the decoded cache, as many as it holds", async () => {
    // Each segment's 50 rows x 4 columns (tsid added) are estimated at 3,200 bytes: one fits, two
    // do not.
    engine = await dir.open({ decodedCacheBytes: 5000 });
    const schema = cpuSchema();
    await engine.createTable("public", "cpu", schema, { segment_duration: "1h" });
    const row = (ts: number) => ({ host: "a", ts, usage: ts / 1000 });
    const older = Array.from({ length: 50 }, (_, i) => row(i * 1000));
    const newer = Array.from({ length: 50 }, (_, i) => row(HOUR + i * 1000));
    await engine.write("public", "cpu", cpuRows([...newer, ...older]));
    await engine.flush("public", "cpu");
    // The columns of one SST: the newest segment's.
    expect(engine.decodedCacheStats()?.entries).toBe(4);
    const scanHour = async (start: number) => {
      const scan = engine?.scan("public", "cpu", { ...project, timeRange: { start, end: start + HOUR } });
      if (scan === undefined) throw new Error("no engine");
      let n = 0;
      for await (const batch of scan) n += batch.numRows;
      expect(n).toBe(50);
      return scan.metrics;
    };
    const newest = await scanHour(HOUR);
    expect(newest.decodedCacheMisses).toBe(0);
    expect(newest.decodedCacheHits).toBeGreaterThan(0);
    const oldest = await scanHour(0);
    expect(oldest.decodedCacheMisses).toBeGreaterThan(0);
  });

  it("recovers unflushed rows from the WAL after reopening, without duplicating flushed ones", async () => {
    engine = await dir.open();
    await engine.write("public", "cpu", cpuRows([{ host: "a", ts: 1000, usage: 1 }]));
    await engine.flush();
    await engine.write(
      "public",
      "cpu",
      cpuRows([
        { host: "a", ts: 2000, usage: 2 },
        { host: "a", ts: 1000, usage: 3 },
      ]),
    );
    await engine.close();
    engine = await dir.open();
    expect(await scanAll(engine, "cpu", project)).toEqual([
      { host: "a", ts: 1000, usage: 3 },
      { host: "a", ts: 2000, usage: 2 },
    ]);
  });

  it("keeps every row of an APPEND table exactly once across flushes and restarts", async () => {
    engine = await dir.open();
    const schema = cpuSchema();
    await engine.createTable("public", "events", schema, { update_mode: "APPEND" });
    await engine.write("public", "events", cpuRows([{ host: "a", ts: 1000, usage: 1 }]));
    await engine.write("public", "events", cpuRows([{ host: "a", ts: 1000, usage: 1 }]));
    await engine.flush();
    await engine.write("public", "events", cpuRows([{ host: "a", ts: 1000, usage: 1 }]));
    await engine.close();
    engine = await dir.open();
    expect(await scanAll(engine, "events", project)).toHaveLength(3);
    await engine.flush();
    await engine.close();
    engine = await dir.open();
    expect(await scanAll(engine, "events", project)).toHaveLength(3);
  });

  it("filters by time range and tag values across memtables and SSTs", async () => {
    engine = await dir.open();
    const rows = [];
    for (let h = 0; h < 4; h++)
      for (let t = 0; t < 6; t++) rows.push({ host: `h${h}`, ts: t * HOUR, usage: h * 10 + t });
    await engine.write("public", "cpu", cpuRows(rows.slice(0, 12)));
    await engine.flush();
    await engine.write("public", "cpu", cpuRows(rows.slice(12)));
    const got = await scanAll(engine, "cpu", {
      ...project,
      timeRange: { start: 2 * HOUR, end: 4 * HOUR },
      tagFilter: { host: ["h1", "h3"] },
    });
    expect(got).toEqual(
      rows
        .filter((r) => r.ts >= 2 * HOUR && r.ts < 4 * HOUR && (r.host === "h1" || r.host === "h3"))
        .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    );
  });

  it("writes one SST per time segment", async () => {
    engine = await dir.open();
    await engine.write(
      "public",
      "cpu",
      cpuRows([
        { host: "a", ts: 0, usage: 1 },
        { host: "a", ts: 5 * HOUR, usage: 2 },
      ]),
    );
    await engine.flush();
    const files = await readdir(
      join(dir.dataDir, "store", "standalone", "tables", String(engine.table("public", "cpu")?.id), "sst"),
    );
    expect(files.filter((f) => f.endsWith(".parquet"))).toHaveLength(2);
  });

  it("adds columns on later writes and reads older rows as null in them", async () => {
    engine = await dir.open();
    await engine.write("public", "cpu", cpuRows([{ host: "a", ts: 1, usage: 1 }]));
    await engine.flush();
    const rows = cpuRows([{ host: "a", ts: 2, usage: 2 }]);
    const withIdle = {
      ...rows,
      batch: {
        ...rows.batch,
        names: [...rows.batch.names, "idle"],
        columns: [
          ...rows.batch.columns,
          { type: DataType.Int64, values: BigInt64Array.from([7n]), validity: null },
        ],
      },
    };
    await engine.write("public", "cpu", withIdle);
    await engine.close();
    engine = await dir.open();
    expect(await scanAll(engine, "cpu", { projection: ["ts", "idle"] })).toEqual([
      { ts: 1, idle: null },
      { ts: 2, idle: 7n },
    ]);
  });

  it("creates a table once when several first writes to it arrive at the same time", async () => {
    engine = await dir.open();
    const writes = Array.from({ length: 6 }, (_, i) =>
      engine!.write("public", "cpu", cpuRows([{ host: `h${i}`, ts: 1000, usage: i }])),
    );
    await Promise.all(writes);
    expect(engine.tables().map((t) => t.name)).toEqual(["cpu"]);
    expect(await scanAll(engine, "cpu", project)).toHaveLength(6);
  });

  it("refuses an invalid write and changes nothing", async () => {
    engine = await dir.open();
    await engine.write("public", "cpu", cpuRows([{ host: "a", ts: 1, usage: 1 }]));
    const bad = cpuRows([{ host: "a", ts: 2, usage: 2 }]);
    const conflicting = {
      ...bad,
      batch: {
        ...bad.batch,
        columns: [
          bad.batch.columns[0]!,
          bad.batch.columns[1]!,
          { type: DataType.String, values: ["x"], validity: null },
        ],
      },
    };
    await expect(engine.write("public", "cpu", conflicting)).rejects.toThrow(WriteError);
    await expect(engine.write("public", "", cpuRows([{ host: "a", ts: 2, usage: 2 }]))).rejects.toThrow(
      /table name is empty/,
    );
    expect(await scanAll(engine, "cpu", project)).toEqual([{ host: "a", ts: 1, usage: 1 }]);
    expect(engine.table("public", "cpu")?.schema.version).toBe(1);
    expect(engine.tables()).toHaveLength(1);
  });

  it("drops a table: gone at once, gone after reopening, its objects deleted", async () => {
    engine = await dir.open();
    await engine.write("public", "cpu", cpuRows([{ host: "a", ts: 1, usage: 1 }]));
    await engine.flush();
    const id = engine.table("public", "cpu")?.id;
    await engine.write("public", "cpu", cpuRows([{ host: "a", ts: 2, usage: 1 }]));
    expect(engine.decodedCacheStats()?.bytes).toBeGreaterThan(0);
    expect(await engine.dropTable("public", "cpu")).toBe(true);
    expect(engine.table("public", "cpu")).toBeUndefined();
    // Its decoded columns go with its files.
    await vi.waitFor(() => expect(engine?.decodedCacheStats()?.bytes).toBe(0));
    await engine.close();
    engine = await dir.open();
    expect(engine.tables()).toEqual([]);
    const tablesDir = join(dir.dataDir, "store", "standalone", "tables", String(id));
    const left = await readdir(tablesDir, { recursive: true }).catch(() => []);
    expect(left.filter((f) => f.endsWith(".json") || f.endsWith(".parquet"))).toEqual([]);
    // A new table with the same name starts empty and gets a new id.
    await engine.write("public", "cpu", cpuRows([{ host: "b", ts: 3, usage: 3 }]));
    expect(engine.table("public", "cpu")?.id).not.toBe(id);
    expect(await scanAll(engine, "cpu", project)).toEqual([{ host: "b", ts: 3, usage: 3 }]);
  });

  it("truncates the WAL below what the tables still need after a flush", async () => {
    engine = await dir.open({ walSegmentBytes: 64 * 1024 });
    for (let i = 0; i < 40; i++) {
      const rows = Array.from({ length: 100 }, (_, r) => ({ host: `h${r}`, ts: i * 1000, usage: r }));
      await engine.write("public", "cpu", cpuRows(rows));
    }
    const walDir = join(dir.dataDir, "wal", "shard-0");
    const before = (await readdir(walDir)).length;
    await engine.flush();
    const after = (await readdir(walDir)).length;
    expect(before).toBeGreaterThan(2);
    expect(after).toBeLessThan(before);
    await engine.close();
    engine = await dir.open();
    expect(await scanAll(engine, "cpu", project)).toHaveLength(4000);
  });
});

/** Rows [start, end) of the batch, as a batch of its own. */
function sliceRows(batch: ColumnBatch, start: number, end: number): ColumnBatch {
  const columns = batch.columns.map((c): Column => ({
    type: c.type,
    values: c.values.slice(start, end),
    validity: c.validity?.slice(start, end) ?? null,
  }));
  return { names: batch.names, columns, numRows: end - start };
}

/** The batch's rows as arrays of plain values (null for nulls). */
function rowsOfBatch(batch: ColumnBatch): unknown[][] {
  const rows: unknown[][] = [];
  for (let r = 0; r < batch.numRows; r++) rows.push(batch.columns.map((c) => cellAt(c, r)));
  return rows;
}
