import { StatusCode, storageServiceDefinition, type storage } from "@horaedb/proto";
import { describe, expect, it } from "vitest";
import { cellAt, type Column } from "../../src/batch/column.js";
import { stringDictionary } from "../../src/batch/string-dictionary.js";
import type { WriteRows } from "../../src/engine/index.js";
import { RequestError } from "../../src/server/request-error.js";
import { seriesToWriteRows } from "../../src/server/series-rows.js";
import { decodeWriteRequest } from "../../src/server/write-request.js";
import { DataType, type CellValue } from "../../src/table/data-type.js";

const definition = storageServiceDefinition().Write;

/** The bytes of `series` as the generic encoder (what clients built from the .proto use) makes them. */
function seriesBytes(series: storage.SeriesRows): Uint8Array {
  const request = decodeWriteRequest(
    definition.requestSerialize({ tableRequests: [{ table: "t", series }] }),
  );
  const rows = request.tableRequests[0]?.rows;
  if (rows?.form !== "series") throw new Error("no series rows");
  return rows.seriesRows;
}

const decode = (series: storage.SeriesRows): WriteRows => seriesToWriteRows("t", seriesBytes(series));

/** Column name -> cells, and the type and validity of each column. */
function cells(rows: WriteRows): Record<string, { type: DataType; dense: boolean; cells: CellValue[] }> {
  const out: Record<string, { type: DataType; dense: boolean; cells: CellValue[] }> = {};
  rows.batch.names.forEach((name, c) => {
    const column = rows.batch.columns[c] as Column;
    const values: CellValue[] = [];
    for (let r = 0; r < rows.batch.numRows; r++) values.push(cellAt(column, r));
    out[name] = { type: column.type, dense: column.validity === null, cells: values };
  });
  return out;
}

const KIND_TYPES: Record<NonNullable<storage.Value__Output["kind"]>, DataType> = {
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
 * What the rows must be, worked out row by row from the message the generic decoder makes of the
 * same bytes: a tag column per tag name (nulls where an entry lacks the tag), the timestamp, and a
 * column per field that has a value somewhere.
 */
function expectedCells(sent: storage.SeriesRows): ReturnType<typeof cells> {
  const request = definition.requestSerialize({ tableRequests: [{ table: "t", series: sent }] });
  const decoded = definition.requestDeserialize(request);
  const series = decoded.tableRequests[0]?.series as storage.SeriesRows__Output;
  const out: ReturnType<typeof cells> = {};
  const rows: Array<Map<string, CellValue>> = [];
  for (const entry of series.entries) {
    const tags = new Map<string, CellValue>();
    for (const tag of entry.tags) {
      tags.set(series.tagNames[tag.nameIndex] as string, tag.value?.stringValue ?? null);
    }
    for (const group of entry.fieldGroups) {
      const row = new Map<string, CellValue>(tags);
      row.set("timestamp", Number(group.timestamp));
      for (const field of group.fields) {
        const value = field.value as storage.Value__Output;
        if (value.kind === undefined) continue;
        const name = series.fieldNames[field.nameIndex] as string;
        const raw = value[value.kind];
        const type = KIND_TYPES[value.kind];
        const cell =
          type === DataType.Int64 || type === DataType.UInt64
            ? BigInt(raw as string)
            : type === DataType.Timestamp
              ? Number(raw)
              : type === DataType.Varbinary
                ? new Uint8Array(raw as Buffer)
                : (raw as CellValue);
        row.set(name, cell);
        out[name] ??= { type, dense: true, cells: [] };
      }
      rows.push(row);
    }
  }
  for (const name of series.tagNames) out[name] = { type: DataType.String, dense: true, cells: [] };
  out["timestamp"] = { type: DataType.Timestamp, dense: true, cells: [] };
  for (const [name, column] of Object.entries(out)) {
    for (const row of rows) {
      const cell = row.get(name) ?? null;
      column.cells.push(cell);
      if (cell === null) column.dense = false;
    }
  }
  return out;
}

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

/** A random value of each kind, extremes included. */
function randomValue(kind: keyof typeof KIND_TYPES, rnd: () => number): storage.Value {
  const pick = <T>(values: readonly T[]): T => values[Math.floor(rnd() * values.length)] as T;
  switch (kind) {
    case "float64Value":
      return { float64Value: pick([0, -0.1, 1e308, -Infinity, (rnd() - 0.5) * 1e6]) };
    case "float32Value":
      return { float32Value: pick([0, 1.5, -3.25, Math.fround(rnd())]) };
    case "int64Value":
      return { int64Value: pick(["0", "-1", "9223372036854775807", "-9223372036854775808", "123456789012"]) };
    case "int32Value":
      return { int32Value: pick([0, -1, 2147483647, -2147483648, Math.floor(rnd() * 1000)]) };
    case "uint64Value":
      return { uint64Value: pick(["0", "18446744073709551615", "4294967296", "42"]) };
    case "boolValue":
      return { boolValue: rnd() < 0.5 };
    case "stringValue":
      return { stringValue: pick(["", "a", "héllo ✓", "日本", "x".repeat(200)]) };
    case "varbinaryValue":
      return { varbinaryValue: Uint8Array.from({ length: Math.floor(rnd() * 5) }, (_, i) => i * 51) };
    case "timestampValue":
      return { timestampValue: pick(["0", "-1000", "1700000000000", "9007199254740991"]) };
  }
}

function randomSeries(rnd: () => number): storage.SeriesRows {
  const kinds = Object.keys(KIND_TYPES) as Array<keyof typeof KIND_TYPES>;
  const tagNames = Array.from({ length: 1 + Math.floor(rnd() * 4) }, (_, i) => `tag${i}`);
  const fields = Array.from({ length: 1 + Math.floor(rnd() * 6) }, (_, i) => ({
    name: `field${i}`,
    kind: kinds[Math.floor(rnd() * kinds.length)] as keyof typeof KIND_TYPES,
  }));
  const entries: storage.WriteSeriesEntry[] = Array.from({ length: 1 + Math.floor(rnd() * 20) }, () => {
    const tags: storage.Tag[] = [];
    tagNames.forEach((_, t) => {
      const r = rnd();
      if (r < 0.15) return; // absent: null
      tags.push({ nameIndex: t, value: r < 0.25 ? {} : { stringValue: `v${Math.floor(rnd() * 4)}` } });
    });
    tags.sort(() => rnd() - 0.5);
    const fieldGroups = Array.from({ length: 1 + Math.floor(rnd() * 5) }, () => {
      const groupFields: storage.Field[] = [];
      fields.forEach((field, f) => {
        const r = rnd();
        if (r < 0.2) return; // absent: null
        groupFields.push({ nameIndex: f, value: r < 0.3 ? {} : randomValue(field.kind, rnd) });
      });
      groupFields.sort(() => rnd() - 0.5);
      return { timestamp: Math.floor((rnd() - 0.3) * 2 ** 45), fields: groupFields };
    });
    return { tags, fieldGroups };
  });
  return { tagNames, fieldNames: fields.map((f) => f.name), entries };
}

function expectInvalid(run: () => unknown, message: RegExp): void {
  let error: unknown;
  try {
    run();
  } catch (caught) {
    error = caught;
  }
  expect(error).toBeInstanceOf(RequestError);
  expect((error as RequestError).status).toBe(StatusCode.STATUS_CODE_INVALID_ARGUMENT);
  expect((error as RequestError).message).toMatch(message);
}

describe("seriesToWriteRows", () => {
  it("gives the rows the generic decoder's message describes, for random writes of every type", () => {
    const rnd = seeded(42);
    for (let round = 0; round < 200; round++) {
      const series = randomSeries(rnd);
      const rows = decode(series);
      expect(cells(rows), `round ${round}`).toEqual(expectedCells(series));
      expect(rows.timestampColumn).toBe("timestamp");
    }
  });

  it("puts tags first, then the timestamp, then the fields with a value, and names the tags", () => {
    const rows = decode({
      tagNames: ["host", "dc"],
      fieldNames: ["never", "usage"],
      entries: [
        {
          tags: [
            { nameIndex: 1, value: { stringValue: "eu" } },
            { nameIndex: 0, value: { stringValue: "a" } },
          ],
          fieldGroups: [
            { timestamp: 5, fields: [{ nameIndex: 1, value: { float64Value: 0.5 } }, { nameIndex: 0 }] },
          ],
        },
      ],
    });
    expect(rows.batch.names).toEqual(["host", "dc", "timestamp", "usage"]);
    expect([...rows.tagNames]).toEqual(["host", "dc"]);
    expect(cells(rows)).toEqual({
      host: { type: "string", dense: true, cells: ["a"] },
      dc: { type: "string", dense: true, cells: ["eu"] },
      timestamp: { type: "timestamp", dense: true, cells: [5] },
      usage: { type: "double", dense: true, cells: [0.5] },
    });
  });

  it("hands tag columns over dictionary coded, so the tsid and the WAL do not code them again", () => {
    const rows = decode({
      tagNames: ["host"],
      fieldNames: ["v"],
      entries: ["b", "a", "b"].map((host, i) => ({
        tags: i === 1 ? [] : [{ nameIndex: 0, value: { stringValue: host } }],
        fieldGroups: [{ timestamp: i, fields: [{ value: { float64Value: i } }] }],
      })),
    });
    const host = rows.batch.columns[0] as Column;
    expect(host.values).toEqual(["b", "", "b"]);
    expect([...(host.validity ?? [])]).toEqual([1, 0, 1]);
    const dictionary = stringDictionary(host.values as string[], 3);
    expect(dictionary.values).toEqual(["b", ""]);
    expect([...dictionary.codes]).toEqual([0, 1, 0]);
    // The coding made while decoding is the one returned: the same object on every call.
    expect(stringDictionary(host.values as string[], 3)).toBe(dictionary);
  });

  it("reads fields, values and groups in any order, skipping unknown fields", () => {
    // Field { value = Value { float64_value = 2.5 }, name_index = 1, unknown 9 = 7 }, encoded by hand.
    const double = Array.from(new Uint8Array(Float64Array.of(2.5).buffer));
    const field = [0x12, 9, 0x09, ...double, 0x08, 1, 0x48, 7];
    // FieldGroup { fields = field, timestamp = 3 }
    const group = [0x12, field.length, ...field, 0x08, 3];
    // Tag { value = Value { string_value = "x" }, name_index = 0 }
    const tag = [0x12, 3, 0x3a, 1, 0x78, 0x08, 0];
    // WriteSeriesEntry { field_groups = group, tags = tag }
    const entry = [0x12, group.length, ...group, 0x0a, tag.length, ...tag];
    // SeriesRows { entries = entry, tag_names = "h", field_names = "a", field_names = "b" }
    const series = Uint8Array.from([
      ...[0x1a, entry.length, ...entry],
      ...[0x0a, 1, 0x68, 0x12, 1, 0x61, 0x12, 1, 0x62],
    ]);
    const rows = seriesToWriteRows("t", series);
    expect(cells(rows)).toEqual({
      h: { type: "string", dense: true, cells: ["x"] },
      timestamp: { type: "timestamp", dense: true, cells: [3] },
      b: { type: "double", dense: true, cells: [2.5] },
    });
  });

  const one = (): storage.SeriesRows => ({
    tagNames: ["host"],
    fieldNames: ["usage", "count"],
    entries: [
      {
        tags: [{ nameIndex: 0, value: { stringValue: "a" } }],
        fieldGroups: [
          {
            timestamp: 1000,
            fields: [
              { nameIndex: 0, value: { float64Value: 1 } },
              { nameIndex: 1, value: { int64Value: 2 } },
            ],
          },
        ],
      },
    ],
  });
  const entry0 = (s: storage.SeriesRows) => s.entries?.[0] as storage.WriteSeriesEntry;
  const group0 = (s: storage.SeriesRows) => entry0(s).fieldGroups?.[0] as storage.FieldGroup;

  it.each<[string, (s: storage.SeriesRows) => void, RegExp]>([
    ["an empty tag name", (s) => (s.tagNames = [""]), /a tag name is empty/],
    [
      "a field listed twice",
      (s) => (s.fieldNames = ["usage", "usage"]),
      /field name "usage" is listed twice/,
    ],
    ["a name both tag and field", (s) => (s.tagNames = ["usage"]), /"usage" is both a tag and a field/],
    ["the timestamp as a tag", (s) => (s.tagNames = ["timestamp"]), /tag name "timestamp" is reserved/],
    ["the timestamp as a field", (s) => (s.fieldNames = ["timestamp", "count"]), /field name "timestamp"/],
    ["an entry without rows", (s) => (entry0(s).fieldGroups = []), /series entry 0 has no field groups/],
    ["no entries", (s) => (s.entries = []), /the write carries no rows/],
    [
      "a tag index out of range",
      (s) => (entry0(s).tags = [{ nameIndex: 3, value: { stringValue: "a" } }]),
      /series entry 0: tag name index 3 is out of range/,
    ],
    [
      "a tag given twice",
      (s) => (entry0(s).tags = [{ value: { stringValue: "a" } }, { value: { stringValue: "b" } }]),
      /series entry 0: tag "host" appears twice/,
    ],
    [
      "a non-string tag",
      (s) => (entry0(s).tags = [{ value: { boolValue: true } }]),
      /tag "host" must be a string, not boolean/,
    ],
    [
      "a field index out of range",
      (s) => (group0(s).fields = [{ nameIndex: 7, value: { float64Value: 1 } }]),
      /series entry 0: field name index 7 is out of range/,
    ],
    [
      "a field twice in one row",
      (s) => (group0(s).fields = [{ value: { float64Value: 1 } }, { value: { float64Value: 2 } }]),
      /field "usage" appears twice in one row/,
    ],
    [
      "a field with values of two types",
      (s) =>
        entry0(s).fieldGroups?.push({
          timestamp: 2,
          fields: [{ nameIndex: 0, value: { stringValue: "x" } }],
        }),
      /field "usage" has values of type double and string/,
    ],
    [
      "a timestamp beyond 2^53",
      (s) => (group0(s).timestamp = "9007199254740992"),
      /series entry 0: timestamp 9007199254740992 is out of range/,
    ],
    [
      "a timestamp below -2^53",
      (s) => (group0(s).timestamp = "-9223372036854775808"),
      /timestamp -9223372036854775808 is out of range/,
    ],
  ])("refuses %s with INVALID_ARGUMENT naming the problem", (_name, mutate, message) => {
    const series = one();
    mutate(series);
    expectInvalid(() => decode(series), message);
  });

  it("refuses bytes that are not valid protobuf, saying where", () => {
    const bytes = seriesBytes(one());
    expectInvalid(() => seriesToWriteRows("t", bytes.subarray(0, bytes.length - 2)), /not valid protobuf/);
    // entries (field 3) with the wire type of a varint.
    expectInvalid(() => seriesToWriteRows("t", Uint8Array.from([0x18, 1])), /field 3 has wire type 0/);
  });
});
