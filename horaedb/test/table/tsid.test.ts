import { describe, expect, it } from "vitest";
import { computeTsid, computeTsids } from "../../src/table/tsid.js";

describe("tsid", () => {
  it("is stable: a known series always hashes to the same id", () => {
    const a = computeTsid([
      ["host", "h1"],
      ["region", "eu"],
    ]);
    // xxHash64 (seed 0) of "host\0h1\0region\0eu\0": ids are stored in SSTs, so this never changes.
    expect(a).toBe(4785383030428937166n);
    expect(
      computeTsid([
        ["region", "eu"],
        ["host", "h1"],
      ]),
    ).toBe(a);
    expect(
      computeTsid([
        ["host", "h1"],
        ["region", "us"],
      ]),
    ).not.toBe(a);
    // Name matters, not just the value.
    expect(
      computeTsid([
        ["hostname", "h1"],
        ["region", "eu"],
      ]),
    ).not.toBe(a);
  });

  it("ignores null tags, so adding a TAG column keeps existing series ids", () => {
    expect(
      computeTsid([
        ["host", "h1"],
        ["zone", null],
      ]),
    ).toBe(computeTsid([["host", "h1"]]));
  });

  it("computes the same ids column-wise as row-wise", () => {
    const hosts = ["h1", "h2", "h1", "h3"];
    const zones = ["a", "b", "a", ""];
    const validity = Uint8Array.from([1, 1, 1, 0]);
    const ids = computeTsids(4, [
      { name: "zone", values: zones, validity },
      { name: "host", values: hosts, validity: null },
    ]);
    expect(ids[0]).toBe(
      computeTsid([
        ["host", "h1"],
        ["zone", "a"],
      ]),
    );
    expect(ids[2]).toBe(ids[0]);
    expect(ids[1]).toBe(
      computeTsid([
        ["host", "h2"],
        ["zone", "b"],
      ]),
    );
    expect(ids[3]).toBe(
      computeTsid([
        ["host", "h3"],
        ["zone", null],
      ]),
    );
  });
});
