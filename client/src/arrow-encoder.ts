import { promisify } from "node:util";
import { gzip } from "node:zlib";
import { loadZstd, zstdCompress } from "@horaedb/proto";
import {
  type Data,
  DataType,
  Dictionary,
  Field,
  Int32,
  makeData,
  makeVector,
  RecordBatch,
  Schema,
  Struct,
  Table,
  tableToIPC,
  Utf8,
} from "apache-arrow";
import { HoraeDBArgumentError } from "./errors.js";
import type { PayloadCompression } from "./options.js";
import { ProtobufWriter, WireType, lenFieldSize } from "./protobuf-writer.js";
import type { TableWrite } from "./table-write.js";
import { Utf8DictionaryBuilder } from "./utf8-dictionary.js";

const gzipAsync = promisify(gzip);

/** How an Arrow table is turned into `ArrowRows` table requests. */
export interface ArrowEncoding {
  /** Columns sent as TAG columns (Utf8, or dictionary-encoded Utf8). */
  readonly tags: readonly string[];
  /** The timestamp column: Arrow Timestamp, or Int64 milliseconds. */
  readonly timestamp: string;
  /** Codec of compressed streams. */
  readonly compression: PayloadCompression;
  /** IPC streams larger than this many bytes are compressed; `Infinity` never compresses. */
  readonly compressAboveBytes: number;
  /** A table whose IPC stream is larger than this is split into several table requests. */
  readonly maxRequestBytes: number;
}

/**
 * Encodes an Arrow table (or one record batch) as `ArrowRows` table requests: one Arrow IPC stream
 * each, compressed above the threshold. Utf8 tag columns are sent dictionary-encoded. Checks
 * the tag and timestamp columns first, so a bad table fails here with HoraeDBArgumentError rather
 * than on the server.
 */
export async function encodeArrow(
  tableName: string,
  data: Table | RecordBatch,
  encoding: ArrowEncoding,
): Promise<TableWrite[]> {
  const input = data instanceof RecordBatch ? new Table(data) : data;
  checkColumns(tableName, input, encoding);
  const table = withDictionaryTags(input, encoding.tags);
  const writes: TableWrite[] = [];
  for (const part of splitToFit(table, encoding.maxRequestBytes)) {
    const ipc = part.ipc;
    const codec = ipc.byteLength > encoding.compressAboveBytes ? encoding.compression : "none";
    const payload = await compressStream(ipc, codec);
    const encoded = encodeArrowTableRequest(tableName, payload, COMPRESSION_CODES[codec], encoding);
    writes.push({ table: tableName, encoded, rows: part.table.numRows, bytes: encoded.byteLength });
  }
  return writes;
}

// Field numbers of storage.proto `WriteTableRequest` and `ArrowRows`, and its `Compression` values.
const TABLE_REQUEST = { table: 1, arrow: 3 } as const;
const ARROW_ROWS = { ipcStream: 1, compression: 2, tagColumns: 3, timestampColumn: 4 } as const;
const COMPRESSION_CODES: Readonly<Record<PayloadCompression, number>> = { none: 0, zstd: 1, gzip: 2 };

async function compressStream(ipc: Uint8Array, codec: PayloadCompression): Promise<Uint8Array> {
  switch (codec) {
    case "none":
      return ipc;
    case "gzip":
      return await gzipAsync(ipc, { level: 1 });
    case "zstd":
      await loadZstd();
      return zstdCompress(ipc);
  }
}

/** A `WriteTableRequest` message holding `ArrowRows`. */
function encodeArrowTableRequest(
  table: string,
  payload: Uint8Array,
  compression: number,
  encoding: ArrowEncoding,
): Buffer {
  const tags = encoding.tags.map((tag) => [tag, Buffer.byteLength(tag)] as const);
  const timestampBytes = Buffer.byteLength(encoding.timestamp);
  const arrowSize =
    lenFieldSize(payload.byteLength) +
    (compression !== 0 ? 2 : 0) +
    tags.reduce((sum, [, bytes]) => sum + lenFieldSize(bytes), 0) +
    lenFieldSize(timestampBytes);
  const tableBytes = Buffer.byteLength(table);
  const w = new ProtobufWriter(lenFieldSize(tableBytes) + lenFieldSize(arrowSize));
  w.tag(TABLE_REQUEST.table, WireType.LEN);
  w.string(table, tableBytes);
  w.tag(TABLE_REQUEST.arrow, WireType.LEN);
  w.varint(arrowSize);
  w.tag(ARROW_ROWS.ipcStream, WireType.LEN);
  w.bytes(payload);
  if (compression !== 0) {
    w.tag(ARROW_ROWS.compression, WireType.VARINT);
    w.varint(compression);
  }
  for (const [tag, bytes] of tags) {
    w.tag(ARROW_ROWS.tagColumns, WireType.LEN);
    w.string(tag, bytes);
  }
  w.tag(ARROW_ROWS.timestampColumn, WireType.LEN);
  w.string(encoding.timestamp, timestampBytes);
  return w.finish();
}

/** Row ranges of `table` whose IPC streams fit `maxBytes`, halving ranges that do not. */
function splitToFit(table: Table, maxBytes: number): Array<{ table: Table; ipc: Uint8Array }> {
  if (table.numRows === 0) return [];
  const ipc = tableToIPC(table, "stream");
  if (ipc.byteLength <= maxBytes || table.numRows === 1) return [{ table, ipc }];
  const middle = Math.ceil(table.numRows / 2);
  return [...splitToFit(table.slice(0, middle), maxBytes), ...splitToFit(table.slice(middle), maxBytes)];
}

/**
 * The table with its Utf8 tag columns dictionary-encoded (Int32 indices), one dictionary per column
 * shared by all its record batches; other columns, and tags already dictionary-encoded, are kept as
 * they are. Built from the column buffers: no string is made per row.
 */
export function withDictionaryTags(table: Table, tags: readonly string[]): Table {
  const fields = table.schema.fields;
  const tagSet = new Set(tags);
  const plainTags = fields
    .map((field, i) => (tagSet.has(field.name) && DataType.isUtf8(field.type) ? i : -1))
    .filter((i) => i >= 0);
  if (plainTags.length === 0 || table.numRows === 0) return table;
  let nextId = Math.max(-1, ...table.schema.dictionaries.keys()) + 1;
  const newFields = [...fields];
  const newChildren = table.batches.map((batch) => [...batch.data.children]);
  for (const column of plainTags) {
    const field = fields[column] as Field;
    const type = new Dictionary(new Utf8(), new Int32(), nextId++);
    const builder = new Utf8DictionaryBuilder();
    const indices = table.batches.map((batch) =>
      dictionaryIndices(batch.data.children[column] as Data, builder),
    );
    // Null rows index entry 0, which must exist.
    if (builder.size === 0) builder.intern(new Uint8Array(0), 0, 0);
    const entries = builder.finish();
    const dictionary = makeVector(
      makeData({
        type: new Utf8(),
        length: entries.size,
        valueOffsets: entries.offsets,
        data: entries.bytes,
      }),
    );
    newFields[column] = new Field(field.name, type, field.nullable, field.metadata);
    table.batches.forEach((batch, b) => {
      const plain = batch.data.children[column] as Data;
      (newChildren[b] as Data[])[column] = makeData({
        type,
        length: plain.length,
        nullCount: plain.nullCount,
        nullBitmap: validityBits(plain),
        data: indices[b] as Int32Array,
        dictionary,
      });
    });
  }
  const schema = new Schema(newFields, table.schema.metadata);
  const batches = table.batches.map(
    (batch, b) =>
      new RecordBatch(
        schema,
        makeData({
          type: new Struct(newFields),
          length: batch.numRows,
          nullCount: 0,
          children: newChildren[b] as Data[],
        }),
      ),
  );
  return new Table(schema, batches);
}

/** Dictionary indices of a Utf8 chunk's rows (0 for null rows), interning values into `builder`. */
function dictionaryIndices(data: Data, builder: Utf8DictionaryBuilder): Int32Array {
  const n = data.length;
  const indices = new Int32Array(n);
  const offsets = data.valueOffsets as Int32Array;
  const bytes = data.values as Uint8Array;
  const bits = data.nullCount > 0 ? data.nullBitmap : undefined;
  for (let i = 0; i < n; i++) {
    if (bits !== undefined) {
      const bit = data.offset + i;
      if ((((bits[bit >> 3] as number) >> (bit & 7)) & 1) === 0) continue;
    }
    indices[i] = builder.intern(bytes, offsets[i] as number, offsets[i + 1] as number);
  }
  return indices;
}

/** The chunk's validity bitmap starting at its first row (a sliced chunk's starts at its offset). */
function validityBits(data: Data): Uint8Array | undefined {
  const bits = data.nullBitmap;
  if (data.nullCount === 0 || bits === undefined || bits.length === 0) return undefined;
  if (data.offset % 8 === 0) return bits.subarray(data.offset >> 3, (data.offset + data.length + 7) >> 3);
  const out = new Uint8Array((data.length + 7) >> 3);
  for (let i = 0; i < data.length; i++) {
    const bit = data.offset + i;
    if ((((bits[bit >> 3] as number) >> (bit & 7)) & 1) === 1)
      out[i >> 3] = (out[i >> 3] as number) | (1 << (i & 7));
  }
  return out;
}

function checkColumns(tableName: string, table: Table, encoding: ArrowEncoding): void {
  const invalid = (message: string) => new HoraeDBArgumentError(`table ${tableName}: ${message}`);
  const fields = new Map<string, Field>(table.schema.fields.map((f: Field) => [f.name, f]));
  const timestamp = fields.get(encoding.timestamp);
  if (timestamp === undefined)
    throw invalid(`timestamp column "${encoding.timestamp}" is not in the Arrow table`);
  const tsType = timestamp.type as DataType;
  const isInt64 = DataType.isInt(tsType) && tsType.bitWidth === 64 && tsType.isSigned;
  if (!DataType.isTimestamp(tsType) && !isInt64) {
    throw invalid(
      `timestamp column "${encoding.timestamp}" is ${typeName(tsType)}; use Timestamp or Int64 ms`,
    );
  }
  for (const tag of encoding.tags) {
    const field = fields.get(tag);
    if (field === undefined) throw invalid(`tag column "${tag}" is not in the Arrow table`);
    const type = field.type as DataType;
    const isString =
      DataType.isUtf8(type) || (DataType.isDictionary(type) && DataType.isUtf8(type.dictionary));
    if (!isString) throw invalid(`tag column "${tag}" is ${typeName(type)}; tags must be Utf8`);
    if (tag === encoding.timestamp) throw invalid(`column "${tag}" cannot be both a tag and the timestamp`);
  }
}

/** The Arrow type's own name, e.g. `Float64` (every concrete type implements toString). */
function typeName(type: DataType): string {
  return (type as DataType & { toString(): string }).toString();
}
