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
  readonly tags: Record<(typeof TSBS_TAGS)[number], string[]>;
  readonly timestamps: Float64Array;
  readonly fields: Record<(typeof TSBS_FIELDS)[number], Float64Array>;
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

export function hostTags(hosts: number, seed: number): Array<Record<(typeof TSBS_TAGS)[number], string>> {
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
    const batch: TsbsBatch = {
      numRows: n,
      tags: Object.fromEntries(TSBS_TAGS.map((t) => [t, new Array<string>(n)])) as TsbsBatch["tags"],
      timestamps: new Float64Array(n),
      fields: Object.fromEntries(TSBS_FIELDS.map((f) => [f, new Float64Array(n)])) as TsbsBatch["fields"],
    };
    for (let i = 0; i < n; i++, row++) {
      const host = row % scale.hosts;
      const step = Math.floor(row / scale.hosts);
      const hostTag = tags[host] as Record<(typeof TSBS_TAGS)[number], string>;
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
