import {
  Message,
  MessageHeader,
  RecordBatchReader,
  RecordBatchStreamWriter,
  Table,
  tableFromIPC,
} from "apache-arrow";
import { describe, expect, it } from "vitest";
import type { Column } from "../../src/batch/column.js";
import type { ColumnBatch } from "../../src/batch/column-batch.js";
import { resultToArrow, type ResultColumn } from "../../src/query/index.js";
import {
  encodeIpcStream,
  MIN_DICTIONARY_ROWS,
  MIN_RECORD_BATCH_ROWS,
  resultToIpcStreams,
} from "../../src/server/arrow-ipc.js";
import { DataType } from "../../src/table/data-type.js";

/** What the encoder replaces: Arrow record batches from `resultToArrow`, one stream each. */
function viaArrowWriter(columns: readonly ResultColumn[], batches: readonly ColumnBatch[]): Table[] {
  return resultToArrow({ columns, batches }).map((batch) =>
    tableFromIPC(RecordBatchStreamWriter.writeAll([batch]).toUint8Array(true)),
  );
}

/** Field name, type, nullability, and every row's values, of a table. */
function contents(table: Table) {
  return {
    fields: table.schema.fields.map((f) => ({ name: f.name, type: String(f.type), nullable: f.nullable })),
    columns: table.schema.fields.map((_, i) => {
      const vector = table.getChildAt(i);
      return Array.from({ length: table.numRows }, (_, row): unknown => vector?.get(row) ?? null);
    }),
    numRows: table.numRows,
  };
}

function concatenated(tables: readonly Table[]): Table {
  const [first, ...rest] = tables;
  if (first === undefined) throw new Error("no tables");
  return rest.length === 0 ? first : first.concat(...rest);
}

/** The messages of an IPC stream, in order. */
function* messagesOf(bytes: Uint8Array): Generator<Message> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  for (;;) {
    const length = view.getInt32(at + 4, true);
    if (length === 0) return;
    const message = Message.decode(bytes.subarray(at + 8, at + 8 + length));
    yield message;
    at += 8 + length + message.bodyLength;
  }
}

function batchOf(names: string[], columns: Column[], numRows: number): ColumnBatch {
  return { names, columns, numRows };
}

const TS = 1_795_000_000_000;

/** One column of every type, with nulls in each. */
function everyType(numRows: number, offset = 0): ColumnBatch {
  const validity = Uint8Array.from({ length: numRows }, (_, i) => ((i + offset) % 3 === 1 ? 0 : 1));
  const rows = Array.from({ length: numRows }, (_, i) => i + offset);
  return batchOf(
    ["ts", "host", "usage", "f32", "i64", "i32", "u64", "ok", "blob"],
    [
      { type: DataType.Timestamp, values: Float64Array.from(rows, (i) => TS + i * 1000 - 7), validity: null },
      { type: DataType.String, values: rows.map((i) => `host_${i % 4}`), validity },
      { type: DataType.Double, values: Float64Array.from(rows, (i) => i / 4 - 3), validity },
      { type: DataType.Float, values: Float32Array.from(rows, (i) => i * 1.5), validity },
      {
        type: DataType.Int64,
        values: BigInt64Array.from(rows, (i) => BigInt(i) * -(2n ** 40n)),
        validity,
      },
      { type: DataType.Int32, values: Int32Array.from(rows, (i) => -i), validity },
      { type: DataType.UInt64, values: BigUint64Array.from(rows, (i) => 2n ** 63n + BigInt(i)), validity },
      { type: DataType.Boolean, values: Uint8Array.from(rows, (i) => i % 2), validity },
      {
        type: DataType.Varbinary,
        values: rows.map((i) => Uint8Array.from({ length: i % 5 }, (_, b) => b + i)),
        validity,
      },
    ],
    numRows,
  );
}

/** A TAG column `host` (values h0, h1, h2 in turn) and a double `v`. */
const HOST_COLUMNS: ResultColumn[] = [
  { name: "host", type: DataType.String, tag: true },
  { name: "v", type: DataType.Double },
];

function hostBatch(numRows: number): ColumnBatch {
  return batchOf(
    ["host", "v"],
    [
      {
        type: DataType.String,
        values: Array.from({ length: numRows }, (_, i) => `h${i % 3}`),
        validity: null,
      },
      { type: DataType.Double, values: Float64Array.from({ length: numRows }, (_, i) => i), validity: null },
    ],
    numRows,
  );
}

function resultColumns(batch: ColumnBatch): ResultColumn[] {
  return batch.names.map((name, i) => ({ name, type: (batch.columns[i] as Column).type }));
}

describe("resultToIpcStreams", () => {
  it("writes every type, nulls included, as the Arrow stream writer does", () => {
    for (const numRows of [1, 7, 8, 9, 100]) {
      const batch = everyType(numRows);
      const streams = resultToIpcStreams(resultColumns(batch), [batch]);
      expect(streams).toHaveLength(1);
      const expected = contents(concatenated(viaArrowWriter(resultColumns(batch), [batch])));
      expect(contents(tableFromIPC(streams[0] as Uint8Array))).toEqual(expected);
    }
  });

  it("puts every batch of a result in one stream, small ones joined, read back in order", () => {
    const batches = [everyType(5), everyType(11, 5), everyType(3, 16)];
    const columns = resultColumns(batches[0] as ColumnBatch);
    const streams = resultToIpcStreams(columns, batches);
    expect(streams).toHaveLength(1);
    const read = tableFromIPC(streams[0] as Uint8Array);
    expect(read.batches.map((b) => b.numRows)).toEqual([19]);
    expect(contents(read)).toEqual(contents(concatenated(viaArrowWriter(columns, batches))));
  });

  it("joins batches with nulls and batches without into one record batch, bits in place", () => {
    const withoutNulls = (batch: ColumnBatch): ColumnBatch => ({
      ...batch,
      columns: batch.columns.map((c) => ({ ...c, validity: null })),
    });
    // Odd sizes, so that parts start in the middle of a bitmap byte.
    const batches = [
      withoutNulls(everyType(3)),
      everyType(6, 3),
      withoutNulls(everyType(5, 9)),
      everyType(9, 14),
    ];
    const columns = resultColumns(batches[0] as ColumnBatch);
    const streams = resultToIpcStreams(columns, batches);
    const read = tableFromIPC(streams[0] as Uint8Array);
    expect(read.batches.map((b) => b.numRows)).toEqual([23]);
    expect(contents(read)).toEqual(contents(concatenated(viaArrowWriter(columns, batches))));
    expect(read.getChild("usage")?.nullCount).toBe(5);
  });

  it("joins batches into record batches of at least MIN_RECORD_BATCH_ROWS rows, in order", () => {
    const sizes = [MIN_RECORD_BATCH_ROWS - 1, 2, MIN_RECORD_BATCH_ROWS + 3, 7, 1];
    let offset = 0;
    const batches = sizes.map((n) => {
      const batch = everyType(n, offset);
      offset += n;
      return batch;
    });
    const columns = resultColumns(batches[0] as ColumnBatch);
    const read = tableFromIPC(resultToIpcStreams(columns, batches)[0] as Uint8Array);
    expect(read.batches.map((b) => b.numRows)).toEqual([
      MIN_RECORD_BATCH_ROWS + 1,
      MIN_RECORD_BATCH_ROWS + 3,
      8,
    ]);
    expect(contents(read)).toEqual(contents(concatenated(viaArrowWriter(columns, batches))));
  });

  it("starts a new stream where the batches' columns change", () => {
    const a = batchOf(["v"], [{ type: DataType.Double, values: Float64Array.of(1, 2), validity: null }], 2);
    const b = batchOf(["v"], [{ type: DataType.Int64, values: BigInt64Array.of(3n), validity: null }], 1);
    const streams = resultToIpcStreams(resultColumns(a), [a, a, b]);
    expect(streams.map((s) => tableFromIPC(s).numRows)).toEqual([4, 1]);
    expect(String(tableFromIPC(streams[1] as Uint8Array).schema.fields[0]?.type)).toBe("Int64");
  });

  it("answers an empty result with one stream of the result's schema and no rows", () => {
    const columns: ResultColumn[] = [
      { name: "host", type: DataType.String },
      { name: "ts", type: DataType.Timestamp },
      { name: "n", type: DataType.UInt64 },
    ];
    const streams = resultToIpcStreams(columns, []);
    expect(streams).toHaveLength(1);
    const read = tableFromIPC(streams[0] as Uint8Array);
    expect(read.numRows).toBe(0);
    expect(contents(read)).toEqual(contents(concatenated(viaArrowWriter(columns, []))));
  });

  it("answers each set of columns with its own empty stream, the same bytes every time", () => {
    const a: ResultColumn[] = [{ name: "v", type: DataType.Double }];
    // Same names, another type; a name that would read as two in a signature without lengths.
    const b: ResultColumn[] = [{ name: "v", type: DataType.Int64 }];
    const c: ResultColumn[] = [{ name: "v:1,w", type: DataType.Double }];
    const first = resultToIpcStreams(a, [])[0] as Uint8Array;
    const again = resultToIpcStreams(a, [])[0] as Uint8Array;
    expect(Buffer.from(again).equals(first)).toBe(true);
    expect(again.buffer).not.toBe(first.buffer);
    for (const columns of [a, b, c, a]) {
      const read = tableFromIPC(resultToIpcStreams(columns, [])[0] as Uint8Array);
      expect(contents(read)).toEqual(contents(concatenated(viaArrowWriter(columns, []))));
    }
  });

  it("encodes non-ASCII strings, lone surrogates included, one string at a time", () => {
    const strings = ["héllo", "", "日本", "\ud83d", "\ude00", "a😀b", "plain"];
    const batch = batchOf(
      ["s"],
      [{ type: DataType.String, values: strings, validity: null }],
      strings.length,
    );
    const read = tableFromIPC(encodeIpcStream([batch]));
    expect(contents(read)).toEqual(contents(concatenated(viaArrowWriter(resultColumns(batch), [batch]))));
    expect(read.getChild("s")?.get(5)).toBe("a😀b");
    expect(read.getChild("s")?.get(3)).toBe("\ufffd");
  });

  it("writes strings that come in runs of one value (tags in series order) as the rows they are", () => {
    const values = ["host_1", "héllo", "", "日本", "\ud83d", "x"].flatMap((v, i) =>
      Array.from<string>({ length: 5 + i }).fill(v),
    );
    const validity = Uint8Array.from(values, (_, i) => (i % 7 === 3 ? 0 : 1));
    const batch = batchOf(["tag"], [{ type: DataType.String, values, validity }], values.length);
    const read = tableFromIPC(encodeIpcStream([batch]));
    expect(contents(read)).toEqual(contents(concatenated(viaArrowWriter(resultColumns(batch), [batch]))));
    const tag = read.getChild("tag");
    expect([3, 5, 12, 20, 30, 44].map((row): unknown => tag?.get(row))).toEqual([
      null,
      "héllo",
      "",
      "日本",
      "\ufffd",
      "x",
    ]);
  });

  it("writes only the first numRows values of columns that hold more", () => {
    const batch = batchOf(
      ["v", "s", "ts"],
      [
        { type: DataType.Double, values: Float64Array.of(1, 2, 3, 4), validity: Uint8Array.of(1, 0, 1, 1) },
        { type: DataType.String, values: ["a", "b", "c", "d"], validity: null },
        { type: DataType.Timestamp, values: Float64Array.of(TS, TS + 1, TS + 2, TS + 3), validity: null },
      ],
      2,
    );
    expect(contents(tableFromIPC(encodeIpcStream([batch])))).toEqual({
      fields: [
        { name: "v", type: "Float64", nullable: true },
        { name: "s", type: "Utf8", nullable: true },
        { name: "ts", type: "Timestamp<MILLISECOND>", nullable: true },
      ],
      columns: [
        [1, null],
        ["a", "b"],
        [TS, TS + 1],
      ],
      numRows: 2,
    });
  });

  it("keeps negative and pre-1970 timestamps exact", () => {
    const values = Float64Array.of(-1, -86_400_001, 0, 2 ** 52 + 1);
    const batch = batchOf(["ts"], [{ type: DataType.Timestamp, values, validity: null }], values.length);
    const read = tableFromIPC(encodeIpcStream([batch]));
    expect(Array.from(read.getChild("ts")?.toArray() as BigInt64Array)).toEqual([
      -1n,
      -86_400_001n,
      0n,
      2n ** 52n + 1n,
    ]);
  });

  it("sends TAG columns as a Dictionary of Utf8, one dictionary for all of a stream's batches", () => {
    const hosts = (numRows: number, offset: number) =>
      Array.from(
        { length: numRows },
        (_, i) => ["héllo", "host_1", "", "日本"][((i + offset) >> 2) % 4] as string,
      );
    const tagBatch = (numRows: number, offset: number): ColumnBatch => {
      const base = everyType(numRows, offset);
      const validity = Uint8Array.from({ length: numRows }, (_, i) => ((i + offset) % 5 === 2 ? 0 : 1));
      const columns = [...base.columns];
      columns[1] = { type: DataType.String, values: hosts(numRows, offset), validity };
      return { ...base, columns };
    };
    // Two batches too large to be joined: two record batches sharing one dictionary.
    const batches = [tagBatch(MIN_RECORD_BATCH_ROWS, 0), tagBatch(9, MIN_RECORD_BATCH_ROWS)];
    const plain = resultColumns(batches[0] as ColumnBatch);
    const columns = plain.map((c): ResultColumn => (c.name === "host" ? { ...c, tag: true } : c));
    const streams = resultToIpcStreams(columns, batches);
    expect(streams).toHaveLength(1);
    const read = tableFromIPC(streams[0] as Uint8Array);
    expect(read.batches).toHaveLength(2);
    expect(String(read.schema.fields[1]?.type)).toBe("Dictionary<Int8, Utf8>");
    expect(read.schema.fields.filter((f) => String(f.type).startsWith("Dictionary"))).toHaveLength(1);
    // The same values as the plain encoding, nulls included.
    const { fields: readFields, ...readValues } = contents(read);
    const { fields: plainFields, ...plainValues } = contents(
      tableFromIPC(resultToIpcStreams(plain, batches)[0] as Uint8Array),
    );
    expect(readValues).toEqual(plainValues);
    expect(readFields.map((f) => f.name)).toEqual(plainFields.map((f) => f.name));
    // One dictionary message, before the record batches, holding each distinct value once.
    const messages = [...messagesOf(streams[0] as Uint8Array)];
    expect(messages.map((m): MessageHeader => m.headerType as MessageHeader)).toEqual([
      MessageHeader.Schema,
      MessageHeader.DictionaryBatch,
      MessageHeader.RecordBatch,
      MessageHeader.RecordBatch,
    ]);
    const dictionary = read.batches[0]?.getChild("host")?.data[0]?.dictionary;
    expect(dictionary?.toArray()).toEqual(["héllo", "host_1", "", "日本"]);
  });

  it("gives dictionary indices the narrowest width that holds them, the same values as plain strings", () => {
    const columns: ResultColumn[] = [{ name: "host", type: DataType.String, tag: true }];
    const plain: ResultColumn[] = [{ name: "host", type: DataType.String }];
    // `distinct` values in runs that come back (a, b, a, ...), with nulls leading and inside runs,
    // over several small batches joined into one record batch.
    const hostBatch = (distinct: number, offset: number, numRows: number): ColumnBatch => {
      const values = Array.from({ length: numRows }, (_, i) => `h${((i + offset) >> 1) % distinct}`);
      const validity = Uint8Array.from({ length: numRows }, (_, i) =>
        i === 0 || (i + offset) % 7 === 3 ? 0 : 1,
      );
      return batchOf(["host"], [{ type: DataType.String, values, validity }], numRows);
    };
    for (const [distinct, width] of [
      [128, "Int8"],
      [129, "Int16"],
      [32_768, "Int16"],
      [32_769, "Int32"],
    ] as const) {
      const rows = distinct * 2 + 6;
      const batches = [hostBatch(distinct, 0, 5), hostBatch(distinct, 5, rows - 5)];
      const read = tableFromIPC(resultToIpcStreams(columns, batches)[0] as Uint8Array);
      expect(String(read.schema.fields[0]?.type)).toBe(`Dictionary<${width}, Utf8>`);
      expect(read.batches).toHaveLength(1);
      expect(read.batches[0]?.getChild("host")?.data[0]?.dictionary?.length).toBe(distinct);
      const expected = tableFromIPC(resultToIpcStreams(plain, batches)[0] as Uint8Array);
      expect(contents(read).columns).toEqual(contents(expected).columns);
    }
  });

  it("sends TAG columns as plain Utf8 in streams under MIN_DICTIONARY_ROWS rows", () => {
    const columns = HOST_COLUMNS;
    const typeOf = (batches: ColumnBatch[]) =>
      String(tableFromIPC(resultToIpcStreams(columns, batches)[0] as Uint8Array).schema.fields[0]?.type);
    expect(typeOf([])).toBe("Utf8");
    expect(typeOf([hostBatch(MIN_DICTIONARY_ROWS - 1)])).toBe("Utf8");
    // Rows counted over the stream's batches.
    expect(typeOf([hostBatch(MIN_DICTIONARY_ROWS - 1), hostBatch(1)])).toBe("Dictionary<Int8, Utf8>");
    const small = tableFromIPC(resultToIpcStreams(columns, [hostBatch(5)])[0] as Uint8Array);
    expect(contents(small).columns[0]).toEqual(["h0", "h1", "h2", "h0", "h1"]);
  });

  it("sends TAG columns as Dictionary<Int32, Utf8> in streams of any size when asked for stable schemas", () => {
    const columns = HOST_COLUMNS;
    const sizes = [[], [hostBatch(3)], [hostBatch(MIN_DICTIONARY_ROWS)]];
    const tables = sizes.map((batches) => {
      const read = tableFromIPC(
        resultToIpcStreams(columns, batches, { stableTagColumns: true })[0] as Uint8Array,
      );
      expect(String(read.schema.fields[0]?.type)).toBe("Dictionary<Int32, Utf8>");
      expect(contents(read).columns[0]).toEqual(
        batches.flatMap((b) => (b.columns[0] as Column).values as string[]),
      );
      return read;
    });
    // One reader can take the streams of one query together: Arrow refuses batches whose schemas
    // differ in one table.
    const together = new Table(tables.flatMap((t) => t.batches));
    expect(together.numRows).toBe(3 + MIN_DICTIONARY_ROWS);
  });

  it("gives a TAG column of only nulls an empty dictionary", () => {
    const columns: ResultColumn[] = [
      { name: "host", type: DataType.String, tag: true },
      { name: "v", type: DataType.Double },
    ];
    const numRows = MIN_DICTIONARY_ROWS;
    const nulls = batchOf(
      ["host", "v"],
      [
        {
          type: DataType.String,
          values: new Array<string>(numRows).fill(""),
          validity: new Uint8Array(numRows),
        },
        {
          type: DataType.Double,
          values: Float64Array.from({ length: numRows }, (_, i) => i),
          validity: null,
        },
      ],
      numRows,
    );
    const read = tableFromIPC(resultToIpcStreams(columns, [nulls])[0] as Uint8Array);
    expect(String(read.schema.fields[0]?.type)).toBe("Dictionary<Int8, Utf8>");
    expect(read.batches[0]?.getChild("host")?.data[0]?.dictionary?.length).toBe(0);
    const [hosts, values] = contents(read).columns;
    expect(hosts).toEqual(new Array(numRows).fill(null));
    expect(values).toEqual(Array.from({ length: numRows }, (_, i) => i));
  });

  it("aligns every message and buffer to 8 bytes, and ends with the end-of-stream marker", () => {
    // Column 1 (host) dictionary-encoded: its dictionary message is checked too.
    const bytes = encodeIpcStream([everyType(13), everyType(2)], [false, true]);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const kinds: number[] = [];
    let at = 0;
    for (;;) {
      expect(at % 8).toBe(0);
      expect(view.getUint32(at, true)).toBe(0xffffffff);
      const length = view.getInt32(at + 4, true);
      if (length === 0) break;
      expect(length % 8).toBe(0);
      const message = Message.decode(bytes.subarray(at + 8, at + 8 + length));
      kinds.push(message.headerType);
      if (message.isRecordBatch() || message.isDictionaryBatch()) {
        const header = message.isRecordBatch() ? message.header() : message.header().data;
        for (const region of header.buffers) expect(region.offset % 8).toBe(0);
        const last = header.buffers[header.buffers.length - 1];
        expect(message.bodyLength).toBeGreaterThanOrEqual((last?.offset ?? 0) + (last?.length ?? 0));
        expect(message.bodyLength % 8).toBe(0);
      }
      at += 8 + length + message.bodyLength;
    }
    expect(kinds).toEqual([
      MessageHeader.Schema,
      MessageHeader.DictionaryBatch,
      MessageHeader.RecordBatch,
      MessageHeader.RecordBatch,
    ]);
    expect(at + 8).toBe(bytes.byteLength);
    expect([...RecordBatchReader.from(bytes)].map((b) => b.numRows)).toEqual([13, 2]);
  });
});
