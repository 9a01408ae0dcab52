/**
 * Query results written straight from their column batches to Arrow IPC stream bytes: one buffer
 * per stream, sized up front, with each column's values copied (or, for timestamps, strings and
 * booleans, converted) once into the message body. No Arrow vectors, record batches or stream writer
 * are built on the way, which for the small results of typical queries cost more than the rows.
 *
 * Every field is nullable; types are those `arrowTypeOf` maps ours to: Timestamp(ms), Float64,
 * Float32, Int64, Int32, Uint64, Bool, Utf8 and Binary. The result columns that hold a TAG column's
 * values (`ResultColumn.tag`) are a Dictionary of Utf8 in streams of at least MIN_DICTIONARY_ROWS
 * rows: one dictionary per such column, covering all of the stream's record batches, sent before the
 * first of them, with Int8, Int16 or Int32 indices, the narrowest that holds them (a tag's rows are
 * mostly a few values). Nulls are in validity bitmaps, buffers 8-byte aligned, metadata version V5.
 */
import { Dictionary, Field, Int16, Int32, Int8, Message, Schema, Utf8 } from "apache-arrow";
import type { Column } from "../batch/column.js";
import type { ColumnBatch } from "../batch/column-batch.js";
import { emptyBatch, type ResultColumn } from "../query/index.js";
import { concatRows } from "../query/vectors.js";
import { arrowTypeOf } from "../sst/arrow-convert.js";
import { DataType } from "../table/data-type.js";

const CONTINUATION = 0xffffffff;
/** IPC metadata version V5 (`MetadataVersion.V5`). */
const METADATA_V5 = 4;
/** `MessageHeader.DictionaryBatch`. */
const HEADER_DICTIONARY_BATCH = 2;
/** `MessageHeader.RecordBatch`. */
const HEADER_RECORD_BATCH = 3;
const TWO_POW_32 = 4294967296;

/**
 * How the UTF-8 bytes of a string column are produced, with their total size:
 * - runs: rows in runs of one value (tags of rows in series order), each value encoded once and
 *   repeated with a fill; `runEnds[i]` is the row after run i, `encoded[i]` its value's bytes;
 * - ascii: every character ASCII (one byte each), so the joined strings are the data buffer;
 * - utf8: anything else, encoded string by string.
 */
type StringLayout =
  | { readonly kind: "runs"; readonly bytes: number; readonly runEnds: number[]; readonly encoded: Buffer[] }
  | { readonly kind: "ascii"; readonly bytes: number; readonly text: string }
  | { readonly kind: "utf8"; readonly bytes: number };

/** Rows per run at or above which a string column is written run by run. */
const MIN_ROWS_PER_RUN = 4;

/** The rows of one batch's column that go into a record batch. */
interface ColumnPart {
  readonly column: Column;
  readonly numRows: number;
}

/**
 * A column of a record batch about to be written: its buffers' lengths and how to fill them. A record
 * batch may be made of several result batches, written one after the other: `parts` are the
 * column's pieces in order (strings and byte arrays are joined into one part beforehand).
 */
interface ColumnPlan {
  readonly column: Column;
  readonly parts: readonly ColumnPart[];
  readonly nullCount: number;
  /** Byte lengths of the column's buffers, in IPC order (validity first). */
  readonly bufferLengths: readonly number[];
  /** How a Utf8 column's bytes are written. */
  readonly strings?: StringLayout;
  /** A dictionary-encoded column's indices into its stream's dictionary, and their width. */
  readonly indices?: { readonly runs: IndexRuns; readonly bytes: IndexBytes };
}

/** One record batch to write: consecutive result batches of one layout, one after the other. */
type RecordBatchParts = readonly ColumnBatch[];

/** Bytes per dictionary index: Int8, Int16 or Int32 indices. */
type IndexBytes = 1 | 2 | 4;

/**
 * A dictionary-encoded column's indices in one record batch, as runs: rows from `starts[i]` up to
 * the next run's start (or the batch's end) hold `indices[i]`; null rows before the first run
 * hold 0, and those inside a run its index.
 */
interface IndexRuns {
  readonly starts: readonly number[];
  readonly indices: readonly number[];
}

/** A dictionary-encoded column's values in a stream, and each record batch's indices into them. */
interface StreamDictionary {
  /** The column's position, which is also its dictionary id. */
  readonly column: number;
  readonly values: readonly string[];
  /** The narrowest index width that holds every index into `values`. */
  readonly indexBytes: IndexBytes;
  readonly runs: readonly IndexRuns[];
}

/** How a result's streams are written. */
export interface IpcStreamOptions {
  /**
   * TAG columns as Dictionary<Int32, Utf8> in every stream, whatever its size: the streams of one
   * StreamSqlQuery call, a response each, then share one schema, as a reader collecting them
   * into one table needs.
   */
  readonly stableTagColumns?: boolean;
}

/**
 * The result as Arrow IPC streams: one stream holding every batch, or, if batches disagree on their
 * columns, one stream per run of batches that agree. With no batches, one stream of one empty batch
 * with `columns` as its schema, so that the schema is always known.
 */
export function resultToIpcStreams(
  columns: readonly ResultColumn[],
  batches: readonly ColumnBatch[],
  options: IpcStreamOptions = {},
): Uint8Array[] {
  return planResultStreams(columns, batches, options).map(encodePlannedStream);
}

/**
 * An IPC stream about to be written: its size in bytes, and how to write it into `out` from `at`,
 * which must hold that many zeroed bytes (the zeroes are its padding, and the values of null rows
 * that have none of their own).
 */
export interface IpcStreamPlan {
  readonly byteLength: number;
  readonly write: (out: Buffer, at: number) => void;
}

/** The streams `resultToIpcStreams` would return, planned but not yet written. */
export function planResultStreams(
  columns: readonly ResultColumn[],
  batches: readonly ColumnBatch[],
  options: IpcStreamOptions = {},
): IpcStreamPlan[] {
  const stable = options.stableTagColumns === true;
  // Stable: every stream counts as large enough for dictionaries, with Int32 indices.
  const rowsOf = (rows: number) => (stable ? Infinity : rows);
  const indexBytes = stable ? 4 : undefined;
  if (batches.length === 0) {
    if (!stable) return [emptyResultStream(columns)];
    const empty = emptyBatch(columns);
    return [planStream([[empty]], dictionaryColumns(columns, empty, rowsOf(0)), indexBytes)];
  }
  const streams: IpcStreamPlan[] = [];
  let run: ColumnBatch[] = [];
  let runRows = 0;
  let signature = "";
  const flush = () => {
    const encoded = dictionaryColumns(columns, run[0] as ColumnBatch, rowsOf(runRows));
    streams.push(planStream(groupSmallBatches(run), encoded, indexBytes));
  };
  for (const batch of batches) {
    const next = schemaSignature(batch);
    if (run.length > 0 && next !== signature) {
      flush();
      run = [];
      runRows = 0;
    }
    signature = next;
    run.push(batch);
    runRows += batch.numRows;
  }
  flush();
  return streams;
}

const EMPTY_STREAM_CACHE_LIMIT = 256;
/**
 * The streams of empty results, by their columns' signature. Queries that find nothing (an alert's
 * condition, most of the time) answer the same stream again and again: written once, copied after.
 */
const emptyStreams = new Map<string, Uint8Array>();

/** The stream of an empty result: its schema and one record batch of no rows. */
function emptyResultStream(columns: readonly ResultColumn[]): IpcStreamPlan {
  const empty = emptyBatch(columns);
  const signature = schemaSignature(empty);
  let bytes = emptyStreams.get(signature);
  if (bytes === undefined) {
    bytes = encodePlannedStream(planStream([[empty]], dictionaryColumns(columns, empty, 0)));
    if (emptyStreams.size >= EMPTY_STREAM_CACHE_LIMIT) emptyStreams.clear();
    emptyStreams.set(signature, bytes);
  }
  const stream = bytes;
  return { byteLength: stream.byteLength, write: (out, at) => out.set(stream, at) };
}

/**
 * Streams of fewer rows send TAG columns as plain Utf8. A dictionary costs a message per column on
 * both sides, which outweighs what it saves on a few rows: for a TSBS high-cpu-1 result (10 tags,
 * 11 other columns), encoding and decoding an empty result took 39 and 28 us with dictionaries, 23
 * and 17 us without, while 1,570 rows took 103 us to encode with them and 209 us without.
 */
export const MIN_DICTIONARY_ROWS = 256;

/**
 * Which of a batch's columns are sent dictionary-encoded in a stream of `rows` rows: the string
 * columns that are TAG columns of the result, where the batch's columns are the result's, when the
 * stream has at least MIN_DICTIONARY_ROWS rows.
 */
function dictionaryColumns(columns: readonly ResultColumn[], batch: ColumnBatch, rows: number): boolean[] {
  return batch.columns.map(
    (column, i) =>
      rows >= MIN_DICTIONARY_ROWS &&
      column.type === DataType.String &&
      columns[i]?.tag === true &&
      columns[i]?.name === batch.names[i],
  );
}

/**
 * Record batches are joined up to at least this many rows. Each one costs a message and a set of
 * buffers per column to write, and an Arrow Data per column to read; a filtered scan hands over a
 * batch per series run, often of a few hundred rows.
 */
export const MIN_RECORD_BATCH_ROWS = 8192;

/**
 * Consecutive batches (of one layout) grouped into record batches of at least MIN_RECORD_BATCH_ROWS
 * rows (but for the last), written without joining them first.
 */
function groupSmallBatches(batches: readonly ColumnBatch[]): RecordBatchParts[] {
  const groups: RecordBatchParts[] = [];
  let pending: ColumnBatch[] = [];
  let rows = 0;
  for (const batch of batches) {
    pending.push(batch);
    rows += batch.numRows;
    if (rows >= MIN_RECORD_BATCH_ROWS) {
      groups.push(pending);
      pending = [];
      rows = 0;
    }
  }
  if (pending.length > 0) groups.push(pending);
  return groups;
}

function rowsOf(parts: RecordBatchParts): number {
  let rows = 0;
  for (const part of parts) rows += part.numRows;
  return rows;
}

/**
 * One IPC stream (schema message, a record batch message per batch, end-of-stream marker) of
 * batches that share their column names and types (the first batch's are the schema); column i is
 * dictionary-encoded where `dictionaryEncoded[i]`.
 */
export function encodeIpcStream(
  batches: readonly ColumnBatch[],
  dictionaryEncoded: readonly boolean[] = [],
): Uint8Array {
  return encodePlannedStream(
    planStream(
      batches.map((batch) => [batch]),
      dictionaryEncoded,
    ),
  );
}

/** A planned stream written into a buffer of its own. */
export function encodePlannedStream(plan: IpcStreamPlan): Uint8Array {
  const out = Buffer.from(new ArrayBuffer(plan.byteLength));
  plan.write(out, 0);
  return out;
}

/** One IPC stream of the record batches, each made of its parts. */
function planStream(
  batches: readonly RecordBatchParts[],
  dictionaryEncoded: readonly boolean[],
  fixedIndexBytes?: IndexBytes,
): IpcStreamPlan {
  const first = batches[0]?.[0];
  if (first === undefined) throw new RangeError("an IPC stream needs at least one batch");
  const dictionaries: StreamDictionary[] = [];
  const indexBytes = first.columns.map((_, c) => {
    if (dictionaryEncoded[c] !== true) return 0;
    const dictionary = buildDictionary(batches, c, fixedIndexBytes);
    dictionaries.push(dictionary);
    return dictionary.indexBytes;
  });
  const schema = schemaMessage(first, indexBytes);
  const dictionaryPlans = dictionaries.map((d) => [planColumn(stringColumn(d.values), d.values.length)]);
  const plans = batches.map((parts, b) =>
    (parts[0] as ColumnBatch).columns.map((_, c) => {
      const dictionary = dictionaries.find((d) => d.column === c);
      return dictionary === undefined
        ? planColumnParts(parts, c)
        : planIndices(parts, c, dictionary.runs[b] as IndexRuns, dictionary.indexBytes);
    }),
  );
  const dictionaryBodies = dictionaryPlans.map((p) => bodySize(p));
  const bodySizes = plans.map((p) => bodySize(p));
  let total = schema.byteLength + 8;
  dictionaryPlans.forEach((p, i) => {
    total += recordBatchMetadataSize(p, true) + (dictionaryBodies[i] as number);
  });
  plans.forEach((p, i) => {
    total += recordBatchMetadataSize(p, false) + (bodySizes[i] as number);
  });
  const write = (out: Buffer, start: number): void => {
    const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
    out.set(schema, start);
    let at = start + schema.byteLength;
    dictionaries.forEach((dictionary, i) => {
      const columnPlans = dictionaryPlans[i] as ColumnPlan[];
      const length = dictionary.values.length;
      at = writeRecordBatchMetadata(
        view,
        at,
        length,
        columnPlans,
        dictionaryBodies[i] as number,
        dictionary.column,
      );
      at = writeBody(out, view, at, length, columnPlans);
    });
    batches.forEach((parts, i) => {
      const columnPlans = plans[i] as ColumnPlan[];
      const numRows = rowsOf(parts);
      at = writeRecordBatchMetadata(view, at, numRows, columnPlans, bodySizes[i] as number);
      at = writeBody(out, view, at, numRows, columnPlans);
    });
    view.setUint32(at, CONTINUATION, true);
    view.setUint32(at + 4, 0, true);
  };
  return { byteLength: total, write };
}

/**
 * The dictionary of column `c` over all the record batches: its distinct values in the order they
 * first appear, and each record batch's indices as runs. Tags come in long runs, and rows of one
 * source share their string objects: each valid row is compared with the valid row before it (the
 * same object mostly, which compares without reading the characters), and a map lookup is made per
 * run.
 */
function buildDictionary(
  batches: readonly RecordBatchParts[],
  c: number,
  fixedIndexBytes?: IndexBytes,
): StreamDictionary {
  const positions = new Map<string, number>();
  const values: string[] = [];
  const runs = batches.map((parts): IndexRuns => {
    const columnParts = partsOf(parts, c);
    checkLengths(columnParts);
    const starts: number[] = [];
    const indices: number[] = [];
    let previous: string | undefined;
    let base = 0;
    for (const { column, numRows } of columnParts) {
      const strings = column.values as readonly string[];
      const validity = column.validity;
      for (let r = 0; r < numRows; r++) {
        if (validity !== null && validity[r] === 0) continue;
        const value = strings[r] as string;
        if (value === previous) continue;
        previous = value;
        let index = positions.get(value);
        if (index === undefined) {
          index = values.length;
          values.push(value);
          positions.set(value, index);
        }
        starts.push(base + r);
        indices.push(index);
      }
      base += numRows;
    }
    return { starts, indices };
  });
  return { column: c, values, indexBytes: fixedIndexBytes ?? indexBytesFor(values.length), runs };
}

/** The narrowest signed index type (Arrow's readers take signed indices) for `size` values. */
function indexBytesFor(size: number): IndexBytes {
  if (size <= 0x80) return 1;
  if (size <= 0x8000) return 2;
  return 4;
}

/** A dictionary's values as a column without nulls. */
function stringColumn(values: readonly string[]): Column {
  return { type: DataType.String, values: values as string[], validity: null };
}

/** The plan of a dictionary-encoded column: validity, then its indices, `bytes` each. */
function planIndices(parts: RecordBatchParts, c: number, runs: IndexRuns, bytes: IndexBytes): ColumnPlan {
  const numRows = rowsOf(parts);
  const columnParts = partsOf(parts, c);
  const nullCount = nullsOf(columnParts);
  const validityBytes = nullCount === 0 ? 0 : (numRows + 7) >> 3;
  const column = columnParts[0]?.column as Column;
  return {
    column,
    parts: columnParts,
    nullCount,
    bufferLengths: [validityBytes, numRows * bytes],
    indices: { runs, bytes },
  };
}

/** Throws unless every part's column holds a value for each of its rows. */
function checkLengths(parts: readonly ColumnPart[]): void {
  for (const part of parts) {
    if (part.column.values.length < part.numRows) {
      throw new RangeError(
        `a result column holds ${part.column.values.length} values for ${part.numRows} rows`,
      );
    }
  }
}

function partsOf(parts: RecordBatchParts, c: number): ColumnPart[] {
  return parts.map((batch) => ({ column: batch.columns[c] as Column, numRows: batch.numRows }));
}

function nullsOf(parts: readonly ColumnPart[]): number {
  let nulls = 0;
  for (const part of parts) nulls += countNulls(part.column.validity, part.numRows);
  return nulls;
}

/**
 * The plan of column `c` of a record batch made of `parts`: written part by part, but for strings
 * and byte arrays, whose parts are joined first (their layout is planned over all their rows).
 */
function planColumnParts(parts: RecordBatchParts, c: number): ColumnPlan {
  const numRows = rowsOf(parts);
  const columnParts = partsOf(parts, c);
  const first = columnParts[0]?.column as Column;
  if (columnParts.length === 1) return planColumn(first, numRows);
  const valueBytes = fixedValueBytes(first.type, numRows);
  if (valueBytes === undefined) {
    return planColumn(
      concatRows(parts.map((batch) => columnBatchOf(batch, c))).columns[0] as Column,
      numRows,
    );
  }
  checkLengths(columnParts);
  const nullCount = nullsOf(columnParts);
  const validityBytes = nullCount === 0 ? 0 : (numRows + 7) >> 3;
  return { column: first, parts: columnParts, nullCount, bufferLengths: [validityBytes, valueBytes] };
}

/** The size of the values buffer of `numRows` rows of a fixed-width type; undefined for the others. */
function fixedValueBytes(type: DataType, numRows: number): number | undefined {
  switch (type) {
    case DataType.Timestamp:
    case DataType.Double:
    case DataType.Int64:
    case DataType.UInt64:
      return numRows * 8;
    case DataType.Float:
    case DataType.Int32:
      return numRows * 4;
    case DataType.Boolean:
      return (numRows + 7) >> 3;
    case DataType.String:
    case DataType.Varbinary:
      return undefined;
  }
}

/** Column `c` of a batch, alone. */
function columnBatchOf(batch: ColumnBatch, c: number): ColumnBatch {
  return { names: [batch.names[c] as string], columns: [batch.columns[c] as Column], numRows: batch.numRows };
}

/** A batch's column names and types, which decide its schema message. */
function schemaSignature(batch: ColumnBatch): string {
  let signature = "";
  for (let i = 0; i < batch.columns.length; i++) {
    const name = batch.names[i] as string;
    // The name's length makes the signature unambiguous whatever characters the name holds.
    signature += `${(batch.columns[i] as Column).type}:${name.length}:${name},`;
  }
  return signature;
}

const SCHEMA_CACHE_LIMIT = 256;
/** Encoded schema messages by signature; results of the same query shape share one. */
const schemaCache = new Map<string, Uint8Array>();

/**
 * The schema message of a batch's columns (continuation, length, flatbuffer, padding); column i is
 * a Dictionary of Utf8 with dictionary id i and indices of `indexBytes[i]` bytes where that is not 0.
 */
function schemaMessage(batch: ColumnBatch, indexBytes: readonly number[]): Uint8Array {
  const signature = `${schemaSignature(batch)}|${indexBytes.join("")}`;
  const cached = schemaCache.get(signature);
  if (cached !== undefined) return cached;
  const fields = batch.names.map((name, i) => {
    const type = (batch.columns[i] as Column).type;
    const bytes = indexBytes[i] ?? 0;
    const arrowType =
      bytes === 0
        ? arrowTypeOf({ name, type, nullable: true, dictionary: false }, i)
        : new Dictionary(new Utf8(), bytes === 1 ? new Int8() : bytes === 2 ? new Int16() : new Int32(), i);
    return new Field(name, arrowType, true);
  });
  const flatbuffer = Message.encode(Message.from(new Schema(fields)));
  const size = align8(flatbuffer.byteLength + 8);
  const message = new Uint8Array(size);
  const view = new DataView(message.buffer);
  view.setUint32(0, CONTINUATION, true);
  view.setInt32(4, size - 8, true);
  message.set(flatbuffer, 8);
  if (schemaCache.size >= SCHEMA_CACHE_LIMIT) schemaCache.clear();
  schemaCache.set(signature, message);
  return message;
}

function align8(n: number): number {
  return (n + 7) & ~7;
}

function planColumn(column: Column, numRows: number): ColumnPlan {
  const parts = [{ column, numRows }];
  checkLengths(parts);
  const nullCount = countNulls(column.validity, numRows);
  const validityBytes = nullCount === 0 ? 0 : (numRows + 7) >> 3;
  const valueBytes = fixedValueBytes(column.type, numRows);
  if (valueBytes !== undefined)
    return { column, parts, nullCount, bufferLengths: [validityBytes, valueBytes] };
  switch (column.type) {
    case DataType.String: {
      const strings = stringLayout(column.values as string[], numRows);
      return {
        column,
        parts,
        nullCount,
        bufferLengths: [validityBytes, (numRows + 1) * 4, strings.bytes],
        strings,
      };
    }
    default: {
      // Varbinary: the only type left.
      const values = column.values as Uint8Array[];
      let bytes = 0;
      for (let i = 0; i < numRows; i++) bytes += (values[i] as Uint8Array).byteLength;
      return { column, parts, nullCount, bufferLengths: [validityBytes, (numRows + 1) * 4, bytes] };
    }
  }
}

function stringLayout(strings: readonly string[], numRows: number): StringLayout {
  let runs = numRows === 0 ? 0 : 1;
  for (let i = 1; i < numRows; i++) if (strings[i] !== strings[i - 1]) runs++;
  if (runs * MIN_ROWS_PER_RUN <= numRows) {
    const runEnds: number[] = [];
    const encoded: Buffer[] = [];
    let bytes = 0;
    let start = 0;
    for (let i = 1; i <= numRows; i++) {
      // Against the previous row, not the run's first: rows of one source share their string
      // objects, which compare by identity, while another source's equal strings compare by content.
      if (i < numRows && strings[i] === strings[i - 1]) continue;
      const value = Buffer.from(strings[start] as string, "utf8");
      runEnds.push(i);
      encoded.push(value);
      bytes += value.byteLength * (i - start);
      start = i;
    }
    return { kind: "runs", bytes, runEnds, encoded };
  }
  const text = (strings.length === numRows ? strings : strings.slice(0, numRows)).join("");
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes === text.length) return { kind: "ascii", bytes, text };
  // Counted string by string: joined, a lone surrogate at the end of one string and one at the start
  // of the next would encode as one character.
  let total = 0;
  for (let i = 0; i < numRows; i++) total += Buffer.byteLength(strings[i] as string, "utf8");
  return { kind: "utf8", bytes: total };
}

function countNulls(validity: Uint8Array | null, numRows: number): number {
  if (validity === null) return 0;
  let valid = 0;
  for (let i = 0; i < numRows; i++) valid += validity[i] === 1 ? 1 : 0;
  return numRows - valid;
}

function bodySize(plans: readonly ColumnPlan[]): number {
  let size = 0;
  for (const plan of plans) for (const length of plan.bufferLengths) size += align8(length);
  return size;
}

/*
 * The RecordBatch message's flatbuffer, laid out front to back (offsets from its start, which is
 * 8 bytes into the message, after the continuation marker and the length):
 *
 *    0  root offset -> Message table
 *    4  Message vtable (its size, the table's size, then version, header_type, header, bodyLength;
 *       12 bytes)
 *   16  Message table: vtable soffset, header offset, bodyLength (int64), version (int16),
 *       header_type (uint8), padding (24 bytes)
 *   40  RecordBatch vtable (length, nodes, buffers; 10 bytes + 2 padding)
 *   56  RecordBatch table: vtable soffset, nodes offset, length (int64), buffers offset, padding
 *       (24 bytes; 52-56 is padding so that the int64 fields are 8-byte aligned)
 *   80  nodes vector: padding, count (at 84), FieldNode structs {length, null_count} from 88
 *    .  buffers vector: padding, count, Buffer structs {offset, length}, 8-byte aligned likewise
 *
 * A DictionaryBatch message (header_type 2) has its own table between the Message table and the
 * RecordBatch of the dictionary's values, which moves everything from offset 40 on by 24 bytes:
 *
 *   40  DictionaryBatch vtable (id, data; 8 bytes; is_delta is left at its default, false)
 *   48  DictionaryBatch table: vtable soffset, data offset, id (int64 at 56)
 */
const MESSAGE_VTABLE = 4;
const MESSAGE_TABLE = 16;
const DICTIONARY_BATCH_VTABLE = 40;
const DICTIONARY_BATCH_TABLE = 48;
/** How far a DictionaryBatch message moves its RecordBatch part. */
const DICTIONARY_SHIFT = 24;
const RECORD_BATCH_VTABLE = 40;
const RECORD_BATCH_TABLE = 56;
const NODES_VECTOR = 84;

function bufferCount(plans: readonly ColumnPlan[]): number {
  let count = 0;
  for (const plan of plans) count += plan.bufferLengths.length;
  return count;
}

/**
 * The size in the stream of a RecordBatch message, or with `dictionary` a DictionaryBatch message:
 * continuation, length, flatbuffer, padding to 8 bytes.
 */
function recordBatchMetadataSize(plans: readonly ColumnPlan[], dictionary: boolean): number {
  const nodesEnd = NODES_VECTOR + (dictionary ? DICTIONARY_SHIFT : 0) + 4 + plans.length * 16;
  const buffersEnd = nodesEnd + 8 + bufferCount(plans) * 16;
  return 8 + align8(buffersEnd);
}

/**
 * Writes a RecordBatch message, or, given `dictionaryId`, a DictionaryBatch message of that id whose
 * record batch (one column) holds the dictionary's values.
 */
function writeRecordBatchMetadata(
  view: DataView,
  start: number,
  numRows: number,
  plans: readonly ColumnPlan[],
  bodyLength: number,
  dictionaryId?: number,
): number {
  const dictionary = dictionaryId !== undefined;
  const size = recordBatchMetadataSize(plans, dictionary);
  view.setUint32(start, CONTINUATION, true);
  view.setInt32(start + 4, size - 8, true);
  const fb = start + 8;
  const shift = dictionary ? DICTIONARY_SHIFT : 0;
  const recordBatchVtable = RECORD_BATCH_VTABLE + shift;
  const recordBatchTable = RECORD_BATCH_TABLE + shift;
  const nodesCount = NODES_VECTOR + shift;
  const buffersCount = nodesCount + 4 + plans.length * 16 + 4;

  view.setUint32(fb, MESSAGE_TABLE, true);
  // Message vtable: its size, the table's size, then each field's offset in the table.
  writeUInt16s(view, fb + MESSAGE_VTABLE, [12, 20, 16, 18, 4, 8]);
  view.setInt32(fb + MESSAGE_TABLE, MESSAGE_TABLE - MESSAGE_VTABLE, true);
  const header = dictionary ? DICTIONARY_BATCH_TABLE : recordBatchTable;
  view.setUint32(fb + MESSAGE_TABLE + 4, header - (MESSAGE_TABLE + 4), true);
  writeInt64(view, fb + MESSAGE_TABLE + 8, bodyLength);
  view.setInt16(fb + MESSAGE_TABLE + 16, METADATA_V5, true);
  view.setUint8(fb + MESSAGE_TABLE + 18, dictionary ? HEADER_DICTIONARY_BATCH : HEADER_RECORD_BATCH);

  if (dictionary) {
    writeUInt16s(view, fb + DICTIONARY_BATCH_VTABLE, [8, 16, 8, 4]);
    view.setInt32(fb + DICTIONARY_BATCH_TABLE, DICTIONARY_BATCH_TABLE - DICTIONARY_BATCH_VTABLE, true);
    view.setUint32(fb + DICTIONARY_BATCH_TABLE + 4, recordBatchTable - (DICTIONARY_BATCH_TABLE + 4), true);
    writeInt64(view, fb + DICTIONARY_BATCH_TABLE + 8, dictionaryId);
  }

  writeUInt16s(view, fb + recordBatchVtable, [10, 20, 8, 4, 16]);
  view.setInt32(fb + recordBatchTable, recordBatchTable - recordBatchVtable, true);
  view.setUint32(fb + recordBatchTable + 4, nodesCount - (recordBatchTable + 4), true);
  writeInt64(view, fb + recordBatchTable + 8, numRows);
  view.setUint32(fb + recordBatchTable + 16, buffersCount - (recordBatchTable + 16), true);

  view.setUint32(fb + nodesCount, plans.length, true);
  let at = fb + nodesCount + 4;
  for (const plan of plans) {
    writeInt64(view, at, numRows);
    writeInt64(view, at + 8, plan.nullCount);
    at += 16;
  }
  view.setUint32(fb + buffersCount, bufferCount(plans), true);
  at = fb + buffersCount + 4;
  let offset = 0;
  for (const plan of plans) {
    for (const length of plan.bufferLengths) {
      writeInt64(view, at, offset);
      writeInt64(view, at + 8, length);
      offset += align8(length);
      at += 16;
    }
  }
  return start + size;
}

function writeUInt16s(view: DataView, at: number, values: readonly number[]): void {
  for (let i = 0; i < values.length; i++) view.setUint16(at + 2 * i, values[i] as number, true);
}

/** A non-negative integer below 2^53 as a little-endian int64. */
function writeInt64(view: DataView, at: number, value: number): void {
  view.setUint32(at, value % TWO_POW_32, true);
  view.setUint32(at + 4, Math.floor(value / TWO_POW_32), true);
}

/** Writes the columns' buffers from `start`, each 8-byte aligned; returns the end of the body. */
function writeBody(
  out: Buffer,
  view: DataView,
  start: number,
  numRows: number,
  plans: readonly ColumnPlan[],
): number {
  let at = start;
  for (const plan of plans) {
    const [validityBytes = 0, ...rest] = plan.bufferLengths;
    if (validityBytes > 0) writeValidity(plan.parts, out, at);
    at += align8(validityBytes);
    writeValues(out, view, at, numRows, plan);
    for (const length of rest) at += align8(length);
  }
  return at;
}

/** The validity bits of a column's parts, one after the other (the buffer is zeroed). */
function writeValidity(parts: readonly ColumnPart[], out: Buffer, at: number): void {
  if (parts.length === 1) {
    const [{ column, numRows }] = parts as [ColumnPart];
    packBits(column.validity as Uint8Array, numRows, out, at);
    return;
  }
  let bit = 0;
  for (const { column, numRows } of parts) {
    const validity = column.validity;
    for (let i = 0; i < numRows; i++, bit++) {
      if (validity === null || validity[i] === 1) setBit(out, at, bit);
    }
  }
}

/** Writes the value buffers of a column (after its validity) from `at`. */
function writeValues(out: Buffer, view: DataView, at: number, numRows: number, plan: ColumnPlan): void {
  if (plan.indices !== undefined) {
    writeIndices(plan.indices.runs, plan.indices.bytes, numRows, out, at);
    return;
  }
  const values = plan.column.values;
  switch (plan.column.type) {
    case DataType.Timestamp: {
      let offset = at;
      for (const part of plan.parts) {
        writeTimestamps(part.column.values as Float64Array, part.numRows, view, offset);
        offset += part.numRows * 8;
      }
      return;
    }
    case DataType.Double:
    case DataType.Float:
    case DataType.Int64:
    case DataType.UInt64:
    case DataType.Int32: {
      let offset = at;
      for (const part of plan.parts) {
        const typed = part.column.values as
          Float64Array | Float32Array | Int32Array | BigInt64Array | BigUint64Array;
        const bytes = part.numRows * typed.BYTES_PER_ELEMENT;
        out.set(new Uint8Array(typed.buffer, typed.byteOffset, bytes), offset);
        offset += bytes;
      }
      return;
    }
    case DataType.Boolean:
      if (plan.parts.length === 1) {
        packBits(values as Uint8Array, numRows, out, at);
      } else {
        let bit = 0;
        for (const part of plan.parts) {
          const bools = part.column.values as Uint8Array;
          for (let i = 0; i < part.numRows; i++, bit++) if (bools[i] === 1) setBit(out, at, bit);
        }
      }
      return;
    case DataType.String:
      writeStrings(values as string[], numRows, plan.strings as StringLayout, out, view, at);
      return;
    case DataType.Varbinary:
      writeBinary(values as Uint8Array[], numRows, out, view, at);
      return;
  }
}

/**
 * A record batch's dictionary indices, filled run by run into a view of their buffer; where the
 * buffer does not start at a multiple of the index size (a stream after another in one response),
 * which a typed array cannot view, into an array of their own, then copied.
 */
function writeIndices(runs: IndexRuns, bytes: IndexBytes, numRows: number, out: Buffer, at: number): void {
  const start = out.byteOffset + at;
  const aligned = start % bytes === 0;
  const indices =
    bytes === 1
      ? new Int8Array(out.buffer, start, numRows)
      : bytes === 2
        ? aligned
          ? new Int16Array(out.buffer, start, numRows)
          : new Int16Array(numRows)
        : aligned
          ? new Int32Array(out.buffer, start, numRows)
          : new Int32Array(numRows);
  const { starts } = runs;
  for (let i = 0; i < starts.length; i++) {
    indices.fill(runs.indices[i] as number, starts[i], starts[i + 1] ?? numRows);
  }
  if (!aligned) out.set(new Uint8Array(indices.buffer, 0, numRows * bytes), at);
}

/** Millisecond timestamps (whole numbers held as doubles) as little-endian int64, from `at`. */
function writeTimestamps(ms: Float64Array, numRows: number, view: DataView, at: number): void {
  for (let i = 0; i < numRows; i++) {
    const v = ms[i] as number;
    const high = Math.floor(v / TWO_POW_32);
    view.setUint32(at + 8 * i, v - high * TWO_POW_32, true);
    view.setInt32(at + 8 * i + 4, high, true);
  }
}

/** Sets bit `bit` (least significant first) of the bitmap starting at `at`. */
function setBit(out: Buffer, at: number, bit: number): void {
  const byte = at + (bit >> 3);
  out[byte] = (out[byte] as number) | (1 << (bit & 7));
}

/** Bytes that are 1 as bits, least significant first. */
function packBits(bytes: Uint8Array, numRows: number, out: Buffer, at: number): void {
  for (let i = 0; i < numRows; i += 8) {
    let bits = 0;
    const end = Math.min(8, numRows - i);
    for (let b = 0; b < end; b++) if (bytes[i + b] === 1) bits |= 1 << b;
    out[at + (i >> 3)] = bits;
  }
}

/**
 * Offsets (Int32, numRows + 1, written in place: the buffer is zeroed, so the first is 0) then the
 * UTF-8 bytes, 8-byte aligned after the offsets.
 */
function writeStrings(
  strings: readonly string[],
  numRows: number,
  layout: StringLayout,
  out: Buffer,
  view: DataView,
  at: number,
): void {
  const dataStart = at + align8((numRows + 1) * 4);
  let end = 0;
  switch (layout.kind) {
    case "runs": {
      let row = 0;
      layout.runEnds.forEach((runEnd, run) => {
        const value = layout.encoded[run] as Buffer;
        const size = value.byteLength;
        if (size > 0) out.fill(value, dataStart + end, dataStart + end + size * (runEnd - row));
        for (; row < runEnd; row++) {
          end += size;
          view.setInt32(at + 4 * (row + 1), end, true);
        }
      });
      break;
    }
    case "ascii":
      for (let i = 0; i < numRows; i++) {
        end += (strings[i] as string).length;
        view.setInt32(at + 4 * (i + 1), end, true);
      }
      out.write(layout.text, dataStart, end, "latin1");
      break;
    case "utf8":
      for (let i = 0; i < numRows; i++) {
        end += out.write(strings[i] as string, dataStart + end, "utf8");
        view.setInt32(at + 4 * (i + 1), end, true);
      }
      break;
  }
}

/** Offsets as for strings, then the bytes. */
function writeBinary(
  values: readonly Uint8Array[],
  numRows: number,
  out: Buffer,
  view: DataView,
  at: number,
): void {
  const dataStart = at + align8((numRows + 1) * 4);
  let end = 0;
  for (let i = 0; i < numRows; i++) {
    const bytes = values[i] as Uint8Array;
    out.set(bytes, dataStart + end);
    end += bytes.byteLength;
    view.setInt32(at + 4 * (i + 1), end, true);
  }
}
