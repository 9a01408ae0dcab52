import type { FieldValue, Point } from "./point.js";
import {
  ProtobufWriter,
  WireType,
  bigVarintSize,
  int64Size,
  lenFieldSize,
  varintSize,
} from "./protobuf-writer.js";
import type { TableWrite } from "./table-write.js";

/**
 * Groups points by table, then by series, into the series form of a write (tag and field names
 * listed once per table request, each series' tags once, one field group per row), encoded as
 * `WriteTableRequest` messages. A table whose points exceed `maxRequestBytes` (estimated) is split
 * into several table requests.
 */
export function encodePoints(points: readonly Point[], maxRequestBytes: number): TableWrite[] {
  const byTable = new Map<string, Point[]>();
  for (const point of points) {
    let group = byTable.get(point.table);
    if (group === undefined) byTable.set(point.table, (group = []));
    group.push(point);
  }
  const writes: TableWrite[] = [];
  for (const [table, tablePoints] of byTable) {
    let chunk: Point[] = [];
    let chunkBytes = 0;
    for (const point of tablePoints) {
      if (chunk.length > 0 && chunkBytes + point.estimatedBytes > maxRequestBytes) {
        writes.push(encodeTable(table, chunk));
        chunk = [];
        chunkBytes = 0;
      }
      chunk.push(point);
      chunkBytes += point.estimatedBytes;
    }
    if (chunk.length > 0) writes.push(encodeTable(table, chunk));
  }
  return writes;
}

// Field numbers of storage.proto.
const TABLE_REQUEST = { table: 1, series: 2 } as const;
const SERIES_ROWS = { tagNames: 1, fieldNames: 2, entries: 3 } as const;
const SERIES_ENTRY = { tags: 1, fieldGroups: 2 } as const;
const NAMED_VALUE = { nameIndex: 1, value: 2 } as const; // Tag and Field
const FIELD_GROUP = { timestamp: 1, fields: 2 } as const;
const VALUE = {
  float64: 1,
  float32: 2,
  int64: 3,
  int32: 4,
  uint64: 5,
  bool: 6,
  string: 7,
  varbinary: 8,
} as const;

interface Series {
  /** Tag name index and value, per tag. */
  readonly tags: Array<readonly [number, string]>;
  readonly points: Point[];
}

/** One `WriteTableRequest` (series form) for points of one table: sizes first, then bytes. */
function encodeTable(table: string, points: readonly Point[]): TableWrite {
  const tagNames = new Names();
  const fieldNames = new Names();
  const series = new Map<string, Series>();
  for (const point of points) {
    let entry = series.get(point.seriesKey);
    if (entry === undefined) {
      const tags = [...point.tags].map(([name, value]) => [tagNames.indexOf(name), value] as const);
      series.set(point.seriesKey, (entry = { tags, points: [] }));
    }
    entry.points.push(point);
  }

  // Sizes, in the order the bytes are written; nested messages need theirs before their content.
  const entrySizes: number[] = [];
  const tagSizes: number[] = [];
  const groupSizes: number[] = [];
  const fieldIndexes: number[] = [];
  const fieldSizes: number[] = [];
  const valueSizes: number[] = [];
  for (const entry of series.values()) {
    let entrySize = 0;
    for (const [index, value] of entry.tags) {
      const size = nameIndexSize(index) + lenFieldSize(lenFieldSize(Buffer.byteLength(value)));
      tagSizes.push(size);
      entrySize += lenFieldSize(size);
    }
    for (const point of entry.points) {
      let groupSize = point.timestampMs === 0 ? 0 : 1 + int64Size(point.timestampMs);
      for (const [name, value] of point.fields) {
        const index = fieldNames.indexOf(name);
        const valueSize = valueSizeOf(value);
        const fieldSize = nameIndexSize(index) + lenFieldSize(valueSize);
        fieldIndexes.push(index);
        valueSizes.push(valueSize);
        fieldSizes.push(fieldSize);
        groupSize += lenFieldSize(fieldSize);
      }
      groupSizes.push(groupSize);
      entrySize += lenFieldSize(groupSize);
    }
    entrySizes.push(entrySize);
  }
  const seriesRowsSize =
    tagNames.encodedSize +
    fieldNames.encodedSize +
    entrySizes.reduce((sum, size) => sum + lenFieldSize(size), 0);
  const tableBytes = Buffer.byteLength(table);

  const w = new ProtobufWriter(lenFieldSize(tableBytes) + lenFieldSize(seriesRowsSize));
  w.tag(TABLE_REQUEST.table, WireType.LEN);
  w.string(table, tableBytes);
  w.tag(TABLE_REQUEST.series, WireType.LEN);
  w.varint(seriesRowsSize);
  tagNames.write(w, SERIES_ROWS.tagNames);
  fieldNames.write(w, SERIES_ROWS.fieldNames);
  let e = 0;
  let t = 0;
  let g = 0;
  let f = 0;
  for (const entry of series.values()) {
    w.tag(SERIES_ROWS.entries, WireType.LEN);
    w.varint(entrySizes[e++] as number);
    for (const [index, value] of entry.tags) {
      const valueBytes = Buffer.byteLength(value);
      w.tag(SERIES_ENTRY.tags, WireType.LEN);
      w.varint(tagSizes[t++] as number);
      writeNameIndex(w, index);
      w.tag(NAMED_VALUE.value, WireType.LEN);
      w.varint(lenFieldSize(valueBytes));
      w.tag(VALUE.string, WireType.LEN);
      w.string(value, valueBytes);
    }
    for (const point of entry.points) {
      w.tag(SERIES_ENTRY.fieldGroups, WireType.LEN);
      w.varint(groupSizes[g++] as number);
      if (point.timestampMs !== 0) {
        w.tag(FIELD_GROUP.timestamp, WireType.VARINT);
        w.int64(point.timestampMs);
      }
      for (const value of point.fields.values()) {
        w.tag(FIELD_GROUP.fields, WireType.LEN);
        w.varint(fieldSizes[f] as number);
        writeNameIndex(w, fieldIndexes[f] as number);
        w.tag(NAMED_VALUE.value, WireType.LEN);
        w.varint(valueSizes[f] as number);
        writeValue(w, value);
        f++;
      }
    }
  }
  const encoded = w.finish();
  return { table, encoded, rows: points.length, bytes: encoded.byteLength, points };
}

/** Names listed once per table request, referred to by index. */
class Names {
  readonly #names: string[] = [];
  readonly #indexes = new Map<string, number>();
  #encodedSize = 0;

  indexOf(name: string): number {
    let index = this.#indexes.get(name);
    if (index === undefined) {
      index = this.#names.length;
      this.#names.push(name);
      this.#indexes.set(name, index);
      this.#encodedSize += lenFieldSize(Buffer.byteLength(name));
    }
    return index;
  }

  /** Bytes the names take as a repeated string field. */
  get encodedSize(): number {
    return this.#encodedSize;
  }

  write(w: ProtobufWriter, field: number): void {
    for (const name of this.#names) {
      w.tag(field, WireType.LEN);
      w.string(name, Buffer.byteLength(name));
    }
  }
}

// proto3 leaves a zero scalar out; the receiver reads it back as 0.
function nameIndexSize(index: number): number {
  return index === 0 ? 0 : 1 + varintSize(index);
}

function writeNameIndex(w: ProtobufWriter, index: number): void {
  if (index === 0) return;
  w.tag(NAMED_VALUE.nameIndex, WireType.VARINT);
  w.varint(index);
}

/** Size of a `Value` message holding `value` (a oneof member is written even when zero). */
function valueSizeOf(value: FieldValue): number {
  if ("float64Value" in value) return 9;
  if ("float32Value" in value) return 5;
  if ("stringValue" in value) return lenFieldSize(Buffer.byteLength(value.stringValue));
  if ("int64Value" in value) return 1 + bigVarintSize(BigInt(value.int64Value));
  if ("int32Value" in value) return 1 + int64Size(value.int32Value);
  if ("uint64Value" in value) return 1 + bigVarintSize(BigInt(value.uint64Value));
  if ("boolValue" in value) return 2;
  return lenFieldSize(value.varbinaryValue.byteLength);
}

function writeValue(w: ProtobufWriter, value: FieldValue): void {
  if ("float64Value" in value) {
    w.tag(VALUE.float64, WireType.FIXED64);
    w.double(value.float64Value);
  } else if ("float32Value" in value) {
    w.tag(VALUE.float32, WireType.FIXED32);
    w.float(value.float32Value);
  } else if ("stringValue" in value) {
    w.tag(VALUE.string, WireType.LEN);
    w.string(value.stringValue, Buffer.byteLength(value.stringValue));
  } else if ("int64Value" in value) {
    w.tag(VALUE.int64, WireType.VARINT);
    w.bigVarint(BigInt(value.int64Value));
  } else if ("int32Value" in value) {
    // int32 is sign-extended to 64 bits on the wire.
    w.tag(VALUE.int32, WireType.VARINT);
    w.int64(value.int32Value);
  } else if ("uint64Value" in value) {
    w.tag(VALUE.uint64, WireType.VARINT);
    w.bigVarint(BigInt(value.uint64Value));
  } else if ("boolValue" in value) {
    w.tag(VALUE.bool, WireType.VARINT);
    w.varint(value.boolValue ? 1 : 0);
  } else {
    w.tag(VALUE.varbinary, WireType.LEN);
    w.bytes(value.varbinaryValue);
  }
}
