import { describe, expect, it } from "vitest";
import { timeSlices, type TimeSpan } from "../../src/engine/time-slices.js";
import { mulberry32 } from "../../src/testing/tsbs.js";

interface Named extends TimeSpan {
  readonly name: string;
}

const span = (name: string, min: number, max: number): Named => ({ name, min, max });
const describeSlices = (sources: readonly Named[]) =>
  timeSlices(sources).map((s) => [s.range.start, s.range.end, s.sources.map((x) => x.name).join("")]);

describe("timeSlices", () => {
  it("keeps a source that overlaps nothing whole, and merges only the shared stretch of two that overlap", () => {
    const a = span("a", 0, 99);
    const b = span("b", 50, 149);
    const c = span("c", 200, 299);
    expect(describeSlices([c, b, a])).toEqual([
      [0, 50, "a"],
      [50, 100, "ab"],
      [100, 150, "b"],
      [200, 300, "c"],
    ]);
  });

  it("gives a source inside another the slice of both, and a single timestamp its own slice", () => {
    expect(describeSlices([span("big", 0, 1000), span("dot", 500, 500)])).toEqual([
      [0, 500, "big"],
      [500, 501, "bigdot"],
      [501, 1001, "big"],
    ]);
  });

  it("covers every timestamp of every source exactly once, with exactly the sources holding it (random spans)", () => {
    const random = mulberry32(42);
    for (let round = 0; round < 200; round++) {
      const sources = Array.from({ length: 1 + Math.floor(random() * 8) }, (_, i) => {
        const min = Math.floor(random() * 100);
        return span(String.fromCharCode(97 + i), min, min + Math.floor(random() * 40));
      });
      const slices = timeSlices(sources);
      for (let i = 1; i < slices.length; i++) {
        expect(slices[i]!.range.start).toBeGreaterThanOrEqual(slices[i - 1]!.range.end);
      }
      for (let t = -1; t < 145; t++) {
        const holding = sources
          .filter((s) => s.min <= t && t <= s.max)
          .map((s) => s.name)
          .sort();
        const containing = slices.filter((s) => s.range.start <= t && t < s.range.end);
        if (holding.length === 0) {
          expect(containing).toEqual([]);
        } else {
          expect(containing).toHaveLength(1);
          expect(containing[0]!.sources.map((s) => s.name).sort()).toEqual(holding);
        }
      }
    }
  });
});
