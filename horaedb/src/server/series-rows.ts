import { StatusCode } from "@horaedb/proto";
import { allocateValues, type Column, type ColumnValues } from "../batch/column.js";
import { stringColumnFromCodes } from "../batch/string-dictionary.js";
import type { WriteRows } from "../engine/index.js";
import { DataType } from "../table/data-type.js";
import {
  ProtobufDecodeError,
  ProtobufReader,
  WireType,
  int64IsSafe,
  int64Number,
  int64String,
} from "./protobuf-reader.js";
import { RequestError } from "./request-error.js";
import { emptyStringCode, Utf8Interner } from "./utf8-interner.js";

/** Tables created by a series-form write name their timestamp column this (storage.proto). */
export const SERIES_TIMESTAMP_COLUMN = "timestamp";

// Field numbers of storage.proto.
const SERIES_ROWS = { tagNames: 1, fieldNames: 2, entries: 3 } as const;
const SERIES_ENTRY = { tags: 1, fieldGroups: 2 } as const;
const NAMED_VALUE = { nameIndex: 1, value: 2 } as const; // Tag and Field
const FIELD_GROUP = { timestamp: 1, fields: 2 } as const;

/** `Value.kind` members by field number: the column type each makes, and its wire type. */
const VALUE_KIND_NONE = 0;
const VALUE_STRING = 7;
const TYPE_OF_VALUE: ReadonlyArray<DataType | undefined> = [
  undefined,
  DataType.Double, // 1 float64_value
  DataType.Float, // 2 float32_value
  DataType.Int64, // 3 int64_value
  DataType.Int32, // 4 int32_value
  DataType.UInt64, // 5 uint64_value
  DataType.Boolean, // 6 bool_value
  DataType.String, // 7 string_value
  DataType.Varbinary, // 8 varbinary_value
  DataType.Timestamp, // 9 timestamp_value (ms)
];
const WIRE_OF_VALUE: readonly number[] = [
  -1,
  WireType.FIXED64,
  WireType.FIXED32,
  WireType.VARINT,
  WireType.VARINT,
  WireType.VARINT,
  WireType.VARINT,
  WireType.LEN,
  WireType.LEN,
  WireType.VARINT,
];

/**
 * Turns the series form of a write (the bytes of a `SeriesRows` message: tag and field names listed
 * once; per series its tags, then a group of field values per timestamp) into columnar rows,
 * decoding the bytes once, straight into typed columns. Tag columns come out dictionary coded.
 * Every malformed detail is an INVALID_ARGUMENT error naming the table, the entry and the column.
 */
export function seriesToWriteRows(table: string, seriesRows: Uint8Array): WriteRows {
  try {
    return new SeriesDecoder(table, seriesRows).decode();
  } catch (error) {
    if (error instanceof ProtobufDecodeError) {
      throw new RequestError(
        StatusCode.STATUS_CODE_INVALID_ARGUMENT,
        `table ${table}: the series rows are not valid protobuf: ${error.message}`,
      );
    }
    throw error;
  }
}

/** One field's column while it is filled; typed by the field's first non-null value. */
interface FieldColumn {
  readonly type: DataType;
  readonly values: ColumnValues;
  /** The 32-bit words of int64 and uint64 values, so they are set without a BigInt each. */
  readonly words: Int32Array | undefined;
  readonly validity: Uint8Array;
  present: number;
}

/** One tag's column while it is filled: a dictionary code per row. */
interface TagColumn {
  readonly dictionary: Utf8Interner;
  readonly codes: Uint32Array;
  readonly validity: Uint8Array;
  nulls: number;
}

class SeriesDecoder {
  readonly #table: string;
  readonly #r: ProtobufReader;
  readonly #tagNames: string[] = [];
  readonly #fieldNames: string[] = [];
  /** [start, end) of each entry's bytes. */
  readonly #entries: number[] = [];
  #timestamps = new Float64Array(0);
  #tags: TagColumn[] = [];
  #fields: Array<FieldColumn | undefined> = [];
  /** Per field, the last row that listed it (to refuse a field twice in one row). */
  #lastRow = new Int32Array(0);
  /** Per tag, the entry that last set it, and the code it set (-1: null). */
  #tagEntry = new Int32Array(0);
  #tagCode = new Int32Array(0);

  constructor(table: string, bytes: Uint8Array) {
    this.#table = table;
    this.#r = new ProtobufReader(bytes);
  }

  decode(): WriteRows {
    this.#readOutline();
    const tagNames = this.#tagNames;
    const fieldNames = this.#fieldNames;
    checkNames("tag", tagNames, this.#invalid);
    checkNames("field", fieldNames, this.#invalid);
    for (const name of tagNames) {
      if (fieldNames.includes(name)) throw this.#invalid(`"${name}" is both a tag and a field`);
      if (name === SERIES_TIMESTAMP_COLUMN)
        throw this.#invalid(`tag name "${name}" is reserved for the timestamp`);
    }
    if (fieldNames.includes(SERIES_TIMESTAMP_COLUMN)) {
      throw this.#invalid(`field name "${SERIES_TIMESTAMP_COLUMN}" is reserved for the timestamp`);
    }

    const numRows = this.#countRows();
    if (numRows === 0) throw this.#invalid("the write carries no rows");
    this.#timestamps = new Float64Array(numRows);
    const numEntries = this.#entries.length / 2;
    this.#tags = tagNames.map(() => ({
      // A tag has at most one value per series entry.
      dictionary: new Utf8Interner(Math.min(numEntries, 4096)),
      codes: new Uint32Array(numRows),
      validity: new Uint8Array(numRows),
      nulls: 0,
    }));
    this.#fields = fieldNames.map(() => undefined);
    this.#lastRow = new Int32Array(fieldNames.length).fill(-1);
    this.#tagEntry = new Int32Array(tagNames.length).fill(-1);
    this.#tagCode = new Int32Array(tagNames.length);

    let row = 0;
    const entries = this.#entries;
    for (let e = 0; e < entries.length / 2; e++) {
      row = this.#readEntry(e, entries[2 * e] as number, entries[2 * e + 1] as number, row);
    }

    const names = [...tagNames, SERIES_TIMESTAMP_COLUMN];
    const columns: Column[] = this.#tags.map((tag) => ({
      type: DataType.String,
      values: stringColumnFromCodes(tag.codes, tag.dictionary.values),
      validity: tag.nulls === 0 ? null : tag.validity,
    }));
    columns.push({ type: DataType.Timestamp, values: this.#timestamps, validity: null });
    this.#fields.forEach((field, f) => {
      // A field with no value in any row has no type; it is left out rather than guessed.
      if (field === undefined) return;
      names.push(fieldNames[f] as string);
      columns.push({
        type: field.type,
        values: field.values,
        validity: field.present === numRows ? null : field.validity,
      });
    });
    return {
      batch: { names, columns, numRows },
      tagNames: new Set(tagNames),
      timestampColumn: SERIES_TIMESTAMP_COLUMN,
    };
  }

  readonly #invalid = (message: string): RequestError =>
    new RequestError(StatusCode.STATUS_CODE_INVALID_ARGUMENT, `table ${this.#table}: ${message}`);

  /** The names, and where each entry lies; entries are decoded once the names are known. */
  #readOutline(): void {
    const r = this.#r;
    while (!r.done) {
      const key = r.uint32();
      const field = key >>> 3;
      const wire = key & 7;
      if (field === SERIES_ROWS.tagNames) {
        r.expect(field, wire, WireType.LEN);
        this.#tagNames.push(r.string());
      } else if (field === SERIES_ROWS.fieldNames) {
        r.expect(field, wire, WireType.LEN);
        this.#fieldNames.push(r.string());
      } else if (field === SERIES_ROWS.entries) {
        r.expect(field, wire, WireType.LEN);
        const length = r.length();
        this.#entries.push(r.pos, r.pos + length);
        r.pos += length;
      } else {
        r.skip(wire);
      }
    }
  }

  /** Rows in all entries: their field groups, counted without decoding them. */
  #countRows(): number {
    const r = this.#r;
    const entries = this.#entries;
    let numRows = 0;
    for (let e = 0; e < entries.length / 2; e++) {
      r.pos = entries[2 * e] as number;
      r.end = entries[2 * e + 1] as number;
      let groups = 0;
      while (!r.done) {
        const key = r.uint32();
        if (key >>> 3 === SERIES_ENTRY.fieldGroups) groups++;
        r.skip(key & 7);
      }
      if (groups === 0) throw this.#invalid(`series entry ${e} has no field groups (rows)`);
      numRows += groups;
    }
    return numRows;
  }

  /** Decodes entry `e`, whose rows start at `row`; returns the row after its last. */
  #readEntry(e: number, start: number, end: number, firstRow: number): number {
    const r = this.#r;
    r.pos = start;
    r.end = end;
    let row = firstRow;
    while (!r.done) {
      const key = r.uint32();
      const field = key >>> 3;
      const wire = key & 7;
      if (field === SERIES_ENTRY.fieldGroups) {
        r.expect(field, wire, WireType.LEN);
        this.#readFieldGroup(e, row++);
      } else if (field === SERIES_ENTRY.tags) {
        r.expect(field, wire, WireType.LEN);
        this.#readTag(e);
      } else {
        r.skip(wire);
      }
    }
    // The entry's tags apply to all its rows, wherever they appear among the field groups.
    for (let t = 0; t < this.#tags.length; t++) {
      const tag = this.#tags[t] as TagColumn;
      const code = this.#tagEntry[t] === e ? (this.#tagCode[t] as number) : -1;
      if (code >= 0) {
        tag.codes.fill(code, firstRow, row);
        tag.validity.fill(1, firstRow, row);
      } else {
        // Null rows hold the empty string as their placeholder, coded like any value.
        tag.codes.fill(emptyStringCode(tag.dictionary), firstRow, row);
        tag.nulls += row - firstRow;
      }
    }
    return row;
  }

  #readTag(e: number): void {
    const r = this.#r;
    const outer = r.enter();
    let index = 0;
    let kind = VALUE_KIND_NONE;
    let start = 0;
    let end = 0;
    while (!r.done) {
      const key = r.uint32();
      const field = key >>> 3;
      const wire = key & 7;
      if (field === NAMED_VALUE.nameIndex) {
        r.expect(field, wire, WireType.VARINT);
        index = r.uint32();
      } else if (field === NAMED_VALUE.value) {
        r.expect(field, wire, WireType.LEN);
        const valueEnd = r.enter();
        kind = VALUE_KIND_NONE;
        while (!r.done) {
          const valueKey = r.uint32();
          const member = valueKey >>> 3;
          const valueWire = valueKey & 7;
          if (member >= 1 && member <= 9) {
            r.expect(member, valueWire, WIRE_OF_VALUE[member] as number);
            kind = member;
            if (member === VALUE_STRING) {
              const length = r.length();
              start = r.pos;
              end = start + length;
              r.pos = end;
            } else {
              r.skip(valueWire);
            }
          } else {
            r.skip(valueWire);
          }
        }
        r.leave(valueEnd);
      } else {
        r.skip(wire);
      }
    }
    r.leave(outer);
    const name = this.#tagNames[index];
    if (name === undefined) throw this.#invalid(`series entry ${e}: tag name index ${index} is out of range`);
    if (this.#tagEntry[index] === e) throw this.#invalid(`series entry ${e}: tag "${name}" appears twice`);
    this.#tagEntry[index] = e;
    if (kind === VALUE_KIND_NONE) {
      this.#tagCode[index] = -1;
      return;
    }
    if (kind !== VALUE_STRING) {
      throw this.#invalid(`series entry ${e}: tag "${name}" must be a string, not ${TYPE_OF_VALUE[kind]}`);
    }
    this.#tagCode[index] = (this.#tags[index] as TagColumn).dictionary.intern(r.bytes, start, end);
  }

  #readFieldGroup(e: number, row: number): void {
    const r = this.#r;
    const outer = r.enter();
    let lo = 0;
    let hi = 0;
    let timestamped = false;
    while (!r.done) {
      const key = r.uint32();
      const field = key >>> 3;
      const wire = key & 7;
      if (field === FIELD_GROUP.fields) {
        r.expect(field, wire, WireType.LEN);
        this.#readField(e, row);
      } else if (field === FIELD_GROUP.timestamp) {
        r.expect(field, wire, WireType.VARINT);
        r.varint64();
        lo = r.lo;
        hi = r.hi;
        timestamped = true;
      } else {
        r.skip(wire);
      }
    }
    r.leave(outer);
    if (!timestamped) throw this.#invalid(`series entry ${e}: a field group has no timestamp`);
    if (!int64IsSafe(lo, hi)) {
      throw this.#invalid(`series entry ${e}: timestamp ${int64String(lo, hi)} is out of range (±2^53 ms)`);
    }
    this.#timestamps[row] = int64Number(lo, hi);
  }

  #readField(e: number, row: number): void {
    if (readDoubleFieldFast(this.#r, row, this.#fields, this.#lastRow)) return;
    const r = this.#r;
    const outer = r.enter();
    let index = 0;
    let kind = VALUE_KIND_NONE;
    let number = 0;
    let lo = 0;
    let hi = 0;
    let start = 0;
    let end = 0;
    while (!r.done) {
      const key = r.uint32();
      const field = key >>> 3;
      const wire = key & 7;
      if (field === NAMED_VALUE.value) {
        r.expect(field, wire, WireType.LEN);
        const valueEnd = r.enter();
        // A Value given twice replaces the first, as a repeated singular message field does.
        kind = VALUE_KIND_NONE;
        while (!r.done) {
          const valueKey = r.uint32();
          const member = valueKey >>> 3;
          const valueWire = valueKey & 7;
          if (member < 1 || member > 9) {
            r.skip(valueWire);
            continue;
          }
          r.expect(member, valueWire, WIRE_OF_VALUE[member] as number);
          // A oneof: the member that comes last wins.
          kind = member;
          if (member === 1) {
            number = r.double();
          } else if (member === 2) {
            number = r.float();
          } else if (valueWire === WireType.VARINT) {
            r.varint64();
            lo = r.lo;
            hi = r.hi;
          } else {
            const length = r.length();
            start = r.pos;
            end = start + length;
            r.pos = end;
          }
        }
        r.leave(valueEnd);
      } else if (field === NAMED_VALUE.nameIndex) {
        r.expect(field, wire, WireType.VARINT);
        index = r.uint32();
      } else {
        r.skip(wire);
      }
    }
    r.leave(outer);

    if (index >= this.#fieldNames.length) {
      throw this.#invalid(`series entry ${e}: field name index ${index} is out of range`);
    }
    if (this.#lastRow[index] === row) {
      throw this.#invalid(`series entry ${e}: field "${this.#fieldNames[index]}" appears twice in one row`);
    }
    this.#lastRow[index] = row;
    if (kind === VALUE_KIND_NONE) return;
    const type = TYPE_OF_VALUE[kind] as DataType;
    let column = this.#fields[index];
    if (column === undefined) {
      column = newFieldColumn(type, this.#timestamps.length);
      this.#fields[index] = column;
    } else if (column.type !== type) {
      throw this.#invalid(`field "${this.#fieldNames[index]}" has values of type ${column.type} and ${type}`);
    }
    switch (type) {
      case DataType.Double:
        (column.values as Float64Array)[row] = number;
        break;
      case DataType.Float:
        (column.values as Float32Array)[row] = number;
        break;
      case DataType.Int64:
      case DataType.UInt64: {
        const words = column.words as Int32Array;
        words[2 * row] = lo;
        words[2 * row + 1] = hi;
        break;
      }
      case DataType.Int32:
        (column.values as Int32Array)[row] = lo | 0;
        break;
      case DataType.Boolean:
        (column.values as Uint8Array)[row] = lo !== 0 || hi !== 0 ? 1 : 0;
        break;
      case DataType.Timestamp:
        (column.values as Float64Array)[row] = int64Number(lo, hi);
        break;
      case DataType.String:
        (column.values as string[])[row] = r.text(start, end);
        break;
      case DataType.Varbinary:
        // A copy (a plain Uint8Array: the request may be a Buffer, whose slice() is a view), so
        // the row does not keep the whole request buffer alive.
        (column.values as Uint8Array[])[row] = new Uint8Array(r.bytes.subarray(start, end));
        break;
    }
    column.validity[row] = 1;
    column.present++;
  }
}

/**
 * The common case of a field, a double in its canonical encoding, read without the general
 * decoder's calls: `<length> [08 <index>] 12 09 09 <8 bytes>` with a one-byte length and index.
 * Returns false, having consumed nothing, for anything else (or a field the general path must
 * check: a second value in the row, a double for a column of another type).
 */
function readDoubleFieldFast(
  r: ProtobufReader,
  row: number,
  fields: Array<FieldColumn | undefined>,
  lastRow: Int32Array,
): boolean {
  const bytes = r.bytes;
  const start = r.pos;
  const length = bytes[start] as number;
  const end = start + 1 + length;
  if (length >= 0x80 || end > r.end) return false;
  let pos = start + 1;
  let index = 0;
  if (bytes[pos] === 0x08) {
    index = bytes[pos + 1] as number;
    if (index >= 0x80) return false;
    pos += 2;
  }
  // Value (field 2, 9 bytes) holding float64_value (field 1, fixed64).
  if (bytes[pos] !== 0x12 || bytes[pos + 1] !== 9 || bytes[pos + 2] !== 0x09 || pos + 11 !== end)
    return false;
  const column = fields[index];
  if (column?.type !== DataType.Double || lastRow[index] === row) return false;
  lastRow[index] = row;
  (column.values as Float64Array)[row] = r.doubleAt(pos + 3);
  column.validity[row] = 1;
  column.present++;
  r.pos = end;
  return true;
}

function newFieldColumn(type: DataType, numRows: number): FieldColumn {
  const values = allocateValues(type, numRows);
  const words =
    values instanceof BigInt64Array || values instanceof BigUint64Array
      ? new Int32Array(values.buffer, values.byteOffset, numRows * 2)
      : undefined;
  return { type, values, words, validity: new Uint8Array(numRows), present: 0 };
}

function checkNames(kind: string, names: readonly string[], invalid: (m: string) => RequestError): void {
  const seen = new Set<string>();
  for (const name of names) {
    if (name.length === 0) throw invalid(`a ${kind} name is empty`);
    if (seen.has(name)) throw invalid(`${kind} name "${name}" is listed twice`);
    seen.add(name);
  }
}
