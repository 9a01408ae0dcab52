/**
 * Conversion between ColumnBatch and Arrow record batches, built directly from (and onto) the typed
 * arrays of both sides: no per-row objects except the strings a ColumnBatch holds.
 *
 *   timestamp -> Timestamp(ms) (int64)   double -> Float64   float -> Float32
 *   int64 -> Int64   int32 -> Int32   uint64 -> Uint64   boolean -> Bool
 *   string -> Utf8, or Dictionary<Int32, Utf8> for TAG columns (few distinct values, long runs)
 *   varbinary -> Binary;   nulls -> the validity bitmap
 */
import { isAscii } from "node:buffer";
import {
  Binary,
  Bool,
  type Data,
  DataType as ArrowDataType,
  Dictionary,
  Field,
  Float32,
  Float64,
  Int32,
  Int64,
  makeData,
  makeVector,
  Precision,
  RecordBatch,
  Schema,
  Struct,
  Table,
  TimestampMillisecond,
  TimeUnit,
  Type,
  Uint64,
  Utf8,
} from "apache-arrow";
import { allocateValues, type Column, type ColumnValues } from "../batch/column.js";
import type { ColumnBatch } from "../batch/column-batch.js";
import { DataType } from "../table/data-type.js";
import type { TableSchema } from "../table/schema.js";
import { concatBatches } from "./column-concat.js";
import { ArrowConversionError } from "./errors.js";

const TWO_POW_32 = 4294967296;
const EMPTY_BYTES = new Uint8Array(0);

/** How one column is laid out in Arrow. */
export interface ArrowColumnSpec {
  readonly name: string;
  readonly type: DataType;
  readonly nullable: boolean;
  /** Dictionary-encode the strings (TAG columns). */
  readonly dictionary: boolean;
}

/** The Arrow type of a column; `dictionaryId` must be unique within one schema. */
export function arrowTypeOf(spec: ArrowColumnSpec, dictionaryId: number): ArrowDataType {
  switch (spec.type) {
    case DataType.Timestamp:
      return new TimestampMillisecond();
    case DataType.Double:
      return new Float64();
    case DataType.Float:
      return new Float32();
    case DataType.Int64:
      return new Int64();
    case DataType.Int32:
      return new Int32();
    case DataType.UInt64:
      return new Uint64();
    case DataType.Boolean:
      return new Bool();
    case DataType.String:
      return spec.dictionary ? new Dictionary(new Utf8(), new Int32(), dictionaryId) : new Utf8();
    case DataType.Varbinary:
      return new Binary();
  }
}

/**
 * Column specs for the batch's columns, in batch order: type, nullability and TAG-ness from the
 * schema when it has the column, else from the column itself (nullable, plain strings).
 */
export function arrowColumnSpecs(batch: ColumnBatch, schema?: TableSchema): ArrowColumnSpec[] {
  return batch.names.map((name, i) => {
    const column = batch.columns[i] as Column;
    const declared = schema?.column(name);
    if (declared !== undefined && declared.type !== column.type) {
      throw new ArrowConversionError(
        name,
        `column holds ${column.type} but the schema says ${declared.type}`,
      );
    }
    return {
      name,
      type: column.type,
      nullable: declared?.nullable ?? true,
      dictionary: column.type === DataType.String && (declared?.isTag ?? false),
    };
  });
}

/**
 * Converts a batch to one Arrow RecordBatch with the batch's columns in batch order. The schema, when
 * given, decides nullability and which strings are dictionary-encoded (TAG columns). Fixed-width
 * values are shared with the batch, not copied, where the Arrow layout is the same.
 */
export function columnBatchToArrow(batch: ColumnBatch, schema?: TableSchema): RecordBatch {
  return columnsToArrow(arrowColumnSpecs(batch, schema), batch.columns, batch.numRows);
}

/** Builds one RecordBatch from columns of `numRows` rows laid out per `specs`. */
export function columnsToArrow(
  specs: readonly ArrowColumnSpec[],
  columns: readonly Column[],
  numRows: number,
): RecordBatch {
  return recordBatchFromBuffers(
    specs.map((spec, i) => arrowColumnBuffers(spec, columns[i] as Column, numRows)),
    numRows,
  );
}

/**
 * The Arrow buffers of one column as plain typed arrays, so they can be built in one thread and
 * transferred to another, where `recordBatchFromBuffers` wraps them without copying.
 */
export interface ArrowColumnBuffers {
  readonly spec: ArrowColumnSpec;
  readonly length: number;
  readonly nullCount: number;
  /** Validity bits (LSB first); absent when nothing is null. */
  readonly nullBitmap: Uint8Array | undefined;
  /** Fixed-width values, bit-packed booleans, dictionary indices, or UTF-8/binary bytes. */
  readonly values: Float64Array | Float32Array | Int32Array | BigInt64Array | BigUint64Array | Uint8Array;
  /** Value offsets of plain string and varbinary columns. */
  readonly offsets: Int32Array | undefined;
  /** The dictionary of a dictionary-encoded string column. */
  readonly dictionary:
    { readonly length: number; readonly offsets: Int32Array; readonly bytes: Uint8Array } | undefined;
  /** `values` is the caller's own array (fixed-width types), shared rather than copied. */
  readonly borrowed: boolean;
}

/** Lays out one column in Arrow's buffers; throws ArrowConversionError for nulls in a non-null column. */
export function arrowColumnBuffers(spec: ArrowColumnSpec, column: Column, n: number): ArrowColumnBuffers {
  if (column.values.length < n) {
    throw new ArrowConversionError(spec.name, `has ${column.values.length} values for ${n} rows`);
  }
  const { nullBitmap, nullCount } = packValidity(column.validity, n);
  if (!spec.nullable && nullCount > 0) {
    throw new ArrowConversionError(spec.name, `${nullCount} nulls in a column that cannot be null`);
  }
  const base = { spec, length: n, nullCount, nullBitmap, offsets: undefined, dictionary: undefined };
  const v = column.values;
  switch (spec.type) {
    case DataType.Timestamp:
      return { ...base, values: timestampsToInt64(v as Float64Array, n), borrowed: false };
    case DataType.Double:
    case DataType.Float:
    case DataType.Int64:
    case DataType.Int32:
    case DataType.UInt64: {
      const typed = v as Float64Array | Float32Array | Int32Array | BigInt64Array | BigUint64Array;
      return { ...base, values: typed.length === n ? typed : typed.subarray(0, n), borrowed: true };
    }
    case DataType.Boolean:
      return { ...base, values: packBits(v as Uint8Array, n), borrowed: false };
    case DataType.String: {
      const strings = v as string[];
      if (spec.dictionary) {
        const { indices, dictionary } = dictionaryEncode(strings, column.validity, n);
        const { offsets, bytes } = encodeUtf8(dictionary, dictionary.length);
        return {
          ...base,
          values: indices,
          dictionary: { length: dictionary.length, offsets, bytes },
          borrowed: false,
        };
      }
      const { offsets, bytes } = encodeUtf8(strings, n);
      return { ...base, values: bytes, offsets, borrowed: false };
    }
    case DataType.Varbinary: {
      const { offsets, bytes } = concatBinary(v as Uint8Array[], n);
      return { ...base, values: bytes, offsets, borrowed: false };
    }
  }
}

/**
 * The column with buffers it owns outright, so they can be transferred to another thread: the
 * borrowed values, and views into larger buffers (such as Node's shared Buffer pool), are copied.
 * A column that already owns its buffers is returned as is.
 */
export function ownColumn(c: ArrowColumnBuffers): ArrowColumnBuffers {
  const owned = <T extends ArrayBufferView>(view: T, force = false): T =>
    force || !isWhole(view) ? copyView(view) : view;
  const dictionary = c.dictionary;
  return {
    ...c,
    nullBitmap: c.nullBitmap === undefined ? undefined : owned(c.nullBitmap),
    values: owned(c.values, c.borrowed),
    offsets: c.offsets === undefined ? undefined : owned(c.offsets),
    dictionary:
      dictionary === undefined
        ? undefined
        : { length: dictionary.length, offsets: owned(dictionary.offsets), bytes: owned(dictionary.bytes) },
    borrowed: false,
  };
}

/** The distinct ArrayBuffers behind owned columns (see ownColumn), for a transfer list. */
export function transferListOf(columns: readonly ArrowColumnBuffers[]): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const c of columns) {
    const views = [c.nullBitmap, c.values, c.offsets, c.dictionary?.offsets, c.dictionary?.bytes];
    for (const view of views) {
      if (view === undefined) continue;
      if (c.borrowed || !isWhole(view)) throw new Error(`column ${c.spec.name} does not own its buffers`);
      buffers.add(view.buffer as ArrayBuffer);
    }
  }
  return [...buffers];
}

function isWhole(view: ArrayBufferView): boolean {
  return view.byteOffset === 0 && view.byteLength === view.buffer.byteLength;
}

function copyView<T extends ArrayBufferView>(view: T): T {
  const bytes = new Uint8Array(view.byteLength);
  bytes.set(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
  // A Node Buffer is a Uint8Array subclass whose constructor is deprecated; copy it as a Uint8Array.
  const Ctor = (view instanceof Uint8Array ? Uint8Array : view.constructor) as new (
    buffer: ArrayBuffer,
    offset: number,
    length: number,
  ) => T;
  const width = (view as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
  return new Ctor(bytes.buffer, 0, view.byteLength / width);
}

/** Wraps column buffers as an Arrow RecordBatch (no copies); column i gets dictionary id i. */
export function recordBatchFromBuffers(
  columns: readonly ArrowColumnBuffers[],
  numRows = columns[0]?.length ?? 0,
): RecordBatch {
  const fields: Field[] = [];
  const children: Data[] = [];
  columns.forEach((c, i) => {
    const type = arrowTypeOf(c.spec, i);
    fields.push(new Field(c.spec.name, type, c.spec.nullable));
    children.push(arrowData(c, type));
  });
  const struct = makeData({ type: new Struct(fields), length: numRows, nullCount: 0, children });
  return new RecordBatch(new Schema(fields), struct);
}

function arrowData(c: ArrowColumnBuffers, type: ArrowDataType): Data {
  const { length, nullCount, nullBitmap } = c;
  // Property names differ per Arrow type, so `makeData`'s overloads are satisfied per case below.
  switch (c.spec.type) {
    case DataType.Timestamp:
      return makeData({
        type: type as TimestampMillisecond,
        length,
        nullCount,
        nullBitmap,
        data: c.values as BigInt64Array,
      });
    case DataType.Double:
      return makeData({
        type: type as Float64,
        length,
        nullCount,
        nullBitmap,
        data: c.values as Float64Array,
      });
    case DataType.Float:
      return makeData({
        type: type as Float32,
        length,
        nullCount,
        nullBitmap,
        data: c.values as Float32Array,
      });
    case DataType.Int64:
      return makeData({
        type: type as Int64,
        length,
        nullCount,
        nullBitmap,
        data: c.values as BigInt64Array,
      });
    case DataType.Int32:
      return makeData({ type: type as Int32, length, nullCount, nullBitmap, data: c.values as Int32Array });
    case DataType.UInt64:
      return makeData({
        type: type as Uint64,
        length,
        nullCount,
        nullBitmap,
        data: c.values as BigUint64Array,
      });
    case DataType.Boolean:
      return makeData({ type: type as Bool, length, nullCount, nullBitmap, data: c.values as Uint8Array });
    case DataType.String: {
      if (c.dictionary !== undefined) {
        const { length: size, offsets, bytes } = c.dictionary;
        const dictData = makeData({ type: new Utf8(), length: size, valueOffsets: offsets, data: bytes });
        return makeData({
          type: type as Dictionary<Utf8, Int32>,
          length,
          nullCount,
          nullBitmap,
          data: c.values as Int32Array,
          dictionary: makeVector(dictData),
        });
      }
      return makeData({
        type: type as Utf8,
        length,
        nullCount,
        nullBitmap,
        valueOffsets: c.offsets as Int32Array,
        data: c.values as Uint8Array,
      });
    }
    case DataType.Varbinary:
      return makeData({
        type: type as Binary,
        length,
        nullCount,
        nullBitmap,
        valueOffsets: c.offsets as Int32Array,
        data: c.values as Uint8Array,
      });
  }
}

/** Bit-packs the validity bytes (LSB first); no bitmap when nothing is null. */
function packValidity(
  validity: Uint8Array | null,
  n: number,
): { nullBitmap: Uint8Array | undefined; nullCount: number } {
  if (validity === null) return { nullBitmap: undefined, nullCount: 0 };
  let valid = 0;
  for (let i = 0; i < n; i++) valid += validity[i] === 1 ? 1 : 0;
  if (valid === n) return { nullBitmap: undefined, nullCount: 0 };
  return { nullBitmap: packBits(validity, n), nullCount: n - valid };
}

function packBits(bytes: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array((n + 7) >> 3);
  const whole = n & ~7;
  let i = 0;
  for (; i < whole; i += 8) {
    out[i >> 3] =
      (bytes[i] === 1 ? 1 : 0) |
      (bytes[i + 1] === 1 ? 2 : 0) |
      (bytes[i + 2] === 1 ? 4 : 0) |
      (bytes[i + 3] === 1 ? 8 : 0) |
      (bytes[i + 4] === 1 ? 16 : 0) |
      (bytes[i + 5] === 1 ? 32 : 0) |
      (bytes[i + 6] === 1 ? 64 : 0) |
      (bytes[i + 7] === 1 ? 128 : 0);
  }
  for (; i < n; i++) if (bytes[i] === 1) out[i >> 3] = (out[i >> 3] as number) | (1 << (i & 7));
  return out;
}

/**
 * Float64 milliseconds to int64 without BigInt: split into 32-bit halves (exact below 2^53), with
 * a floor division so negative values get their two's-complement high word.
 */
function timestampsToInt64(ms: Float64Array, n: number): BigInt64Array {
  const words = new Int32Array(n * 2);
  for (let i = 0; i < n; i++) {
    const v = ms[i] as number;
    const hi = Math.floor(v / TWO_POW_32);
    words[2 * i] = (v - hi * TWO_POW_32) | 0;
    words[2 * i + 1] = hi;
  }
  return new BigInt64Array(words.buffer);
}

/**
 * Dictionary-encodes strings in first-seen order. Rows sorted by series repeat the same tag value in
 * long runs, so a run costs one comparison per row and one map lookup per change.
 */
function dictionaryEncode(
  strings: readonly string[],
  validity: Uint8Array | null,
  n: number,
): { indices: Int32Array; dictionary: string[] } {
  const indices = new Int32Array(n);
  const dictionary: string[] = [];
  const codes = new Map<string, number>();
  let previous: string | undefined;
  let previousCode = 0;
  for (let i = 0; i < n; i++) {
    if (validity !== null && validity[i] !== 1) continue;
    const s = strings[i] as string;
    if (s !== previous) {
      let code = codes.get(s);
      if (code === undefined) {
        code = dictionary.length;
        codes.set(s, code);
        dictionary.push(s);
      }
      previous = s;
      previousCode = code;
    }
    indices[i] = previousCode;
  }
  // Null rows point at entry 0, which must exist even when every row is null.
  if (dictionary.length === 0) dictionary.push("");
  return { indices, dictionary };
}

/** UTF-8 bytes and offsets of the first `n` strings. */
function encodeUtf8(strings: readonly string[], n: number): { offsets: Int32Array; bytes: Uint8Array } {
  const offsets = new Int32Array(n + 1);
  const list = strings.length === n ? strings : strings.slice(0, n);
  // One join and one encode for the whole column; when every char is ASCII, bytes == chars.
  const joined = list.join("");
  const bytes = Buffer.from(joined, "utf8");
  if (bytes.length === joined.length) {
    let at = 0;
    for (let i = 0; i < n; i++) {
      at += (list[i] as string).length;
      offsets[i + 1] = at;
    }
    return { offsets, bytes };
  }
  let total = 0;
  for (let i = 0; i < n; i++) total += Buffer.byteLength(list[i] as string, "utf8");
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (let i = 0; i < n; i++) {
    at += out.write(list[i] as string, at, "utf8");
    offsets[i + 1] = at;
  }
  return { offsets, bytes: out };
}

function concatBinary(values: readonly Uint8Array[], n: number): { offsets: Int32Array; bytes: Uint8Array } {
  const offsets = new Int32Array(n + 1);
  let total = 0;
  for (let i = 0; i < n; i++) total += (values[i] as Uint8Array).byteLength;
  const bytes = new Uint8Array(total);
  let at = 0;
  for (let i = 0; i < n; i++) {
    const b = values[i] as Uint8Array;
    bytes.set(b, at);
    at += b.byteLength;
    offsets[i + 1] = at;
  }
  return { offsets, bytes };
}

// ---------------------------------------------------------------------------------------------
// Arrow -> ColumnBatch

/**
 * Converts an Arrow RecordBatch (or every batch of a Table, concatenated) to a ColumnBatch with the
 * same column names and order. Our type is derived from the Arrow type (see the module comment);
 * smaller integers widen to int32/int64, and timestamps of any unit become milliseconds.
 * Fixed-width values are views of the Arrow buffers where the layouts match.
 */
export function arrowToColumnBatch(input: RecordBatch | Table): ColumnBatch {
  if (input instanceof Table) {
    const schemaNames = input.schema.fields.map((f) => f.name);
    if (input.batches.length === 0) {
      return { names: schemaNames, columns: input.schema.fields.map((f) => emptyColumn(f)), numRows: 0 };
    }
    return concatBatches(input.batches.map((b) => recordBatchToColumnBatch(b)));
  }
  return recordBatchToColumnBatch(input);
}

function recordBatchToColumnBatch(batch: RecordBatch): ColumnBatch {
  const fields = batch.schema.fields;
  const columns = fields.map((field, i) => {
    const data = batch.data.children[i];
    if (data === undefined) throw new ArrowConversionError(field.name, "record batch has no data for it");
    return arrowDataToColumn(field.name, data);
  });
  return { names: fields.map((f) => f.name), columns, numRows: batch.numRows };
}

function emptyColumn(field: Field): Column {
  const type = dataTypeOfArrow(field.name, field.type as ArrowDataType);
  return { type, values: allocateValues(type, 0), validity: null };
}

/** Our type for an Arrow type; throws ArrowConversionError for types we do not hold. */
export function dataTypeOfArrow(column: string, type: ArrowDataType): DataType {
  if (ArrowDataType.isTimestamp(type)) return DataType.Timestamp;
  if (ArrowDataType.isFloat(type)) {
    if (type.precision === Precision.DOUBLE) return DataType.Double;
    if (type.precision === Precision.SINGLE) return DataType.Float;
  } else if (ArrowDataType.isInt(type)) {
    if (type.bitWidth === 64) return type.isSigned ? DataType.Int64 : DataType.UInt64;
    if (type.bitWidth === 32 && !type.isSigned) return DataType.Int64;
    return DataType.Int32;
  } else if (ArrowDataType.isBool(type)) {
    return DataType.Boolean;
  } else if (ArrowDataType.isUtf8(type)) {
    return DataType.String;
  } else if (ArrowDataType.isBinary(type)) {
    return DataType.Varbinary;
  } else if (ArrowDataType.isDictionary(type)) {
    const value = type.dictionary as ArrowDataType;
    if (ArrowDataType.isUtf8(value)) return DataType.String;
    if (ArrowDataType.isBinary(value)) return DataType.Varbinary;
  }
  throw new ArrowConversionError(column, `Arrow type ${Type[type.typeId]} is not supported`);
}

function arrowDataToColumn(name: string, data: Data, known?: DataType): Column {
  const type = known ?? dataTypeOfArrow(name, data.type);
  const n = data.length;
  const validity = unpackValidity(data);
  const arrowType = data.type;
  let values: ColumnValues;
  if (ArrowDataType.isDictionary(arrowType)) {
    values = decodeDictionary(name, data, type, validity);
  } else {
    switch (type) {
      case DataType.Timestamp:
        values = int64ToTimestamps(data.values as BigInt64Array, n, timestampScale(arrowType));
        break;
      case DataType.Double:
      case DataType.Float:
        values = (data.values as Float64Array | Float32Array).subarray(0, n);
        break;
      case DataType.Int64:
      case DataType.UInt64:
      case DataType.Int32:
        values = integersOf(data, type, n);
        break;
      case DataType.Boolean:
        values = unpackBits(data.values as Uint8Array, data.offset, n);
        break;
      case DataType.String:
        values = decodeUtf8(data.valueOffsets as Int32Array, data.values as Uint8Array, n, validity);
        break;
      case DataType.Varbinary:
        values = sliceBinary(data.valueOffsets as Int32Array, data.values as Uint8Array, n, validity);
        break;
    }
  }
  return { type, values, validity };
}

function unpackValidity(data: Data): Uint8Array | null {
  if (data.nullCount === 0 || data.nullBitmap === undefined || data.nullBitmap.length === 0) return null;
  return unpackBits(data.nullBitmap, data.offset, data.length);
}

function unpackBits(bits: Uint8Array, offset: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const bit = offset + i;
    out[i] = ((bits[bit >> 3] as number) >> (bit & 7)) & 1;
  }
  return out;
}

/** Multiplier from the timestamp's unit to milliseconds (Int64 and other types: 1). */
export function timestampScale(type: ArrowDataType): number {
  if (!ArrowDataType.isTimestamp(type)) return 1;
  switch (type.unit) {
    case TimeUnit.SECOND:
      return 1000;
    case TimeUnit.MILLISECOND:
      return 1;
    case TimeUnit.MICROSECOND:
      return 1e-3;
    case TimeUnit.NANOSECOND:
      return 1e-6;
  }
}

/**
 * int64 to Float64 milliseconds through the two 32-bit halves (no BigInt per value), written to
 * `out` from index `at` (by default a new array of `n`).
 */
export function int64ToTimestamps(
  values: BigInt64Array | Int32Array,
  n: number,
  scale: number,
  out: Float64Array = new Float64Array(n),
  at = 0,
): Float64Array {
  const words = new Int32Array(values.buffer, values.byteOffset, n * 2);
  for (let i = 0; i < n; i++) {
    out[at + i] = (words[2 * i + 1] as number) * TWO_POW_32 + ((words[2 * i] as number) >>> 0);
  }
  if (scale !== 1) {
    for (let i = at; i < at + n; i++) out[i] = Math.floor((out[i] as number) * scale);
  }
  return out;
}

function integersOf(data: Data, type: DataType, n: number): ColumnValues {
  const src = data.values as
    | Int8Array
    | Int16Array
    | Int32Array
    | Uint8Array
    | Uint16Array
    | Uint32Array
    | BigInt64Array
    | BigUint64Array;
  if (src instanceof BigInt64Array || src instanceof BigUint64Array) return src.subarray(0, n);
  if (type === DataType.Int64) {
    // Only unsigned 32-bit values widen to int64.
    const out = new BigInt64Array(n);
    for (let i = 0; i < n; i++) out[i] = BigInt(src[i] as number);
    return out;
  }
  if (src instanceof Int32Array) return src.subarray(0, n);
  return Int32Array.from(src.subarray(0, n));
}

function decodeDictionary(
  name: string,
  data: Data,
  type: DataType,
  validity: Uint8Array | null,
): ColumnValues {
  const dictionaryVector = data.dictionary;
  if (dictionaryVector === undefined)
    throw new ArrowConversionError(name, "dictionary column without dictionary");
  const dictionary = arrowToColumnValues(name, dictionaryVector.data as readonly Data[], type);
  const indices = data.values as Int32Array;
  const n = data.length;
  if (type === DataType.String) {
    const words = dictionary as string[];
    const out = new Array<string>(n);
    for (let i = 0; i < n; i++) {
      out[i] = validity !== null && validity[i] === 0 ? "" : (words[indices[i] as number] as string);
    }
    return out;
  }
  const blobs = dictionary as Uint8Array[];
  const out = new Array<Uint8Array>(n);
  for (let i = 0; i < n; i++) {
    out[i] =
      validity !== null && validity[i] === 0 ? EMPTY_BYTES : (blobs[indices[i] as number] as Uint8Array);
  }
  return out;
}

/** Values of a dictionary's (possibly chunked) value vector. */
function arrowToColumnValues(name: string, chunks: readonly Data[], type: DataType): ColumnValues {
  const parts = chunks.map((d) => arrowDataToColumn(name, d, type).values as unknown[]);
  return (parts.length === 1 ? parts[0] : parts.flat()) as ColumnValues;
}

/**
 * Decodes UTF-8 values. When the payload is ASCII (the common case for tags and names), it is decoded
 * once and each value is a slice of that string, which V8 shares instead of copying.
 */
function decodeUtf8(
  offsets: Int32Array,
  bytes: Uint8Array,
  n: number,
  validity: Uint8Array | null,
): string[] {
  const out = new Array<string>(n);
  const start = offsets[0] as number;
  const end = offsets[n] as number;
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (isAscii(buf.subarray(start, end))) {
    const all = buf.toString("latin1", start, end);
    for (let i = 0; i < n; i++) {
      out[i] = all.slice((offsets[i] as number) - start, (offsets[i + 1] as number) - start);
    }
  } else {
    for (let i = 0; i < n; i++) out[i] = buf.toString("utf8", offsets[i], offsets[i + 1]);
  }
  if (validity !== null) for (let i = 0; i < n; i++) if (validity[i] === 0) out[i] = "";
  return out;
}

/** Copies each value out, so a kept value does not pin the whole decoded buffer. */
function sliceBinary(
  offsets: Int32Array,
  bytes: Uint8Array,
  n: number,
  validity: Uint8Array | null,
): Uint8Array[] {
  const out = new Array<Uint8Array>(n);
  for (let i = 0; i < n; i++) {
    out[i] = validity !== null && validity[i] === 0 ? EMPTY_BYTES : bytes.slice(offsets[i], offsets[i + 1]);
  }
  return out;
}
