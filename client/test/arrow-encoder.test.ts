import { gunzipSync } from "node:zlib";
import { storageServiceDefinition, type storage, zstdDecompress } from "@horaedb/proto";
import {
  DataType,
  Dictionary,
  Field,
  Float64,
  Int32,
  makeData,
  makeVector,
  RecordBatch,
  Schema,
  Struct,
  Table,
  tableFromIPC,
  tableToIPC,
  TimestampMillisecond,
  Utf8,
  vectorFromArray,
  type Data,
  type Vector,
} from "apache-arrow";
import { describe, expect, it } from "vitest";
import { encodeArrow, withDictionaryTags } from "../src/arrow-encoder.js";
import { encodeWriteRequest } from "../src/write-request.js";

const ms = (values: number[]) =>
  makeVector({ type: new TimestampMillisecond(), data: BigInt64Array.from(values.map(BigInt)) } as never);

function columnValues(table: Table, name: string): unknown[] {
  const column: Vector<DataType> | null = table.getChild(name);
  return column === null ? [] : [...(column as Iterable<unknown>)];
}

/** Rows as plain values, for comparing tables column by column. */
function rowsOf(table: Table): unknown[][] {
  const names = table.schema.fields.map((f) => f.name);
  return Array.from({ length: table.numRows }, (_, r) =>
    names.map((n): unknown => (table.getChild(n) as Vector<DataType> | null)?.get(r)),
  );
}

describe("withDictionaryTags", () => {
  it("dictionary-encodes Utf8 tag columns, keeping every value, null and other column", () => {
    const table = new Table({
      host: vectorFromArray(["a", "b", null, "a", "ü"], new Utf8()),
      note: vectorFromArray(["x", "y", "x", "y", "x"], new Utf8()),
      ts: ms([1, 2, 3, 4, 5]),
      v: vectorFromArray([1, 2, 3, 4, 5], new Float64()),
    });
    const coded = withDictionaryTags(table, ["host"]);
    const host = coded.schema.fields[0] as Field;
    expect(DataType.isDictionary(host.type)).toBe(true);
    expect(DataType.isUtf8((host.type as Dictionary).dictionary)).toBe(true);
    // Only tags are coded.
    expect(DataType.isUtf8((coded.schema.fields[1] as Field).type)).toBe(true);
    expect(rowsOf(coded)).toEqual(rowsOf(table));
    const dictionary = (coded.getChild("host")?.data[0] as Data).dictionary as Vector;
    expect(dictionary.toArray()).toEqual(["a", "b", "ü"]);
  });

  it("shares one dictionary across record batches and reads sliced columns from their offset", () => {
    const schema = new Schema([
      new Field("host", new Utf8(), true),
      new Field("ts", new TimestampMillisecond()),
    ]);
    const batch = (hosts: Array<string | null>, ts: number[]) =>
      new RecordBatch(
        schema,
        makeData({
          type: new Struct(schema.fields),
          length: ts.length,
          nullCount: 0,
          children: [vectorFromArray(hosts, new Utf8()).data[0] as Data, ms(ts).data[0] as Data],
        }),
      );
    const table = new Table(schema, [batch(["a", "b", null], [1, 2, 3]), batch(["b", "c"], [4, 5])]).slice(
      1,
      5,
    );
    const coded = withDictionaryTags(table, ["host"]);
    expect(rowsOf(coded)).toEqual([
      ["b", 2],
      [null, 3],
      ["b", 4],
      ["c", 5],
    ]);
    const dictionaries = coded.getChild("host")?.data.map((d) => d.dictionary);
    expect(dictionaries).toHaveLength(2);
    expect(dictionaries?.[0]).toBe(dictionaries?.[1]);
    // Through IPC too: the stream carries the dictionary once.
    expect(rowsOf(tableFromIPC(tableToIPC(coded, "stream")))).toEqual(rowsOf(coded));
  });

  it("leaves a table without Utf8 tags as it is", () => {
    const table = new Table({
      host: vectorFromArray(["a", "b"], new Dictionary(new Utf8(), new Int32())),
      ts: ms([1, 2]),
    });
    expect(withDictionaryTags(table, ["host"])).toBe(table);
  });
});

describe("encodeArrow", () => {
  const decodeTableRequest = (encoded: Buffer): storage.ArrowRows__Output => {
    const request = storageServiceDefinition().Write.requestDeserialize(
      encodeWriteRequest("public", [{ table: "m", encoded, rows: 0, bytes: encoded.byteLength }]),
    );
    return request.tableRequests[0]?.arrow as storage.ArrowRows__Output;
  };

  it("sends Utf8 tags dictionary-encoded, in a stream smaller than the Utf8 one", async () => {
    const n = 5_000;
    const table = new Table({
      host: vectorFromArray(
        Array.from({ length: n }, (_, i) => `host_${i % 100}_in_a_longer_name`),
        new Utf8(),
      ),
      ts: ms(Array.from({ length: n }, (_, i) => i)),
      v: vectorFromArray(
        Array.from({ length: n }, (_, i) => i / 2),
        new Float64(),
      ),
    });
    const [write] = await encodeArrow("m", table, {
      tags: ["host"],
      timestamp: "ts",
      compression: "zstd",
      compressAboveBytes: Infinity,
      maxRequestBytes: 1 << 30,
    });
    const arrow = decodeTableRequest(write?.encoded as Buffer);
    expect(arrow).toMatchObject({
      compression: "COMPRESSION_NONE",
      tagColumns: ["host"],
      timestampColumn: "ts",
    });
    const sent = tableFromIPC(arrow.ipcStream);
    expect(DataType.isDictionary(sent.schema.fields[0]?.type)).toBe(true);
    expect(rowsOf(sent)).toEqual(rowsOf(table));
    expect(columnValues(sent, "v")).toEqual(columnValues(table, "v"));
    expect(arrow.ipcStream.byteLength).toBeLessThan(tableToIPC(table, "stream").byteLength / 2);
  });

  it.each([
    ["zstd", "COMPRESSION_ZSTD", (bytes: Uint8Array) => zstdDecompress(bytes, 1 << 30)],
    ["gzip", "COMPRESSION_GZIP", (bytes: Uint8Array) => gunzipSync(bytes)],
  ] as const)(
    "compresses streams above the threshold with %s, and leaves smaller ones plain",
    async (codec, code, undo) => {
      const table = new Table({
        host: vectorFromArray(["a", "b", "a", "b"], new Utf8()),
        ts: ms([1, 2, 3, 4]),
        v: vectorFromArray([0.5, 1.5, 2.5, 3.5], new Float64()),
      });
      const encoding = { tags: ["host"], timestamp: "ts", compression: codec, maxRequestBytes: 1 << 30 };
      const [big] = await encodeArrow("m", table, { ...encoding, compressAboveBytes: 0 });
      const compressed = decodeTableRequest(big?.encoded as Buffer);
      expect(compressed.compression).toBe(code);
      expect(rowsOf(tableFromIPC(undo(compressed.ipcStream)))).toEqual(rowsOf(table));
      const [small] = await encodeArrow("m", table, { ...encoding, compressAboveBytes: 1 << 20 });
      const plain = decodeTableRequest(small?.encoded as Buffer);
      expect(plain.compression).toBe("COMPRESSION_NONE");
      expect(rowsOf(tableFromIPC(plain.ipcStream))).toEqual(rowsOf(table));
    },
  );
});
