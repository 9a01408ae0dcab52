/**
 * Table scans over SSTs sorted by series (cut into row ranges per series run) and over everything
 * else (merged overlapping SSTs, memtables, explicit primary keys: filtered row by row), with and
 * without the decoded column cache, checked against a model of the table; and the lastPerSeries
 * scan checked against the full scan: last() per group must come out the same.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cellAt, type Column } from "../../src/batch/column.js";
import type { ColumnBatch } from "../../src/batch/column-batch.js";
import type { StorageEngine } from "../../src/engine/engine.js";
import type { RowPredicate } from "../../src/engine/row-filter.js";
import type { ScanRequest } from "../../src/engine/scan.js";
import { MAX_TAG_BLOOM_VALUES } from "../../src/sst/index.js";
import type { CellValue } from "../../src/table/data-type.js";
import type { TableSchema } from "../../src/table/schema.js";
import { lcgRandom } from "../../src/testing/tsbs.js";
import { tempEngineDir, type TempEngine } from "./engine-fixtures.js";
import {
  applyRows,
  COLUMNS,
  lastPerGroup,
  schemaOf,
  subsets,
  text,
  writeRows,
  type Row,
} from "./host-table.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const STEP = 5 * MINUTE;
const END = 10 * HOUR;

/** Series (host, region): h2 has two, h4 has no region, h5's x is always null. */
const SERIES: ReadonlyArray<readonly [string, string | null]> = [
  ["h0", "r0"],
  ["h1", "r0"],
  ["h2", "r1"],
  ["h2", "r2"],
  ["h3", "r1"],
  ["h4", null],
  ["h5", "r2"],
];

/** A table written in three steps, and what it must hold. */
interface TableCase {
  readonly name: string;
  readonly options: Record<string, string>;
  readonly schema: TableSchema;
  /** Identity of a row for overwrites; undefined for APPEND (every row kept). */
  readonly keyOf: ((r: Row) => string) | undefined;
  readonly model: Row[];
}

const random = lcgRandom(2024);
const value = (nullChance: number) => (random() < nullChance ? null : Math.round(random() * 1000) / 10);
const shuffle = <T>(items: T[]): T[] => {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
};

function point([host, region]: readonly [string, string | null], ts: number): Row {
  const y = random() < 0.5 ? null : BigInt(Math.floor(random() * 100));
  return { host, region, ts, x: host === "h5" ? null : value(0.3), y };
}

async function load(engine: StorageEngine, table: TableCase): Promise<void> {
  await engine.createTable("public", table.name, table.schema, {
    enable_ttl: "false",
    segment_duration: "2h",
    num_rows_per_row_group: "16",
    ...table.options,
  });
  const write = async (rows: Row[]) => {
    for (let at = 0; at < rows.length; at += 150) {
      const chunk = rows.slice(at, at + 150);
      await engine.write("public", table.name, writeRows(chunk));
      applyRows(table.model, table.keyOf, chunk);
    }
  };
  const all: Row[] = [];
  for (let ts = 0; ts < END; ts += STEP) for (const s of SERIES) all.push(point(s, ts));
  await write(shuffle(all));
  await engine.flush("public", table.name);
  // Rewrites of two segments: their SSTs now overlap and are merged when read.
  const inSegments = (r: Row) =>
    (r.ts >= 2 * HOUR && r.ts < 4 * HOUR) || (r.ts >= 6 * HOUR && r.ts < 8 * HOUR);
  await write(
    all.filter((r) => inSegments(r) && random() < 0.25).map((r) => point([r.host, r.region], r.ts)),
  );
  await engine.flush("public", table.name);
  // Left in the memtable: rewrites of the last segment and newer rows.
  const late: Row[] = all
    .filter((r) => r.ts >= 8 * HOUR && random() < 0.2)
    .map((r) => point([r.host, r.region], r.ts));
  for (let ts = END; ts < END + HOUR / 2; ts += STEP)
    for (const s of SERIES) if (random() < 0.7) late.push(point(s, ts));
  await write(late);
}

const projectionOf = (request: ScanRequest) => request.projection ?? [...COLUMNS];

/** The rows of a scan in the order it returns them, as objects of the projected columns. */
async function scanRows(engine: StorageEngine, table: string, request: ScanRequest): Promise<Row[]> {
  const rows: Row[] = [];
  for await (const batch of engine.scan("public", table, request)) {
    for (let r = 0; r < batch.numRows; r++) {
      const row: Record<string, CellValue> = {};
      batch.names.forEach((name, c) => (row[name] = cellAt(batch.columns[c] as Column, r)));
      rows.push(row as unknown as Row);
    }
  }
  return rows;
}

function expectedRows(table: TableCase, request: ScanRequest): string[] {
  const { timeRange, tagFilter } = request;
  return table.model
    .filter((r) => timeRange === undefined || (r.ts >= timeRange.start && r.ts < timeRange.end))
    .filter((r) =>
      Object.entries(tagFilter ?? {}).every(([tag, allowed]) => {
        const v = r[tag as "host" | "region"];
        return v !== null && allowed.includes(v);
      }),
    )
    .map((r) => text(projectionOf(request).map((c) => r[c as keyof Row])))
    .sort();
}

const FILTERS: ScanRequest[] = [
  {},
  { timeRange: { start: 3 * HOUR + 7 * MINUTE, end: 7 * HOUR + 2 * MINUTE } },
  { timeRange: { start: 0, end: 1 } },
  { timeRange: { start: 9 * HOUR, end: 20 * HOUR } },
  { tagFilter: { host: ["h2", "h4"] } },
  { tagFilter: { region: ["r1", "r2"] } },
  { tagFilter: { host: ["h1", "h2", "h5"], region: ["r2", "r0"] } },
  { timeRange: { start: HOUR + 3 * MINUTE, end: 8 * HOUR + 31 * MINUTE }, tagFilter: { host: ["h3"] } },
  { timeRange: { start: 5 * HOUR, end: 5 * HOUR }, tagFilter: { host: ["h0"] } },
  { tagFilter: { host: [] } },
];

const LAST_PROJECTIONS: ReadonlyArray<{ projection: string[]; columns: string[] }> = [
  { projection: ["host", "ts", "x"], columns: ["x"] },
  { projection: ["host", "region", "ts", "x", "y"], columns: ["x", "y"] },
  { projection: ["region", "ts", "y"], columns: ["y"] },
  { projection: ["ts", "x"], columns: ["x"] },
  { projection: ["y", "ts", "host", "x"], columns: ["y", "x"] },
];

describe("table scans by series runs and the decoded column cache", () => {
  let dir: TempEngine;
  let engine: StorageEngine;
  const tables: TableCase[] = [
    { name: "ow", options: {}, schema: schemaOf(), keyOf: (r) => text([r.host, r.region, r.ts]), model: [] },
    { name: "ap", options: { update_mode: "APPEND" }, schema: schemaOf(), keyOf: undefined, model: [] },
    {
      name: "pk",
      options: {},
      schema: schemaOf(["host", "ts"]),
      keyOf: (r) => text([r.host, r.ts]),
      model: [],
    },
  ];

  beforeAll(async () => {
    dir = await tempEngineDir();
    engine = await dir.open({ compaction: { paused: true } });
    for (const table of tables) await load(engine, table);
  });
  afterAll(async () => {
    await engine.close();
    await dir.cleanup();
  });

  async function checkScans(table: TableCase): Promise<void> {
    for (const filter of FILTERS) {
      const request: ScanRequest = { ...filter, batchSize: 7 };
      const rows = await scanRows(engine, table.name, request);
      expect(rows.map((r) => text(projectionOf(request).map((c) => r[c as keyof Row]))).sort()).toEqual(
        expectedRows(table, request),
      );
    }
  }

  async function checkLastPerSeries(table: TableCase): Promise<void> {
    for (const filter of FILTERS) {
      for (const { projection, columns } of LAST_PROJECTIONS) {
        const request: ScanRequest = { ...filter, projection };
        const full = await scanRows(engine, table.name, request);
        const last = await scanRows(engine, table.name, { ...request, lastPerSeries: { columns } });
        const tags = projection.filter((c) => c === "host" || c === "region");
        for (const keys of subsets(tags)) {
          expect(
            lastPerGroup(last, keys, columns),
            `${table.name} ${text(request)} by ${keys.join()}`,
          ).toEqual(lastPerGroup(full, keys, columns));
        }
        // Every returned row is a row of the full scan, in the same relative order.
        const fullText = full.map(text);
        let at = 0;
        for (const row of last.map(text)) {
          at = fullText.indexOf(row, at);
          expect(at, `${table.name} ${text(request)}: row ${row} out of order`).toBeGreaterThanOrEqual(0);
          at++;
        }
        if (full.length > 100) expect(last.length).toBeLessThan(full.length / 4);
      }
    }
  }

  it("reads SSTs by series runs and merges what overlaps: the same rows as the model", async () => {
    for (const table of tables) await checkScans(table);
    const stats = engine.decodedCacheStats();
    // Every column chunk read is one the flush that wrote it put in the cache: nothing is decoded.
    expect(stats?.misses).toBe(0);
    expect(stats?.hits).toBeGreaterThan(0);
  });

  it("returns per series the rows of last(), so last() per group is that of the full scan", async () => {
    for (const table of tables) await checkLastPerSeries(table);
  });

  it("gives the same answers decoding the SSTs, then from what it decoded", async () => {
    await engine.close();
    engine = await dir.open({ compaction: { paused: true }, prepopulateDecodedCache: false });
    for (const table of tables) await checkScans(table);
    const cold = engine.decodedCacheStats();
    for (const table of tables) await checkScans(table);
    const warm = engine.decodedCacheStats();
    expect(cold?.misses).toBeGreaterThan(0);
    // The second pass decodes nothing: every column chunk it needs is cached.
    expect(warm?.misses).toBe(cold?.misses);
    expect(warm?.hits).toBeGreaterThan(cold?.hits ?? 0);
  });

  it("gives the same answers with the decoded column cache turned off", async () => {
    await engine.close();
    engine = await dir.open({ compaction: { paused: true }, decodedCacheBytes: 0 });
    expect(engine.decodedCacheStats()).toBeUndefined();
    for (const table of tables) {
      await checkScans(table);
      await checkLastPerSeries(table);
    }
  });

  it("shows every series, also one whose columns are all null", async () => {
    const rows = await scanRows(engine, "ow", {
      projection: ["host", "region", "ts", "x"],
      tagFilter: { host: ["h5"] },
      lastPerSeries: { columns: ["x"] },
    });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ host: "h5", region: "r2", x: null });
    expect(rows[0]?.ts).toBe(
      Math.max(...(tables[0] as TableCase).model.filter((r) => r.host === "h5").map((r) => r.ts)),
    );
  });

  it("skips row groups whose series were all found in newer data, by their tag statistics", async () => {
    const request: ScanRequest = { projection: ["host", "ts", "y"] };
    const full = engine.scan("public", "ow", request);
    for await (const batch of full) void batch;
    const last = engine.scan("public", "ow", { ...request, lastPerSeries: { columns: ["y"] } });
    for await (const batch of last) void batch;
    // Every series has a non-null y in the newest hours: older row groups are not even read.
    expect(full.metrics.rowsFromSsts).toBeGreaterThan(500);
    expect(last.metrics.rowsFromSsts).toBeLessThan(full.metrics.rowsFromSsts / 4);
  });

  /**
   * A table of 40 series (w0..w39) of 2 rows each, x the series' number, flushed into row groups
   * of 64: the first group holds 32 series, too many for its statistics to list them.
   */
  async function loadWideTable(
    name: string,
    hostCount = 40,
    rowsPerGroup = 64,
  ): Promise<{ hosts: string[]; rows: Row[] }> {
    await engine.createTable("public", name, schemaOf(), {
      enable_ttl: "false",
      num_rows_per_row_group: String(rowsPerGroup),
    });
    const hosts = Array.from({ length: hostCount }, (_, h) => `w${h}`);
    const rows = hosts.flatMap((host, h) =>
      [0, STEP].map((ts): Row => ({ host, region: "r0", ts, x: h, y: null })),
    );
    await engine.write("public", name, writeRows(rows));
    await engine.flush("public", name);
    return { hosts, rows };
  }

  it("reads the other columns only of row groups where a series matches the tag filter", async () => {
    // The first row group holds more hosts than its statistics sum up (min/max only, spanning
    // nearly all of them), so a filter on any host reads it.
    const { hosts, rows } = await loadWideTable(
      "wide",
      MAX_TAG_BLOOM_VALUES + 76,
      2 * MAX_TAG_BLOOM_VALUES + 52,
    );
    let readWithoutMatch = 0;
    for (const [h, host] of hosts.entries()) {
      const scan = engine.scan("public", "wide", { tagFilter: { host: [host] } });
      const found: Row[] = [];
      for await (const batch of scan) {
        for (let r = 0; r < batch.numRows; r++) {
          found.push({
            host: cellAt(batch.columns[batch.names.indexOf("host")] as Column, r) as string,
            region: cellAt(batch.columns[batch.names.indexOf("region")] as Column, r) as string,
            ts: cellAt(batch.columns[batch.names.indexOf("ts")] as Column, r) as number,
            x: cellAt(batch.columns[batch.names.indexOf("x")] as Column, r) as number,
            y: null,
          });
        }
      }
      expect(found).toEqual(rows.slice(2 * h, 2 * h + 2));
      const { rowGroupsTotal, rowGroupsPruned, decodedCacheHits, decodedCacheMisses } = scan.metrics;
      const groupsRead = rowGroupsTotal - rowGroupsPruned;
      // A series' 2 rows are in one row group: tsid, ts and host of every row group read, the
      // other columns (region, x, y) of that one only.
      expect(decodedCacheHits + decodedCacheMisses, host).toBe(groupsRead * 3 + 3);
      readWithoutMatch += groupsRead - 1;
    }
    expect(readWithoutMatch).toBeGreaterThan(0);
  });

  /** Whether the batch's series runs hold: from 0, ascending, tags one value and times rising per run. */
  function runsHold(batch: ColumnBatch): boolean {
    const runs = batch.seriesRuns;
    if (runs === undefined) return true;
    if (runs[0] !== 0) return false;
    const tags = batch.names.flatMap((n, c) =>
      n === "host" || n === "region" ? [batch.columns[c] as Column] : [],
    );
    const ts = batch.columns[batch.names.indexOf("ts")];
    for (let r = 0; r < runs.length; r++) {
      const first = runs[r] as number;
      const end = r + 1 < runs.length ? (runs[r + 1] as number) : batch.numRows;
      if (first >= end) return false;
      for (let i = first + 1; i < end; i++) {
        for (const tag of tags) {
          if (cellAt(tag, i) !== cellAt(tag, first)) return false;
        }
        if (ts !== undefined && (ts.values as Float64Array)[i]! < (ts.values as Float64Array)[i - 1]!)
          return false;
      }
    }
    return true;
  }

  it("marks batches read in series order with runs that hold, only when asked", async () => {
    const projections = [undefined, ["host", "ts", "x"], ["region", "host", "x"], ["ts", "y"]];
    for (const table of tables) {
      let marked = 0;
      let runs = 0;
      let rows = 0;
      // Time ranges that cut runs of SSTs read on their own (0-2h, 4-6h): ranges start inside runs.
      const cuts: ScanRequest[] = [
        { timeRange: { start: HOUR + 7 * MINUTE, end: 5 * HOUR + 31 * MINUTE } },
        {
          timeRange: { start: 4 * HOUR + 20 * MINUTE, end: 4 * HOUR + 50 * MINUTE },
          tagFilter: { host: ["h2", "h4"] },
        },
      ];
      for (const filter of [...FILTERS, ...cuts]) {
        for (const projection of projections) {
          // Small batches: runs are cut across batches.
          const request: ScanRequest = {
            ...filter,
            batchSize: 7,
            ...(projection === undefined ? {} : { projection }),
          };
          const plain: string[] = [];
          for await (const batch of engine.scan("public", table.name, request)) {
            expect(batch.seriesRuns).toBeUndefined();
            for (let r = 0; r < batch.numRows; r++) plain.push(text(batch.columns.map((c) => cellAt(c, r))));
          }
          const withRuns: string[] = [];
          for await (const batch of engine.scan("public", table.name, { ...request, seriesRuns: true })) {
            expect(runsHold(batch), `${table.name} ${text(request)}`).toBe(true);
            if (batch.seriesRuns !== undefined) {
              marked++;
              runs += batch.seriesRuns.length;
              rows += batch.numRows;
            }
            for (let r = 0; r < batch.numRows; r++)
              withRuns.push(text(batch.columns.map((c) => cellAt(c, r))));
          }
          // The same rows in the same order.
          expect(withRuns).toEqual(plain);
        }
      }
      if (table.name === "pk") {
        // No tsid: rows are not in series order.
        expect(marked).toBe(0);
      } else {
        expect(marked).toBeGreaterThan(0);
        // Runs are series, not rows.
        expect(rows / runs).toBeGreaterThan(2);
      }
    }
  });

  it("refuses lastPerSeries columns that are not projected", () => {
    expect(() =>
      engine.scan("public", "ow", { projection: ["host", "ts"], lastPerSeries: { columns: ["x"] } }),
    ).toThrow(/not projected/);
  });

  it("with a predicate, returns exactly the rows of a plain scan that pass it, in the same order", async () => {
    const thresholds = [-1, 30, 90, 1000];
    let pruned = 0;
    for (const table of tables) {
      let dropped = 0;
      for (const filter of FILTERS) {
        for (const threshold of thresholds) {
          const predicate = xAbove(threshold, threshold !== 30);
          const request: ScanRequest = { ...filter, projection: ["host", "region", "ts", "x"], batchSize: 7 };
          const plain = await scanRows(engine, table.name, request);
          const scan = engine.scan("public", table.name, { ...request, predicate });
          const returned: Row[] = [];
          for await (const batch of scan) {
            for (let r = 0; r < batch.numRows; r++) returned.push(rowOf(batch, r));
          }
          const passes = (r: Row) => r.x !== null && r.x > threshold;
          // Every path (SSTs alone, memtable, merged overlaps, explicit keys) applies it.
          expect(returned.map(text), `${table.name} ${text(request)} x > ${threshold}`).toEqual(
            plain.filter(passes).map(text),
          );
          dropped += scan.metrics.rowsDroppedByPredicate;
          pruned += scan.metrics.seriesPrunedByPredicate;
        }
        // A predicate every row passes leaves every row in.
        const everyRow: RowPredicate = {
          columns: ["x"],
          select: (b) => Uint32Array.from(b.columns[0]!.values.keys()),
        };
        const request: ScanRequest = { ...filter, projection: ["x", "host", "region", "ts"] };
        const scan = engine.scan("public", table.name, { ...request, predicate: everyRow });
        const all: Row[] = [];
        for await (const batch of scan) for (let r = 0; r < batch.numRows; r++) all.push(rowOf(batch, r));
        expect(all.map(text)).toEqual((await scanRows(engine, table.name, request)).map(text));
        expect(scan.metrics.rowsDroppedByPredicate).toBe(0);
      }
      // Part of the data is in SSTs read on their own: there the predicate is applied.
      expect(dropped, table.name).toBeGreaterThan(0);
    }
    // Some series hold no x above a threshold: their rows are not read at all.
    expect(pruned).toBeGreaterThan(0);
  });

  it("reads the other columns only of row groups where a row passes the predicate", async () => {
    // x > 38 holds in one row group only.
    const { rows } = await loadWideTable("wide_predicate");
    const scan = engine.scan("public", "wide_predicate", {
      projection: ["host", "region", "ts", "x", "y"],
      predicate: xAbove(38, false),
    });
    const found: Row[] = [];
    for await (const batch of scan) for (let r = 0; r < batch.numRows; r++) found.push(rowOf(batch, r));
    expect(found).toEqual(rows.slice(78));
    const { rowGroupsTotal, rowGroupsPruned, decodedCacheHits, decodedCacheMisses } = scan.metrics;
    const groupsRead = rowGroupsTotal - rowGroupsPruned;
    expect(groupsRead).toBeGreaterThan(1);
    // tsid, ts and x of every row group read; host, region and y of the one holding w39 only.
    expect(decodedCacheHits + decodedCacheMisses).toBe(groupsRead * 3 + 3);
    expect(scan.metrics.rowsDroppedByPredicate).toBe(78);
    // Told that x > 38, the scan skips the series whose x never exceeds it, testing none of their rows.
    const told = engine.scan("public", "wide_predicate", {
      projection: ["host", "region", "ts", "x", "y"],
      predicate: xAbove(38),
    });
    const same: Row[] = [];
    for await (const batch of told) for (let r = 0; r < batch.numRows; r++) same.push(rowOf(batch, r));
    expect(same).toEqual(found);
    expect(told.metrics.rowsDroppedByPredicate).toBe(0);
    expect(told.metrics.seriesPrunedByPredicate).toBeGreaterThan(0);
  });

  it("refuses a predicate on columns not projected, or with lastPerSeries", () => {
    expect(() => engine.scan("public", "ow", { projection: ["host", "ts"], predicate: xAbove(1) })).toThrow(
      /predicate column "x" is not projected/,
    );
    expect(() =>
      engine.scan("public", "ow", {
        projection: ["host", "ts", "x"],
        predicate: xAbove(1),
        lastPerSeries: { columns: ["x"] },
      }),
    ).toThrow(/not both/);
    const stray: RowPredicate = { ...xAbove(1), comparisons: [{ column: "y", op: ">", value: 1 }] };
    expect(() => engine.scan("public", "ow", { projection: ["host", "ts", "x"], predicate: stray })).toThrow(
      /comparison column "y" is not one of its columns/,
    );
  });
});

/**
 * The predicate x > threshold (null never passes); with `comparisons`, saying so, which lets the
 * scan skip series by their values.
 */
function xAbove(threshold: number, comparisons = true): RowPredicate {
  return {
    columns: ["x"],
    ...(comparisons ? { comparisons: [{ column: "x", op: ">" as const, value: threshold }] } : {}),
    select(batch: ColumnBatch): Uint32Array {
      const x = batch.columns[batch.names.indexOf("x")] as Column;
      const rows: number[] = [];
      for (let r = 0; r < batch.numRows; r++) {
        const v = cellAt(x, r);
        if (v !== null && (v as number) > threshold) rows.push(r);
      }
      return Uint32Array.from(rows);
    },
  };
}

/** Row `r` of a batch, as an object of its columns. */
function rowOf(batch: ColumnBatch, r: number): Row {
  const row: Record<string, CellValue> = {};
  batch.names.forEach((name, c) => (row[name] = cellAt(batch.columns[c] as Column, r)));
  return row as unknown as Row;
}
