import { mkdtemp, rm } from "node:fs/promises";
import { afterEach, beforeEach } from "vitest";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cellAt, type Column } from "../../src/batch/column.js";
import type { ColumnBatch } from "../../src/batch/column-batch.js";
import { LocalObjectStore } from "../../src/object-store/local-object-store.js";
import { DataType, type CellValue } from "../../src/table/data-type.js";
import { TableSchema } from "../../src/table/schema.js";
import { lcgRandom } from "../../src/testing/tsbs.js";

/**
 * A table with one column of every type, an explicit primary key (host, ts), and nulls in every
 * nullable column. `n` rows, sorted by key: `hosts` series with n / hosts timestamps each.
 */
export function allTypesSchema(): TableSchema {
  return TableSchema.create({
    timestampColumn: "ts",
    primaryKey: ["host", "ts"],
    columns: [
      { name: "host", type: DataType.String, isTag: true },
      { name: "dc", type: DataType.String, isTag: true },
      { name: "ts", type: DataType.Timestamp },
      { name: "f64", type: DataType.Double },
      { name: "f32", type: DataType.Float },
      { name: "i64", type: DataType.Int64 },
      { name: "i32", type: DataType.Int32 },
      { name: "u64", type: DataType.UInt64 },
      { name: "flag", type: DataType.Boolean },
      { name: "note", type: DataType.String },
      { name: "blob", type: DataType.Varbinary },
    ],
  });
}

export function allTypesBatch(n: number, hosts: number): ColumnBatch {
  const perHost = Math.ceil(n / hosts);
  const random = lcgRandom(99);
  const host = new Array<string>(n);
  const dc = new Array<string>(n);
  const ts = new Float64Array(n);
  const f64 = new Float64Array(n);
  const f32 = new Float32Array(n);
  const i64 = new BigInt64Array(n);
  const i32 = new Int32Array(n);
  const u64 = new BigUint64Array(n);
  const flag = new Uint8Array(n);
  const note = new Array<string>(n);
  const blob = new Array<Uint8Array>(n);
  const validity = () => new Uint8Array(n).fill(1);
  const valid = {
    dc: validity(),
    f64: validity(),
    f32: validity(),
    i64: validity(),
    i32: validity(),
    u64: validity(),
    flag: validity(),
    note: validity(),
    blob: validity(),
  };
  const notes = ["", "plain", "ünïcödé", "emoji 🚀", "中文", 'quote " and \\ backslash'];
  for (let row = 0; row < n; row++) {
    const h = Math.floor(row / perHost);
    host[row] = `h${String(h).padStart(3, "0")}`;
    dc[row] = `dc-${h % 3}`;
    // Negative and large timestamps both survive the int64 conversion.
    ts[row] = -86_400_000 + (row % perHost) * 7_777_777_777;
    f64[row] = (random() - 0.5) * 1e6;
    f32[row] = Math.fround((random() - 0.5) * 1000);
    i64[row] = BigInt(Math.floor((random() - 0.5) * 2 ** 52)) * 1024n;
    i32[row] = Math.floor((random() - 0.5) * 2 ** 31);
    u64[row] = 18_000_000_000_000_000_000n + BigInt(row);
    flag[row] = random() < 0.5 ? 1 : 0;
    note[row] = notes[row % notes.length] as string;
    blob[row] = Uint8Array.from({ length: row % 5 }, (_, i) => (row + i) & 0xff);
    for (const [name, v] of Object.entries(valid)) {
      // Each column gets its own null pattern; dc is null for every row of host 1.
      if (name === "dc" ? h === 1 : (row + name.length) % 7 === 0) v[row] = 0;
    }
  }
  for (let row = 0; row < n; row++) if (valid.note[row] === 0) note[row] = "";
  for (let row = 0; row < n; row++) if (valid.blob[row] === 0) blob[row] = new Uint8Array(0);
  for (let row = 0; row < n; row++) if (valid.dc[row] === 0) dc[row] = "";
  const columns: Column[] = [
    { type: DataType.String, values: host, validity: null },
    { type: DataType.String, values: dc, validity: valid.dc },
    { type: DataType.Timestamp, values: ts, validity: null },
    { type: DataType.Double, values: f64, validity: valid.f64 },
    { type: DataType.Float, values: f32, validity: valid.f32 },
    { type: DataType.Int64, values: i64, validity: valid.i64 },
    { type: DataType.Int32, values: i32, validity: valid.i32 },
    { type: DataType.UInt64, values: u64, validity: valid.u64 },
    { type: DataType.Boolean, values: flag, validity: valid.flag },
    { type: DataType.String, values: note, validity: valid.note },
    { type: DataType.Varbinary, values: blob, validity: valid.blob },
  ];
  return { names: allTypesSchema().columns.map((c) => c.name), columns, numRows: n };
}

/** The batch as rows of plain values (null for nulls), for comparisons. */
export function rowsOf(batch: ColumnBatch, names: readonly string[] = batch.names): CellValue[][] {
  const columns = names.map((name) => {
    const i = batch.names.indexOf(name);
    if (i < 0) throw new Error(`no column ${name}`);
    return batch.columns[i] as Column;
  });
  const rows: CellValue[][] = [];
  for (let r = 0; r < batch.numRows; r++) rows.push(columns.map((c) => cellAt(c, r)));
  return rows;
}

export function rowsOfAll(batches: readonly ColumnBatch[], names?: readonly string[]): CellValue[][] {
  return batches.flatMap((b) => rowsOf(b, names));
}

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

export interface TempStore {
  readonly dir: string;
  readonly store: LocalObjectStore;
  remove(): Promise<void>;
}

export async function openTempStore(): Promise<TempStore> {
  const dir = await mkdtemp(join(tmpdir(), "horaedb-sst-"));
  // These tests do not simulate power loss; fsync would only slow them down.
  const store = await LocalObjectStore.open(dir, { fsync: false });
  return {
    dir,
    store,
    remove: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Registers a temporary object store made before and removed after each test; call `()` for it. */
export function tempStorePerTest(): () => TempStore {
  let temp: TempStore | undefined;
  beforeEach(async () => {
    temp = await openTempStore();
  });
  afterEach(async () => {
    await temp?.remove();
    temp = undefined;
  });
  return () => {
    if (temp === undefined) throw new Error("the temporary store exists only during a test");
    return temp;
  };
}
