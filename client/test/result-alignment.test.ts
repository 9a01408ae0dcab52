import { StatusCode, storageServiceDefinition, type storage } from "@horaedb/proto";
import { describe, expect, it } from "vitest";
import { SQL_RESULT_PREFIX_BYTES, sqlResultOffset } from "../src/result-alignment.js";

const serialize = storageServiceDefinition().SqlQuery.responseSerialize as (
  response: storage.SqlQueryResponse,
) => Buffer;

describe("sqlResultOffset", () => {
  it("finds the first record batch stream after headers and lengths of any size", () => {
    for (const message of ["", "x", "a longer message of the header"]) {
      for (const size of [0, 1, 100, 200, 20_000, 3_000_000]) {
        const stream = Buffer.alloc(size, 7);
        if (size > 0) stream[0] = 42;
        const encoded = serialize({
          header: { code: StatusCode.STATUS_CODE_OK, message },
          arrow: { recordBatches: [stream, Buffer.from("second")], compression: "COMPRESSION_NONE" },
        });
        const offset = sqlResultOffset(encoded.subarray(0, SQL_RESULT_PREFIX_BYTES));
        expect(offset).toBeDefined();
        expect(encoded.subarray(offset, (offset as number) + size).equals(stream)).toBe(true);
      }
    }
  });

  it("finds nothing in a response without record batches, or whose streams start past the prefix", () => {
    const prefix = (response: storage.SqlQueryResponse) =>
      serialize(response).subarray(0, SQL_RESULT_PREFIX_BYTES);
    expect(
      sqlResultOffset(
        prefix({ header: { code: StatusCode.STATUS_CODE_OK, message: "" }, affectedRows: "3" }),
      ),
    ).toBeUndefined();
    expect(
      sqlResultOffset(prefix({ header: { code: StatusCode.STATUS_CODE_INTERNAL, message: "failed" } })),
    ).toBeUndefined();
    expect(
      sqlResultOffset(
        prefix({
          header: { code: StatusCode.STATUS_CODE_OK, message: "" },
          arrow: { recordBatches: [], compression: 0 },
        }),
      ),
    ).toBeUndefined();
    const longHeader = { code: StatusCode.STATUS_CODE_OK, message: "m".repeat(100) };
    expect(
      sqlResultOffset(
        prefix({ header: longHeader, arrow: { recordBatches: [Buffer.alloc(8)], compression: 0 } }),
      ),
    ).toBeUndefined();
    expect(sqlResultOffset(Uint8Array.of(0xff, 0xff))).toBeUndefined();
    // An empty payload followed by a header: the header's tag is not a record batch entry.
    expect(sqlResultOffset(Uint8Array.of(0x1a, 0x00, 0x0a, 0x02, 0x08, 0x00))).toBeUndefined();
  });
});
