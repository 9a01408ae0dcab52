import { storageServiceDefinition, type storage } from "@horaedb/proto";
import { describe, expect, it } from "vitest";
import { ProtobufDecodeError } from "../../src/server/protobuf-reader.js";
import { decodeWriteRequest, type ArrowRowsMessage } from "../../src/server/write-request.js";

/** The bytes the generic encoder (the one clients built from the .proto use) makes of a request. */
const encode = (request: storage.WriteRequest): Uint8Array =>
  storageServiceDefinition().Write.requestSerialize(request);

/** The message with its IPC stream as a plain array of bytes, for comparisons. */
const plain = (arrow: ArrowRowsMessage) => ({ ...arrow, ipcStream: [...arrow.ipcStream] });

const seriesRows: storage.SeriesRows = {
  tagNames: ["host"],
  fieldNames: ["v"],
  entries: [
    {
      tags: [{ nameIndex: 0, value: { stringValue: "a" } }],
      fieldGroups: [{ timestamp: 1, fields: [{ value: { float64Value: 1 } }] }],
    },
  ],
};

describe("decodeWriteRequest", () => {
  it("decodes the database and each table request's name and rows, in order", () => {
    const ipc = Uint8Array.from([1, 2, 3, 4]);
    const request = decodeWriteRequest(
      encode({
        context: { database: "metrics" },
        tableRequests: [
          { table: "cpu", series: seriesRows },
          {
            table: "mem",
            arrow: {
              ipcStream: ipc,
              compression: "COMPRESSION_GZIP",
              tagColumns: ["host", "dc"],
              timestampColumn: "ts",
            },
          },
          { table: "empty" },
        ],
      }),
    );
    expect(request.database).toBe("metrics");
    expect(request.tableRequests.map((t) => [t.table, t.rows?.form])).toEqual([
      ["cpu", "series"],
      ["mem", "arrow"],
      ["empty", undefined],
    ]);
    const series = request.tableRequests[0]?.rows;
    // The series rows are the bytes of the SeriesRows message, exactly as the generic encoder makes them.
    const expected = storageServiceDefinition().Write.requestSerialize({
      tableRequests: [{ series: seriesRows }],
    });
    expect(series?.form === "series" && Buffer.from(series.seriesRows)).toEqual(
      // WriteRequest.table_requests (2 bytes of framing), WriteTableRequest.series (2 bytes).
      Buffer.from(expected.subarray(4)),
    );
    const arrow = request.tableRequests[1]?.rows;
    expect(arrow?.form === "arrow" && plain(arrow.arrow)).toEqual({
      ipcStream: [1, 2, 3, 4],
      compression: "COMPRESSION_GZIP",
      tagColumns: ["host", "dc"],
      timestampColumn: "ts",
    });
  });

  it("fills proto3 defaults: no context, no compression, no timestamp column", () => {
    const request = decodeWriteRequest(
      encode({ tableRequests: [{ table: "m", arrow: { ipcStream: new Uint8Array(0) } }] }),
    );
    expect(request.database).toBe("");
    const rows = request.tableRequests[0]?.rows;
    expect(rows?.form === "arrow" && plain(rows.arrow)).toEqual({
      ipcStream: [],
      compression: "COMPRESSION_NONE",
      tagColumns: [],
      timestampColumn: "",
    });
  });

  it("takes the last member of the rows oneof, skips unknown fields, keeps unknown codec numbers", () => {
    const series = encode({ tableRequests: [{ table: "t", series: seriesRows }] });
    // WriteTableRequest with: table, series, an unknown field 15 (varint), arrow with compression 7.
    const arrow = Uint8Array.from([0x10, 7]);
    const table = Uint8Array.from([
      0x0a,
      1,
      0x74, // table "t"
      ...series.subarray(5), // the series member as encoded above (after table_requests and table)
      0x78,
      0x2a, // field 15 = 42
      0x1a,
      arrow.length,
      ...arrow,
    ]);
    const bytes = Uint8Array.from([0x12, table.length, ...table, 0x7a, 1, 0]);
    const request = decodeWriteRequest(bytes);
    expect(request.tableRequests).toHaveLength(1);
    const rows = request.tableRequests[0]?.rows;
    expect(rows?.form).toBe("arrow");
    expect(rows?.form === "arrow" && rows.arrow.compression).toBe(7);
  });

  it("refuses bytes that are not a WriteRequest", () => {
    const valid = encode({ tableRequests: [{ table: "cpu", series: seriesRows }] });
    expect(() => decodeWriteRequest(valid.subarray(0, valid.length - 3))).toThrow(ProtobufDecodeError);
    // table_requests with the wire type of a varint.
    expect(() => decodeWriteRequest(Uint8Array.from([0x10, 1]))).toThrow(/field 2 has wire type 0/);
  });
});
