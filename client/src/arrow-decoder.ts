import { gunzipSync } from "node:zlib";
import {
  Data,
  type DataType,
  type Dictionary,
  type Float,
  type Int,
  makeData,
  makeVector,
  Message,
  MessageHeader,
  RecordBatch,
  type Schema,
  Struct,
  Table,
  tableFromIPC,
  Type,
  type Vector,
} from "apache-arrow";
import { readBatchMessage, type BatchMessage, type RecordBatchLayout } from "./ipc-message.js";
import { loadZstd, StatusCode, type storage, zstdDecompress } from "@horaedb/proto";
import { HoraeDBError } from "./errors.js";

/**
 * The Arrow tables of a query result payload: one per `record_batches` entry, each a complete Arrow
 * IPC stream, decompressed first when the payload says COMPRESSION_ZSTD or COMPRESSION_GZIP (for
 * ZSTD, `loadPayloadCodec` must have resolved).
 */
export function decodeArrowPayload(payload: storage.ArrowPayload__Output): Table[] {
  return payload.recordBatches.map((bytes, i) => {
    const ipc = decompress(bytes, payload.compression, i);
    try {
      return readFlatStream(ipc) ?? tableFromIPC(ipc);
    } catch (error) {
      throw malformed(`record batch stream ${i} is not a valid Arrow IPC stream`, error);
    }
  });
}

/** Loads what decoding `payload` needs (the zstd codec is WebAssembly, loaded once). */
export async function loadPayloadCodec(payload: storage.ArrowPayload__Output): Promise<void> {
  if (payload.compression === "COMPRESSION_ZSTD") await loadZstd();
}

/** Joins result tables into one; the first table's schema is the result's (it may have no rows). */
export function concatTables(tables: readonly Table[]): Table {
  const [first, ...rest] = tables;
  if (first === undefined) return new Table();
  return rest.length === 0 ? first : first.concat(...rest);
}

/** Arrow types whose columns `readFlatStream` reads: one validity buffer, then values (and offsets). */
const FLAT_TYPES: ReadonlySet<Type> = new Set([
  Type.Int,
  Type.Float,
  Type.Bool,
  Type.Utf8,
  Type.Binary,
  Type.Timestamp,
  Type.Date,
  Type.Time,
]);

/**
 * Whether `readFlatStream` reads columns of this type: a flat type, or a dictionary of a flat type
 * with integer indices of at most 32 bits (TAG columns come as a Dictionary of Utf8 with Int8, Int16
 * or Int32 indices).
 */
function isReadable(type: DataType): boolean {
  if (FLAT_TYPES.has(type.typeId)) return true;
  if (type.typeId !== Type.Dictionary) return false;
  const { dictionary, indices } = type as Dictionary<DataType>;
  return FLAT_TYPES.has(dictionary.typeId) && indices.bitWidth <= 32;
}

const CONTINUATION = 0xffffffff;

/** A schema message's schema, and whether `readFlatStream` reads every one of its fields. */
interface CachedSchema {
  readonly schema: Schema;
  readonly readable: boolean;
}

const SCHEMA_CACHE_LIMIT = 256;
/**
 * Schemas by the bytes of their IPC message. The results of one query shape carry the same schema
 * message, and decoding it (a flatbuffer per field) costs more than the rest of a small result.
 */
const schemaCache = new Map<string, CachedSchema>();
/** The last schema message read and its schema: a query shape's results come one after another. */
let lastSchema: { readonly metadata: Buffer; readonly cached: CachedSchema } | undefined;

/** The schema of a schema message's metadata bytes, decoded once per distinct message. */
function cachedSchema(metadata: Uint8Array): CachedSchema | undefined {
  const bytes = Buffer.from(metadata.buffer, metadata.byteOffset, metadata.byteLength);
  // Compared byte for byte first: cheaper than making a string of them to look up.
  if (lastSchema !== undefined && lastSchema.metadata.equals(bytes)) return lastSchema.cached;
  const key = bytes.toString("latin1");
  let cached = schemaCache.get(key);
  if (cached === undefined) {
    const message = Message.decode(metadata);
    if (message.headerType !== MessageHeader.Schema) return undefined;
    const schema = (message as Message<MessageHeader.Schema>).header();
    cached = { schema, readable: schema.fields.every((field) => isReadable(field.type as DataType)) };
    if (schemaCache.size >= SCHEMA_CACHE_LIMIT) schemaCache.clear();
    schemaCache.set(key, cached);
  }
  // A copy: the message's bytes belong to a response the caller may reuse.
  lastSchema = { metadata: Buffer.from(bytes), cached };
  return cached;
}

/**
 * Reads an IPC stream of flat columns (the types of FLAT_TYPES, and dictionaries of them, as query
 * results are) into a table whose columns are views of the stream's bytes, building the same Arrow
 * data as `tableFromIPC` without its general reader. A typed array views its bytes only at a
 * multiple of its element size, so a buffer that does not start at one (the stream sits wherever
 * the response put it) is copied, on its own; byte buffers (validity, string data) never are.
 * Returns undefined for any stream it does not read that way (delta or replaced dictionaries,
 * compressed bodies, nested types, the pre-1.0 format, no record batch, a truncated stream), which
 * `tableFromIPC` then reads, or rejects with its own error.
 *
 * A stream of no rows that equals the last such stream read gives the same table again: queries
 * that find nothing answer one stream over and over, and a table of no rows holds nothing to change.
 */
export function readFlatStream(input: Uint8Array): Table | undefined {
  const empty = lastEmptyStream;
  if (empty !== undefined && empty.bytes.byteLength === input.byteLength && empty.bytes.equals(input)) {
    return empty.table;
  }
  const table = readStream(input);
  if (table !== undefined && table.numRows === 0) {
    lastEmptyStream = { bytes: Buffer.from(input), table };
  }
  return table;
}

/** The last stream of no rows `readFlatStream` read (a copy of its bytes), and its table. */
let lastEmptyStream: { readonly bytes: Buffer; readonly table: Table } | undefined;

function readStream(input: Uint8Array): Table | undefined {
  // A plain Uint8Array: a Node Buffer's subarray() makes a Buffer, which costs more to construct.
  const bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let schema: Schema | undefined;
  const batches: RecordBatch[] = [];
  const dictionaries = new Map<number, Vector>();
  let at = 0;
  while (at + 8 <= bytes.byteLength) {
    if (view.getUint32(at, true) !== CONTINUATION) return undefined;
    const metadataLength = view.getInt32(at + 4, true);
    if (metadataLength === 0) break;
    const bodyStart = at + 8 + metadataLength;
    if (metadataLength < 0 || metadataLength % 8 !== 0 || bodyStart > bytes.byteLength) return undefined;
    const metadata = bytes.subarray(at + 8, bodyStart);
    if (schema === undefined) {
      // A stream starts with its schema, which has no body.
      const cached = cachedSchema(metadata);
      if (cached === undefined || !cached.readable) return undefined;
      schema = cached.schema;
      at = bodyStart;
      continue;
    }
    let message: BatchMessage | undefined;
    try {
      message = readBatchMessage(metadata);
    } catch {
      return undefined;
    }
    if (message === undefined) return undefined;
    const bodyEnd = bodyStart + message.bodyLength;
    if (bodyEnd > bytes.byteLength) return undefined;
    const body = bytes.subarray(bodyStart, bodyEnd);
    try {
      if (message.kind === "record") {
        const batch = flatRecordBatch(schema, message.batch, body, dictionaries);
        if (batch === undefined) return undefined;
        batches.push(batch);
      } else {
        // Dictionaries come before the record batches; one sent later replaces or extends one.
        if (batches.length > 0 || message.isDelta || dictionaries.has(message.id)) return undefined;
        const dictionary = flatDictionary(schema, message.id, message.batch, body);
        if (dictionary === undefined) return undefined;
        dictionaries.set(message.id, dictionary);
      }
    } catch {
      // Buffers Arrow's data cannot view (misaligned, too short): its own reader says why.
      return undefined;
    }
    at = bodyEnd;
  }
  if (batches.length === 0) return undefined;
  return new Table(batches);
}

function flatRecordBatch(
  schema: Schema,
  batch: RecordBatchLayout,
  body: Uint8Array,
  dictionaries: ReadonlyMap<number, Vector>,
): RecordBatch | undefined {
  if (batch.nodes.length !== schema.fields.length) return undefined;
  const types = schema.fields.map((field) => field.type as DataType);
  const children = flatColumns(types, batch, body, dictionaries);
  if (children === undefined) return undefined;
  const data = makeData({ type: new Struct(schema.fields), length: batch.length, children });
  return new RecordBatch(schema, data);
}

/** The values of a dictionary batch (for a dictionary-encoded field of the schema) as a vector. */
function flatDictionary(
  schema: Schema,
  id: number,
  batch: RecordBatchLayout,
  body: Uint8Array,
): Vector | undefined {
  const field = schema.fields.find((f) => f.typeId === Type.Dictionary && (f.type as Dictionary).id === id);
  if (field === undefined || batch.nodes.length !== 1) return undefined;
  const valueType = (field.type as Dictionary<DataType>).dictionary;
  const columns = flatColumns([valueType], batch, body, new Map());
  return columns === undefined ? undefined : makeVector(columns[0] as Data);
}

/**
 * The columns of a record batch (its header and body), of the given types: each a view of the
 * body's bytes; a dictionary-encoded column's values come from `dictionaries`, by id.
 */
function flatColumns(
  types: readonly DataType[],
  header: RecordBatchLayout,
  body: Uint8Array,
  dictionaries: ReadonlyMap<number, Vector>,
): Data[] | undefined {
  if (header.compressed) return undefined;
  let nextBuffer = 0;
  const buffer = (alignment: number): Uint8Array | undefined => {
    const region = header.buffers[nextBuffer++];
    if (region === undefined || region.offset + region.length > body.byteLength) return undefined;
    const view = body.subarray(region.offset, region.offset + region.length);
    // A new Uint8Array made from a view is a copy in an ArrayBuffer of its own, at offset 0.
    return view.byteOffset % alignment === 0 ? view : new Uint8Array(view);
  };
  const children: Data[] = [];
  for (let i = 0; i < types.length; i++) {
    const type = types[i] as DataType;
    const node = header.nodes[i] as { length: number; nullCount: number };
    const dictionary =
      type.typeId === Type.Dictionary ? dictionaries.get((type as Dictionary).id) : undefined;
    if (type.typeId === Type.Dictionary && dictionary === undefined) return undefined;
    // A dictionary-encoded column holds its indices where a flat one holds its values.
    const valuesType = dictionary === undefined ? type : (type as Dictionary).indices;
    const validity = buffer(1);
    const offsets =
      valuesType.typeId === Type.Utf8 || valuesType.typeId === Type.Binary ? buffer(4) : undefined;
    const values = buffer(valuesAlignment(valuesType));
    if (validity === undefined || values === undefined) return undefined;
    // As Arrow's reader: a column without nulls gets an empty bitmap.
    const nullBitmap = node.nullCount > 0 ? plainBytes(validity) : EMPTY_BITMAP;
    // The Data `makeData` builds for a flat type, without its per-call type dispatch: the values
    // as the type's array over the same memory, offsets as Int32Array, bytes as plain Uint8Array.
    const buffers: [ArrayBufferView | undefined, ArrayBufferView, Uint8Array] = [
      offsets === undefined ? undefined : typedView(Int32Array, offsets),
      typedView(valuesType.ArrayType as TypedArrayConstructor, values),
      nullBitmap,
    ];
    children.push(new Data(type, 0, node.length, node.nullCount, buffers, [], dictionary));
  }
  if (nextBuffer !== header.buffers.length) return undefined;
  return children;
}

/** The constructor of a typed array (the ArrayType of an Arrow type). */
type TypedArrayConstructor = new (
  buffer: ArrayBufferLike,
  byteOffset: number,
  length: number,
) => ArrayBufferView;

const EMPTY_BITMAP = new Uint8Array(0);

/**
 * `bytes` as an array of `ArrayType` over the same memory, as Arrow's own `toArrayBufferView`
 * makes it. Bytes come out as a plain Uint8Array, never a Node Buffer: Arrow expects `slice` to
 * copy, and a Buffer's does not.
 */
function typedView(ArrayType: TypedArrayConstructor, bytes: Uint8Array): ArrayBufferView {
  const width = (ArrayType as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
  return new ArrayType(bytes.buffer, bytes.byteOffset, Math.floor(bytes.byteLength / width));
}

function plainBytes(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The alignment a column's values buffer needs to be viewed as its typed array. */
function valuesAlignment(type: DataType): number {
  switch (type.typeId) {
    case Type.Bool:
    case Type.Utf8:
    case Type.Binary:
      return 1;
    case Type.Int:
      return (type as Int).bitWidth / 8;
    case Type.Float:
      return [2, 4, 8][(type as Float).precision] ?? 8;
    default:
      // Timestamps, dates and times: 64-bit, or 32-bit ones for which 8 is merely stricter.
      return 8;
  }
}

/** Largest decompressed result stream: a stream this large could not be one gRPC message anyway. */
const MAX_RESULT_STREAM_BYTES = 2 ** 31 - 1;

function decompress(bytes: Buffer, compression: storage.Compression__Output, index: number): Uint8Array {
  switch (compression) {
    case "COMPRESSION_NONE":
      return bytes;
    case "COMPRESSION_GZIP":
      try {
        return gunzipSync(bytes);
      } catch (error) {
        throw malformed(`record batch stream ${index} is not valid gzip data`, error);
      }
    case "COMPRESSION_ZSTD":
      try {
        return zstdDecompress(bytes, MAX_RESULT_STREAM_BYTES);
      } catch (error) {
        throw malformed(`record batch stream ${index} is not valid zstd data`, error);
      }
    default:
      throw malformed(`the server answered with an unknown compression ${String(compression)}`);
  }
}

function malformed(message: string, cause?: unknown): HoraeDBError {
  const detail = cause instanceof Error ? `: ${cause.message}` : "";
  return new HoraeDBError(StatusCode.STATUS_CODE_INTERNAL, `malformed query result: ${message}${detail}`, {
    retryable: false,
    cause,
  });
}
