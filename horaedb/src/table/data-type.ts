/**
 * Column data types of a table, with HoraeDB's names. The in-memory representation of each type is
 * fixed here so that every layer (WAL codec, memtable, SST, scan) agrees on it.
 */
export const DataType = {
  Timestamp: "timestamp",
  Double: "double",
  Float: "float",
  Int64: "int64",
  Int32: "int32",
  UInt64: "uint64",
  Boolean: "boolean",
  String: "string",
  Varbinary: "varbinary",
} as const;

export type DataType = (typeof DataType)[keyof typeof DataType];

export const ALL_DATA_TYPES: readonly DataType[] = Object.values(DataType);

/** A single cell value as it appears in rows handed to or returned by the engine. */
export type CellValue = number | bigint | boolean | string | Uint8Array | null;

/**
 * Timestamps are int64 milliseconds in the data model; in memory they are held in a Float64Array,
 * which represents every integer up to 2^53 exactly (beyond the year 285,000) and keeps the hot
 * paths free of BigInt arithmetic. Values outside this range are rejected at validation.
 */
export const MAX_TIMESTAMP_MS = Number.MAX_SAFE_INTEGER;
export const MIN_TIMESTAMP_MS = -Number.MAX_SAFE_INTEGER;

/** Bytes per value of a fixed-width type as held in memory and in the WAL; 0 for strings and bytes. */
export function fixedByteWidth(type: DataType): number {
  switch (type) {
    case DataType.Timestamp:
    case DataType.Double:
    case DataType.Int64:
    case DataType.UInt64:
      return 8;
    case DataType.Float:
    case DataType.Int32:
      return 4;
    case DataType.Boolean:
      return 1;
    default:
      return 0;
  }
}

export function isDataType(value: string): value is DataType {
  return (ALL_DATA_TYPES as readonly string[]).includes(value);
}

/** Parses a type name as written in SQL or in a write request (case-insensitive, with aliases). */
export function parseDataType(name: string): DataType | undefined {
  const lower = name.toLowerCase();
  const aliases: Record<string, DataType> = {
    bigint: DataType.Int64,
    int: DataType.Int32,
    integer: DataType.Int32,
    bool: DataType.Boolean,
    varchar: DataType.String,
    text: DataType.String,
    bytes: DataType.Varbinary,
    binary: DataType.Varbinary,
    float64: DataType.Double,
    float32: DataType.Float,
    real: DataType.Float,
  };
  return isDataType(lower) ? lower : aliases[lower];
}
