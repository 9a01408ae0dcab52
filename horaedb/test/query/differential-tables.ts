/**
 * Random tables of the differential test, loaded twice. Into the storage engine the way clients
 * write: CREATE TABLE by SQL, columnar writes flushed to SSTs (sometimes with an ALTER TABLE ADD
 * COLUMN between them), then SQL INSERTs left in the memtable, overwriting earlier primary keys.
 * Into SQLite as the rows a query must see: for each primary key (tags, ts), the last written row.
 */
import type { Database, SqlValue } from "sql.js";
import type { Column } from "../../src/batch/column.js";
import type { StorageEngine } from "../../src/engine/engine.js";
import type { WriteRows } from "../../src/engine/write-validation.js";
import { executeSql } from "../../src/interpreters/index.js";
import { DataType, type CellValue } from "../../src/table/data-type.js";
import type { Rng } from "./differential-rng.js";

export const DATABASE = "public";
export const TIMESTAMP_COLUMN = "ts";
/** 2024-01-01T00:00:00Z: every row lies in the hours after it. */
export const START_MS = Date.UTC(2024, 0, 1);

export type FieldType = "double" | "float" | "int64" | "int32" | "boolean" | "string";

export interface TagSpec {
  readonly name: string;
  readonly values: readonly string[];
  /** Share of rows without this tag (NULL: a series of its own, not the same as ''). */
  readonly nullRate: number;
}

export interface FieldSpec {
  readonly name: string;
  readonly type: FieldType;
  /** Share of written rows where this field is NULL. */
  readonly nullRate: number;
  /** int64 only: some values lie beyond 2^53, where a trip through a double loses digits. */
  readonly wide: boolean;
  /** Not in CREATE TABLE: added by ALTER TABLE after the first flush, so the first SSTs lack it. */
  readonly addedLater: boolean;
}

export interface TableSpec {
  readonly name: string;
  readonly tags: readonly TagSpec[];
  readonly fields: readonly FieldSpec[];
  /** Timestamps are START_MS + k * stepMs for k in [0, spanMs / stepMs). */
  readonly stepMs: number;
  readonly spanMs: number;
  readonly rowGroupRows: number;
}

/** One row by column name: text as strings, ts/double/float/int32 as numbers, int64 as bigint, NULL as null. */
export type Row = Readonly<Record<string, CellValue>>;

export interface WriteStep {
  /** `engine`: a columnar write; `insert`: SQL INSERT statements. */
  readonly via: "engine" | "insert";
  /** The fields this step writes; the others are NULL in its rows. */
  readonly fields: readonly FieldSpec[];
  readonly rows: readonly Row[];
  readonly flushAfter: boolean;
}

export interface TableData {
  readonly spec: TableSpec;
  readonly steps: readonly WriteStep[];
  /** The rows a query sees: for each primary key (tags, ts) the last one written. */
  readonly visible: readonly Row[];
}

const TAG_CHOICES: ReadonlyArray<{ name: string; values: readonly string[] }> = [
  { name: "host", values: ["web-1", "web-2", "db-1", "DB-1", "cache", "web-10"] },
  { name: "region", values: ["us", "eu", "ap", "us-west", "US", ""] },
  { name: "zone", values: ["a", "b", "c", "d", "e", ""] },
];

/** ASCII only: SQLite compares text bytewise and the engine by code point, which agree on ASCII. */
const STRING_WORDS = [
  "",
  "alpha",
  "Alpha",
  "ALPHA",
  "beta",
  "b_ta",
  "gam%ma",
  "delta 1",
  "O'Brien",
  "zeta",
  "x",
  "ab",
  "abc",
  "abd",
  "a b",
  "10",
  "9",
];
const STRING_CHARS = "abcdeXYZ019 _-";

export function generateTableSpec(rng: Rng, name: string): TableSpec {
  const tags = rng.sample(TAG_CHOICES, rng.int(1, 3)).map((t) => ({
    name: t.name,
    values: rng.sample(t.values, rng.int(2, 4)),
    nullRate: rng.pick([0, 0, 0.1]),
  }));
  const fields: FieldSpec[] = [];
  const add = (prefix: string, type: FieldType, count: number) => {
    for (let i = 0; i < count; i++) {
      fields.push({
        name: `${prefix}${i}`,
        type,
        nullRate: rng.pick([0, 0.1, 0.3, 0.6]),
        wide: type === "int64" && rng.chance(0.5),
        addedLater: false,
      });
    }
  };
  add("d", "double", rng.int(1, 2));
  add("f", "float", rng.int(0, 1));
  add("n", "int64", rng.int(1, 2));
  add("k", "int32", rng.int(0, 1));
  add("b", "boolean", rng.int(0, 1));
  add("s", "string", rng.int(1, 2));
  if (rng.chance(0.4)) {
    const i = rng.int(0, fields.length - 1);
    fields[i] = { ...(fields[i] as FieldSpec), addedLater: true };
  }
  return {
    name,
    tags,
    fields: rng.shuffle(fields),
    stepMs: rng.pick([1, 250, 1000, 15_000, 60_000]),
    // With 2 h segments, a flush writes one SST per 2 h of the span.
    spanMs: rng.pick([1, 2, 2, 4]) * 3_600_000,
    rowGroupRows: rng.pick([128, 1024, 8192]),
  };
}

function doubleValue(rng: Rng): number {
  const kind = rng.float();
  // Mostly multiples of 1/8, whose sums are exact in any order; some with every bit of precision.
  const v =
    kind < 0.7 ? rng.int(-8000, 8000) / 8 : kind < 0.9 ? (rng.float() - 0.5) * 2000 : rng.int(-50, 50);
  return v === 0 ? 0 : v; // never -0: SQLite stores it as 0
}

function int64Value(rng: Rng, wide: boolean): bigint {
  const kind = rng.float();
  if (wide && kind < 0.02) {
    const magnitude = 2n ** 53n + BigInt(rng.int(1, 999));
    return rng.chance(0.5) ? magnitude : -magnitude;
  }
  return BigInt(kind < 0.8 ? rng.int(-1000, 1000) : rng.int(-1_000_000_000, 1_000_000_000));
}

function stringValue(rng: Rng): string {
  if (rng.chance(0.7)) return rng.pick(STRING_WORDS);
  let s = "";
  for (let n = rng.int(0, 6); n > 0; n--) s += STRING_CHARS.charAt(rng.int(0, STRING_CHARS.length - 1));
  return s;
}

function fieldValue(rng: Rng, field: FieldSpec): CellValue {
  if (rng.chance(field.nullRate)) return null;
  switch (field.type) {
    case "double":
      return doubleValue(rng);
    case "float": {
      // Eighths up to 1000 are exact in float32, so SQLite's REAL holds the same value.
      const v = rng.int(-8000, 8000) / 8;
      return v === 0 ? 0 : v;
    }
    case "int64":
      return int64Value(rng, field.wide);
    case "int32": {
      // Not int32's minimum: abs() and unary minus keep int32 and fail on it (as in PostgreSQL).
      const kind = rng.float();
      if (kind < 0.03) return rng.pick([2_147_483_647, -2_147_483_647]);
      return kind < 0.8 ? rng.int(-100, 100) : rng.int(-100_000, 100_000);
    }
    case "boolean":
      return rng.chance(0.5);
    case "string":
      return stringValue(rng);
  }
}

export function primaryKeyOf(spec: TableSpec, row: Row): string {
  return JSON.stringify([...spec.tags.map((t) => row[t.name]), row[TIMESTAMP_COLUMN]]);
}

/**
 * Three phases: new rows flushed to SSTs; overwrites and new rows flushed again; more overwrites
 * and new rows by SQL INSERT (some leaving out a nullable field) that stay in the memtable.
 */
export function generateTableData(rng: Rng, spec: TableSpec): TableData {
  const keys: Row[] = [];
  const newKey = (): Row => {
    const row: Record<string, CellValue> = {};
    for (const tag of spec.tags) row[tag.name] = rng.chance(tag.nullRate) ? null : rng.pick(tag.values);
    row[TIMESTAMP_COLUMN] = START_MS + spec.stepMs * rng.int(0, Math.floor(spec.spanMs / spec.stepMs) - 1);
    return row;
  };
  const rowsOf = (count: number, reuse: number, fields: readonly FieldSpec[]): Row[] => {
    const rows: Row[] = [];
    for (let i = 0; i < count; i++) {
      const key = keys.length > 0 && rng.chance(reuse) ? rng.pick(keys) : newKey();
      keys.push(key);
      const row: Record<string, CellValue> = { ...key };
      for (const f of spec.fields) row[f.name] = fields.includes(f) ? fieldValue(rng, f) : null;
      rows.push(row);
    }
    return rows;
  };
  const original = spec.fields.filter((f) => !f.addedLater);
  const steps: WriteStep[] = [
    { via: "engine", fields: original, rows: rowsOf(rng.int(100, 300), 0.05, original), flushAfter: true },
    {
      via: "engine",
      fields: spec.fields,
      rows: rowsOf(rng.int(80, 250), 0.4, spec.fields),
      flushAfter: true,
    },
  ];
  for (let chunk = rng.int(1, 4); chunk > 0; chunk--) {
    const omitted = rng.chance(0.3) ? rng.pick(spec.fields) : undefined;
    const fields = spec.fields.filter((f) => f !== omitted);
    steps.push({ via: "insert", fields, rows: rowsOf(rng.int(10, 60), 0.5, fields), flushAfter: false });
  }
  const latest = new Map<string, Row>();
  for (const step of steps) for (const row of step.rows) latest.set(primaryKeyOf(spec, row), row);
  return { spec, steps, visible: [...latest.values()] };
}

const ENGINE_TYPES: Record<FieldType, string> = {
  double: "double",
  float: "float",
  int64: "bigint",
  int32: "int",
  boolean: "boolean",
  string: "string",
};

export function createTableSql(spec: TableSpec): string {
  const columns = [
    ...spec.tags.map((t) => `${t.name} string TAG`),
    `${TIMESTAMP_COLUMN} timestamp NOT NULL`,
    ...spec.fields.filter((f) => !f.addedLater).map((f) => `${f.name} ${ENGINE_TYPES[f.type]}`),
    `TIMESTAMP KEY(${TIMESTAMP_COLUMN})`,
  ];
  const options = [
    "enable_ttl='false'",
    "update_mode='OVERWRITE'",
    "segment_duration='2h'",
    `num_rows_per_row_group='${spec.rowGroupRows}'`,
  ];
  return `CREATE TABLE ${spec.name} (${columns.join(", ")}) ENGINE=Analytic WITH (${options.join(", ")})`;
}

export function stringLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** A double as SQL text that reads back as the same double (and as a double, not an integer). */
export function doubleLiteral(value: number): string {
  const text = String(value);
  return /[.eE]/.test(text) ? text : `${text}.0`;
}

function insertLiteral(value: CellValue): string {
  if (value === null) return "NULL";
  if (typeof value === "string") return stringLiteral(value);
  if (typeof value === "boolean") return value ? "TRUE" : "FALSE";
  return String(value);
}

function writeColumn(type: DataType, values: readonly CellValue[]): Column {
  const validity = values.some((v) => v === null)
    ? Uint8Array.from(values, (v) => (v === null ? 0 : 1))
    : null;
  switch (type) {
    case DataType.Timestamp:
    case DataType.Double:
      return { type, validity, values: Float64Array.from(values, (v) => (v as number | null) ?? 0) };
    case DataType.Float:
      return { type, validity, values: Float32Array.from(values, (v) => (v as number | null) ?? 0) };
    case DataType.Int64:
      return { type, validity, values: BigInt64Array.from(values, (v) => (v as bigint | null) ?? 0n) };
    case DataType.Int32:
      return { type, validity, values: Int32Array.from(values, (v) => (v as number | null) ?? 0) };
    case DataType.Boolean:
      return { type, validity, values: Uint8Array.from(values, (v) => (v === true ? 1 : 0)) };
    default:
      return { type: DataType.String, validity, values: values.map((v) => (v as string | null) ?? "") };
  }
}

const DATA_TYPES: Record<FieldType, DataType> = {
  double: DataType.Double,
  float: DataType.Float,
  int64: DataType.Int64,
  int32: DataType.Int32,
  boolean: DataType.Boolean,
  string: DataType.String,
};

function writeRows(spec: TableSpec, step: WriteStep): WriteRows {
  const columns: Array<[string, DataType]> = [
    ...spec.tags.map((t): [string, DataType] => [t.name, DataType.String]),
    [TIMESTAMP_COLUMN, DataType.Timestamp],
    ...step.fields.map((f): [string, DataType] => [f.name, DATA_TYPES[f.type]]),
  ];
  return {
    batch: {
      names: columns.map(([name]) => name),
      columns: columns.map(([name, type]) =>
        writeColumn(
          type,
          step.rows.map((r) => r[name] ?? null),
        ),
      ),
      numRows: step.rows.length,
    },
    tagNames: new Set(spec.tags.map((t) => t.name)),
    timestampColumn: TIMESTAMP_COLUMN,
  };
}

/** Creates the table by SQL and replays its write steps on the engine. */
export async function loadIntoEngine(engine: StorageEngine, data: TableData): Promise<void> {
  const { spec } = data;
  await executeSql(engine, DATABASE, createTableSql(spec));
  for (const [i, step] of data.steps.entries()) {
    if (i === 1) {
      for (const f of spec.fields.filter((f) => f.addedLater)) {
        await executeSql(
          engine,
          DATABASE,
          `ALTER TABLE ${spec.name} ADD COLUMN ${f.name} ${ENGINE_TYPES[f.type]}`,
        );
      }
    }
    if (step.via === "engine") {
      await engine.write(DATABASE, spec.name, writeRows(spec, step));
    } else {
      const names = [...spec.tags.map((t) => t.name), TIMESTAMP_COLUMN, ...step.fields.map((f) => f.name)];
      const values = step.rows.map((r) => `(${names.map((n) => insertLiteral(r[n] ?? null)).join(", ")})`);
      await executeSql(
        engine,
        DATABASE,
        `INSERT INTO ${spec.name} (${names.join(", ")}) VALUES ${values.join(", ")}`,
      );
    }
    if (step.flushAfter) await engine.flush(DATABASE, spec.name);
  }
}

const SQLITE_TYPES: Record<FieldType, string> = {
  double: "REAL",
  float: "REAL",
  int64: "INTEGER",
  int32: "INTEGER",
  boolean: "INTEGER",
  string: "TEXT",
};

/** Creates the table in SQLite with the visible rows; booleans are stored as 0/1. */
export function loadIntoReference(db: Database, data: TableData): void {
  const { spec } = data;
  const columns = [
    ...spec.tags.map((t) => `${t.name} TEXT`),
    `${TIMESTAMP_COLUMN} INTEGER NOT NULL`,
    ...spec.fields.map((f) => `${f.name} ${SQLITE_TYPES[f.type]}`),
  ];
  db.run(`CREATE TABLE ${spec.name} (${columns.join(", ")})`);
  const names = [...spec.tags.map((t) => t.name), TIMESTAMP_COLUMN, ...spec.fields.map((f) => f.name)];
  const insert = db.prepare(`INSERT INTO ${spec.name} VALUES (${names.map(() => "?").join(", ")})`);
  try {
    db.run("BEGIN");
    for (const row of data.visible) {
      const params = names.map((n): SqlValue | bigint => {
        const v = row[n] ?? null;
        if (typeof v === "boolean") return v ? 1 : 0;
        if (n === TIMESTAMP_COLUMN) return BigInt(v as number);
        return v;
      });
      // sql.js binds bigints as 64-bit integers; its typings predate that.
      insert.run(params as SqlValue[]);
    }
    db.run("COMMIT");
  } finally {
    insert.free();
  }
}
