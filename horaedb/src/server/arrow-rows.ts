import {
  type Data,
  DataType as ArrowDataType,
  type Field,
  RecordBatchReader,
  type Schema,
  type Utf8,
  Table,
  Type,
  type Vector,
} from "apache-arrow";
import { StatusCode } from "@horaedb/proto";
import type { Column } from "../batch/column.js";
import { stringColumnFromCodes } from "../batch/string-dictionary.js";
import type { WriteRows } from "../engine/index.js";
import { arrowToColumnBatch, dataTypeOfArrow, int64ToTimestamps, timestampScale } from "../sst/index.js";
import { DataType } from "../table/data-type.js";
import { DEFAULT_MAX_PAYLOAD_BYTES, decompressPayload } from "./payload-compression.js";
import { RequestError } from "./request-error.js";
import { emptyStringCode, Utf8Interner } from "./utf8-interner.js";
import type { ArrowRowsMessage } from "./write-request.js";

const DEFAULT_TIMESTAMP_COLUMN = "timestamp";

/**
 * Turns the columnar form of a write (an Arrow IPC stream) into rows, column by column: tag columns
 * (Utf8, or Dictionary<Utf8>) become dictionary codes without a string per row, the timestamp
 * (an Arrow timestamp of any unit, or Int64 milliseconds) is converted word-wise, and field values
 * are copied out of the request buffer as whole arrays. A compressed stream may decompress to at most
 * `maxPayloadBytes`.
 */
export function arrowToWriteRows(
  table: string,
  arrow: ArrowRowsMessage,
  maxPayloadBytes = DEFAULT_MAX_PAYLOAD_BYTES,
): WriteRows {
  const invalid = (message: string) =>
    new RequestError(StatusCode.STATUS_CODE_INVALID_ARGUMENT, `table ${table}: ${message}`);
  const unreadable = (error: unknown) =>
    invalid(`the Arrow IPC stream cannot be read: ${error instanceof Error ? error.message : String(error)}`);
  const ipc = decompressPayload(arrow.ipcStream, arrow.compression, `table ${table}`, maxPayloadBytes);
  let input: Table;
  try {
    input = readStream(ipc);
  } catch (error) {
    throw unreadable(error);
  }
  const fields: Field[] = input.schema.fields;
  const names = fields.map((f) => f.name);
  const timestampColumn = arrow.timestampColumn.length > 0 ? arrow.timestampColumn : DEFAULT_TIMESTAMP_COLUMN;
  const tsIndex = names.indexOf(timestampColumn);
  if (tsIndex < 0) throw invalid(`timestamp column "${timestampColumn}" is not in the Arrow stream`);
  const tsType = (fields[tsIndex] as Field).type as ArrowDataType;
  if (!ArrowDataType.isTimestamp(tsType) && !isInt64(tsType)) {
    throw invalid(
      `timestamp column "${timestampColumn}" is ${typeName(timestampColumn, tsType)}; it must be an Arrow timestamp or int64 milliseconds`,
    );
  }
  const tagIndexes = new Set<number>();
  for (const tag of arrow.tagColumns) {
    const i = names.indexOf(tag);
    if (i < 0) throw invalid(`tag column "${tag}" is not in the Arrow stream`);
    if (!isStringType((fields[i] as Field).type as ArrowDataType))
      throw invalid(`tag column "${tag}" must be a string column`);
    tagIndexes.add(i);
  }

  const numRows = input.numRows;
  const fieldIndexes = names.map((_, i) => i).filter((i) => i !== tsIndex && !tagIndexes.has(i));
  let fieldColumns: readonly Column[];
  try {
    fieldColumns = arrowToColumnBatch(input.selectAt(fieldIndexes)).columns.map(ownedColumn);
  } catch (error) {
    throw unreadable(error);
  }
  const columns: Column[] = [];
  let nextField = 0;
  for (let i = 0; i < names.length; i++) {
    const data = chunksOf(input, i);
    if (i === tsIndex) columns.push(timestampColumnOf(data, numRows, timestampScale(tsType)));
    else if (tagIndexes.has(i)) columns.push(tagColumnOf(names[i] as string, data, numRows, invalid));
    else columns.push(fieldColumns[nextField++] as Column);
  }
  return {
    batch: { names, columns, numRows },
    tagNames: new Set(arrow.tagColumns),
    timestampColumn,
  };
}

/** The record batches of an IPC stream as one table; throws if the bytes hold no schema message. */
function readStream(ipc: Uint8Array): Table {
  const reader = RecordBatchReader.from(ipc).open();
  // Bytes that are not Arrow IPC at all read as a stream without a schema.
  const schema = reader.schema as Schema | undefined;
  if (schema === undefined) throw new Error("no schema message");
  return new Table(schema, reader.readAll());
}

function chunksOf(input: Table, column: number): readonly Data[] {
  return input.getChildAt<ArrowDataType>(column)?.data ?? [];
}

function isInt64(type: ArrowDataType): boolean {
  return ArrowDataType.isInt(type) && type.bitWidth === 64 && type.isSigned;
}

function isStringType(type: ArrowDataType): boolean {
  return (
    ArrowDataType.isUtf8(type) ||
    (ArrowDataType.isDictionary(type) && ArrowDataType.isUtf8(type.dictionary as ArrowDataType))
  );
}

/** Our name for the type when we hold it, else Arrow's. */
function typeName(column: string, type: ArrowDataType): string {
  try {
    return dataTypeOfArrow(column, type);
  } catch {
    return Type[type.typeId];
  }
}

function timestampColumnOf(chunks: readonly Data[], numRows: number, scale: number): Column {
  const out = new Float64Array(numRows);
  let validity: Uint8Array | null = null;
  let at = 0;
  for (const data of chunks) {
    const n = data.length;
    int64ToTimestamps(data.values as BigInt64Array, n, scale, out, at);
    validity = mergeValidity(validity, data, at, numRows);
    at += n;
  }
  return { type: DataType.Timestamp, values: out, validity };
}

/**
 * A tag column as dictionary codes over the distinct values: Utf8 values are interned from their
 * bytes, Dictionary<Utf8> indices are mapped through the dictionary (each entry interned on first
 * use, so unused entries are dropped). Null rows hold the empty string as their placeholder.
 */
function tagColumnOf(
  name: string,
  chunks: readonly Data[],
  numRows: number,
  invalid: (message: string) => RequestError,
): Column {
  const first = chunks[0];
  // A sizing hint: distinct values are at most the rows, and at most the first dictionary's size
  // if every chunk shares it (a large dictionary need not be used much, hence the cap).
  const dictionary = new Utf8Interner(Math.min(first?.dictionary?.length ?? 0, numRows, 4096));
  const codes = new Uint32Array(numRows);
  let validity: Uint8Array | null = null;
  let at = 0;
  for (const data of chunks) {
    const n = data.length;
    validity = mergeValidity(validity, data, at, numRows);
    const valid = validity;
    if (ArrowDataType.isDictionary(data.type)) {
      const entries = dictionaryEntries(data);
      const remap = new Int32Array(entries.count).fill(-1);
      const raw = data.values as ArrayLike<number> | BigInt64Array | BigUint64Array;
      const indices: ArrayLike<number> =
        raw instanceof BigInt64Array || raw instanceof BigUint64Array ? Float64Array.from(raw, Number) : raw;
      for (let i = 0; i < n; i++) {
        const row = at + i;
        if (valid !== null && valid[row] === 0) {
          codes[row] = emptyStringCode(dictionary);
          continue;
        }
        const index = indices[i] as number;
        let code = remap[index];
        if (code === undefined) {
          throw invalid(`tag column "${name}": row ${row} has dictionary index ${index} of ${entries.count}`);
        }
        if (code < 0) remap[index] = code = entries.intern(dictionary, index);
        codes[row] = code;
      }
    } else {
      const offsets = data.valueOffsets as Int32Array;
      const bytes = data.values as Uint8Array;
      for (let i = 0; i < n; i++) {
        const row = at + i;
        codes[row] =
          valid !== null && valid[row] === 0
            ? emptyStringCode(dictionary)
            : dictionary.intern(bytes, offsets[i] as number, offsets[i + 1] as number);
      }
    }
    at += n;
  }
  return {
    type: DataType.String,
    values: stringColumnFromCodes(codes, dictionary.values),
    validity,
  };
}

/** The Utf8 entries of a dictionary column's dictionary (possibly in several chunks). */
function dictionaryEntries(data: Data): {
  count: number;
  intern: (into: Utf8Interner, index: number) => number;
} {
  const chunks: ReadonlyArray<Data<Utf8>> = (data.dictionary as Vector<Utf8> | undefined)?.data ?? [];
  const firstIndex: number[] = [];
  let count = 0;
  for (const chunk of chunks) {
    firstIndex.push(count);
    count += chunk.length;
  }
  return {
    count,
    intern: (into, index) => {
      let c = chunks.length - 1;
      while ((firstIndex[c] as number) > index) c--;
      const chunk = chunks[c] as Data;
      const offsets = chunk.valueOffsets as Int32Array;
      const i = index - (firstIndex[c] as number);
      // A null dictionary entry reads as the empty string.
      const isNullEntry =
        chunk.nullCount > 0 &&
        chunk.nullBitmap !== undefined &&
        ((chunk.nullBitmap[(chunk.offset + i) >> 3] as number) & (1 << ((chunk.offset + i) & 7))) === 0;
      if (isNullEntry) return emptyStringCode(into);
      return into.intern(chunk.values as Uint8Array, offsets[i] as number, offsets[i + 1] as number);
    },
  };
}

/**
 * Adds the validity of the chunk at rows [at, at + data.length) to the column's validity, which is
 * created (all valid so far) at the first chunk with nulls.
 */
function mergeValidity(
  validity: Uint8Array | null,
  data: Data,
  at: number,
  numRows: number,
): Uint8Array | null {
  const bits = data.nullBitmap;
  let out = validity;
  if (data.nullCount > 0 && bits !== undefined && bits.length > 0) {
    out ??= new Uint8Array(numRows).fill(1);
    for (let i = 0; i < data.length; i++) {
      const bit = data.offset + i;
      out[at + i] = ((bits[bit >> 3] as number) >> (bit & 7)) & 1;
    }
  }
  return out;
}

/**
 * The column with typed arrays of its own: values that are views of the IPC buffer (itself a view
 * of the request) are copied, so rows kept in the memtable do not keep the request alive.
 */
function ownedColumn(column: Column): Column {
  const values = column.values;
  if (Array.isArray(values)) return column;
  const whole = values.byteOffset === 0 && values.byteLength === values.buffer.byteLength;
  return whole ? column : { type: column.type, values: values.slice(), validity: column.validity };
}
