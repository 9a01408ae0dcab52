import type { Column } from "../batch/column.js";
import type { ColumnBatch } from "../batch/column-batch.js";
import type { WriteRows } from "../engine/write-validation.js";
import { DataType } from "../table/data-type.js";
import { TableSchema } from "../table/schema.js";
import { computeTsid } from "../table/tsid.js";

/**
 * Deterministic TSBS "cpu-only" data: per host 10 tags and 10 usage fields every 10 seconds,
 * generated the way TSBS does (random walks per field, clamped to [0, 100]) from a seeded PRNG,
 * so every run and every database under comparison gets identical rows.
 */
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

export type TsbsTag = (typeof TSBS_TAGS)[number];
export type TsbsField = (typeof TSBS_FIELDS)[number];

export interface TsbsScale {
  readonly hosts: number;
  /** First timestamp, ms. */
  readonly start: number;
  readonly durationMs: number;
  readonly intervalMs: number;
  readonly seed: number;
}

export const DEFAULT_SCALE: TsbsScale = {
  hosts: 100,
  start: Date.UTC(2024, 0, 1),
  durationMs: 24 * 3_600_000,
  intervalMs: 10_000,
  seed: 123,
};

/** One batch of rows in columnar form: tag values per row, timestamps, field values. */
export interface TsbsBatch {
  readonly numRows: number;
  readonly tags: Record<TsbsTag, string[]>;
  readonly timestamps: Float64Array;
  readonly fields: Record<TsbsField, Float64Array>;
}

const REGIONS = [
  "us-east-1",
  "us-west-1",
  "us-west-2",
  "eu-west-1",
  "eu-central-1",
  "ap-southeast-1",
  "ap-southeast-2",
  "ap-northeast-1",
  "sa-east-1",
];
const OSES = ["Ubuntu16.10", "Ubuntu16.04LTS", "Ubuntu15.10"];
const ARCHES = ["x64", "x86"];
const TEAMS = ["SF", "NYC", "LON", "CHI"];
const ENVIRONMENTS = ["production", "staging", "test"];

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A linear congruential generator: cheaper than mulberry32, good enough for filler values. */
export function lcgRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 4294967296;
  };
}

export function hostTags(hosts: number, seed: number): Array<Record<TsbsTag, string>> {
  const random = mulberry32(seed);
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)] as T;
  return Array.from({ length: hosts }, (_, h) => {
    const region = pick(REGIONS);
    return {
      hostname: `host_${h}`,
      region,
      datacenter: `${region}${pick(["a", "b", "c"])}`,
      rack: String(Math.floor(random() * 100)),
      os: pick(OSES),
      arch: pick(ARCHES),
      team: pick(TEAMS),
      service: String(Math.floor(random() * 20)),
      service_version: String(Math.floor(random() * 2)),
      service_environment: pick(ENVIRONMENTS),
    };
  });
}

/**
 * Tags easy to reason about in tests: host `h` is `host_<h>` and every other tag is `<tag>_<h % 7>`
 * (host_8 has os_1).
 */
export function simpleHostTags(hosts: number): Array<Record<TsbsTag, string>> {
  return Array.from(
    { length: hosts },
    (_, h) =>
      Object.fromEntries(
        TSBS_TAGS.map((tag) => [tag, tag === "hostname" ? `host_${h}` : `${tag}_${h % 7}`]),
      ) as Record<TsbsTag, string>,
  );
}

function emptyBatch(numRows: number): TsbsBatch {
  return {
    numRows,
    tags: Object.fromEntries(TSBS_TAGS.map((t) => [t, new Array<string>(numRows)])) as TsbsBatch["tags"],
    timestamps: new Float64Array(numRows),
    fields: Object.fromEntries(TSBS_FIELDS.map((f) => [f, new Float64Array(numRows)])) as TsbsBatch["fields"],
  };
}

/**
 * Yields the data set in time order (all hosts at one timestamp, then the next), cut into batches
 * of `batchRows` rows, as TSBS emits it.
 */
export function* tsbsBatches(scale: TsbsScale, batchRows: number): Generator<TsbsBatch> {
  const random = mulberry32(scale.seed + 1);
  const tags = hostTags(scale.hosts, scale.seed);
  const state = Array.from({ length: scale.hosts }, () => TSBS_FIELDS.map(() => random() * 100));
  const steps = Math.floor(scale.durationMs / scale.intervalMs);
  const total = steps * scale.hosts;
  let row = 0;
  while (row < total) {
    const n = Math.min(batchRows, total - row);
    const batch = emptyBatch(n);
    for (let i = 0; i < n; i++, row++) {
      const host = row % scale.hosts;
      const step = Math.floor(row / scale.hosts);
      const hostTag = tags[host] as Record<TsbsTag, string>;
      for (const t of TSBS_TAGS) batch.tags[t][i] = hostTag[t];
      batch.timestamps[i] = scale.start + step * scale.intervalMs;
      const values = state[host] as number[];
      TSBS_FIELDS.forEach((f, k) => {
        const next = Math.min(100, Math.max(0, (values[k] as number) + (random() - 0.5) * 2));
        values[k] = next;
        batch.fields[f][i] = next;
      });
    }
    yield batch;
  }
}

/** The rows as a write request, columns in TSBS order, as the first write of a table sends them. */
export function tsbsWriteRows(batch: TsbsBatch): WriteRows {
  const names: string[] = [...TSBS_TAGS, "timestamp", ...TSBS_FIELDS];
  const columns: Column[] = [
    ...TSBS_TAGS.map((t): Column => ({ type: DataType.String, values: batch.tags[t], validity: null })),
    { type: DataType.Timestamp, values: batch.timestamps, validity: null },
    ...TSBS_FIELDS.map((f): Column => ({ type: DataType.Double, values: batch.fields[f], validity: null })),
  ];
  return {
    batch: { names, columns, numRows: batch.numRows },
    tagNames: new Set(TSBS_TAGS),
    timestampColumn: "timestamp",
  };
}

/** The TSBS `cpu` table: 10 tags, 10 double fields, default key (tsid, timestamp). */
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

function tsidOf(tags: Record<TsbsTag, string>): bigint {
  return computeTsid(TSBS_TAGS.map((name) => [name, tags[name]]));
}

/**
 * The rows with their tsid, columns in {@link tsbsCpuSchema} order: a batch as it reaches the
 * memtable or the SST writer. Tags are per host, so the tsid is computed once per hostname.
 */
export function tsbsColumnBatch(batch: TsbsBatch): ColumnBatch {
  const tsidByHost = new Map<string, bigint>();
  const tsid = new BigUint64Array(batch.numRows);
  for (let r = 0; r < batch.numRows; r++) {
    const hostname = batch.tags.hostname[r] as string;
    let id = tsidByHost.get(hostname);
    if (id === undefined) {
      const tags = Object.fromEntries(TSBS_TAGS.map((t) => [t, batch.tags[t][r]])) as Record<TsbsTag, string>;
      id = tsidOf(tags);
      tsidByHost.set(hostname, id);
    }
    tsid[r] = id;
  }
  const byName = new Map<string, Column>([
    ["tsid", { type: DataType.UInt64, values: tsid, validity: null }],
    ["timestamp", { type: DataType.Timestamp, values: batch.timestamps, validity: null }],
    ...TSBS_TAGS.map((name): [string, Column] => [
      name,
      { type: DataType.String, values: batch.tags[name], validity: null },
    ]),
    ...TSBS_FIELDS.map((name): [string, Column] => [
      name,
      { type: DataType.Double, values: batch.fields[name], validity: null },
    ]),
  ]);
  const names = tsbsCpuSchema().columns.map((c) => c.name);
  return { names, columns: names.map((n) => byName.get(n) as Column), numRows: batch.numRows };
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
 * Rows in TSBS order (for each timestamp, one row per host) with {@link simpleHostTags} and
 * independent uniform field values, cut into batches of `batchRows` as {@link tsbsColumnBatch}es.
 * Tag strings are shared per host, as a decoder with a string cache yields.
 */
export function tsbsCpuBatches(options: TsbsCpuOptions): ColumnBatch[] {
  const startMs = options.startMs ?? DEFAULT_SCALE.start;
  const intervalMs = options.intervalMs ?? DEFAULT_SCALE.intervalMs;
  const tags = simpleHostTags(options.hosts);
  const total = options.hosts * options.timestamps;
  const random = lcgRandom(42);
  const batches: ColumnBatch[] = [];
  for (let first = 0; first < total; first += options.batchRows) {
    const batch = emptyBatch(Math.min(options.batchRows, total - first));
    for (let r = 0; r < batch.numRows; r++) {
      const i = first + r;
      const host = tags[i % options.hosts] as Record<TsbsTag, string>;
      batch.timestamps[r] = startMs + Math.floor(i / options.hosts) * intervalMs;
      for (const t of TSBS_TAGS) batch.tags[t][r] = host[t];
      for (const f of TSBS_FIELDS) batch.fields[f][r] = random() * 100;
    }
    batches.push(tsbsColumnBatch(batch));
  }
  return batches;
}

/**
 * Rows as a flush hands them to the SST writer: {@link simpleHostTags} hosts sorted by
 * (tsid, timestamp), `timestamps` rows per host from {@link DEFAULT_SCALE}'s start and interval.
 * Field values are a deterministic pseudo-random walk in [0, 100].
 */
export function tsbsSortedBatch(hosts: number, timestamps: number): ColumnBatch {
  const series = simpleHostTags(hosts)
    .map((tags) => ({ tags, tsid: tsidOf(tags) }))
    .sort((a, b) => (a.tsid < b.tsid ? -1 : a.tsid > b.tsid ? 1 : 0));
  const batch = emptyBatch(hosts * timestamps);
  const random = lcgRandom(7);
  let row = 0;
  for (const s of series) {
    const walk = TSBS_FIELDS.map(() => random() * 100);
    for (let t = 0; t < timestamps; t++, row++) {
      batch.timestamps[row] = DEFAULT_SCALE.start + t * DEFAULT_SCALE.intervalMs;
      for (const tag of TSBS_TAGS) batch.tags[tag][row] = s.tags[tag];
      TSBS_FIELDS.forEach((f, k) => {
        const next = Math.min(100, Math.max(0, (walk[k] as number) + (random() - 0.5) * 2));
        walk[k] = next;
        batch.fields[f][row] = next;
      });
    }
  }
  return tsbsColumnBatch(batch);
}
