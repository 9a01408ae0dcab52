import type { Column } from "../../src/batch/column.js";
import type { ColumnBatch } from "../../src/batch/column-batch.js";
import { DataType } from "../../src/table/data-type.js";
import { TableSchema } from "../../src/table/schema.js";
import { computeTsid } from "../../src/table/tsid.js";

/** The TSBS `cpu` table: 10 tags, 10 double fields, default key (tsid, timestamp). */
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

export interface TsbsCpuOptions {
  readonly hosts: number;
  readonly timestamps: number;
  /** Rows per write batch; TSBS writers send 5,000. */
  readonly batchRows: number;
  readonly startMs?: number;
  readonly intervalMs?: number;
}

/**
 * Rows as the TSBS generator emits them: for each timestamp, one row per host; cut into write
 * batches of `batchRows`. Tag strings are shared per host, as a decoder with a string cache yields.
 */
export function tsbsCpuBatches(options: TsbsCpuOptions): ColumnBatch[] {
  const schema = tsbsCpuSchema();
  const startMs = options.startMs ?? Date.UTC(2024, 0, 1);
  const intervalMs = options.intervalMs ?? 10_000;
  const hostTags = Array.from({ length: options.hosts }, (_, h) =>
    TSBS_TAGS.map((tag) => (tag === "hostname" ? `host_${h}` : `${tag}_${h % 7}`)),
  );
  const hostTsids = hostTags.map((tags) => computeTsid(TSBS_TAGS.map((name, i) => [name, tags[i] ?? null])));
  const total = options.hosts * options.timestamps;
  const batches: ColumnBatch[] = [];
  let seed = 42;
  const random = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 4294967296;
  };
  for (let first = 0; first < total; first += options.batchRows) {
    const rows = Math.min(options.batchRows, total - first);
    const tsid = new BigUint64Array(rows);
    const timestamp = new Float64Array(rows);
    const tags = TSBS_TAGS.map(() => new Array<string>(rows));
    const fields = TSBS_FIELDS.map(() => new Float64Array(rows));
    for (let r = 0; r < rows; r++) {
      const i = first + r;
      const host = i % options.hosts;
      tsid[r] = hostTsids[host] as bigint;
      timestamp[r] = startMs + Math.floor(i / options.hosts) * intervalMs;
      const hostTagValues = hostTags[host] as string[];
      for (let t = 0; t < tags.length; t++) (tags[t] as string[])[r] = hostTagValues[t] as string;
      for (const f of fields) f[r] = random() * 100;
    }
    const byName = new Map<string, Column>([
      ["tsid", { type: DataType.UInt64, values: tsid, validity: null }],
      ["timestamp", { type: DataType.Timestamp, values: timestamp, validity: null }],
      ...TSBS_TAGS.map((name, t): [string, Column] => [
        name,
        { type: DataType.String, values: tags[t] as string[], validity: null },
      ]),
      ...TSBS_FIELDS.map((name, f): [string, Column] => [
        name,
        { type: DataType.Double, values: fields[f] as Float64Array, validity: null },
      ]),
    ]);
    const names = schema.columns.map((c) => c.name);
    batches.push({ names, columns: names.map((n) => byName.get(n) as Column), numRows: rows });
  }
  return batches;
}
