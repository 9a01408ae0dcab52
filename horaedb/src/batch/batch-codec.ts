/**
 * Binary encoding of a ColumnBatch: the payload of a WAL record. Columnar and self-describing (each
 * column carries its name and type), so a record can be replayed after the table's schema changed.
 *
 * Layout, little-endian:
 *   u8  codec version (1)
 *   u32 row count
 *   u32 schema version the rows were validated against
 *   u16 column count
 *   per column:
 *     u16 name byte length, name (UTF-8)
 *     u8  type code (see TYPE_CODES), u8 flags (bit 0: has validity)
 *     [validity: one byte per row, 1 = present]      when flag bit 0
 *     values:
 *       fixed width (timestamp, double, float, int32, int64, uint64): rows x width bytes
 *       boolean: one byte per row
 *       string: u32 dictionary size d; d x (u32 byte length, UTF-8); then indices, u16 per row if
 *               d <= 65536 else u32 - time-series tags repeat heavily, so this is both smaller and
 *               faster to decode (each distinct string is materialised once)
 *       varbinary: per row u32 byte length + bytes
 */
import { DataType, fixedByteWidth } from "../table/data-type.js";
import type { Column, ColumnValues } from "./column.js";
import type { ColumnBatch } from "./column-batch.js";
import { stringDictionary } from "./string-dictionary.js";

const CODEC_VERSION = 1;

const TYPE_CODES: Record<DataType, number> = {
  [DataType.Timestamp]: 1,
  [DataType.Double]: 2,
  [DataType.Float]: 3,
  [DataType.Int64]: 4,
  [DataType.Int32]: 5,
  [DataType.UInt64]: 6,
  [DataType.Boolean]: 7,
  [DataType.String]: 8,
  [DataType.Varbinary]: 9,
};
const TYPES_BY_CODE = new Map<number, DataType>(
  Object.entries(TYPE_CODES).map(([type, code]) => [code, type as DataType]),
);

/** A payload could not be decoded; `offset` is the byte position where decoding failed. */
export class BatchDecodeError extends Error {
  override readonly name = "BatchDecodeError";
  readonly offset: number;

  constructor(message: string, offset: number) {
    super(`cannot decode row batch at byte ${offset}: ${message}`);
    this.offset = offset;
  }
}

export interface DecodedBatch {
  readonly batch: ColumnBatch;
  readonly schemaVersion: number;
}

export function encodeBatch(batch: ColumnBatch, schemaVersion: number): Uint8Array {
  const writer = new ByteWriter(estimateSize(batch));
  writer.u8(CODEC_VERSION);
  writer.u32(batch.numRows);
  writer.u32(schemaVersion);
  writer.u16(batch.columns.length);
  for (let c = 0; c < batch.columns.length; c++) {
    const column = batch.columns[c] as Column;
    writer.string16(batch.names[c] as string);
    writer.u8(TYPE_CODES[column.type]);
    writer.u8(column.validity === null ? 0 : 1);
    if (column.validity !== null) writer.bytes(column.validity.subarray(0, batch.numRows));
    writeValues(writer, column, batch.numRows);
  }
  return writer.finish();
}

export function decodeBatch(payload: Uint8Array): DecodedBatch {
  const reader = new ByteReader(payload);
  const version = reader.u8();
  if (version !== CODEC_VERSION) throw new BatchDecodeError(`unknown codec version ${version}`, 0);
  const numRows = reader.u32();
  const schemaVersion = reader.u32();
  const numColumns = reader.u16();
  const names: string[] = [];
  const columns: Column[] = [];
  for (let c = 0; c < numColumns; c++) {
    names.push(reader.string16());
    const code = reader.u8();
    const type = TYPES_BY_CODE.get(code);
    if (type === undefined) throw new BatchDecodeError(`unknown type code ${code}`, reader.offset - 1);
    const flags = reader.u8();
    const validity = (flags & 1) === 1 ? reader.bytes(numRows).slice() : null;
    const values = readValues(reader, type, numRows);
    columns.push({ type, values, validity });
  }
  if (reader.offset !== payload.byteLength) {
    throw new BatchDecodeError(`${payload.byteLength - reader.offset} trailing bytes`, reader.offset);
  }
  return { batch: { names, columns, numRows }, schemaVersion };
}

function writeValues(writer: ByteWriter, column: Column, numRows: number): void {
  const width = fixedByteWidth(column.type);
  if (width > 0) {
    const typed = column.values as Exclude<ColumnValues, string[] | Uint8Array[]>;
    writer.bytes(new Uint8Array(typed.buffer, typed.byteOffset, numRows * width));
    return;
  }
  if (column.type === DataType.String) {
    const dictionary = stringDictionary(column.values as string[], numRows);
    writer.u32(dictionary.values.length);
    for (const s of dictionary.values) writer.string32(s);
    if (dictionary.values.length <= 65536) {
      writer.bytes(new Uint8Array(Uint16Array.from(dictionary.codes).buffer));
    } else {
      writer.bytes(new Uint8Array(dictionary.codes.buffer, dictionary.codes.byteOffset, numRows * 4));
    }
    return;
  }
  const values = column.values as Uint8Array[];
  for (let i = 0; i < numRows; i++) {
    const v = values[i] as Uint8Array;
    writer.u32(v.byteLength);
    writer.bytes(v);
  }
}

function readValues(reader: ByteReader, type: DataType, numRows: number): ColumnValues {
  const width = fixedByteWidth(type);
  if (width > 0) {
    // Copy into a fresh, aligned buffer: the payload may sit at any offset of a larger read buffer.
    const raw = reader.bytes(numRows * width).slice();
    switch (type) {
      case DataType.Timestamp:
      case DataType.Double:
        return new Float64Array(raw.buffer, 0, numRows);
      case DataType.Int64:
        return new BigInt64Array(raw.buffer, 0, numRows);
      case DataType.UInt64:
        return new BigUint64Array(raw.buffer, 0, numRows);
      case DataType.Float:
        return new Float32Array(raw.buffer, 0, numRows);
      case DataType.Int32:
        return new Int32Array(raw.buffer, 0, numRows);
      default:
        return raw;
    }
  }
  if (type === DataType.String) {
    const size = reader.u32();
    const dictionary: string[] = new Array<string>(size);
    for (let i = 0; i < size; i++) dictionary[i] = reader.string32();
    const out = new Array<string>(numRows);
    const width = size > 65536 ? 4 : 2;
    const start = reader.offset;
    const raw = reader.bytes(numRows * width).slice();
    const indices =
      width === 4 ? new Uint32Array(raw.buffer, 0, numRows) : new Uint16Array(raw.buffer, 0, numRows);
    for (let i = 0; i < numRows; i++) {
      const index = indices[i] as number;
      const s = dictionary[index];
      if (s === undefined)
        throw new BatchDecodeError(`dictionary index ${index} >= ${size}`, start + i * width);
      out[i] = s;
    }
    return out;
  }
  const out = new Array<Uint8Array>(numRows);
  for (let i = 0; i < numRows; i++) out[i] = reader.bytes(reader.u32()).slice();
  return out;
}

function estimateSize(batch: ColumnBatch): number {
  let size = 16;
  for (let c = 0; c < batch.columns.length; c++) {
    const column = batch.columns[c] as Column;
    size += 8 + (batch.names[c]?.length ?? 0) * 3 + (column.validity === null ? 0 : batch.numRows);
    const width = fixedByteWidth(column.type);
    size += width > 0 ? width * batch.numRows : 8 * batch.numRows;
  }
  return size;
}

class ByteWriter {
  #buf: Buffer;
  #pos = 0;

  constructor(initial: number) {
    this.#buf = Buffer.allocUnsafe(Math.max(64, initial));
  }

  ensure(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#pos + n));
    this.#buf.copy(next, 0, 0, this.#pos);
    this.#buf = next;
  }

  u8(v: number): void {
    this.ensure(1);
    this.#buf[this.#pos++] = v;
  }

  u16(v: number): void {
    this.ensure(2);
    this.#pos = this.#buf.writeUInt16LE(v, this.#pos);
  }

  u32(v: number): void {
    this.ensure(4);
    this.#pos = this.#buf.writeUInt32LE(v, this.#pos);
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.byteLength);
    this.#buf.set(b, this.#pos);
    this.#pos += b.byteLength;
  }

  string16(s: string): void {
    const len = Buffer.byteLength(s);
    if (len > 0xffff) throw new RangeError(`name of ${len} bytes is too long to encode`);
    this.u16(len);
    this.ensure(len);
    this.#pos += this.#buf.write(s, this.#pos);
  }

  string32(s: string): void {
    const len = Buffer.byteLength(s);
    this.u32(len);
    this.ensure(len);
    this.#pos += this.#buf.write(s, this.#pos);
  }

  /** A plain Uint8Array view (not a Buffer, whose `slice()` would not copy). */
  finish(): Uint8Array {
    return new Uint8Array(this.#buf.buffer, this.#buf.byteOffset, this.#pos);
  }
}

class ByteReader {
  readonly #buf: Buffer;
  offset = 0;

  constructor(bytes: Uint8Array) {
    this.#buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  #need(n: number): void {
    if (this.offset + n > this.#buf.length) {
      throw new BatchDecodeError(
        `needs ${n} more bytes, ${this.#buf.length - this.offset} left`,
        this.offset,
      );
    }
  }

  u8(): number {
    this.#need(1);
    return this.#buf[this.offset++] as number;
  }

  u16(): number {
    this.#need(2);
    const v = this.#buf.readUInt16LE(this.offset);
    this.offset += 2;
    return v;
  }

  u32(): number {
    this.#need(4);
    const v = this.#buf.readUInt32LE(this.offset);
    this.offset += 4;
    return v;
  }

  bytes(n: number): Uint8Array {
    this.#need(n);
    // A plain Uint8Array view, so that callers' `slice()` copies (Buffer#slice would not).
    const out = new Uint8Array(this.#buf.buffer, this.#buf.byteOffset + this.offset, n);
    this.offset += n;
    return out;
  }

  string16(): string {
    const len = this.u16();
    this.#need(len);
    const s = this.#buf.toString("utf8", this.offset, this.offset + len);
    this.offset += len;
    return s;
  }

  string32(): string {
    const len = this.u32();
    this.#need(len);
    const s = this.#buf.toString("utf8", this.offset, this.offset + len);
    this.offset += len;
    return s;
  }
}
