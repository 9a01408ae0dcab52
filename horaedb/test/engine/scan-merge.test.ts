/**
 * Scans of tables whose newest stretch of time is held by several overlapping sources (SSTs of
 * successive flushes, and the memtable), as right after a bulk ingest: random writes, random scan
 * requests (time ranges, tag filters, projections, batch sizes), checked against a model of the
 * table, for both update modes and for tsid and explicit primary keys. lastPerSeries scans are
 * checked against the full scan: last() per group must come out the same.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cellAt, type Column } from "../../src/batch/column.js";
import type { StorageEngine } from "../../src/engine/engine.js";
import type { ScanMetrics, ScanRequest } from "../../src/engine/scan.js";
import type { CellValue } from "../../src/table/data-type.js";
import type { TableSchema } from "../../src/table/schema.js";
import { mulberry32 } from "../../src/testing/tsbs.js";
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
type ColumnName = (typeof COLUMNS)[number];

const HOSTS = ["h0", "h1", "h2", "h3", "h4", "h5", "h6", "h7", "h8", "h9"];
const REGIONS = ["r0", "r1", "r2", null];

interface TableCase {
  readonly name: string;
  readonly options: Record<string, string>;
  readonly schema: TableSchema;
  /** A row's primary key; undefined for APPEND (every row kept). */
  readonly keyOf: ((r: Row) => string) | undefined;
  /** Whether a host's region may change between writes of one key. */
  readonly regionVaries: boolean;
  readonly model: Row[];
}

const random = mulberry32(4242);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
const someOf = <T>(items: readonly T[], chance: number): T[] => items.filter(() => random() < chance);

/** A host's usual region (a series of a tsid table is a host and a region). */
const regionOf = (host: string) => REGIONS[HOSTS.indexOf(host) % REGIONS.length] as string | null;

function randomRow(table: TableCase, from: number, to: number): Row {
  const host = pick(HOSTS);
  const region = table.regionVaries && random() < 0.3 ? pick(REGIONS) : regionOf(host);
  const ts = (from + Math.floor(random() * (to - from))) * MINUTE;
  // h9's x is always null: a series whose last() of x is null.
  const x = host === "h9" || random() < 0.25 ? null : Math.round(random() * 1000) / 10;
  const y = random() < 0.4 ? null : BigInt(Math.floor(random() * 100));
  return { host, region, ts, x, y };
}

/**
 * Five rounds of writes over overlapping stretches of time, each flushed but the last: SSTs of
 * several generations and the memtable share the newest minutes.
 */
async function load(engine: StorageEngine, table: TableCase): Promise<void> {
  await engine.createTable("public", table.name, table.schema, {
    enable_ttl: "false",
    segment_duration: "2h",
    num_rows_per_row_group: "8",
    ...table.options,
  });
  const rounds: Array<[number, number, number]> = [
    [0, 40, 200],
    [20, 45, 120],
    [30, 50, 120],
    [35, 50, 80],
    [38, 52, 90],
  ];
  for (const [i, [from, to, count]] of rounds.entries()) {
    const rows = Array.from({ length: count }, () => randomRow(table, from, to));
    for (let at = 0; at < rows.length; at += 37) {
      const chunk = rows.slice(at, at + 37);
      await engine.write("public", table.name, writeRows(chunk));
      applyRows(table.model, table.keyOf, chunk);
    }
    if (i < rounds.length - 1) await engine.flush("public", table.name);
  }
}

function randomRequest(): ScanRequest {
  const request: {
    timeRange?: { start: number; end: number };
    tagFilter?: Record<string, string[]>;
    batchSize?: number;
  } = {};
  if (random() < 0.6) {
    const start = Math.floor(random() * 55) * MINUTE + (random() < 0.3 ? 7 : 0);
    request.timeRange = { start, end: start + Math.floor(random() * 30) * MINUTE };
  }
  const filter: Record<string, string[]> = {};
  if (random() < 0.5) filter.host = someOf(HOSTS, random() < 0.5 ? 0.15 : 0.5);
  if (random() < 0.3) filter.region = someOf(["r0", "r1", "r2"], 0.5);
  if (Object.keys(filter).length > 0) request.tagFilter = filter;
  if (random() < 0.7) request.batchSize = 1 + Math.floor(random() * 20);
  return request;
}

function matches(request: ScanRequest, row: Row): boolean {
  const { timeRange, tagFilter } = request;
  if (timeRange !== undefined && !(row.ts >= timeRange.start && row.ts < timeRange.end)) return false;
  return Object.entries(tagFilter ?? {}).every(([tag, allowed]) => {
    const value = row[tag as "host" | "region"];
    return value !== null && allowed.includes(value);
  });
}

interface ScanResult {
  readonly rows: Row[];
  readonly metrics: ScanMetrics;
  readonly batchSizes: number[];
}

async function scan(engine: StorageEngine, table: string, request: ScanRequest): Promise<ScanResult> {
  const rows: Row[] = [];
  const batchSizes: number[] = [];
  const tableScan = engine.scan("public", table, request);
  for await (const batch of tableScan) {
    batchSizes.push(batch.numRows);
    for (let r = 0; r < batch.numRows; r++) {
      const row: Record<string, CellValue> = {};
      batch.names.forEach((name, c) => (row[name] = cellAt(batch.columns[c] as Column, r)));
      rows.push(row as unknown as Row);
    }
  }
  return { rows, metrics: tableScan.metrics, batchSizes };
}

describe("scans over overlapping SSTs and the memtable", () => {
  let dir: TempEngine;
  let engine: StorageEngine;
  const tables: TableCase[] = [
    {
      name: "tsid_overwrite",
      options: {},
      schema: schemaOf(),
      keyOf: (r) => text([r.host, r.region, r.ts]),
      regionVaries: false,
      model: [],
    },
    {
      name: "tsid_append",
      options: { update_mode: "APPEND" },
      schema: schemaOf(),
      keyOf: undefined,
      regionVaries: false,
      model: [],
    },
    {
      name: "pk_overwrite",
      options: {},
      schema: schemaOf(["host", "ts"]),
      keyOf: (r) => text([r.host, r.ts]),
      regionVaries: true,
      model: [],
    },
    {
      name: "pk_append",
      options: { update_mode: "APPEND" },
      schema: schemaOf(["host", "ts"]),
      keyOf: undefined,
      regionVaries: true,
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

  it("holds overlapping SSTs and memtable rows", () => {
    for (const table of tables) expect(engine.sstFiles("public", table.name).length).toBe(4);
  });

  for (const table of tables) {
    it(`returns the model's rows: ${table.name}`, async () => {
      let merged = 0;
      for (let round = 0; round < 60; round++) {
        const projection = random() < 0.5 ? undefined : someOf(COLUMNS, 0.6);
        const request: ScanRequest = {
          ...randomRequest(),
          ...(projection === undefined || projection.length === 0 ? {} : { projection }),
        };
        const names = request.projection ?? COLUMNS;
        const { rows, metrics, batchSizes } = await scan(engine, table.name, request);
        const expected = table.model
          .filter((r) => matches(request, r))
          .map((r) => text(names.map((c) => r[c as ColumnName])))
          .sort();
        expect(rows.map((r) => text(names.map((c) => r[c as ColumnName]))).sort(), text(request)).toEqual(
          expected,
        );
        for (const size of batchSizes) expect(size).toBeLessThanOrEqual(request.batchSize ?? 8192);
        merged += metrics.rowsMerged;
      }
      expect(merged).toBeGreaterThan(0);
    });

    it(`returns per series the rows of last(), as the full scan: ${table.name}`, async () => {
      let fullMerged = 0;
      let lastMerged = 0;
      for (let round = 0; round < 50; round++) {
        const filter = randomRequest();
        const tags = someOf(["host", "region"], 0.6);
        const columns = someOf(["x", "y"], 0.6);
        if (columns.length === 0) columns.push(pick(["x", "y"]));
        const projection = [...tags, "ts", ...columns].sort(() => random() - 0.5);
        const request: ScanRequest = { ...filter, projection };
        const full = await scan(engine, table.name, request);
        const last = await scan(engine, table.name, { ...request, lastPerSeries: { columns } });
        for (const keys of subsets(tags)) {
          expect(
            lastPerGroup(last.rows, keys, columns),
            `${table.name} ${text(request)} by ${keys.join()}`,
          ).toEqual(lastPerGroup(full.rows, keys, columns));
        }
        // Every returned row is a row of the full scan, in the same relative order.
        const fullText = full.rows.map(text);
        let at = 0;
        for (const row of last.rows.map(text)) {
          at = fullText.indexOf(row, at);
          expect(at, `${table.name} ${text(request)}: row ${row} out of order`).toBeGreaterThanOrEqual(0);
          at++;
        }
        fullMerged += full.metrics.rowsMerged;
        lastMerged += last.metrics.rowsMerged;
      }
      expect(fullMerged).toBeGreaterThan(0);
      // OVERWRITE tables keyed by tsid walk each series' newest rows instead of merging them all.
      if (table.name === "tsid_overwrite") expect(lastMerged).toBeLessThan(fullMerged / 4);
    });
  }
});
