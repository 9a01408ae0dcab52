import { describe, expect, it } from "vitest";
import { HoraeDBArgumentError, Point } from "../src/index.js";

describe("Point", () => {
  it("keeps typed field values in the shape they are sent in", () => {
    const p = new Point("cpu")
      .tag("host", "a")
      .field("d", 0.5)
      .fieldFloat("f", 1.5)
      .fieldInt64("i64", -(2n ** 63n))
      .fieldInt32("i32", 2 ** 31 - 1)
      .fieldUint64("u64", 2n ** 64n - 1n)
      .fieldBool("b", false)
      .fieldString("s", "x")
      .fieldBytes("raw", Uint8Array.of(9))
      .timestamp(1_700_000_000_000);
    expect(Object.fromEntries(p.fields)).toEqual({
      d: { float64Value: 0.5 },
      f: { float32Value: 1.5 },
      i64: { int64Value: "-9223372036854775808" },
      i32: { int32Value: 2147483647 },
      u64: { uint64Value: "18446744073709551615" },
      b: { boolValue: false },
      s: { stringValue: "x" },
      raw: { varbinaryValue: Uint8Array.of(9) },
    });
    expect(p.timestampMs).toBe(1_700_000_000_000);
    expect(Object.fromEntries(p.tags)).toEqual({ host: "a" });
  });

  it("is timestamped at creation unless told otherwise", () => {
    const before = Date.now();
    const p = new Point("cpu");
    expect(p.timestampMs).toBeGreaterThanOrEqual(before);
    expect(p.timestampMs).toBeLessThanOrEqual(Date.now());
    expect(new Point("cpu").timestamp(new Date(5)).timestampMs).toBe(5);
    expect(new Point("cpu").timestamp(7n).timestampMs).toBe(7);
  });

  it.each<[string, (p: Point) => unknown, RegExp]>([
    ["an empty tag name", (p) => p.tag("", "a"), /non-empty/],
    ["a non-string tag value", (p) => p.tag("host", 1 as never), /tag "host" must be a string/],
    ["a field named timestamp", (p) => p.field("timestamp", 1), /reserved for the timestamp/],
    ["a name both tag and field", (p) => p.tag("x", "a").field("x", 1), /"x" is already a tag/],
    ["an int64 out of range", (p) => p.fieldInt64("n", 2n ** 63n), /out of the int64 range/],
    ["an inexact int64 number", (p) => p.fieldInt64("n", 2 ** 60), /not an exact int64/],
    ["a negative uint64", (p) => p.fieldUint64("n", -1), /out of the uint64 range/],
    ["a fractional int32", (p) => p.fieldInt32("n", 1.5), /not an int32/],
    ["a non-boolean bool", (p) => p.fieldBool("n", 1 as never), /must be a boolean/],
    ["a fractional timestamp", (p) => p.timestamp(1.5), /whole number of milliseconds/],
    ["an invalid Date", (p) => p.timestamp(new Date(NaN)), /whole number of milliseconds/],
    ["a timestamp beyond 2^53", (p) => p.timestamp(2n ** 60n), /within ±2\^53/],
  ])("refuses %s with HoraeDBArgumentError naming the table", (_name, build, message) => {
    let error: unknown;
    try {
      build(new Point("cpu"));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(HoraeDBArgumentError);
    expect((error as Error).message).toMatch(/^table cpu: /);
    expect((error as Error).message).toMatch(message);
  });

  it("estimates its size from names and values, replacing a value that is set again", () => {
    const p = new Point("t");
    const empty = p.estimatedBytes;
    p.tag("host", "abc");
    expect(p.estimatedBytes).toBe(empty + 4 + 3 + 4);
    p.fieldString("s", "hello");
    p.fieldString("s", "hi");
    expect(p.estimatedBytes).toBe(empty + 11 + 1 + 2 + 4);
  });

  it("has the same series key for the same tags set in the same order", () => {
    const a = new Point("t").tag("x", "1").tag("y", "2");
    const b = new Point("u").tag("x", "1").tag("y", "2");
    const c = new Point("t").tag("x", "1").tag("y", "3");
    expect(a.seriesKey).toBe(b.seriesKey);
    expect(a.seriesKey).not.toBe(c.seriesKey);
    // A value that spells out another tag does not make the same key, whatever characters it holds.
    expect(new Point("t").tag("x", "1:y1:2").seriesKey).not.toBe(
      new Point("t").tag("x", "1").tag("y", "2").seriesKey,
    );
    expect(new Point("t").tag("x", "1\u0000y\u00002").seriesKey).not.toBe(
      new Point("t").tag("x", "1").tag("y", "2").seriesKey,
    );
    expect(new Point("t").tag("x", "").tag("y", "2").seriesKey).not.toBe(
      new Point("t").tag("x", "\u0000y\u00002").seriesKey,
    );
    // Setting a tag again changes the key.
    const d = new Point("t").tag("x", "1").tag("y", "3");
    const before = d.seriesKey;
    expect(d.tag("y", "2").seriesKey).toBe(a.seriesKey);
    expect(before).toBe(c.seriesKey);
  });

  it("lists tags and fields in the order first set, a value set again in its first place", () => {
    const p = new Point("t").tag("b", "1").tag("a", "2").field("y", 1).fieldBool("x", true).field("y", 3);
    p.tag("b", "3");
    expect([...p.tags]).toEqual([
      ["b", "3"],
      ["a", "2"],
    ]);
    expect([...p.fields]).toEqual([
      ["y", { float64Value: 3 }],
      ["x", { boolValue: true }],
    ]);
    // A field set again may change its type.
    p.fieldString("y", "s");
    expect(p.fields.get("y")).toEqual({ stringValue: "s" });
  });

  it("keeps names unique in a point with many of them", () => {
    const p = new Point("t");
    for (let i = 0; i < 40; i++) p.tag(`t${i}`, String(i)).field(`f${i}`, i);
    for (let i = 0; i < 40; i += 3) p.field(`f${i}`, -i);
    expect(p.tags.size).toBe(40);
    expect([...p.fields.values()].slice(0, 4)).toEqual([
      { float64Value: -0 },
      { float64Value: 1 },
      { float64Value: 2 },
      { float64Value: -3 },
    ]);
    expect(() => p.field("t39", 1)).toThrow(/"t39" is already a tag/);
    expect(() => p.tag("f39", "x")).toThrow(/"f39" is already a field/);
  });
});
