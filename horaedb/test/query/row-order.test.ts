/**
 * sortedRowOrder (ranks per key, then a counting sort of few rank tuples or a numeric sort of
 * packed ranks) orders rows as a stable sort with the row comparator does: NULLs first or last,
 * NaN above every number, -0 equal to 0, code point order of strings.
 */
import { describe, expect, it } from "vitest";
import type { Column } from "../../src/batch/column.js";
import {
  rowComparator,
  sortedRowOrder,
  type SortDirection,
} from "../../src/query/operators/row-comparator.js";
import { DataType } from "../../src/table/data-type.js";
import { mulberryRandom } from "./random.js";

function numberColumn(random: () => number, n: number, distinct: number): Column {
  const values = new Float64Array(n);
  const validity = new Uint8Array(n).fill(1);
  for (let i = 0; i < n; i++) {
    const r = random();
    values[i] =
      r < 0.05 ? NaN : r < 0.1 ? -0 : r < 0.15 ? 0 : Math.floor(random() * distinct) * 1.5 - distinct / 2;
    if (random() < 0.05) validity[i] = 0;
  }
  return { type: DataType.Double, values, validity };
}

function stringColumn(random: () => number, n: number, distinct: number): Column {
  const words = ["a", "b", "ab", "\u{1F600}", "\uE000", "B", ""];
  const values = Array.from({ length: n }, () => {
    const k = Math.floor(random() * distinct);
    return `${words[k % words.length] as string}${Math.floor(k / words.length)}`;
  });
  const validity = Uint8Array.from({ length: n }, () => (random() < 0.05 ? 0 : 1));
  return { type: DataType.String, values, validity };
}

describe("sortedRowOrder", () => {
  it.each([
    { name: "few distinct keys (counting sort)", distinct: 4, n: 400 },
    { name: "many distinct keys (packed sort)", distinct: 5000, n: 3000 },
  ])("orders rows as a stable comparator sort: $name", ({ distinct, n }) => {
    const random = mulberryRandom(17 + distinct);
    for (let round = 0; round < 20; round++) {
      const keys = [
        round % 2 === 0 ? numberColumn(random, n, distinct) : stringColumn(random, n, distinct),
        numberColumn(random, n, Math.max(2, Math.floor(distinct / 2))),
      ];
      const directions: SortDirection[] = keys.map(() => ({
        descending: random() < 0.5,
        nullsFirst: random() < 0.5,
      }));
      const compare = rowComparator(
        keys.map((k) => k.type),
        directions,
      );
      const expected = Array.from({ length: n }, (_, i) => i).sort(
        (a, b) => compare(keys, a, keys, b) || a - b,
      );
      expect([...sortedRowOrder(keys, directions, n)]).toEqual(expected);
    }
  });
});
