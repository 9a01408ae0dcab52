import {
  Binary,
  Bool,
  DateDay,
  Dictionary,
  Float32,
  Float64,
  Int16,
  Int32,
  Int64,
  Int8,
  List,
  makeData,
  Message,
  RecordBatch,
  Schema,
  Field,
  Struct,
  Table,
  TimeMillisecond,
  TimestampMicrosecond,
  TimestampMillisecond,
  Uint64,
  Uint8,
  Utf8,
  tableFromIPC,
  tableToIPC,
  vectorFromArray,
  type DataType,
} from "apache-arrow";
import { describe, expect, it, vi } from "vitest";
import { decodeArrowPayload, readFlatStream } from "../src/arrow-decoder.js";
import { HoraeDBError } from "../src/errors.js";

/** Schema, batch sizes, and every column's values and null count, of a table. */
function contents(table: Table) {
  return {
    fields: table.schema.fields.map((f) => ({
      name: f.name,
      type: String(f.type),
      typeId: f.typeId,
      nullable: f.nullable,
      metadata: [...f.metadata],
    })),
    metadata: [...table.schema.metadata],
    batches: table.batches.map((b) => b.numRows),
    columns: table.schema.fields.map((_, i) => {
      const vector = table.getChildAt(i);
      return {
        nullCount: vector?.nullCount,
        values: Array.from({ length: table.numRows }, (_, row): unknown => vector?.get(row) ?? null),
        // What Arrow's own code reads: the buffers' array types and lengths, and toArray().
        layout: (vector?.data ?? []).map((d) => ({
          stride: d.stride,
          offset: d.offset,
          length: d.length,
          nullCount: d.nullCount,
          values: arrayShape(d.values as ArrayLike<unknown> | undefined),
          valueOffsets: arrayShape(d.valueOffsets as ArrayLike<unknown> | undefined),
          nullBitmap: d.nullBitmap?.length,
        })),
        array: Array.from((vector?.toArray() ?? []) as ArrayLike<unknown>, (v) => String(v)),
      };
    }),
  };
}

/** An array's constructor and length. */
function arrayShape(array: ArrayLike<unknown> | undefined): string {
  return array === undefined ? "none" : `${array.constructor.name}:${array.length}`;
}

function column<T extends DataType>(type: T, values: unknown[]) {
  return vectorFromArray(values as never[], type);
}

/** A table of every flat type, with nulls in most columns; `seed` varies the values. */
function flatTable(rows: number, seed = 0): Table {
  const at = (f: (i: number) => unknown, nulls = true) =>
    Array.from({ length: rows }, (_, i) => (nulls && (i + seed) % 4 === 2 ? null : f(i + seed)));
  return new Table({
    i8: column(
      new Int8(),
      at((i) => (i % 200) - 100),
    ),
    i16: column(
      new Int16(),
      at((i) => i * 7 - 500),
    ),
    i32: column(
      new Int32(),
      at((i) => -i),
    ),
    i64: column(
      new Int64(),
      at((i) => BigInt(i) * -(2n ** 40n)),
    ),
    u8: column(
      new Uint8(),
      at((i) => i % 255, false),
    ),
    u64: column(
      new Uint64(),
      at((i) => 2n ** 63n + BigInt(i)),
    ),
    f32: column(
      new Float32(),
      at((i) => i * 1.5),
    ),
    f64: column(
      new Float64(),
      at((i) => i / 3),
    ),
    ok: column(
      new Bool(),
      at((i) => i % 3 === 0),
    ),
    s: column(
      new Utf8(),
      at((i) => `host_${i % 5}é`),
    ),
    blob: column(
      new Binary(),
      at((i) => Uint8Array.from({ length: i % 4 }, (_, b) => b + i)),
    ),
    ts: column(
      new TimestampMillisecond(),
      at((i) => 1_795_000_000_000 + i),
    ),
    tsUs: column(
      new TimestampMicrosecond(),
      at((i) => 1_795_000_000_000 + i),
    ),
    day: column(
      new DateDay(),
      at((i) => new Date(86_400_000 * (i + 1))),
    ),
    time: column(
      new TimeMillisecond(),
      at((i) => i * 1000),
    ),
  });
}

function unaligned(bytes: Uint8Array, by: number): Uint8Array {
  const padded = new Uint8Array(bytes.byteLength + by);
  padded.set(bytes, by);
  return padded.subarray(by);
}

describe("readFlatStream", () => {
  it("reads every flat type, nulls included, as tableFromIPC does", () => {
    for (const rows of [1, 9, 100]) {
      const ipc = tableToIPC(flatTable(rows), "stream");
      const read = readFlatStream(ipc);
      expect(read).toBeDefined();
      expect(contents(read as Table)).toEqual(contents(tableFromIPC(ipc)));
    }
  });

  it("reads several record batches, and a batch of no rows", () => {
    const table = new Table([...flatTable(5).batches, ...flatTable(0).batches, ...flatTable(17, 3).batches]);
    const ipc = tableToIPC(table, "stream");
    const read = readFlatStream(ipc) as Table;
    expect(read.batches.map((b) => b.numRows)).toEqual(tableFromIPC(ipc).batches.map((b) => b.numRows));
    expect(contents(read)).toEqual(contents(tableFromIPC(ipc)));
  });

  it("reads bytes that are not 8-byte aligned, and keeps views of aligned ones rather than copies", () => {
    const ipc = tableToIPC(flatTable(20), "stream");
    for (const by of [1, 3, 4]) {
      expect(contents(readFlatStream(unaligned(ipc, by)) as Table)).toEqual(contents(tableFromIPC(ipc)));
    }
    const values = (readFlatStream(ipc) as Table).getChild("f64")?.data[0]?.values as Float64Array;
    expect(values.buffer).toBe(ipc.buffer);
    // Unaligned: only the buffers a typed array cannot view there are copied; bytes stay views.
    const shifted = unaligned(ipc, 1);
    const read = readFlatStream(shifted) as Table;
    const bufferOf = (name: string) => (read.getChild(name)?.data[0]?.values as Uint8Array).buffer;
    expect(bufferOf("f64")).not.toBe(shifted.buffer);
    expect(bufferOf("s")).toBe(shifted.buffer);
    expect(bufferOf("ok")).toBe(shifted.buffer);
  });

  it("decodes a schema message once, and tells schemas apart by their bytes", () => {
    const decode = vi.spyOn(Message, "decode");
    try {
      // Row counts no other test uses, so that the schema is new to the cache only by its rows.
      readFlatStream(tableToIPC(flatTable(3), "stream"));
      const once = decode.mock.calls.length;
      readFlatStream(tableToIPC(flatTable(4), "stream"));
      // None for the second stream: its schema is cached, its record batch read without Arrow's decoder.
      expect(decode.mock.calls.length - once).toBe(0);
    } finally {
      decode.mockRestore();
    }
    // The same column name with another type: another schema.
    const other = new Table({ f64: vectorFromArray([1, 2], new Int32()) });
    const ipc = tableToIPC(other, "stream");
    const read = readFlatStream(ipc) as Table;
    expect(String(read.getChild("f64")?.type)).toBe("Int32");
    expect(contents(read)).toEqual(contents(tableFromIPC(ipc)));
  });

  it("keeps schema and field metadata", () => {
    const field = new Field("v", new Float64(), true, new Map([["unit", "ms"]]));
    const schema = new Schema([field], new Map([["origin", "test"]]));
    const data = makeData({
      type: new Struct([field]),
      length: 2,
      children: [makeData({ type: new Float64(), length: 2, data: Float64Array.of(1, 2) })],
    });
    const ipc = tableToIPC(new Table([new RecordBatch(schema, data)]), "stream");
    expect(contents(readFlatStream(ipc) as Table)).toEqual(contents(tableFromIPC(ipc)));
  });

  it("reads dictionary-encoded columns, nulls included, as tableFromIPC does", () => {
    const tags = ["web-1", null, "web-2", "web-1", "", "日本", "web-2", null];
    const table = new Table({
      host: vectorFromArray(tags, new Dictionary(new Utf8(), new Int32())),
      rack: vectorFromArray(
        ["a", "b", "a", "a", "b", "b", "a", "a"],
        new Dictionary(new Utf8(), new Int16()),
      ),
      region: vectorFromArray(
        ["eu", "eu", null, "us", "us", "us", "eu", "eu"],
        new Dictionary(new Utf8(), new Int8()),
      ),
      v: vectorFromArray([1, 2, 3, 4, 5, 6, 7, 8], new Float64()),
    });
    const ipc = tableToIPC(table, "stream");
    for (const by of [0, 3]) {
      const read = readFlatStream(unaligned(ipc, by));
      expect(read).toBeDefined();
      expect(contents(read as Table)).toEqual(contents(tableFromIPC(ipc)));
      expect(read?.getChild("host")?.toArray()).toEqual(tags);
    }
  });

  it("gives a stream of no rows read again the same table, and any other stream its own", () => {
    const empty = tableToIPC(flatTable(0), "stream");
    const first = readFlatStream(empty) as Table;
    expect(first.numRows).toBe(0);
    // Equal bytes elsewhere: the same table.
    expect(readFlatStream(Uint8Array.from(empty))).toBe(first);
    // Another schema, no rows: a table of its own, with its own schema.
    const other = tableToIPC(new Table({ x: vectorFromArray([] as number[], new Float64()) }), "stream");
    const otherTable = readFlatStream(other) as Table;
    expect(otherTable).not.toBe(first);
    expect(otherTable.schema.fields.map((f) => f.name)).toEqual(["x"]);
    expect(contents(otherTable)).toEqual(contents(tableFromIPC(other)));
    // Streams with rows are read every time.
    const rows = tableToIPC(flatTable(3), "stream");
    const read = readFlatStream(rows) as Table;
    expect(readFlatStream(rows)).not.toBe(read);
    expect(contents(read)).toEqual(contents(tableFromIPC(rows)));
  });

  it("leaves to tableFromIPC dictionaries that change between batches", () => {
    // One dictionary type (and id) for both batches, each with dictionary values of its own.
    const type = new Dictionary(new Utf8(), new Int32());
    const batch = (values: string[]) =>
      new Table({ tag: vectorFromArray(values, type) }).batches[0] as RecordBatch;
    const ipc = tableToIPC(new Table([batch(["a", "b"]), batch(["c", "a", "d"])]), "stream");
    expect(readFlatStream(ipc)).toBeUndefined();
    const [decoded] = decodeArrowPayload({
      recordBatches: [Buffer.from(ipc)],
      compression: "COMPRESSION_NONE",
    });
    expect(decoded?.getChild("tag")?.toArray()).toEqual(["a", "b", "c", "a", "d"]);
  });

  it("leaves to tableFromIPC what it does not read: nested types, files, no batches", () => {
    const nested = new Table({ list: vectorFromArray([[1], [2, 3]], new List(new Field("x", new Int32()))) });
    const onlySchema = tableToIPC(new Table(new Schema([new Field("v", new Float64())])), "stream");
    expect(readFlatStream(tableToIPC(nested, "stream"))).toBeUndefined();
    expect(readFlatStream(tableToIPC(flatTable(3), "file"))).toBeUndefined();
    expect(readFlatStream(onlySchema)).toBeUndefined();
    expect(readFlatStream(new Uint8Array(0))).toBeUndefined();
  });

  it("leaves truncated or garbled streams to tableFromIPC", () => {
    const ipc = tableToIPC(flatTable(10), "stream");
    for (const end of [4, 12, 100, ipc.byteLength - 100]) {
      expect(readFlatStream(ipc.subarray(0, end))).toBeUndefined();
    }
    expect(readFlatStream(Uint8Array.from({ length: 64 }, (_, i) => i))).toBeUndefined();
  });
});

describe("decodeArrowPayload", () => {
  it("decodes each stream of the payload, through either reader", () => {
    const flat = tableToIPC(flatTable(4), "stream");
    const dictionary = tableToIPC(
      new Table({ tag: vectorFromArray(["x", "y"], new Dictionary(new Utf8(), new Int32())) }),
      "stream",
    );
    const tables = decodeArrowPayload({
      recordBatches: [Buffer.from(flat), Buffer.from(dictionary)],
      compression: "COMPRESSION_NONE",
    });
    expect(tables.map((t) => t.numRows)).toEqual([4, 2]);
    expect(contents(tables[0] as Table)).toEqual(contents(tableFromIPC(flat)));
    expect(tables[1]?.getChild("tag")?.toArray()).toEqual(["x", "y"]);
  });

  it("rejects bytes that are no Arrow IPC stream as a malformed result", () => {
    expect(() =>
      decodeArrowPayload({ recordBatches: [Buffer.from("not arrow")], compression: "COMPRESSION_NONE" }),
    ).toThrow(HoraeDBError);
  });
});
