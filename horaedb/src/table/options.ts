import { SchemaError } from "./errors.js";

export const UpdateMode = { Overwrite: "OVERWRITE", Append: "APPEND" } as const;
export type UpdateMode = (typeof UpdateMode)[keyof typeof UpdateMode];

export const SstCompression = ["ZSTD", "SNAPPY", "LZ4_RAW", "GZIP", "UNCOMPRESSED"] as const;
export type SstCompression = (typeof SstCompression)[number];

/** Table options, with HoraeDB's option names in `WITH (...)` and their defaults. */
export interface TableOptions {
  /** `enable_ttl`: drop data older than `ttl`. */
  readonly enableTtl: boolean;
  /** `ttl`, milliseconds. */
  readonly ttlMs: number;
  /** `segment_duration`, milliseconds: the time span of one SST file and one compaction window. */
  readonly segmentDurationMs: number;
  /** `write_buffer_size`, bytes: the memtable size that triggers a flush. */
  readonly writeBufferSize: number;
  /** `update_mode`: OVERWRITE keeps the last write of a primary key; APPEND keeps every row. */
  readonly updateMode: UpdateMode;
  /** `compression` of SST files. */
  readonly compression: SstCompression;
  /** `num_rows_per_row_group` of SST files. */
  readonly numRowsPerRowGroup: number;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export const DEFAULT_TABLE_OPTIONS: TableOptions = Object.freeze({
  enableTtl: true,
  ttlMs: 7 * DAY,
  segmentDurationMs: 2 * HOUR,
  writeBufferSize: 32 * 1024 * 1024,
  updateMode: UpdateMode.Overwrite,
  compression: "ZSTD",
  numRowsPerRowGroup: 8192,
});

const OPTION_NAMES = [
  "enable_ttl",
  "ttl",
  "segment_duration",
  "write_buffer_size",
  "update_mode",
  "compression",
  "num_rows_per_row_group",
] as const;

/**
 * Parses `WITH (k='v', ...)` options, starting from `base` (the defaults, or a table's current
 * options for `ALTER TABLE ... MODIFY SETTING`). Unknown names and bad values are errors.
 */
export function parseTableOptions(
  raw: Readonly<Record<string, string>>,
  base: TableOptions = DEFAULT_TABLE_OPTIONS,
  table?: string,
): TableOptions {
  const out: { -readonly [K in keyof TableOptions]: TableOptions[K] } = { ...base };
  for (const [rawName, value] of Object.entries(raw)) {
    const name = rawName.toLowerCase();
    const fail = (why: string): never => {
      throw new SchemaError(
        `option ${name}='${value}': ${why}`,
        table === undefined ? { field: name } : { table, field: name },
      );
    };
    switch (name) {
      case "enable_ttl":
        out.enableTtl = parseBoolean(value) ?? fail("expected true or false");
        break;
      case "ttl":
        out.ttlMs = parseDurationMs(value) ?? fail("expected a duration such as 7d, 12h, 30m");
        if (out.ttlMs <= 0) fail("must be positive");
        break;
      case "segment_duration":
        out.segmentDurationMs = parseDurationMs(value) ?? fail("expected a duration such as 2h, 1d");
        if (out.segmentDurationMs < 60_000) fail("must be at least 1m");
        break;
      case "write_buffer_size":
        out.writeBufferSize = parseBytes(value) ?? fail("expected a size such as 32MB or a byte count");
        if (out.writeBufferSize < 64 * 1024) fail("must be at least 64KB");
        break;
      case "update_mode": {
        const mode = value.toUpperCase();
        if (mode !== UpdateMode.Overwrite && mode !== UpdateMode.Append) fail("expected OVERWRITE or APPEND");
        out.updateMode = mode as UpdateMode;
        break;
      }
      case "compression": {
        const c = value.toUpperCase() === "LZ4" ? "LZ4_RAW" : value.toUpperCase();
        if (!(SstCompression as readonly string[]).includes(c))
          fail(`expected one of ${SstCompression.join(", ")}`);
        out.compression = c as SstCompression;
        break;
      }
      case "num_rows_per_row_group": {
        const n = Number(value);
        if (!Number.isInteger(n) || n < 1 || n > 10_000_000) fail("expected an integer from 1 to 10000000");
        out.numRowsPerRowGroup = n;
        break;
      }
      default:
        fail(`unknown option; known options are ${OPTION_NAMES.join(", ")}`);
    }
  }
  return Object.freeze(out);
}

/** The options as HoraeDB-named strings (for SHOW CREATE TABLE and for persisting). */
export function formatTableOptions(o: TableOptions): Record<string, string> {
  return {
    enable_ttl: String(o.enableTtl),
    ttl: formatDuration(o.ttlMs),
    segment_duration: formatDuration(o.segmentDurationMs),
    write_buffer_size: String(o.writeBufferSize),
    update_mode: o.updateMode,
    compression: o.compression,
    num_rows_per_row_group: String(o.numRowsPerRowGroup),
  };
}

function parseBoolean(v: string): boolean | undefined {
  const l = v.toLowerCase();
  return l === "true" ? true : l === "false" ? false : undefined;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: HOUR, d: DAY, w: 7 * DAY };

export function parseDurationMs(v: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$/i.exec(v);
  if (m === null) return undefined;
  const unit = DURATION_UNITS[(m[2] ?? "").toLowerCase()];
  return unit === undefined ? undefined : Math.round(Number(m[1]) * unit);
}

export function formatDuration(ms: number): string {
  for (const [unit, size] of [
    ["d", DAY],
    ["h", HOUR],
    ["m", 60_000],
    ["s", 1000],
  ] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

const BYTE_UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

export function parseBytes(v: string): number | undefined {
  const m = /^\s*(\d+)\s*(b|kb|mb|gb)?\s*$/i.exec(v);
  if (m === null) return undefined;
  return Number(m[1]) * (BYTE_UNITS[(m[2] ?? "b").toLowerCase()] ?? 1);
}
