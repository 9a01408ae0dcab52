import { describe, expect, it } from "vitest";
import { emptyStringCode, Utf8Interner } from "../../src/server/utf8-interner.js";

/** Values laid out as an Arrow Utf8 column: one byte buffer and offsets. */
function utf8Column(values: readonly string[]): { bytes: Uint8Array; offsets: number[] } {
  const parts = values.map((v) => Buffer.from(v, "utf8"));
  const offsets = [0];
  for (const part of parts) offsets.push((offsets.at(-1) as number) + part.length);
  return { bytes: new Uint8Array(Buffer.concat(parts)), offsets };
}

describe("Utf8Interner", () => {
  it("codes values in order of first appearance, the same value always alike", () => {
    // Enough distinct values to grow every table several times, with repeats and look-alikes.
    const distinct = Array.from({ length: 5_000 }, (_, i) => (i % 3 === 0 ? `host_${i}` : `ü${i}✓`));
    distinct.push("", "a", "ab", "ba");
    const rows = [...distinct, ...distinct.slice().reverse(), ...distinct];
    const { bytes, offsets } = utf8Column(rows);
    for (const expected of [0, 100_000]) {
      const interner = new Utf8Interner(expected);
      const codes = rows.map((_, r) =>
        interner.intern(bytes, offsets[r] as number, offsets[r + 1] as number),
      );
      expect(interner.values).toEqual(distinct);
      expect(codes).toEqual(rows.map((v) => distinct.indexOf(v)));
      expect(emptyStringCode(interner)).toBe(distinct.indexOf(""));
    }
  });

  it("takes values from several buffers, decoding each new value from its own", () => {
    const interner = new Utf8Interner();
    const a = utf8Column(["x", "y"]);
    const b = utf8Column(["y", "z"]);
    expect(interner.intern(a.bytes, 0, 1)).toBe(0);
    expect(interner.intern(b.bytes, 0, 1)).toBe(1);
    expect(interner.intern(b.bytes, 1, 2)).toBe(2);
    expect(interner.intern(a.bytes, 1, 2)).toBe(1);
    expect(interner.values).toEqual(["x", "y", "z"]);
  });
});
