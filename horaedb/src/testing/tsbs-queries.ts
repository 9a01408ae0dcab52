import { mulberry32, type TsbsField, type TsbsScale } from "./tsbs.js";

/**
 * The TSBS "devops" query shapes over the cpu-only data set, in our SQL, with their parameters
 * (hosts, time windows) drawn from a seeded generator as TSBS's query generator draws them.
 *
 * - single-groupby-1-1-1: max of 1 field per minute, 1 host, 1 hour
 * - single-groupby-5-1-12: max of 5 fields per minute, 1 host, 12 hours
 * - double-groupby-1: mean of 1 field per hour and host, every host, 12 hours
 * - high-cpu-1: every row of 1 host with usage_user > 90, 12 hours
 * - lastpoint: the last reading of each host
 * - groupby-orderby-limit: the last 5 one-minute maxima before a random end
 *
 * Unlike TSBS, window bounds are aligned to the shape's bucket width, so each bucket is whole and
 * the expected result size is known (and the same in every system compared).
 */
export const TSBS_QUERY_SHAPES = [
  "single-groupby-1-1-1",
  "single-groupby-5-1-12",
  "double-groupby-1",
  "high-cpu-1",
  "lastpoint",
  "groupby-orderby-limit",
] as const;

export type TsbsQueryShape = (typeof TSBS_QUERY_SHAPES)[number];

/** The fields a query of the shape aggregates or returns. */
export const TSBS_QUERY_FIELDS: Readonly<Record<TsbsQueryShape, readonly TsbsField[]>> = {
  "single-groupby-1-1-1": ["usage_user"],
  // TSBS takes the first N fields of the cpu measurement.
  "single-groupby-5-1-12": ["usage_user", "usage_system", "usage_idle", "usage_nice", "usage_iowait"],
  "double-groupby-1": ["usage_user"],
  "high-cpu-1": ["usage_user"],
  // TSBS's lastpoint returns every field; this one reads usage_user alone.
  lastpoint: ["usage_user"],
  "groupby-orderby-limit": ["usage_user"],
};

/** high-cpu-1 keeps the rows whose usage_user is above this. */
export const TSBS_HIGH_CPU_THRESHOLD = 90;
/** groupby-orderby-limit returns this many minutes. */
export const TSBS_ORDER_BY_LIMIT = 5;

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

interface ShapeDefinition {
  /** Hosts filtered on; 0 means every host. */
  readonly hosts: number;
  /** Length of the time window; undefined when the shape has none. */
  readonly windowMs: number | undefined;
  /** Bucket width of the grouping, and the alignment of the window's bounds. */
  readonly bucketMs: number;
}

const SHAPES: Readonly<Record<TsbsQueryShape, ShapeDefinition>> = {
  "single-groupby-1-1-1": { hosts: 1, windowMs: HOUR, bucketMs: MINUTE },
  "single-groupby-5-1-12": { hosts: 1, windowMs: 12 * HOUR, bucketMs: MINUTE },
  "double-groupby-1": { hosts: 0, windowMs: 12 * HOUR, bucketMs: HOUR },
  "high-cpu-1": { hosts: 1, windowMs: 12 * HOUR, bucketMs: MINUTE },
  lastpoint: { hosts: 0, windowMs: undefined, bucketMs: MINUTE },
  // TSBS draws a random one-hour window and uses its end as the upper bound.
  "groupby-orderby-limit": { hosts: 0, windowMs: HOUR, bucketMs: MINUTE },
};

/** One query of a shape with its parameters. */
export interface TsbsQuery {
  readonly shape: TsbsQueryShape;
  /** The hostnames filtered on; empty for the shapes over every host. */
  readonly hosts: readonly string[];
  /**
   * The time window [start, end), ms. lastpoint has no time condition: its window is the whole
   * data set. groupby-orderby-limit has only the upper bound `end`: `start` is the data's start.
   */
  readonly start: number;
  readonly end: number;
  /** Bucket width of the shape's time grouping, ms. */
  readonly bucketMs: number;
}

/** A seeded generator of query parameters, as TSBS's query generator takes `--seed`. */
export function tsbsQueryRandom(seed: number): () => number {
  return mulberry32(seed);
}

/**
 * Draws the parameters of one query of `shape` over the data set `scale`: distinct random hosts and
 * a random window of the shape's length inside the data's time range (clamped to it when the data
 * set is shorter), its bounds on multiples of the bucket width from the data's start.
 */
export function drawTsbsQuery(shape: TsbsQueryShape, scale: TsbsScale, random: () => number): TsbsQuery {
  const definition = SHAPES[shape];
  const dataEnd = scale.start + scale.durationMs;
  const hosts = pickHosts(Math.min(definition.hosts, scale.hosts), scale.hosts, random);
  const bucketMs = definition.bucketMs;
  if (definition.windowMs === undefined) return { shape, hosts, start: scale.start, end: dataEnd, bucketMs };
  const buckets = Math.max(1, Math.floor(Math.min(definition.windowMs, scale.durationMs) / bucketMs));
  const slots = Math.max(1, Math.floor(scale.durationMs / bucketMs) - buckets + 1);
  const start = scale.start + Math.floor(random() * slots) * bucketMs;
  const end = start + buckets * bucketMs;
  if (shape === "groupby-orderby-limit") return { shape, hosts, start: scale.start, end, bucketMs };
  return { shape, hosts, start, end, bucketMs };
}

function pickHosts(count: number, hosts: number, random: () => number): string[] {
  const picked = new Set<number>();
  while (picked.size < count) picked.add(Math.floor(random() * hosts));
  return [...picked].map((h) => `host_${h}`);
}

/** A query of `shape` with the given parameters (for fixed queries, e.g. in tests). */
export function tsbsQuery(
  shape: TsbsQueryShape,
  parameters: { readonly hosts?: readonly string[]; readonly start: number; readonly end: number },
): TsbsQuery {
  const { start, end } = parameters;
  return { shape, hosts: parameters.hosts ?? [], start, end, bucketMs: SHAPES[shape].bucketMs };
}

/** The query in our SQL, against the table `table` (default `cpu`). */
export function tsbsQuerySql(query: TsbsQuery, table = "cpu"): string {
  const fields = TSBS_QUERY_FIELDS[query.shape];
  const hostFilter =
    query.hosts.length === 1
      ? `hostname = ${sqlString(query.hosts[0] as string)}`
      : `hostname IN (${query.hosts.map(sqlString).join(", ")})`;
  const window = `timestamp >= ${sqlTimestamp(query.start)} AND timestamp < ${sqlTimestamp(query.end)}`;
  const bucket = `time_bucket(timestamp, '${isoDuration(query.bucketMs)}')`;
  switch (query.shape) {
    case "single-groupby-1-1-1":
    case "single-groupby-5-1-12":
      return (
        `SELECT ${bucket} AS minute, ${fields.map((f) => `max(${f})`).join(", ")} FROM ${table} ` +
        `WHERE ${hostFilter} AND ${window} GROUP BY minute ORDER BY minute`
      );
    case "double-groupby-1":
      return (
        `SELECT ${bucket} AS hour, hostname, avg(${fields[0]}) FROM ${table} ` +
        `WHERE ${window} GROUP BY hour, hostname ORDER BY hour, hostname`
      );
    case "high-cpu-1":
      return (
        `SELECT * FROM ${table} WHERE ${fields[0]} > ${TSBS_HIGH_CPU_THRESHOLD}.0 AND ${hostFilter} ` +
        `AND ${window}`
      );
    case "lastpoint":
      return `SELECT hostname, last(${fields[0]}) FROM ${table} GROUP BY hostname`;
    case "groupby-orderby-limit":
      return (
        `SELECT ${bucket} AS minute, max(${fields[0]}) FROM ${table} ` +
        `WHERE timestamp < ${sqlTimestamp(query.end)} GROUP BY minute ORDER BY minute DESC ` +
        `LIMIT ${TSBS_ORDER_BY_LIMIT}`
      );
  }
}

/**
 * The rows a query's result has over a complete data set of `hosts` hosts (one row every interval
 * for every host); undefined for high-cpu-1, whose result depends on the values.
 */
export function tsbsExpectedRows(query: TsbsQuery, hosts: number): number | undefined {
  const buckets = (query.end - query.start) / query.bucketMs;
  switch (query.shape) {
    case "single-groupby-1-1-1":
    case "single-groupby-5-1-12":
      return buckets;
    case "double-groupby-1":
      return buckets * hosts;
    case "high-cpu-1":
      return undefined;
    case "lastpoint":
      return hosts;
    case "groupby-orderby-limit":
      return Math.min(TSBS_ORDER_BY_LIMIT, buckets);
  }
}

function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** `TIMESTAMP 'YYYY-MM-DD HH:MM:SS.fff'`, UTC. */
function sqlTimestamp(ms: number): string {
  return `TIMESTAMP '${new Date(ms).toISOString().replace("T", " ").replace("Z", "")}'`;
}

/** PT1M, PT1H: the ISO-8601 duration time_bucket takes. */
function isoDuration(ms: number): string {
  if (ms % HOUR === 0) return `PT${ms / HOUR}H`;
  if (ms % MINUTE === 0) return `PT${ms / MINUTE}M`;
  return `PT${ms / 1000}S`;
}
