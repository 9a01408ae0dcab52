/**
 * A temporary storage engine with known data for query tests, and helpers to run SQL on it.
 *
 * Table `cpu` (TAGs host and region, timestamp key ts, fields of most types) holds 3 hosts x 6
 * points, 30 s apart from T0, written in three steps: the first three points of every host flushed
 * to one SST, the next three to another, then an overwrite of two rows and one late row left in
 * the memtable. `readings` spreads rows over three days (one SST per day) to show pruning. `ticks`
 * holds many rows for reads in time order (see ticksRows). `empty` has a schema and no rows.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import type { Column } from "../../src/batch/column.js";
import type { StorageEngine } from "../../src/engine/engine.js";
import { openStandaloneEngine } from "../../src/engine/standalone.js";
import type { WriteRows } from "../../src/engine/write-validation.js";
import {
  executeSelect,
  explain,
  resultRowArrays,
  type QueryOptions,
  type QueryResult,
} from "../../src/query/index.js";
import { parseStatement } from "../../src/sql/index.js";
import { DataType, type CellValue } from "../../src/table/data-type.js";
import { TableSchema } from "../../src/table/schema.js";

export const T0 = Date.UTC(2024, 0, 1);
export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** now() of the tests: T0 plus 3 minutes, after every row of `cpu`. */
export const NOW = T0 + 3 * MINUTE;

export interface CpuRow {
  host: string;
  region: string;
  ts: number;
  usage_user: number | null;
  usage_system: number;
  requests: bigint | null;
  cores: number;
  healthy: boolean | null;
  note: string | null;
}

function column(type: DataType, values: Column["values"], nulls: readonly boolean[]): Column {
  return { type, values, validity: nulls.some((x) => x) ? Uint8Array.from(nulls, (x) => (x ? 0 : 1)) : null };
}

export function cpuWriteRows(rows: readonly CpuRow[]): WriteRows {
  const none = rows.map(() => false);
  const batch = {
    names: ["host", "region", "ts", "usage_user", "usage_system", "requests", "cores", "healthy", "note"],
    columns: [
      column(
        DataType.String,
        rows.map((r) => r.host),
        none,
      ),
      column(
        DataType.String,
        rows.map((r) => r.region),
        none,
      ),
      column(
        DataType.Timestamp,
        Float64Array.from(rows, (r) => r.ts),
        none,
      ),
      column(
        DataType.Double,
        Float64Array.from(rows, (r) => r.usage_user ?? 0),
        rows.map((r) => r.usage_user === null),
      ),
      column(
        DataType.Double,
        Float64Array.from(rows, (r) => r.usage_system),
        none,
      ),
      column(
        DataType.Int64,
        BigInt64Array.from(rows, (r) => r.requests ?? 0n),
        rows.map((r) => r.requests === null),
      ),
      column(
        DataType.Int32,
        Int32Array.from(rows, (r) => r.cores),
        none,
      ),
      column(
        DataType.Boolean,
        Uint8Array.from(rows, (r) => (r.healthy === true ? 1 : 0)),
        rows.map((r) => r.healthy === null),
      ),
      column(
        DataType.String,
        rows.map((r) => r.note ?? ""),
        rows.map((r) => r.note === null),
      ),
    ],
    numRows: rows.length,
  };
  return { batch, tagNames: new Set(["host", "region"]), timestampColumn: "ts" };
}

export const CPU_SCHEMA = TableSchema.create({
  timestampColumn: "ts",
  columns: [
    { name: "host", type: DataType.String, isTag: true },
    { name: "region", type: DataType.String, isTag: true },
    { name: "ts", type: DataType.Timestamp },
    { name: "usage_user", type: DataType.Double },
    { name: "usage_system", type: DataType.Double },
    { name: "requests", type: DataType.Int64 },
    { name: "cores", type: DataType.Int32 },
    { name: "healthy", type: DataType.Boolean },
    { name: "note", type: DataType.String },
  ],
});

const HOSTS = [
  { host: "a", region: "us", cores: 4 },
  { host: "b", region: "us", cores: 8 },
  { host: "c", region: "eu", cores: 2 },
];

/** Point k (0..5) of host h: deterministic values with NULLs sprinkled in. */
function cpuPoint(h: number, k: number): CpuRow {
  const spec = HOSTS[h] as (typeof HOSTS)[number];
  return {
    host: spec.host,
    region: spec.region,
    ts: T0 + k * 30 * SECOND,
    usage_user: h === 1 && k === 2 ? null : 10 * (h + 1) + k,
    usage_system: 1.5 * k + h,
    requests: h === 2 && k === 4 ? null : BigInt(100 * (h + 1) + 10 * k),
    cores: spec.cores,
    healthy: k === 3 ? null : (h + k) % 2 === 0,
    note: k === 0 ? `start ${spec.host}` : k === 5 ? null : `${spec.host}-${k}`,
  };
}

/** The rows of `cpu` as a query sees them, after the overwrites. */
export function visibleCpuRows(): CpuRow[] {
  const rows: CpuRow[] = [];
  for (let h = 0; h < HOSTS.length; h++) for (let k = 0; k < 6; k++) rows.push(overwritten(cpuPoint(h, k)));
  return rows;
}

/** The memtable overwrites: host a at point 1 and host b at point 4 get new usage values. */
function overwritten(row: CpuRow): CpuRow {
  if (row.host === "a" && row.ts === T0 + 30 * SECOND) return { ...row, usage_user: 99, note: "overwritten" };
  if (row.host === "b" && row.ts === T0 + 120 * SECOND) return { ...row, usage_user: 0.5 };
  return row;
}

const READINGS_SCHEMA = TableSchema.create({
  timestampColumn: "ts",
  columns: [
    { name: "sensor", type: DataType.String, isTag: true },
    { name: "ts", type: DataType.Timestamp },
    { name: "value", type: DataType.Double },
  ],
});

/** `readings`: sensors s0..s3, one row per sensor per hour over 3 days; one SST per day. */
function readingsRows(day: number): WriteRows {
  const sensors: string[] = [];
  const ts: number[] = [];
  const values: number[] = [];
  for (let hour = 0; hour < 24; hour++) {
    for (let s = 0; s < 4; s++) {
      sensors.push(`s${s}`);
      ts.push(T0 + day * DAY + hour * HOUR);
      values.push(day * 100 + hour + s / 10);
    }
  }
  return {
    batch: {
      names: ["sensor", "ts", "value"],
      columns: [
        { type: DataType.String, values: sensors, validity: null },
        { type: DataType.Timestamp, values: Float64Array.from(ts), validity: null },
        { type: DataType.Double, values: Float64Array.from(values), validity: null },
      ],
      numRows: sensors.length,
    },
    tagNames: new Set(["sensor"]),
    timestampColumn: "ts",
  };
}

/** `ticks`: every host has a point every TICK_MS, at the same timestamps (ties across hosts). */
export const TICK_MS = 10 * SECOND;

const TICKS_SCHEMA = TableSchema.create({
  timestampColumn: "ts",
  columns: [
    { name: "host", type: DataType.String, isTag: true },
    { name: "ts", type: DataType.Timestamp },
    { name: "v", type: DataType.Double },
  ],
});

interface Tick {
  readonly host: string;
  readonly ts: number;
  readonly v: number;
}

/**
 * The points of `ticks` in [from, to): hosts a and b all along, host c only in the first 30
 * minutes; v is the point's number since T0 plus a tenth per host.
 */
function ticks(from: number, to: number): Tick[] {
  const points: Tick[] = [];
  for (let ts = from; ts < to; ts += TICK_MS) {
    const hosts = ts < T0 + 30 * MINUTE ? ["a", "b", "c"] : ["a", "b"];
    for (const [h, host] of hosts.entries()) points.push({ host, ts, v: (ts - T0) / TICK_MS + h / 10 });
  }
  return points;
}

function ticksRows(points: readonly Tick[]): WriteRows {
  return {
    batch: {
      names: ["host", "ts", "v"],
      columns: [
        { type: DataType.String, values: points.map((p) => p.host), validity: null },
        { type: DataType.Timestamp, values: Float64Array.from(points, (p) => p.ts), validity: null },
        { type: DataType.Double, values: Float64Array.from(points, (p) => p.v), validity: null },
      ],
      numRows: points.length,
    },
    tagNames: new Set(["host"]),
    timestampColumn: "ts",
  };
}

export interface QueryFixture {
  readonly engine: StorageEngine;
  /** Parses and runs a SELECT (now() is NOW unless the options say otherwise). */
  query(sql: string, options?: QueryOptions): Promise<QueryResult>;
  /** The rows of a SELECT as arrays of values. */
  rows(sql: string, options?: QueryOptions): Promise<CellValue[][]>;
  /** Parses and runs an EXPLAIN [ANALYZE]; the plan's lines. */
  explainLines(sql: string, options?: QueryOptions): Promise<string[]>;
  close(): Promise<void>;
}

export async function openQueryFixture(): Promise<QueryFixture> {
  const dataDir = await mkdtemp(join(tmpdir(), "horaedb-query-"));
  const engine = await openStandaloneEngine({
    dataDir,
    logger: pino({ level: "silent" }),
    encoderWorkers: 0,
    fsyncObjects: false,
    flushCheckIntervalMs: 3_600_000,
    // The tests count SSTs and what the scan prunes: keep compaction from merging them meanwhile.
    compaction: { paused: true },
  });
  const noTtl = { enable_ttl: "false" };
  await engine.createTable("public", "cpu", CPU_SCHEMA, noTtl);
  const points = (ks: number[]) => HOSTS.flatMap((_, h) => ks.map((k) => cpuPoint(h, k)));
  await engine.write("public", "cpu", cpuWriteRows(points([0, 1, 2])));
  await engine.flush("public", "cpu");
  await engine.write("public", "cpu", cpuWriteRows(points([3, 4]).concat([cpuPoint(0, 5), cpuPoint(1, 5)])));
  await engine.flush("public", "cpu");
  // Left in the memtable: two overwrites of flushed rows and host c's last point.
  await engine.write(
    "public",
    "cpu",
    cpuWriteRows([overwritten(cpuPoint(0, 1)), overwritten(cpuPoint(1, 4)), cpuPoint(2, 5)]),
  );

  await engine.createTable("public", "readings", READINGS_SCHEMA, {
    ...noTtl,
    segment_duration: "1d",
    num_rows_per_row_group: "16",
  });
  for (let day = 0; day < 3; day++) {
    await engine.write("public", "readings", readingsRows(day));
    await engine.flush("public", "readings");
  }
  await engine.createTable("public", "empty", READINGS_SCHEMA, noTtl);

  // ticks: the first hour in one SST, the next 55 minutes in another, the last 5 minutes in the
  // memtable with an overwrite of a's point at 01:50 (v = -1).
  await engine.createTable("public", "ticks", TICKS_SCHEMA, { ...noTtl, num_rows_per_row_group: "64" });
  await engine.write("public", "ticks", ticksRows(ticks(T0, T0 + HOUR)));
  await engine.flush("public", "ticks");
  await engine.write("public", "ticks", ticksRows(ticks(T0 + HOUR, T0 + 115 * MINUTE)));
  await engine.flush("public", "ticks");
  const overwrite = { host: "a", ts: T0 + 110 * MINUTE, v: -1 };
  await engine.write("public", "ticks", ticksRows([...ticks(T0 + 115 * MINUTE, T0 + 2 * HOUR), overwrite]));

  const withNow = (options: QueryOptions = {}): QueryOptions => ({ now: () => NOW, ...options });
  const select = (sql: string) => {
    const statement = parseStatement(sql);
    if (statement.kind !== "select") throw new Error(`not a SELECT: ${sql}`);
    return statement;
  };
  return {
    engine,
    query: (sql, options) => executeSelect(engine, "public", select(sql), withNow(options)),
    rows: async (sql, options) =>
      resultRowArrays(await executeSelect(engine, "public", select(sql), withNow(options))),
    explainLines: async (sql, options) => {
      const statement = parseStatement(sql);
      if (statement.kind !== "explain") throw new Error(`not an EXPLAIN: ${sql}`);
      const result = await explain(engine, "public", statement, withNow(options));
      return resultRowArrays(result).map((row) => row[0] as string);
    },
    close: async () => {
      await engine.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
