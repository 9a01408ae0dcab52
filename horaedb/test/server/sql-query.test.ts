import { gunzipSync } from "node:zlib";
import { loadZstd, zstdDecompress } from "@horaedb/proto";
import { tableFromIPC } from "apache-arrow";
import { beforeAll, describe, expect, it } from "vitest";
import type { ColumnBatch } from "../../src/batch/column-batch.js";
import type { ResultColumn } from "../../src/query/index.js";
import { resultToIpcStreams } from "../../src/server/arrow-ipc.js";
import { EncodedMessage } from "../../src/server/encoded-response.js";
import { storageServiceServerDefinition } from "../../src/storage-service.js";
import { DataType } from "../../src/table/data-type.js";
import {
  SQL_COMPRESSION_THRESHOLD_BYTES,
  arrowPayload,
  outcomeResponse,
  unaryOutcomeResponse,
} from "../../src/server/sql-query.js";

beforeAll(() => loadZstd());

describe("arrowPayload", () => {
  const small = new Uint8Array(1000).fill(7);
  const large = new Uint8Array(SQL_COMPRESSION_THRESHOLD_BYTES + 1).fill(7);

  it("sends results up to the threshold uncompressed, whatever the client accepts", () => {
    for (const accepted of ["COMPRESSION_NONE", "COMPRESSION_GZIP", "COMPRESSION_ZSTD"] as const) {
      const payload = arrowPayload([small, small], accepted);
      expect(payload.compression).toBe("COMPRESSION_NONE");
      expect(payload.recordBatches).toEqual([small, small]);
    }
    const atThreshold = new Uint8Array(SQL_COMPRESSION_THRESHOLD_BYTES / 2);
    expect(arrowPayload([atThreshold, atThreshold], "COMPRESSION_ZSTD").compression).toBe("COMPRESSION_NONE");
  });

  it("compresses larger results with the codec the client accepts, every stream of them", () => {
    const zstd = arrowPayload([large, small], "COMPRESSION_ZSTD");
    expect(zstd.compression).toBe("COMPRESSION_ZSTD");
    const zstdStreams = (zstd.recordBatches ?? []) as Uint8Array[];
    const decompressed = zstdStreams.map((s) => Buffer.from(zstdDecompress(s, 1 << 30)));
    // Compared as Buffers: element-wise equality of a megabyte is slow.
    expect(decompressed.map((d, i) => d.equals([large, small][i] as Uint8Array))).toEqual([true, true]);
    const gzip = arrowPayload([large], "COMPRESSION_GZIP");
    expect(gzip.compression).toBe("COMPRESSION_GZIP");
    expect(gunzipSync((gzip.recordBatches as Uint8Array[])[0] as Uint8Array).equals(large)).toBe(true);
    expect(arrowPayload([large], "COMPRESSION_NONE").compression).toBe("COMPRESSION_NONE");
  });
});

describe("outcomeResponse", () => {
  it("answers rows as one Arrow IPC stream, and other statements with the rows they affected", () => {
    const rows = outcomeResponse(
      {
        kind: "rows",
        result: {
          columns: [{ name: "v", type: DataType.Double }],
          batches: [
            {
              names: ["v"],
              columns: [{ type: DataType.Double, values: Float64Array.of(1, 2), validity: null }],
              numRows: 2,
            },
            {
              names: ["v"],
              columns: [{ type: DataType.Double, values: Float64Array.of(3), validity: null }],
              numRows: 1,
            },
          ],
        },
      },
      "COMPRESSION_ZSTD",
    );
    const streams = (rows.arrow?.recordBatches ?? []) as Uint8Array[];
    expect(streams).toHaveLength(1);
    expect(
      tableFromIPC(streams[0] as Uint8Array)
        .getChild("v")
        ?.toArray(),
    ).toEqual(Float64Array.of(1, 2, 3));
    expect(outcomeResponse({ kind: "affected", rows: 4 }, "COMPRESSION_NONE")).toMatchObject({
      affectedRows: "4",
    });
  });
});

describe("unaryOutcomeResponse", () => {
  const method = storageServiceServerDefinition().SqlQuery as NonNullable<
    ReturnType<typeof storageServiceServerDefinition>["SqlQuery"]
  >;
  /** The response as the client decodes it, sent through the server's own serializer. */
  const onTheWire = (response: ReturnType<typeof unaryOutcomeResponse>) =>
    method.responseDeserialize(method.responseSerialize(response)) as {
      header: { code: string; message: string } | null;
      arrow?: { recordBatches: Buffer[]; compression: string } | null;
      affectedRows?: string;
    };
  /** A batch of a TAG column `host` and a column `v`, Double or (`float32`) Float. */
  const tagged = (hosts: string[], float32: boolean): ColumnBatch => {
    const v = hosts.map((_, i) => i);
    return {
      names: ["host", "v"],
      columns: [
        { type: DataType.String, values: hosts, validity: null },
        float32
          ? { type: DataType.Float, values: Float32Array.from(v), validity: null }
          : { type: DataType.Double, values: Float64Array.from(v), validity: null },
      ],
      numRows: hosts.length,
    };
  };

  it("writes rows straight into the encoded message, the same streams as the object path", () => {
    // Two streams (the type of v differs). The payload's length takes three bytes, so the message
    // must be placed for its first stream to start at a multiple of 8. The second stream's TAG
    // column has 200 values, so Int16 indices, which land at an odd offset of the message (after
    // the first stream, whose size is a multiple of 8, the entry's tag and two-byte length).
    const batches = [
      tagged(
        Array.from({ length: 10_000 }, (_, i) => (i < 5000 ? "a" : "b")),
        false,
      ),
      tagged(
        Array.from({ length: 300 }, (_, i) => `h${i % 200}`),
        true,
      ),
    ];
    const columns: ResultColumn[] = [
      { name: "host", type: DataType.String, tag: true },
      { name: "v", type: DataType.Double },
    ];
    const response = unaryOutcomeResponse({ kind: "rows", result: { columns, batches } }, "COMPRESSION_ZSTD");
    expect(response).toBeInstanceOf(EncodedMessage);
    const decoded = onTheWire(response);
    expect(decoded.header?.code).toBe("STATUS_CODE_OK");
    expect(decoded.header?.message).toBe("");
    expect(decoded.arrow?.compression).toBe("COMPRESSION_NONE");
    const expected = resultToIpcStreams(columns, batches).map((s) => Buffer.from(s));
    expect(decoded.arrow?.recordBatches.map((s) => Buffer.from(s))).toEqual(expected);
    expect(String(tableFromIPC(decoded.arrow?.recordBatches[1] as Buffer).schema.fields[0]?.type)).toBe(
      "Dictionary<Int16, Utf8>",
    );
    // The first stream starts at a multiple of 8 in memory: header (2 bytes), arrow's tag and
    // length, the entry's tag and length.
    const bytes = (response as EncodedMessage).bytes;
    let at = 3;
    while ((bytes[at++] as number) >= 0x80);
    at++;
    while ((bytes[at++] as number) >= 0x80);
    expect((bytes.byteOffset + at) % 8).toBe(0);
    expect(bytes.subarray(at, at + (expected[0] as Buffer).byteLength).equals(expected[0] as Buffer)).toBe(
      true,
    );
  });

  it("encodes an empty result's schema, and leaves large compressed results and counts to objects", () => {
    const columns: ResultColumn[] = [{ name: "v", type: DataType.Double }];
    const empty = onTheWire(
      unaryOutcomeResponse({ kind: "rows", result: { columns, batches: [] } }, "COMPRESSION_NONE"),
    );
    const table = tableFromIPC(empty.arrow?.recordBatches[0] as Buffer);
    expect(table.numRows).toBe(0);
    expect(table.schema.fields.map((f) => f.name)).toEqual(["v"]);

    const rows = SQL_COMPRESSION_THRESHOLD_BYTES / 8 + 1;
    const large: ColumnBatch = {
      names: ["v"],
      columns: [{ type: DataType.Double, values: new Float64Array(rows).fill(1), validity: null }],
      numRows: rows,
    };
    const compressed = unaryOutcomeResponse(
      { kind: "rows", result: { columns, batches: [large] } },
      "COMPRESSION_GZIP",
    );
    expect(compressed).not.toBeInstanceOf(EncodedMessage);
    expect(onTheWire(compressed).arrow?.compression).toBe("COMPRESSION_GZIP");
    const plain = unaryOutcomeResponse(
      { kind: "rows", result: { columns, batches: [large] } },
      "COMPRESSION_NONE",
    );
    expect(plain).toBeInstanceOf(EncodedMessage);
    expect(tableFromIPC(onTheWire(plain).arrow?.recordBatches[0] as Buffer).numRows).toBe(rows);

    expect(
      onTheWire(unaryOutcomeResponse({ kind: "affected", rows: 4 }, "COMPRESSION_NONE")).affectedRows,
    ).toBe("4");
  });
});
