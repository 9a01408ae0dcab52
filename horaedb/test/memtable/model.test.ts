import { describe, expect, it } from "vitest";
import type { ColumnBatch } from "../../src/batch/column-batch.js";
import { MemtableSet, type Memtable, type MemtableScanOptions } from "../../src/memtable/index.js";
import { DataType, type CellValue } from "../../src/table/data-type.js";
import { UpdateMode } from "../../src/table/options.js";
import { TableSchema, type ColumnSchemaInput } from "../../src/table/schema.js";
import { batchFromRows, rowsOf, seededRandom } from "./rows.js";

/**
 * Randomized test of memtable reads against a plain model: rows kept as maps, sorted with an
 * independent comparator (BigInt for 64-bit integers, UTF-8 bytes for strings), deduplicated by
 * keeping the highest (sequence, write position) per key. Set MEMTABLE_MODEL_SEED to rerun one seed.
 */

type Random = () => number;

interface Variant {
  readonly name: string;
  readonly key?: readonly string[];
  readonly columns: readonly ColumnSchemaInput[];
  /** Random value of a key column, from a small domain so keys collide. */
  readonly keyValue: (column: string, rnd: Random) => CellValue;
}

const FIELDS: readonly ColumnSchemaInput[] = [
  { name: "f_double", type: DataType.Double },
  { name: "f_float", type: DataType.Float },
  { name: "f_int32", type: DataType.Int32 },
  { name: "f_int64", type: DataType.Int64 },
  { name: "f_uint64", type: DataType.UInt64 },
  { name: "f_bool", type: DataType.Boolean },
  { name: "f_string", type: DataType.String },
  { name: "f_bytes", type: DataType.Varbinary },
];

const STRINGS = [
  "",
  "a",
  "ab",
  "b",
  "host_10",
  "host_9",
  "\u00e9",
  "\uffff",
  "\u{1f600}",
  "\ue000x",
  "z\u{10400}",
];
const UINT64S = [0n, 1n, 2n ** 32n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n, 12345678901234567890n];
const INT64S = [-(2n ** 63n), -1n, 0n, 1n, 2n ** 32n, -(2n ** 32n), 2n ** 63n - 1n];

function pick<T>(rnd: Random, values: readonly T[]): T {
  return values[Math.floor(rnd() * values.length)] as T;
}

function timestampValue(rnd: Random): number {
  // Mostly a narrow range; sometimes far apart so offsets need more than 32 bits, or negative.
  const r = rnd();
  if (r < 0.8) return 1_700_000_000_000 + Math.floor(rnd() * 12) * 1000;
  if (r < 0.9) return Math.floor(rnd() * 4) * 2 ** 40;
  return -Math.floor(rnd() * 3) * 1000;
}

const VARIANTS: readonly Variant[] = [
  {
    name: "default key (tsid, ts)",
    columns: [
      { name: "ts", type: DataType.Timestamp },
      { name: "host", type: DataType.String, isTag: true },
      ...FIELDS,
    ],
    keyValue: (column, rnd) => (column === "tsid" ? pick(rnd, UINT64S) : timestampValue(rnd)),
  },
  {
    name: "key (name string, id int64, ts)",
    key: ["name", "id", "ts"],
    columns: [
      { name: "ts", type: DataType.Timestamp },
      { name: "name", type: DataType.String, isTag: true },
      { name: "id", type: DataType.Int64 },
      ...FIELDS,
    ],
    keyValue: (column, rnd) =>
      column === "name" ? pick(rnd, STRINGS) : column === "id" ? pick(rnd, INT64S) : timestampValue(rnd),
  },
  {
    name: "key (flag boolean, n int32, u uint64, ts)",
    key: ["flag", "n", "u", "ts"],
    columns: [
      { name: "ts", type: DataType.Timestamp },
      { name: "flag", type: DataType.Boolean },
      { name: "n", type: DataType.Int32 },
      { name: "u", type: DataType.UInt64 },
      ...FIELDS,
    ],
    keyValue: (column, rnd) => {
      if (column === "flag") return rnd() < 0.5;
      if (column === "n") return pick(rnd, [-(2 ** 31), -7, 0, 3, 2 ** 31 - 1]);
      if (column === "u") return pick(rnd, UINT64S);
      return timestampValue(rnd);
    },
  },
  {
    name: "key (ts, x double)",
    key: ["ts", "x"],
    columns: [{ name: "ts", type: DataType.Timestamp }, { name: "x", type: DataType.Double }, ...FIELDS],
    keyValue: (column, rnd) =>
      column === "x" ? pick(rnd, [-Infinity, -2.5, 0, 0.1, 1e300, Infinity, NaN]) : timestampValue(rnd),
  },
  {
    name: "key (ts, r float)",
    key: ["ts", "r"],
    columns: [{ name: "ts", type: DataType.Timestamp }, { name: "r", type: DataType.Float }, ...FIELDS],
    keyValue: (column, rnd) =>
      column === "r" ? Math.fround(pick(rnd, [-1.5, 0, 0.25, 3.1])) : timestampValue(rnd),
  },
];

function fieldValue(type: DataType, rnd: Random): CellValue {
  if (rnd() < 0.2) return null;
  switch (type) {
    case DataType.Double:
      return rnd() * 1000 - 500;
    case DataType.Float:
      return Math.fround(rnd() * 10);
    case DataType.Int32:
      return Math.floor(rnd() * 2 ** 32) - 2 ** 31;
    case DataType.Int64:
      return BigInt.asIntN(64, pick(rnd, INT64S) + BigInt(Math.floor(rnd() * 100)));
    case DataType.UInt64:
      return pick(rnd, UINT64S.slice(0, -2));
    case DataType.Boolean:
      return rnd() < 0.5;
    case DataType.String:
      return pick(rnd, STRINGS) + String(Math.floor(rnd() * 10));
    case DataType.Varbinary:
      return Uint8Array.from({ length: Math.floor(rnd() * 4) }, () => Math.floor(rnd() * 256));
    case DataType.Timestamp:
      return timestampValue(rnd);
  }
}

/** Key order of the model, written independently of the implementation. */
function compareCells(type: DataType, a: CellValue, b: CellValue): number {
  if (typeof a === "bigint" && typeof b === "bigint") return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === "string" && typeof b === "string") return Buffer.compare(utf8(a), utf8(b));
  if (typeof a === "boolean" && typeof b === "boolean") return Number(a) - Number(b);
  if (typeof a === "number" && typeof b === "number") {
    if (Number.isNaN(a) || Number.isNaN(b)) return Number(Number.isNaN(a)) - Number(Number.isNaN(b));
    return a < b ? -1 : a > b ? 1 : 0;
  }
  throw new Error(`cannot compare ${String(a)} and ${String(b)} as ${type}`);
}

const utf8Cache = new Map<string, Buffer>();
function utf8(s: string): Buffer {
  let bytes = utf8Cache.get(s);
  if (bytes === undefined) utf8Cache.set(s, (bytes = Buffer.from(s, "utf8")));
  return bytes;
}

interface ModelRow {
  readonly cells: ReadonlyMap<string, CellValue>;
  readonly sequence: number;
  /** Global write position: later appends, and later rows of one append, are higher. */
  readonly position: number;
  readonly memtableId: number;
}

class Model {
  rows: ModelRow[] = [];

  constructor(
    readonly schema: () => TableSchema,
    readonly mode: UpdateMode,
  ) {}

  expected(options: MemtableScanOptions): CellValue[][] {
    const schema = this.schema();
    const key = schema.primaryKey.map((name) => ({ name, type: schema.column(name)?.type as DataType }));
    const compareKey = (a: ModelRow, b: ModelRow) => {
      for (const k of key) {
        const c = compareCells(k.type, a.cells.get(k.name) ?? null, b.cells.get(k.name) ?? null);
        if (c !== 0) return c;
      }
      return 0;
    };
    const range = options.timeRange;
    const rows = this.rows
      .filter((r) => {
        const ts = r.cells.get(schema.timestampColumn) as number;
        return range === undefined || (ts >= range.start && ts < range.end);
      })
      .sort((a, b) => compareKey(a, b) || a.sequence - b.sequence || a.position - b.position);
    const kept =
      this.mode === UpdateMode.Append
        ? rows
        : rows.filter((row, i) => i === rows.length - 1 || compareKey(row, rows[i + 1] as ModelRow) !== 0);
    const names = options.projection ?? schema.columns.map((c) => c.name);
    return kept.map((row) => names.map((n) => row.cells.get(n) ?? null));
  }
}

interface Scenario {
  readonly seed: number;
  readonly variant: Variant;
  readonly mode: UpdateMode;
}

function runScenario({ seed, variant, mode }: Scenario): void {
  const rnd = seededRandom(seed);
  const context = `seed ${seed} (${variant.name}, ${mode}); rerun with MEMTABLE_MODEL_SEED=${seed}`;
  let schema = TableSchema.create({
    timestampColumn: "ts",
    columns: variant.columns,
    primaryKey: variant.key,
  });
  const set = new MemtableSet({ schema, updateMode: mode, table: "model" });
  const model = new Model(() => schema, mode);
  let sequence = 100;
  let position = 0;
  const appends = 1 + Math.floor(rnd() * 14);

  const check = (): void => {
    for (let q = 0; q < 3; q++) {
      const options = randomScanOptions(rnd, schema);
      const batches = [...set.sortedBatches(options)];
      assertBatchSizes(batches, options.batchSize ?? 8192, context);
      expectSameRows(
        rowsOf(batches),
        model.expected(options),
        `${context}; scan ${JSON.stringify(options, jsonSafe)}`,
      );
    }
    // Each memtable on its own matches the model restricted to its rows.
    for (const memtable of [...set.immutables, set.mutable]) checkOne(memtable, model, context);
  };

  for (let a = 0; a < appends; a++) {
    const numRows = rnd() < 0.1 ? 0 : rnd() < 0.1 ? 50 + Math.floor(rnd() * 100) : 1 + Math.floor(rnd() * 25);
    // Some nullable fields are left out of the batch entirely: they read as null.
    const names = schema.columns
      .map((c) => c.name)
      .filter((n) => schema.primaryKey.includes(n) || n === "host" || rnd() < 0.8);
    const cells = Array.from({ length: numRows }, () =>
      names.map((n) => {
        const column = schema.column(n);
        if (column === undefined) throw new Error(n);
        if (schema.primaryKey.includes(n)) return variant.keyValue(n, rnd);
        if (column.isTag) return pick(rnd, STRINGS);
        return fieldValue(column.type, rnd);
      }),
    );
    // Sequences mostly increase; sometimes repeat or arrive late, as concurrent writes can.
    const r = rnd();
    const seq =
      r < 0.7
        ? (sequence += 1 + Math.floor(rnd() * 3))
        : r < 0.85
          ? sequence
          : sequence - Math.floor(rnd() * 20);
    set.append(batchFromRows(schema, names, cells), seq);
    for (const row of cells) {
      model.rows.push({
        cells: new Map(names.map((n, i) => [n, row[i] ?? null])),
        sequence: seq,
        position: position++,
        memtableId: set.mutable.id,
      });
    }
    const action = rnd();
    if (action < 0.25) {
      set.switchMemtable();
    } else if (action < 0.3 && set.immutables.length > 0) {
      const flushed = pick(rnd, set.immutables);
      set.removeFlushed(flushed);
      model.rows = model.rows.filter((row) => row.memtableId !== flushed.id);
    } else if (action < 0.33 && schema.column("extra") === undefined) {
      schema = schema.withAddedColumns([{ name: "extra", type: DataType.Double }]);
      set.updateSchema(schema);
    }
    if (rnd() < 0.3) check();
  }
  check();
}

function checkOne(memtable: Memtable, model: Model, context: string): void {
  const own = new Model(() => memtable.schema, memtable.updateMode);
  own.rows = model.rows.filter((r) => r.memtableId === memtable.id);
  const batches = [...memtable.sortedBatches({ batchSize: 5 })];
  assertBatchSizes(batches, 5, context);
  expectSameRows(rowsOf(batches), own.expected({}), `${context}; memtable ${memtable.id}`);
}

function assertBatchSizes(batches: readonly ColumnBatch[], batchSize: number, context: string): void {
  batches.forEach((b, i) => {
    expect(b.numRows, `${context}; batch ${i}`).toBeGreaterThan(0);
    if (i < batches.length - 1) expect(b.numRows, `${context}; batch ${i}`).toBe(batchSize);
    for (const c of b.columns) expect(c.values.length, context).toBe(b.numRows);
  });
}

function randomScanOptions(rnd: Random, schema: TableSchema): MemtableScanOptions {
  const names = schema.columns.map((c) => c.name);
  const projection = rnd() < 0.5 ? undefined : names.filter(() => rnd() < 0.5).sort(() => rnd() - 0.5);
  const timeRange =
    rnd() < 0.5
      ? undefined
      : (() => {
          const a = timestampValue(rnd);
          const b = timestampValue(rnd);
          return { start: Math.min(a, b), end: Math.max(a, b) + (rnd() < 0.5 ? 0 : 1) };
        })();
  const batchSize = pick(rnd, [1, 2, 3, 7, 64, 8192]);
  return { projection, timeRange, batchSize };
}

/** Compares via a typed text form first (fast on large results), then lets toEqual show a diff. */
function expectSameRows(actual: CellValue[][], expected: CellValue[][], context: string): void {
  if (JSON.stringify(actual, jsonSafe) !== JSON.stringify(expected, jsonSafe)) {
    expect(actual, context).toEqual(expected);
    expect.fail(`${context}: rows differ in a way toEqual does not show (bigint, NaN or bytes)`);
  }
}

function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "number" && !Number.isFinite(value)) return String(value);
  if (value instanceof Uint8Array) return `bytes:${Array.from(value).join(",")}`;
  return value;
}

describe("memtable reads against a model", () => {
  const only = process.env["MEMTABLE_MODEL_SEED"];
  const seeds =
    only === undefined
      ? Array.from({ length: Number(process.env["MEMTABLE_MODEL_SEEDS"] ?? 200) }, (_, i) => 1000 + i)
      : [Number(only)];

  it(
    "sorts, deduplicates, projects, filters and batches like the model for random writes",
    { timeout: 180_000 },
    () => {
      for (const seed of seeds) {
        const variant = VARIANTS[seed % VARIANTS.length] as Variant;
        const mode = Math.floor(seed / VARIANTS.length) % 2 === 0 ? UpdateMode.Overwrite : UpdateMode.Append;
        runScenario({ seed, variant, mode });
      }
    },
  );
});
