import { afterEach, describe, expect, it } from "vitest";
import { flushMemtable } from "../../src/engine/flush.js";
import { SstEncoderPool, SstWriter } from "../../src/sst/index.js";
import {
  keyedBatch,
  keyedSchema,
  tableHarness,
  type KeyedRow,
  type TableHarness,
} from "./compaction-fixtures.js";
import { cpuRows, scanAll, tempEngineDir } from "./engine-fixtures.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Rows of hosts a and b every 10 minutes over [from, to). */
function rowsBetween(from: number, to: number): KeyedRow[] {
  const rows: KeyedRow[] = [];
  for (let ts = from; ts < to; ts += 10 * 60_000) {
    for (const host of ["a", "b"]) rows.push({ host, ts, value: ts / 60_000 + (host === "a" ? 0 : 0.5) });
  }
  return rows;
}

describe("flushMemtable", () => {
  let h: TableHarness | undefined;
  let pool: SstEncoderPool | undefined;
  afterEach(async () => {
    await pool?.close();
    pool = undefined;
    await h?.cleanup();
    h = undefined;
  });

  /** Appends the rows as one write and freezes the memtable. */
  function frozenWith(harness: TableHarness, rows: readonly KeyedRow[], sequence: number) {
    harness.table.memtables.append(keyedBatch(rows), sequence);
    const frozen = harness.table.memtables.switchMemtable();
    if (frozen === undefined) throw new Error("nothing to flush");
    return frozen;
  }

  it("does not write rows past the TTL: expired segments get no file, the cut one only its live rows", async () => {
    h = await tableHarness(keyedSchema(), { ttl: "1d", segment_duration: "2h" });
    const now = 10 * DAY + HOUR; // cutoff 9d + 1h
    const cutoff = now - DAY;
    const rows = rowsBetween(8 * DAY, 9 * DAY + 4 * HOUR);
    const frozen = frozenWith(h, rows, 7);
    const result = await flushMemtable(h.table, frozen, {
      store: h.store,
      layout: h.layout,
      sstWriter: new SstWriter(),
      now: () => now,
    });

    const live = rows.filter((r) => r.ts >= cutoff);
    expect(result.rows).toBe(live.length);
    expect(result.flushedSequence).toBe(7);
    expect(h.table.flushedSequence).toBe(7);
    // Segments [9d, 9d+2h) (cut at 9d+1h) and [9d+2h, 9d+4h); nothing of the 8d..9d ones.
    expect(h.files().map((f) => [f.timeRange.min, f.timeRange.max, f.rowCount])).toEqual([
      [cutoff, 9 * DAY + 2 * HOUR - 10 * 60_000, 12],
      [9 * DAY + 2 * HOUR, 9 * DAY + 4 * HOUR - 10 * 60_000, 24],
    ]);
    expect(await h.sstObjects()).toHaveLength(2);
    h.now = now;
    expect(await h.rows()).toEqual(
      live.map((r) => ({ host: r.host, ts: r.ts, value: r.value })).sort(byJson),
    );
    expect(h.table.memtables.immutables).toHaveLength(0);
  });

  it("writes no file for a memtable whose rows have all expired, and still advances the flushed sequence", async () => {
    h = await tableHarness(keyedSchema(), { ttl: "1d", segment_duration: "2h" });
    const nextFileId = h.table.manifest.state.nextFileId;
    const frozen = frozenWith(h, rowsBetween(DAY, 2 * DAY), 11);
    const result = await flushMemtable(h.table, frozen, {
      store: h.store,
      layout: h.layout,
      sstWriter: new SstWriter(),
      now: () => 5 * DAY,
    });
    expect(result).toEqual({ rows: 0, files: [], flushedSequence: 11 });
    expect(h.table.flushedSequence).toBe(11);
    expect(h.files()).toEqual([]);
    expect(await h.sstObjects()).toEqual([]);
    expect(h.table.manifest.state.nextFileId).toBe(nextFileId);
    expect(h.table.memtables.immutables).toHaveLength(0);
    expect(h.table.memtables.minSequence).toBeUndefined();
  });

  it("keeps every row without a clock, and of a table without TTL", async () => {
    const tableOptions: Array<Record<string, string>> = [{ ttl: "1d" }, { enable_ttl: "false", ttl: "1d" }];
    for (const options of tableOptions) {
      const harness = await tableHarness(keyedSchema(), { ...options, segment_duration: "1d" });
      try {
        const rows = rowsBetween(DAY, 2 * DAY);
        const frozen = frozenWith(harness, rows, 3);
        const withClock = options.enable_ttl === "false" ? { now: () => 100 * DAY } : {};
        const result = await flushMemtable(harness.table, frozen, {
          store: harness.store,
          layout: harness.layout,
          sstWriter: new SstWriter(),
          ...withClock,
        });
        expect(result.rows).toBe(rows.length);
        expect(harness.files().map((f) => f.rowCount)).toEqual([rows.length]);
      } finally {
        await harness.cleanup();
      }
    }
  });

  it("writes the same files through encoder workers, several segments at once", async () => {
    const rows = rowsBetween(0, 12 * HOUR);
    const written: Array<Array<[number, number, number]>> = [];
    for (const workers of [0, 2]) {
      const harness = await tableHarness(keyedSchema(), { segment_duration: "1h", enable_ttl: "false" });
      try {
        if (workers > 0) pool = new SstEncoderPool({ workers });
        const sstWriter = new SstWriter(pool === undefined ? {} : { pool, inThreadMaxRows: 0 });
        expect(sstWriter.encodeParallelism).toBe(Math.max(1, workers));
        const frozen = frozenWith(harness, rows, 1);
        await flushMemtable(harness.table, frozen, {
          store: harness.store,
          layout: harness.layout,
          sstWriter,
        });
        written.push(harness.files().map((f) => [f.timeRange.min, f.rowCount, f.size]));
        expect(await harness.rows()).toEqual(
          rows.map((r) => ({ host: r.host, ts: r.ts, value: r.value })).sort(byJson),
        );
        if (pool !== undefined) expect(pool.stats().completed).toBe(12);
      } finally {
        await harness.cleanup();
      }
    }
    expect(written[0]).toHaveLength(12);
    expect(written[1]).toEqual(written[0]);
  });
});

function byJson(a: object, b: object): number {
  return JSON.stringify(a).localeCompare(JSON.stringify(b));
}

describe("engine flush and the TTL", () => {
  it("writes only the rows inside the table's TTL to SSTs, and the expired ones do not come back after a restart", async () => {
    const dir = await tempEngineDir();
    const now = 10 * DAY;
    try {
      let engine = await dir.open({ now: () => now });
      // The default TTL is 7 days: rows before day 3 are past it when flushed.
      const expired = [0.5, 1, 2.5].map((d) => ({ host: "a", ts: d * DAY, usage: d }));
      const live = [3.5, 8, 9.9].map((d) => ({ host: "a", ts: d * DAY, usage: d }));
      await engine.write("public", "cpu", cpuRows([...expired, ...live]));
      await engine.flush();
      const files = engine.sstFiles("public", "cpu");
      expect(files.reduce((sum, f) => sum + f.rowCount, 0)).toBe(live.length);
      expect(Math.min(...files.map((f) => f.timeRange.min))).toBe(3.5 * DAY);
      await engine.close();

      // Reopened with a clock before any row expired: only what the flush kept is there.
      engine = await dir.open({ now: () => 4 * DAY });
      expect((await scanAll(engine, "cpu")).map((r) => r.ts)).toEqual(live.map((r) => r.ts));
      await engine.close();
    } finally {
      await dir.cleanup();
    }
  });
});
