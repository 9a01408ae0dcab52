import { gzipSync } from "node:zlib";
import { StatusCode } from "@horaedb/proto";
import {
  Binary,
  Bool,
  type Data,
  Dictionary,
  Float32,
  Float64,
  Int16,
  Int32,
  Int64,
  Int8,
  makeData,
  makeVector,
  RecordBatch,
  Schema,
  Field,
  Struct,
  Table,
  tableToIPC,
  TimestampMicrosecond,
  TimestampMillisecond,
  TimestampNanosecond,
  TimestampSecond,
  Utf8,
  vectorFromArray,
  type DataType as ArrowDataType,
  type Vector,
} from "apache-arrow";
import { describe, expect, it } from "vitest";
import { cellAt, type Column } from "../../src/batch/column.js";
import { stringDictionary } from "../../src/batch/string-dictionary.js";
import type { WriteRows } from "../../src/engine/index.js";
import { arrowToWriteRows } from "../../src/server/arrow-rows.js";
import { RequestError } from "../../src/server/request-error.js";
import type { ArrowRowsMessage } from "../../src/server/write-request.js";
import type { CellValue } from "../../src/table/data-type.js";

function message(ipcStream: Uint8Array, tagColumns: string[], overrides: Partial<ArrowRowsMessage> = {}) {
  return {
    ipcStream,
    compression: "COMPRESSION_NONE",
    tagColumns,
    timestampColumn: "ts",
    ...overrides,
  } as const;
}

const convert = (table: Table, tags: string[], overrides: Partial<ArrowRowsMessage> = {}): WriteRows =>
  arrowToWriteRows("t", message(tableToIPC(table, "stream"), tags, overrides));

function cells(rows: WriteRows): Record<string, CellValue[]> {
  const out: Record<string, CellValue[]> = {};
  rows.batch.names.forEach((name, c) => {
    const column = rows.batch.columns[c] as Column;
    out[name] = Array.from({ length: rows.batch.numRows }, (_, r) => cellAt(column, r));
  });
  return out;
}

const column = (rows: WriteRows, name: string) =>
  rows.batch.columns[rows.batch.names.indexOf(name)] as Column;

const ms = (values: number[]) =>
  makeVector({ type: new TimestampMillisecond(), data: BigInt64Array.from(values.map(BigInt)) } as never);

/** A dictionary column built from its parts, so indices and dictionary are exactly as given. */
function dictionaryVector(
  indexType: Int8 | Int16 | Int32,
  indices: number[],
  entries: Array<string | null>,
  valid?: boolean[],
): Vector {
  const dictionary = vectorFromArray(entries, new Utf8());
  const type = new Dictionary(new Utf8(), indexType);
  const IndexArray = { 8: Int8Array, 16: Int16Array, 32: Int32Array }[indexType.bitWidth];
  const nullBitmap =
    valid === undefined ? undefined : Uint8Array.from([valid.reduce((b, v, i) => b | ((v ? 1 : 0) << i), 0)]);
  const data = makeData({
    type,
    length: indices.length,
    nullCount: valid === undefined ? 0 : valid.filter((v) => !v).length,
    nullBitmap,
    data: IndexArray.from(indices),
    dictionary,
  } as never) as unknown as Data<Dictionary<Utf8, Int32>>;
  return makeVector(data);
}

function expectInvalid(run: () => unknown, pattern: RegExp): void {
  let error: unknown;
  try {
    run();
  } catch (caught) {
    error = caught;
  }
  expect(error).toBeInstanceOf(RequestError);
  expect((error as RequestError).status).toBe(StatusCode.STATUS_CODE_INVALID_ARGUMENT);
  expect((error as RequestError).message).toMatch(pattern);
}

describe("arrowToWriteRows", () => {
  it("converts Utf8 tags, the timestamp and fields of every type, in the stream's column order", () => {
    const table = new Table({
      host: vectorFromArray(["a", "b", "a", "ü"], new Utf8()),
      ts: ms([1, 2, 3, -4]),
      d: vectorFromArray([0.5, -1, 2, 3], new Float64()),
      f: vectorFromArray([1.5, 2, 3, 4], new Float32()),
      i32: vectorFromArray([1, -2, 3, 4], new Int32()),
      i64: makeVector(BigInt64Array.from([-(2n ** 63n), 0n, 1n, 2n ** 63n - 1n])),
      u64: makeVector(BigUint64Array.from([0n, 2n ** 64n - 1n, 5n, 6n])),
      ok: vectorFromArray([true, false, null, true], new Bool()),
      note: vectorFromArray(["x", null, "z", ""], new Utf8()),
      blob: vectorFromArray([Uint8Array.of(1), Uint8Array.of(), Uint8Array.of(2, 3), null], new Binary()),
    });
    const rows = convert(table, ["host"]);
    expect(rows.timestampColumn).toBe("ts");
    expect([...rows.tagNames]).toEqual(["host"]);
    expect(cells(rows)).toEqual({
      host: ["a", "b", "a", "ü"],
      ts: [1, 2, 3, -4],
      d: [0.5, -1, 2, 3],
      f: [1.5, 2, 3, 4],
      i32: [1, -2, 3, 4],
      i64: [-(2n ** 63n), 0n, 1n, 2n ** 63n - 1n],
      u64: [0n, 2n ** 64n - 1n, 5n, 6n],
      ok: [true, false, null, true],
      note: ["x", null, "z", ""],
      blob: [Uint8Array.of(1), Uint8Array.of(), Uint8Array.of(2, 3), null],
    });
    expect(rows.batch.columns.map((c) => c.type)).toEqual([
      "string",
      "timestamp",
      "double",
      "float",
      "int32",
      "int64",
      "uint64",
      "boolean",
      "string",
      "varbinary",
    ]);
  });

  it("hands tags over dictionary coded, for Utf8 and Dictionary<Utf8> tags alike", () => {
    const table = new Table({
      plain: vectorFromArray(["b", "a", "b", "c"], new Utf8()),
      coded: dictionaryVector(new Int8(), [2, 0, 2, 1], ["x", "y", "z", "unused"]),
      ts: ms([1, 2, 3, 4]),
    });
    const rows = convert(table, ["plain", "coded"]);
    expect(cells(rows)).toMatchObject({ plain: ["b", "a", "b", "c"], coded: ["z", "x", "z", "y"] });
    const plain = column(rows, "plain").values as string[];
    const coded = column(rows, "coded").values as string[];
    expect(stringDictionary(plain, 4)).toBe(stringDictionary(plain, 4));
    expect(stringDictionary(plain, 4).values).toEqual(["b", "a", "c"]);
    // Dictionary entries no row uses are not carried into the batch (nor into the WAL).
    expect(stringDictionary(coded, 4).values).toEqual(["z", "x", "y"]);
    expect([...stringDictionary(coded, 4).codes]).toEqual([0, 1, 0, 2]);
  });

  it("takes nulls of tags as nulls, over Utf8 and dictionary columns, null dictionary entries too", () => {
    const table = new Table({
      plain: vectorFromArray(["a", null, "a", null], new Utf8()),
      coded: dictionaryVector(new Int16(), [0, 99, 1, 2], ["x", null, "y"], [true, false, true, true]),
      ts: ms([1, 2, 3, 4]),
    });
    const rows = convert(table, ["plain", "coded"]);
    expect(cells(rows)).toMatchObject({ plain: ["a", null, "a", null], coded: ["x", null, "", "y"] });
    // A null row holds the empty string, coded like any value.
    expect(column(rows, "plain").values).toEqual(["a", "", "a", ""]);
    expect([...(column(rows, "coded").validity ?? [])]).toEqual([1, 0, 1, 1]);
  });

  it("joins the record batches of a stream, each with its own dictionary", () => {
    const schema = new Schema([
      new Field("host", new Dictionary(new Utf8(), new Int32(), 0)),
      new Field("ts", new TimestampMillisecond()),
      new Field("v", new Float64()),
    ]);
    const batch = (hosts: Vector, ts: number[], v: number[]) =>
      new RecordBatch(
        schema,
        makeData({
          type: new Struct(schema.fields),
          length: ts.length,
          nullCount: 0,
          children: [
            hosts.data[0] as Data,
            ms(ts).data[0] as Data,
            vectorFromArray(v, new Float64()).data[0] as Data,
          ],
        }),
      );
    const table = new Table(schema, [
      batch(dictionaryVector(new Int32(), [0, 1], ["a", "b"]), [1, 2], [0.5, 1.5]),
      batch(dictionaryVector(new Int32(), [1, 0, 0], ["c", "b"]), [3, 4, 5], [2.5, 3.5, 4.5]),
    ]);
    expect(table.batches).toHaveLength(2);
    const rows = convert(table, ["host"]);
    expect(cells(rows)).toEqual({
      host: ["a", "b", "b", "c", "c"],
      ts: [1, 2, 3, 4, 5],
      v: [0.5, 1.5, 2.5, 3.5, 4.5],
    });
    expect(stringDictionary(column(rows, "host").values as string[], 5).values).toEqual(["a", "b", "c"]);
  });

  it.each<[string, ArrowDataType, bigint[], number[]]>([
    ["seconds", new TimestampSecond(), [1n, -2n], [1000, -2000]],
    ["milliseconds", new TimestampMillisecond(), [1700000000123n, -1n], [1700000000123, -1]],
    ["microseconds", new TimestampMicrosecond(), [1700000000123456n, -1500n], [1700000000123, -2]],
    ["nanoseconds", new TimestampNanosecond(), [1700000000123456789n, 999999n], [1700000000123, 0]],
    ["int64 milliseconds", new Int64(), [2n ** 53n - 1n, -(2n ** 53n) + 1n], [2 ** 53 - 1, -(2 ** 53) + 1]],
  ])("converts a timestamp in %s to milliseconds", (_unit, type, raw, expected) => {
    const ts = makeVector({ type, data: BigInt64Array.from(raw) } as never);
    const rows = convert(new Table({ ts }), []);
    expect(cells(rows)).toEqual({ ts: expected });
    expect(column(rows, "ts").type).toBe("timestamp");
  });

  it("copies fields out of the request, so kept rows do not hold the whole request buffer", () => {
    const table = new Table({ ts: ms([1, 2]), v: vectorFromArray([0.5, 1.5], new Float64()) });
    const ipc = tableToIPC(table, "stream");
    const request = new Uint8Array(ipc.byteLength + 16);
    request.set(ipc, 8);
    const rows = arrowToWriteRows("t", message(request.subarray(8, 8 + ipc.byteLength), []));
    for (const c of rows.batch.columns) {
      expect((c.values as Float64Array).buffer).not.toBe(request.buffer);
    }
    expect(cells(rows)).toEqual({ ts: [1, 2], v: [0.5, 1.5] });
  });

  it("reads a sliced table and a gzip-compressed stream", () => {
    const table = new Table({
      host: vectorFromArray(["a", "b", "c", "d", "e"], new Utf8()),
      ts: ms([1, 2, 3, 4, 5]),
      v: vectorFromArray([0, 1, 2, 3, 4], new Float64()),
    }).slice(1, 4);
    const ipc = tableToIPC(table, "stream");
    const rows = arrowToWriteRows("t", message(gzipSync(ipc), ["host"], { compression: "COMPRESSION_GZIP" }));
    expect(cells(rows)).toEqual({ host: ["b", "c", "d"], ts: [2, 3, 4], v: [1, 2, 3] });
  });

  it("refuses a bad stream, compression, timestamp or tag column, naming it", () => {
    const table = new Table({
      host: vectorFromArray(["a"], new Utf8()),
      n: vectorFromArray([1], new Int32()),
      ts: ms([1]),
      v: vectorFromArray([1], new Float64()),
    });
    expectInvalid(
      () => arrowToWriteRows("t", message(Uint8Array.of(1, 2, 3), [])),
      /Arrow IPC stream cannot be read/,
    );
    expectInvalid(
      () => arrowToWriteRows("t", message(tableToIPC(table), [], { compression: 7 })),
      /compression 7 is not supported/,
    );
    expectInvalid(
      () => convert(table, [], { timestampColumn: "" }),
      /timestamp column "timestamp" is not in/,
    );
    expectInvalid(
      () => convert(table, [], { timestampColumn: "v" }),
      /timestamp column "v" is double; it must be/,
    );
    expectInvalid(() => convert(table, ["nope"]), /tag column "nope" is not in the Arrow stream/);
    expectInvalid(() => convert(table, ["n"]), /tag column "n" must be a string column/);
    expectInvalid(() => convert(table, ["ts"]), /tag column "ts" must be a string column/);
  });

  it("reads a stream with a schema and no record batches as no rows of typed columns", () => {
    const table = new Table({ host: vectorFromArray(["a"], new Utf8()), ts: ms([1]) }).slice(0, 0);
    const rows = convert(table, ["host"]);
    expect(rows.batch.numRows).toBe(0);
    expect(rows.batch.names).toEqual(["host", "ts"]);
    expect(rows.batch.columns.map((c) => c.type)).toEqual(["string", "timestamp"]);
  });

  it("refuses a dictionary index past the dictionary's end", () => {
    const table = new Table({ host: dictionaryVector(new Int32(), [0, 5], ["a", "b"]), ts: ms([1, 2]) });
    expectInvalid(() => convert(table, ["host"]), /tag column "host": row 1 has dictionary index 5 of 2/);
  });
});
