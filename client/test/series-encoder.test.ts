import { storageServiceDefinition, type storage } from "@horaedb/proto";
import { describe, expect, it } from "vitest";
import { Point } from "../src/index.js";
import { encodePoints } from "../src/series-encoder.js";
import { encodeWriteRequest } from "../src/write-request.js";

/** Decodes what the client sends with the generic decoder the server uses. */
function decode(points: Point[], maxRequestBytes = 1 << 20): storage.WriteRequest__Output {
  const body = encodeWriteRequest("metrics", encodePoints(points, maxRequestBytes));
  return storageServiceDefinition().Write.requestDeserialize(body);
}

describe("encodePoints", () => {
  it("groups points by table, then by series, listing names once per table request", () => {
    const request = decode([
      new Point("cpu").tag("host", "a").field("u", 1).timestamp(1),
      new Point("mem").tag("host", "a").fieldInt64("free", 5).timestamp(1),
      new Point("cpu").tag("host", "b").field("u", 2).fieldBool("up", true).timestamp(1),
      new Point("cpu").tag("host", "a").field("u", 3).timestamp(2),
    ]);
    expect(request.context).toEqual({ database: "metrics" });
    expect(request.tableRequests.map((t) => t.table)).toEqual(["cpu", "mem"]);
    const cpu = request.tableRequests[0];
    expect(cpu?.rows).toBe("series");
    expect(cpu?.series).toEqual({
      tagNames: ["host"],
      fieldNames: ["u", "up"],
      entries: [
        {
          tags: [{ nameIndex: 0, value: { stringValue: "a", kind: "stringValue" } }],
          fieldGroups: [
            {
              _timestamp: "timestamp",
              timestamp: "1",
              fields: [{ nameIndex: 0, value: { float64Value: 1, kind: "float64Value" } }],
            },
            {
              _timestamp: "timestamp",
              timestamp: "2",
              fields: [{ nameIndex: 0, value: { float64Value: 3, kind: "float64Value" } }],
            },
          ],
        },
        {
          tags: [{ nameIndex: 0, value: { stringValue: "b", kind: "stringValue" } }],
          fieldGroups: [
            {
              _timestamp: "timestamp",
              timestamp: "1",
              fields: [
                { nameIndex: 0, value: { float64Value: 2, kind: "float64Value" } },
                { nameIndex: 1, value: { boolValue: true, kind: "boolValue" } },
              ],
            },
          ],
        },
      ],
    });
  });

  it("encodes every value type exactly, extremes and zeros included", () => {
    const p = new Point("t")
      .tag("zone", "")
      .tag("name", "π ≈ 3.14 ✓")
      .field("d", -0.1)
      .fieldDouble("d0", 0)
      .fieldFloat("f", 1.5)
      .fieldInt64("i64min", -(2n ** 63n))
      .fieldInt64("i64max", 2n ** 63n - 1n)
      .fieldInt64("i64zero", 0)
      .fieldInt32("i32", -(2 ** 31))
      .fieldUint64("u64", 2n ** 64n - 1n)
      .fieldBool("no", false)
      .fieldString("s", "ünïcødé")
      .fieldString("empty", "")
      .fieldBytes("raw", Uint8Array.of(0, 255, 7))
      .timestamp(-(2 ** 53 - 1));
    const group = decode([p]).tableRequests[0]?.series?.entries[0]?.fieldGroups[0];
    expect(group?.timestamp).toBe(String(-(2 ** 53 - 1)));
    const values = Object.fromEntries(
      (group?.fields ?? []).map((f) => {
        const value = f.value as storage.Value__Output & { kind: keyof storage.Value__Output };
        return [f.nameIndex, value[value.kind]];
      }),
    );
    expect(Object.values(values)).toEqual([
      -0.1,
      0,
      1.5,
      "-9223372036854775808",
      "9223372036854775807",
      "0",
      -(2 ** 31),
      "18446744073709551615",
      false,
      "ünïcødé",
      "",
      Buffer.from([0, 255, 7]),
    ]);
    expect(decode([p]).tableRequests[0]?.series?.entries[0]?.tags.map((t) => t.value?.stringValue)).toEqual([
      "",
      "π ≈ 3.14 ✓",
    ]);
  });

  it("encodes timestamps and name indexes of every varint length", () => {
    const points = [0, 1, 127, 128, 16_383, 16_384, 2 ** 31, 2 ** 32 + 5, 2 ** 53 - 1].map((ts, i) => {
      const p = new Point("t").timestamp(ts);
      // 200 distinct fields make name indexes above 127 (two-byte varints).
      for (let f = 0; f < 200; f++) if (f % 9 === i) p.field(`f${f}`, f);
      return p;
    });
    const groups = decode(points).tableRequests[0]?.series?.entries[0]?.fieldGroups ?? [];
    expect(groups.map((g) => g.timestamp)).toEqual(points.map((p) => String(p.timestampMs)));
    // Every timestamp is sent, 0 too: the server refuses a field group without one.
    expect(groups.every((g) => g._timestamp === "timestamp")).toBe(true);
    const names = decode(points).tableRequests[0]?.series?.fieldNames ?? [];
    expect(groups.flatMap((g) => g.fields.map((f) => [names[f.nameIndex], f.value?.float64Value]))).toEqual(
      points.flatMap((p) =>
        [...p.fields].map(([name, v]) => [name, (v as { float64Value: number }).float64Value]),
      ),
    );
  });

  it("splits a table's points into table requests of at most maxRequestBytes (estimated)", () => {
    const points = Array.from({ length: 10 }, (_, i) => new Point("cpu").field("v", i).timestamp(i));
    const size = points[0]?.estimatedBytes ?? 0;
    const writes = encodePoints(points, size * 4);
    expect(writes.map((w) => w.rows)).toEqual([4, 4, 2]);
    expect(writes.flatMap((w) => w.points ?? [])).toEqual(points);
    expect(writes.every((w) => w.bytes === w.encoded.byteLength)).toBe(true);
  });
});
