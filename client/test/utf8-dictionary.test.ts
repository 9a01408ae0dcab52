import { describe, expect, it } from "vitest";
import { Utf8DictionaryBuilder } from "../src/utf8-dictionary.js";

describe("Utf8DictionaryBuilder", () => {
  it("gives each distinct value one index and lays the values out as an Arrow Utf8 column", () => {
    const distinct = Array.from({ length: 3_000 }, (_, i) => (i % 2 === 0 ? `host_${i}` : `π${i}`));
    distinct.push("");
    const rows = [...distinct, ...distinct.slice().reverse()];
    const parts = rows.map((v) => Buffer.from(v, "utf8"));
    const bytes = new Uint8Array(Buffer.concat(parts));
    const builder = new Utf8DictionaryBuilder();
    let at = 0;
    const indices = parts.map((part) => {
      const index = builder.intern(bytes, at, at + part.length);
      at += part.length;
      return index;
    });
    expect(indices).toEqual(rows.map((v) => distinct.indexOf(v)));
    const dictionary = builder.finish();
    expect(dictionary.size).toBe(distinct.length);
    const decoded = Array.from({ length: dictionary.size }, (_, i) =>
      Buffer.from(dictionary.bytes.subarray(dictionary.offsets[i], dictionary.offsets[i + 1])).toString(
        "utf8",
      ),
    );
    expect(decoded).toEqual(distinct);
  });
});
