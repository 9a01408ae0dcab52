/**
 * SstMeta: what the engine knows about one SST without reading it. The writer returns it (the
 * manifest keeps it, so pruning needs no file read) and also stores it in the file's Parquet
 * key-value metadata under SST_META_KEY, so a file can be understood on its own.
 *
 * Every value is plain JSON: int64/uint64 statistics are decimal strings.
 */
import { type DataType, isDataType } from "../table/data-type.js";
import { SstCompression } from "../table/options.js";
import { SstMetaFormatError } from "./errors.js";
import { isValidTagBloom, type TagBloom } from "./tag-bloom.js";

export const SST_FORMAT_VERSION = 1;
/** Parquet key-value metadata key holding the SstMeta JSON. */
export const SST_META_KEY = "horaedb.sst_meta";
/** Tag columns list their distinct values per row group when there are at most this many. */
export const MAX_DISTINCT_TAG_VALUES = 16;
/**
 * Above MAX_DISTINCT_TAG_VALUES, and up to this many distinct values, a tag column's values in a
 * row group are summed up in a Bloom filter (about 10 bits per value: at most 1.3 KB).
 */
export const MAX_TAG_BLOOM_VALUES = 1024;

/** A statistic: a number, a decimal string (int64/uint64), a string, or a boolean. */
export type StatValue = number | string | boolean;

export interface ColumnStats {
  /** Smallest non-null value, or null when every value is null. Strings compare by UTF-8 bytes. */
  readonly min: StatValue | null;
  readonly max: StatValue | null;
  /** Null values in the row group; absent when there are none. */
  readonly nullCount?: number;
  /** TAG columns only: every distinct non-null value, sorted, when there are few enough. */
  readonly distinct?: readonly string[];
  /** TAG columns only: a filter of the non-null values, when too many to list (see tag-bloom.ts). */
  readonly bloom?: TagBloom;
}

export interface RowGroupMeta {
  readonly numRows: number;
  /** Smallest and largest timestamp in the row group, both inclusive. */
  readonly timeRange: { readonly min: number; readonly max: number };
  /** Statistics of the TAG and primary-key columns (except the timestamp: see timeRange), by name. */
  readonly columns: Readonly<Record<string, ColumnStats>>;
}

export interface SstColumnMeta {
  readonly name: string;
  readonly type: DataType;
  readonly isTag: boolean;
}

export interface SstMeta {
  readonly formatVersion: number;
  /** Size of the file in bytes (not stored inside the file: it is the object's size). */
  readonly fileSize: number;
  readonly rowCount: number;
  /** Smallest and largest timestamp of the file, both inclusive. */
  readonly timeRange: { readonly min: number; readonly max: number };
  /** Largest WAL sequence of any row in the file. */
  readonly maxSequence: number;
  /** Version of the table schema the file was written with. */
  readonly schemaVersion: number;
  readonly primaryKey: readonly string[];
  readonly compression: SstCompression;
  /** The file's columns, in file order. */
  readonly columns: readonly SstColumnMeta[];
  /** One entry per Parquet row group, in file order. */
  readonly rowGroups: readonly RowGroupMeta[];
  /**
   * CRC32C of the whole file, 8 lowercase hex digits, computed with these 8 digits (inside the
   * embedded copy of this meta) read as "00000000". Always the last field of the embedded JSON.
   */
  readonly crc32c: string;
}

/** The placeholder the checksum occupies while it is computed. */
export const CRC_PLACEHOLDER = "00000000";

/**
 * The JSON stored in the file: the meta without fileSize, with `crc32c` last (the checksum code finds
 * it by the `"crc32c":"` marker closest to the end of the footer).
 */
export function embeddedMetaJson(meta: Omit<SstMeta, "fileSize" | "crc32c">): string {
  const ordered = {
    formatVersion: meta.formatVersion,
    rowCount: meta.rowCount,
    timeRange: meta.timeRange,
    maxSequence: meta.maxSequence,
    schemaVersion: meta.schemaVersion,
    primaryKey: meta.primaryKey,
    compression: meta.compression,
    columns: meta.columns,
    rowGroups: meta.rowGroups,
    crc32c: CRC_PLACEHOLDER,
  };
  return JSON.stringify(ordered);
}

/**
 * Validates a JSON value as SstMeta (as read from a manifest or a footer). `fileSize`, when given,
 * is used instead of the value's own (the embedded copy has none).
 */
export function parseSstMeta(raw: unknown, fileSize?: number): SstMeta {
  const o = obj(raw, "$");
  const formatVersion = int(o.formatVersion, "formatVersion", 1);
  if (formatVersion !== SST_FORMAT_VERSION) {
    throw new SstMetaFormatError("formatVersion", `unsupported version ${formatVersion}`);
  }
  const columns = arr(o.columns, "columns").map((c, i): SstColumnMeta => {
    const col = obj(c, `columns[${i}]`);
    const type = str(col.type, `columns[${i}].type`);
    if (!isDataType(type)) throw new SstMetaFormatError(`columns[${i}].type`, `unknown type ${type}`);
    return { name: str(col.name, `columns[${i}].name`), type, isTag: bool(col.isTag, `columns[${i}].isTag`) };
  });
  const rowGroups = arr(o.rowGroups, "rowGroups").map((g, i) => parseRowGroup(g, `rowGroups[${i}]`));
  const rowCount = int(o.rowCount, "rowCount", 0);
  const groupRows = rowGroups.reduce((sum, g) => sum + g.numRows, 0);
  if (groupRows !== rowCount) {
    throw new SstMetaFormatError("rowGroups", `row groups hold ${groupRows} rows, rowCount is ${rowCount}`);
  }
  const compression = str(o.compression, "compression");
  if (!(SstCompression as readonly string[]).includes(compression)) {
    throw new SstMetaFormatError("compression", `unknown compression ${compression}`);
  }
  const crc32c = str(o.crc32c, "crc32c");
  if (!/^[0-9a-f]{8}$/.test(crc32c))
    throw new SstMetaFormatError("crc32c", "expected 8 lowercase hex digits");
  return {
    formatVersion,
    fileSize: fileSize ?? int(o.fileSize, "fileSize", 0),
    rowCount,
    timeRange: range(o.timeRange, "timeRange"),
    maxSequence: int(o.maxSequence, "maxSequence"),
    schemaVersion: int(o.schemaVersion, "schemaVersion", 1),
    primaryKey: arr(o.primaryKey, "primaryKey").map((k, i) => str(k, `primaryKey[${i}]`)),
    compression: compression as SstCompression,
    columns,
    rowGroups,
    crc32c,
  };
}

function parseRowGroup(raw: unknown, path: string): RowGroupMeta {
  const o = obj(raw, path);
  const columnsRaw = obj(o.columns, `${path}.columns`);
  const columns: Record<string, ColumnStats> = {};
  for (const [name, value] of Object.entries(columnsRaw)) {
    const p = `${path}.columns.${name}`;
    const s = obj(value, p);
    const stats: ColumnStats = {
      min: stat(s.min, `${p}.min`),
      max: stat(s.max, `${p}.max`),
      ...(s.nullCount === undefined ? {} : { nullCount: int(s.nullCount, `${p}.nullCount`, 0) }),
      ...(s.distinct === undefined
        ? {}
        : { distinct: arr(s.distinct, `${p}.distinct`).map((v, i) => str(v, `${p}.distinct[${i}]`)) }),
      ...(s.bloom === undefined ? {} : { bloom: tagBloom(s.bloom, `${p}.bloom`) }),
    };
    Object.defineProperty(columns, name, { value: stats, enumerable: true, writable: false });
  }
  return {
    numRows: int(o.numRows, `${path}.numRows`, 1),
    timeRange: range(o.timeRange, `${path}.timeRange`),
    columns,
  };
}

function obj(v: unknown, path: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v))
    throw new SstMetaFormatError(path, "expected an object");
  return v as Record<string, unknown>;
}

function arr(v: unknown, path: string): unknown[] {
  if (!Array.isArray(v)) throw new SstMetaFormatError(path, "expected an array");
  return v;
}

function str(v: unknown, path: string): string {
  if (typeof v !== "string") throw new SstMetaFormatError(path, "expected a string");
  return v;
}

function tagBloom(v: unknown, path: string): TagBloom {
  const o = obj(v, path);
  const bloom: TagBloom = { hashes: int(o.hashes, `${path}.hashes`, 1), bits: str(o.bits, `${path}.bits`) };
  if (!isValidTagBloom(bloom)) {
    throw new SstMetaFormatError(path, "expected 1..32 hashes and at least 8 bytes of base64 bits");
  }
  return bloom;
}

function bool(v: unknown, path: string): boolean {
  if (typeof v !== "boolean") throw new SstMetaFormatError(path, "expected a boolean");
  return v;
}

function int(v: unknown, path: string, min = Number.MIN_SAFE_INTEGER): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) {
    throw new SstMetaFormatError(path, `expected an integer >= ${min}`);
  }
  return v;
}

function stat(v: unknown, path: string): StatValue | null {
  if (v === null || typeof v === "string" || typeof v === "boolean") return v;
  if (typeof v === "number" && Number.isFinite(v)) return v;
  throw new SstMetaFormatError(path, "expected a number, string, boolean or null");
}

function range(v: unknown, path: string): { min: number; max: number } {
  const o = obj(v, path);
  const min = int(o.min, `${path}.min`);
  const max = int(o.max, `${path}.max`);
  if (min > max) throw new SstMetaFormatError(path, `min ${min} is above max ${max}`);
  return { min, max };
}
