import {
  Dictionary,
  Int32,
  Message,
  MessageHeader,
  MetadataVersion,
  Table,
  Utf8,
  tableToIPC,
  vectorFromArray,
} from "apache-arrow";
import {
  BodyCompression,
  BufferRegion,
  DictionaryBatch,
  FieldNode,
  RecordBatch as RecordBatchHeader,
} from "apache-arrow/ipc/metadata/message";
import { describe, expect, it } from "vitest";
import { readBatchMessage } from "../src/ipc-message.js";

/** The metadata (flatbuffer) of each message of an IPC stream. */
function metadataOf(stream: Uint8Array): Uint8Array[] {
  const view = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
  const out: Uint8Array[] = [];
  for (let at = 0; ;) {
    const length = view.getInt32(at + 4, true);
    if (length === 0) return out;
    const metadata = stream.subarray(at + 8, at + 8 + length);
    out.push(metadata);
    at += 8 + length + Number(Message.decode(metadata).bodyLength);
  }
}

/** What Arrow's decoder reads from a record batch header, in readBatchMessage's terms. */
function layoutOf(header: RecordBatchHeader) {
  return {
    length: Number(header.length),
    nodes: header.nodes.map((n) => ({ length: Number(n.length), nullCount: Number(n.nullCount) })),
    buffers: header.buffers.map((b) => ({ offset: Number(b.offset), length: Number(b.length) })),
    compressed: header.compression !== null,
  };
}

function encode(
  header: RecordBatchHeader | DictionaryBatch,
  bodyLength: number,
  metadata?: Map<string, string>,
) {
  const type = header instanceof DictionaryBatch ? MessageHeader.DictionaryBatch : MessageHeader.RecordBatch;
  return Message.encode(new Message(bodyLength, MetadataVersion.V5, type, header, metadata));
}

const batchHeader = (compression: BodyCompression | null = null, variadic?: number[]) =>
  new RecordBatchHeader(
    5,
    [new FieldNode(5, 1), new FieldNode(5, 0)],
    [new BufferRegion(0, 1), new BufferRegion(8, 20), new BufferRegion(32, 0), new BufferRegion(32, 40)],
    compression,
    variadic,
  );

describe("readBatchMessage", () => {
  it("reads record and dictionary batches as Arrow's decoder does", () => {
    const type = new Dictionary(new Utf8(), new Int32());
    const table = new Table({
      tag: vectorFromArray(["a", null, "b", "a"], type),
      v: vectorFromArray([1, 2, null, 4], new Int32()),
    });
    const messages = metadataOf(tableToIPC(table.concat(table), "stream"));
    const kinds = messages.map((metadata) => {
      const decoded = Message.decode(metadata);
      const read = readBatchMessage(metadata);
      if (decoded.isRecordBatch()) {
        expect(read).toEqual({
          kind: "record",
          bodyLength: Number(decoded.bodyLength),
          batch: layoutOf(decoded.header()),
        });
      } else if (decoded.isDictionaryBatch()) {
        const header = decoded.header();
        expect(read).toEqual({
          kind: "dictionary",
          bodyLength: Number(decoded.bodyLength),
          id: header.id,
          isDelta: header.isDelta,
          batch: layoutOf(header.data),
        });
      } else {
        expect(read).toBeUndefined();
      }
      return decoded.headerType;
    });
    expect(kinds).toContain(MessageHeader.DictionaryBatch);
    expect(kinds.filter((k) => k === MessageHeader.RecordBatch)).toHaveLength(2);
  });

  it("reads the id, delta flag, compression and sizes of messages Arrow encodes", () => {
    const plain = readBatchMessage(encode(batchHeader(), 72));
    expect(plain).toEqual({ kind: "record", bodyLength: 72, batch: layoutOf(batchHeader()) });
    expect(plain?.batch.nodes).toEqual([
      { length: 5, nullCount: 1 },
      { length: 5, nullCount: 0 },
    ]);
    const compressed = readBatchMessage(encode(batchHeader(new BodyCompression(0)), 72));
    expect(compressed?.batch.compressed).toBe(true);
    const delta = readBatchMessage(encode(new DictionaryBatch(batchHeader(), 7, true), 72));
    expect(delta).toMatchObject({ kind: "dictionary", id: 7, isDelta: true, bodyLength: 72 });
    const large = readBatchMessage(encode(new DictionaryBatch(batchHeader(), 2 ** 40 + 3), 2 ** 33));
    expect(large).toMatchObject({ id: 2 ** 40 + 3, isDelta: false, bodyLength: 2 ** 33 });
  });

  it("leaves to Arrow's reader messages with custom metadata or variadic buffer counts", () => {
    expect(readBatchMessage(encode(batchHeader(), 72, new Map([["k", "v"]])))).toBeUndefined();
    expect(readBatchMessage(encode(batchHeader(null, [2]), 72))).toBeUndefined();
  });

  it("throws a RangeError for a flatbuffer that points outside its bytes or holds a negative size", () => {
    expect(() => readBatchMessage(encode(batchHeader(), -16))).toThrow(RangeError);
    const metadata = encode(batchHeader(), 72);
    expect(() => readBatchMessage(metadata.subarray(0, 24))).toThrow(RangeError);
    const garbled = metadata.slice();
    new DataView(garbled.buffer).setUint32(0, 1_000_000, true);
    expect(() => readBatchMessage(garbled)).toThrow(RangeError);
  });
});
