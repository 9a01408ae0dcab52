import { FieldKind, pointLayout, type Point, type PointLayout, type RawFieldValue } from "./point.js";
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
// `Value` members; FieldKind numbers them the same way.
const VALUE = {
  float64: FieldKind.Float64,
  float32: FieldKind.Float32,
  int64: FieldKind.Int64,
  int32: FieldKind.Int32,
  uint64: FieldKind.UInt64,
  bool: FieldKind.Bool,
  string: FieldKind.String,
  varbinary: FieldKind.Varbinary,
} as const;

interface Series {
  /** The layouts of the series' points; their tags are those of the first. */
  readonly points: PointLayout[];
}

/**
 * One `WriteTableRequest` (series form) for points of one table: sizes first, then bytes. Sizes are
 * kept in typed arrays in the order the bytes are written, and a name's index is looked up once per
 * position when points set their names in the same order (the usual case).
 */
function encodeTable(table: string, points: readonly Point[]): TableWrite {
  const tagNames = new Names();
  const fieldNames = new Names();
  const series = new Map<string, Series>();
  let numTags = 0;
  let numFields = 0;
  for (const point of points) {
    const layout = pointLayout(point);
    let entry = series.get(point.seriesKey);
    if (entry === undefined) {
      series.set(point.seriesKey, (entry = { points: [] }));
      numTags += layout.tagNames.length;
    }
    entry.points.push(layout);
    numFields += layout.fieldNames.length;
  }

  // Sizes, in the order the bytes are written; nested messages need theirs before their content.
  const entrySizes = new Int32Array(series.size);
  const tagIndexes = new Int32Array(numTags);
  const tagValueBytes = new Int32Array(numTags);
  const groupSizes = new Int32Array(points.length);
  const fieldIndexes = new Int32Array(numFields);
  const valueSizes = new Int32Array(numFields);
  const tagPositions = new NamePositions(tagNames);
  const fieldPositions = new NamePositions(fieldNames);
  let e = 0;
  let t = 0;
  let g = 0;
  let f = 0;
  for (const entry of series.values()) {
    let entrySize = 0;
    const { tagNames: names, tagValues } = entry.points[0] as PointLayout;
    for (let i = 0; i < names.length; i++) {
      const index = tagPositions.indexOf(i, names[i] as string);
      const valueBytes = Buffer.byteLength(tagValues[i] as string);
      tagIndexes[t] = index;
      tagValueBytes[t++] = valueBytes;
      entrySize += lenFieldSize(tagSize(index, valueBytes));
    }
    for (const { timestampMs, fieldNames: fields, fieldKinds, fieldValues } of entry.points) {
      // The timestamp is always sent, 0 too: the server refuses a field group without one.
      let groupSize = 1 + int64Size(timestampMs);
      for (let i = 0; i < fields.length; i++) {
        const index = fieldPositions.indexOf(i, fields[i] as string);
        const valueSize = valueSizeOf(fieldKinds[i] as FieldKind, fieldValues[i] as RawFieldValue);
        fieldIndexes[f] = index;
        valueSizes[f++] = valueSize;
        groupSize += lenFieldSize(nameIndexSize(index) + lenFieldSize(valueSize));
      }
      groupSizes[g++] = groupSize;
      entrySize += lenFieldSize(groupSize);
    }
    entrySizes[e++] = entrySize;
  }
  let seriesRowsSize = tagNames.encodedSize + fieldNames.encodedSize;
  for (let i = 0; i < entrySizes.length; i++) seriesRowsSize += lenFieldSize(entrySizes[i] as number);
  const tableBytes = Buffer.byteLength(table);

  const w = new ProtobufWriter(lenFieldSize(tableBytes) + lenFieldSize(seriesRowsSize));
  w.tag(TABLE_REQUEST.table, WireType.LEN);
  w.string(table, tableBytes);
  w.tag(TABLE_REQUEST.series, WireType.LEN);
  w.varint(seriesRowsSize);
  tagNames.write(w, SERIES_ROWS.tagNames);
  fieldNames.write(w, SERIES_ROWS.fieldNames);
  e = 0;
  t = 0;
  g = 0;
  f = 0;
  for (const entry of series.values()) {
    w.tag(SERIES_ROWS.entries, WireType.LEN);
    w.varint(entrySizes[e++] as number);
    const { tagValues } = entry.points[0] as PointLayout;
    for (let i = 0; i < tagValues.length; i++) {
      const index = tagIndexes[t] as number;
      const valueBytes = tagValueBytes[t++] as number;
      w.tag(SERIES_ENTRY.tags, WireType.LEN);
      w.varint(tagSize(index, valueBytes));
      writeNameIndex(w, index);
      w.tag(NAMED_VALUE.value, WireType.LEN);
      w.varint(lenFieldSize(valueBytes));
      w.tag(VALUE.string, WireType.LEN);
      w.string(tagValues[i] as string, valueBytes);
    }
    for (const { timestampMs, fieldKinds, fieldValues } of entry.points) {
      w.tag(SERIES_ENTRY.fieldGroups, WireType.LEN);
      w.varint(groupSizes[g++] as number);
      w.tag(FIELD_GROUP.timestamp, WireType.VARINT);
      w.int64(timestampMs);
      for (let i = 0; i < fieldKinds.length; i++) {
        const index = fieldIndexes[f] as number;
        const valueSize = valueSizes[f++] as number;
        w.tag(FIELD_GROUP.fields, WireType.LEN);
        w.varint(nameIndexSize(index) + lenFieldSize(valueSize));
        writeNameIndex(w, index);
        w.tag(NAMED_VALUE.value, WireType.LEN);
        w.varint(valueSize);
        writeValue(w, fieldKinds[i] as FieldKind, fieldValues[i] as RawFieldValue);
      }
    }
  }
  const encoded = w.finish();
  return { table, encoded, rows: points.length, bytes: encoded.byteLength, points };
}

/** Size of a `Tag` message: its name index and a string `Value` of `valueBytes` bytes. */
function tagSize(index: number, valueBytes: number): number {
  return nameIndexSize(index) + lenFieldSize(lenFieldSize(valueBytes));
}

/**
 * Name indexes by the position a point lists a name at: points built by the same code list their
 * names in the same order, so the name at a position is usually the one seen there last, and
 * comparing it is cheaper than a map lookup.
 */
class NamePositions {
  readonly #names: Names;
  readonly #lastName: string[] = [];
  readonly #lastIndex: number[] = [];

  constructor(names: Names) {
    this.#names = names;
  }

  indexOf(position: number, name: string): number {
    if (this.#lastName[position] === name) return this.#lastIndex[position] as number;
    const index = this.#names.indexOf(name);
    this.#lastName[position] = name;
    this.#lastIndex[position] = index;
    return index;
  }
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

/** Size of a `Value` message holding the value (a oneof member is written even when zero). */
function valueSizeOf(kind: FieldKind, value: RawFieldValue): number {
  switch (kind) {
    case FieldKind.Float64:
      return 9;
    case FieldKind.Float32:
      return 5;
    case FieldKind.Int64:
    case FieldKind.UInt64:
      return 1 + bigVarintSize(value as bigint);
    case FieldKind.Int32:
      return 1 + int64Size(value as number);
    case FieldKind.Bool:
      return 2;
    case FieldKind.String:
      return lenFieldSize(Buffer.byteLength(value as string));
    case FieldKind.Varbinary:
      return lenFieldSize((value as Uint8Array).byteLength);
  }
}

function writeValue(w: ProtobufWriter, kind: FieldKind, value: RawFieldValue): void {
  switch (kind) {
    case FieldKind.Float64:
      w.tag(VALUE.float64, WireType.FIXED64);
      w.double(value as number);
      return;
    case FieldKind.Float32:
      w.tag(VALUE.float32, WireType.FIXED32);
      w.float(value as number);
      return;
    case FieldKind.Int64:
      w.tag(VALUE.int64, WireType.VARINT);
      w.bigVarint(value as bigint);
      return;
    case FieldKind.UInt64:
      w.tag(VALUE.uint64, WireType.VARINT);
      w.bigVarint(value as bigint);
      return;
    case FieldKind.Int32:
      // int32 is sign-extended to 64 bits on the wire.
      w.tag(VALUE.int32, WireType.VARINT);
      w.int64(value as number);
      return;
    case FieldKind.Bool:
      w.tag(VALUE.bool, WireType.VARINT);
      w.varint(value === true ? 1 : 0);
      return;
    case FieldKind.String:
      w.tag(VALUE.string, WireType.LEN);
      w.string(value as string, Buffer.byteLength(value as string));
      return;
    case FieldKind.Varbinary:
      w.tag(VALUE.varbinary, WireType.LEN);
      w.bytes(value as Uint8Array);
      return;
  }
}
