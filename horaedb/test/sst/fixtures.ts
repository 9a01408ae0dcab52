import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cellAt, type Column } from "../../src/batch/column.js";
import type { ColumnBatch } from "../../src/batch/column-batch.js";
import { LocalObjectStore } from "../../src/object-store/local-object-store.js";
import { DataType, type CellValue } from "../../src/table/data-type.js";
import { TableSchema } from "../../src/table/schema.js";
import { computeTsid } from "../../src/table/tsid.js";

export const TSBS_TAGS = [
  "hostname",
  "region",
  "datacenter",
  "rack",
  "os",
  "arch",
  "team",
  "service",
  "service_version",
  "service_environment",
] as const;

export const TSBS_FIELDS = [
  "usage_user",
  "usage_system",
  "usage_idle",
  "usage_nice",
  "usage_iowait",
  "usage_irq",
  "usage_softirq",
  "usage_steal",
  "usage_guest",
  "usage_guest_nice",
] as const;

export const START_MS = Date.UTC(2024, 0, 1);
export const INTERVAL_MS = 10_000;

export function tsbsCpuSchema(): TableSchema {
  return TableSchema.create({
    timestampColumn: "timestamp",
    columns: [
      { name: "timestamp", type: DataType.Timestamp },
      ...TSBS_TAGS.map((name) => ({ name, type: DataType.String, isTag: true })),
      ...TSBS_FIELDS.map((name) => ({ name, type: DataType.Double })),
    ],
  });
}

/**
 * TSBS cpu rows as a flush hands them to the SST writer: sorted by (tsid, timestamp), `timestamps`
 * rows per host, 10 s apart. Field values are a deterministic pseudo-random walk in [0, 100].
 */
export function tsbsSortedBatch(hosts: number, timestamps: number): ColumnBatch {
  const schema = tsbsCpuSchema();
  const hostTags = Array.from({ length: hosts }, (_, h) =>
    TSBS_TAGS.map((tag) => (tag === "hostname" ? `host_${h}` : `${tag}_${h % 7}`)),
  );
  const series = hostTags
    .map((tags) => ({ tags, tsid: computeTsid(TSBS_TAGS.map((name, i) => [name, tags[i] ?? null])) }))
    .sort((a, b) => (a.tsid < b.tsid ? -1 : a.tsid > b.tsid ? 1 : 0));
  const n = hosts * timestamps;
  const tsid = new BigUint64Array(n);
  const timestamp = new Float64Array(n);
  const tags = TSBS_TAGS.map(() => new Array<string>(n));
  const fields = TSBS_FIELDS.map(() => new Float64Array(n));
  const random = seededRandom(7);
  let row = 0;
  for (const s of series) {
    const walk = TSBS_FIELDS.map(() => random() * 100);
    for (let t = 0; t < timestamps; t++, row++) {
      tsid[row] = s.tsid;
      timestamp[row] = START_MS + t * INTERVAL_MS;
      for (let k = 0; k < tags.length; k++) (tags[k] as string[])[row] = s.tags[k] as string;
      for (let f = 0; f < fields.length; f++) {
        const next = Math.min(100, Math.max(0, (walk[f] as number) + (random() - 0.5) * 2));
        walk[f] = next;
        (fields[f] as Float64Array)[row] = next;
      }
    }
  }
  const byName = new Map<string, Column>([
    ["tsid", { type: DataType.UInt64, values: tsid, validity: null }],
    ["timestamp", { type: DataType.Timestamp, values: timestamp, validity: null }],
    ...TSBS_TAGS.map((name, k): [string, Column] => [
      name,
      { type: DataType.String, values: tags[k] as string[], validity: null },
    ]),
    ...TSBS_FIELDS.map((name, f): [string, Column] => [
      name,
      { type: DataType.Double, values: fields[f] as Float64Array, validity: null },
    ]),
  ]);
  const names = schema.columns.map((c) => c.name);
  return { names, columns: names.map((name) => byName.get(name) as Column), numRows: n };
}

export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 4294967296;
  };
}

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
  const random = seededRandom(99);
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
