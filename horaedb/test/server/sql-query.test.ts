import { gunzipSync } from "node:zlib";
import { loadZstd, zstdDecompress } from "@horaedb/proto";
import { tableFromIPC } from "apache-arrow";
import { beforeAll, describe, expect, it } from "vitest";
import { DataType } from "../../src/table/data-type.js";
import {
  SQL_COMPRESSION_THRESHOLD_BYTES,
  arrowPayload,
  outcomeResponse,
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
