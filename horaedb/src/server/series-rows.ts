import { StatusCode, type storage } from "@horaedb/proto";
import { allocateValues, type Column, type ColumnValues } from "../batch/column.js";
import { DataType, MAX_TIMESTAMP_MS, MIN_TIMESTAMP_MS } from "../table/data-type.js";
import type { WriteRows } from "../engine/index.js";
import { RequestError } from "./request-error.js";

/** Tables created by a series-form write name their timestamp column this (storage.proto). */
export const SERIES_TIMESTAMP_COLUMN = "timestamp";

type ValueKind = NonNullable<storage.Value__Output["kind"]>;

const TYPE_OF_KIND: Record<ValueKind, DataType> = {
  float64Value: DataType.Double,
  float32Value: DataType.Float,
  int64Value: DataType.Int64,
  int32Value: DataType.Int32,
  uint64Value: DataType.UInt64,
  boolValue: DataType.Boolean,
  stringValue: DataType.String,
  varbinaryValue: DataType.Varbinary,
  timestampValue: DataType.Timestamp,
};

/**
 * Turns the series form of a write (tag and field names listed once; per series its tags, then a
 * group of field values per timestamp) into columnar rows. Every malformed detail is an
 * INVALID_ARGUMENT error naming the table, the entry and the column.
 */
export function seriesToWriteRows(table: string, series: storage.SeriesRows__Output): WriteRows {
  const invalid = (message: string) =>
    new RequestError(StatusCode.STATUS_CODE_INVALID_ARGUMENT, `table ${table}: ${message}`);
  const { tagNames, fieldNames, entries } = series;
  checkNames("tag", tagNames, invalid);
  checkNames("field", fieldNames, invalid);
  for (const name of tagNames) {
    if (fieldNames.includes(name)) throw invalid(`"${name}" is both a tag and a field`);
    if (name === SERIES_TIMESTAMP_COLUMN) throw invalid(`tag name "${name}" is reserved for the timestamp`);
  }
  if (fieldNames.includes(SERIES_TIMESTAMP_COLUMN)) {
    throw invalid(`field name "${SERIES_TIMESTAMP_COLUMN}" is reserved for the timestamp`);
  }

  // First pass: row count and the type of each field (from its first non-null value).
  let numRows = 0;
  const fieldTypes: Array<DataType | undefined> = fieldNames.map(() => undefined);
  entries.forEach((entry, e) => {
    if (entry.fieldGroups.length === 0) throw invalid(`series entry ${e} has no field groups (rows)`);
    numRows += entry.fieldGroups.length;
    for (const group of entry.fieldGroups) {
      for (const field of group.fields) {
        const kind = field.value?.kind;
        if (kind === undefined) continue;
        const name = fieldNames[field.nameIndex];
        if (name === undefined)
          throw invalid(`series entry ${e}: field name index ${field.nameIndex} is out of range`);
        const type = TYPE_OF_KIND[kind];
        const seen = fieldTypes[field.nameIndex];
        if (seen === undefined) fieldTypes[field.nameIndex] = type;
        else if (seen !== type) throw invalid(`field "${name}" has values of type ${seen} and ${type}`);
      }
    }
  });
  if (numRows === 0) throw invalid("the write carries no rows");

  const tagValues = tagNames.map(() => new Array<string>(numRows).fill(""));
  const tagValidity = tagNames.map(() => new Uint8Array(numRows));
  const timestamps = new Float64Array(numRows);
  const fieldValues = fieldNames.map((_, f) => allocateValues(fieldTypes[f] ?? DataType.Double, numRows));
  const fieldValidity = fieldNames.map(() => new Uint8Array(numRows));

  let row = 0;
  entries.forEach((entry, e) => {
    const seriesTags = new Map<number, string>();
    for (const tag of entry.tags) {
      if (tagNames[tag.nameIndex] === undefined)
        throw invalid(`series entry ${e}: tag name index ${tag.nameIndex} is out of range`);
      if (seriesTags.has(tag.nameIndex))
        throw invalid(`series entry ${e}: tag "${tagNames[tag.nameIndex]}" appears twice`);
      const kind = tag.value?.kind;
      if (kind === undefined) continue;
      if (kind !== "stringValue") {
        throw invalid(
          `series entry ${e}: tag "${tagNames[tag.nameIndex]}" must be a string, not ${TYPE_OF_KIND[kind]}`,
        );
      }
      seriesTags.set(tag.nameIndex, tag.value?.stringValue ?? "");
    }
    for (const group of entry.fieldGroups) {
      const ts = Number(group.timestamp);
      if (!Number.isSafeInteger(ts) || ts < MIN_TIMESTAMP_MS || ts > MAX_TIMESTAMP_MS) {
        throw invalid(`series entry ${e}: timestamp ${group.timestamp} is out of range (±2^53 ms)`);
      }
      timestamps[row] = ts;
      for (const [t, value] of seriesTags) {
        (tagValues[t] as string[])[row] = value;
        (tagValidity[t] as Uint8Array)[row] = 1;
      }
      const seenFields = new Set<number>();
      for (const field of group.fields) {
        if (seenFields.has(field.nameIndex))
          throw invalid(`series entry ${e}: field "${fieldNames[field.nameIndex]}" appears twice in one row`);
        seenFields.add(field.nameIndex);
        const value = field.value;
        if (value?.kind === undefined) continue;
        setCell(fieldValues[field.nameIndex] as ColumnValues, row, value);
        (fieldValidity[field.nameIndex] as Uint8Array)[row] = 1;
      }
      row++;
    }
  });

  const names = [...tagNames, SERIES_TIMESTAMP_COLUMN];
  const columns: Column[] = tagNames.map((_, t) => ({
    type: DataType.String,
    values: tagValues[t] as string[],
    validity: allOnes(tagValidity[t] as Uint8Array) ? null : (tagValidity[t] as Uint8Array),
  }));
  columns.push({ type: DataType.Timestamp, values: timestamps, validity: null });
  fieldNames.forEach((name, f) => {
    // A field with no value in any row has no type; it is left out rather than guessed.
    const type = fieldTypes[f];
    if (type === undefined) return;
    names.push(name);
    const validity = fieldValidity[f] as Uint8Array;
    columns.push({
      type,
      values: fieldValues[f] as ColumnValues,
      validity: allOnes(validity) ? null : validity,
    });
  });
  return {
    batch: { names, columns, numRows },
    tagNames: new Set(tagNames),
    timestampColumn: SERIES_TIMESTAMP_COLUMN,
  };
}

function checkNames(kind: string, names: readonly string[], invalid: (m: string) => RequestError): void {
  const seen = new Set<string>();
  for (const name of names) {
    if (name.length === 0) throw invalid(`a ${kind} name is empty`);
    if (seen.has(name)) throw invalid(`${kind} name "${name}" is listed twice`);
    seen.add(name);
  }
}

function setCell(values: ColumnValues, row: number, value: storage.Value__Output): void {
  switch (value.kind) {
    case "float64Value":
      (values as Float64Array)[row] = value.float64Value ?? 0;
      break;
    case "float32Value":
      (values as Float32Array)[row] = value.float32Value ?? 0;
      break;
    case "int32Value":
      (values as Int32Array)[row] = value.int32Value ?? 0;
      break;
    case "int64Value":
      (values as BigInt64Array)[row] = BigInt(value.int64Value ?? "0");
      break;
    case "uint64Value":
      (values as BigUint64Array)[row] = BigInt(value.uint64Value ?? "0");
      break;
    case "timestampValue":
      (values as Float64Array)[row] = Number(value.timestampValue ?? "0");
      break;
    case "boolValue":
      (values as Uint8Array)[row] = value.boolValue === true ? 1 : 0;
      break;
    case "stringValue":
      (values as string[])[row] = value.stringValue ?? "";
      break;
    case "varbinaryValue":
      (values as Uint8Array[])[row] = new Uint8Array(value.varbinaryValue ?? new Uint8Array(0));
      break;
    case undefined:
      break;
  }
}

function allOnes(validity: Uint8Array): boolean {
  return validity.every((v) => v === 1);
}
