import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { cellAt, type Column } from "../../src/batch/column.js";
import type { ColumnBatch } from "../../src/batch/column-batch.js";
import type { StorageEngine } from "../../src/engine/engine.js";
import { openStandaloneEngine, type StandaloneEngineOptions } from "../../src/engine/standalone.js";
import type { ScanRequest } from "../../src/engine/scan.js";
import type { WriteRows } from "../../src/engine/write-validation.js";
import { DataType, type CellValue } from "../../src/table/data-type.js";
import { TableSchema } from "../../src/table/schema.js";

export const silentLogger = pino({ level: "silent" });

export interface CpuRow {
  host: string;
  ts: number;
  usage: number | null;
}

/** Rows of a `cpu` table: TAG host, timestamp ts, double usage. */
export function cpuRows(rows: readonly CpuRow[]): WriteRows {
  const usage: Column = {
    type: DataType.Double,
    values: Float64Array.from(rows, (r) => r.usage ?? 0),
    validity: rows.some((r) => r.usage === null)
      ? Uint8Array.from(rows, (r) => (r.usage === null ? 0 : 1))
      : null,
  };
  const batch: ColumnBatch = {
    names: ["host", "ts", "usage"],
    columns: [
      { type: DataType.String, values: rows.map((r) => r.host), validity: null },
      { type: DataType.Timestamp, values: Float64Array.from(rows, (r) => r.ts), validity: null },
      usage,
    ],
    numRows: rows.length,
  };
  return { batch, tagNames: new Set(["host"]), timestampColumn: "ts" };
}

/** The schema of `cpuRows`' table: TAG host, timestamp ts, double usage. */
export function cpuSchema(): TableSchema {
  return TableSchema.create({
    timestampColumn: "ts",
    columns: [
      { name: "host", type: DataType.String, isTag: true },
      { name: "ts", type: DataType.Timestamp },
      { name: "usage", type: DataType.Double },
    ],
  });
}

/** Every row a scan returns, as plain objects of the projected columns, sorted for comparison. */
export async function scanAll(
  engine: StorageEngine,
  table: string,
  request: ScanRequest = {},
): Promise<Record<string, CellValue>[]> {
  const out: Record<string, CellValue>[] = [];
  for await (const batch of engine.scan("public", table, request)) {
    for (let r = 0; r < batch.numRows; r++) {
      const row: Record<string, CellValue> = {};
      batch.names.forEach((name, c) => (row[name] = cellAt(batch.columns[c] as Column, r)));
      out.push(row);
    }
  }
  return out.sort((a, b) => JSON.stringify(a, replacer).localeCompare(JSON.stringify(b, replacer)));
}

function replacer(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}

/**
 * The engine clock of tests: rows are written at small timestamps (early 1970), and the default TTL
 * of 7 days, counted from the real time, would hide them all. One day after the epoch keeps them.
 */
export const FIXTURE_NOW_MS = 24 * 3_600_000;

export interface TempEngine {
  readonly dataDir: string;
  open(overrides?: Partial<StandaloneEngineOptions>): Promise<StorageEngine>;
  cleanup(): Promise<void>;
}

export async function tempEngineDir(): Promise<TempEngine> {
  const dataDir = await mkdtemp(join(tmpdir(), "horaedb-engine-"));
  return {
    dataDir,
    open: (overrides = {}) =>
      openStandaloneEngine({
        dataDir,
        logger: silentLogger,
        encoderWorkers: 0,
        fsyncObjects: false,
        flushCheckIntervalMs: 60_000,
        now: () => FIXTURE_NOW_MS,
        ...overrides,
      }),
    cleanup: () => rm(dataDir, { recursive: true, force: true }),
  };
}
