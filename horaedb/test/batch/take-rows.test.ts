import { describe, expect, it } from "vitest";
import { cellAt, type Column } from "../../src/batch/column.js";
import { takeRows, type ColumnBatch } from "../../src/batch/column-batch.js";
import { concatRows } from "../../src/query/vectors.js";
import { ALL_DATA_TYPES, type CellValue } from "../../src/table/data-type.js";
import { buildColumn, randomCell, seeded } from "./random-columns.js";

/** A batch with a column of every type, with nulls (`withNulls`) or without. */
function randomBatch(rows: number, seed: number, withNulls: boolean): ColumnBatch {
  const rnd = seeded(seed);
  const columns: Column[] = ALL_DATA_TYPES.map((type) =>
    buildColumn(
      type,
      Array.from({ length: rows }, () => (withNulls && rnd() < 0.2 ? null : randomCell(type, rnd))),
    ),
  );
  return { names: ALL_DATA_TYPES.map((t) => `c_${t}`), columns, numRows: rows };
}

function cells(batch: ColumnBatch): CellValue[][] {
  return Array.from({ length: batch.numRows }, (_, r) => batch.columns.map((c) => cellAt(c, r)));
}

/** The ArrayBuffers behind a batch's typed arrays (values and validity). */
function buffersOf(batch: ColumnBatch): Set<ArrayBufferLike> {
  const buffers = new Set<ArrayBufferLike>();
  for (const column of batch.columns) {
    if (!Array.isArray(column.values)) buffers.add((column.values as Uint8Array).buffer);
    if (column.validity !== null) buffers.add(column.validity.buffer);
  }
  return buffers;
}

describe("takeRows", () => {
  it("copies the rows at the indices, of every type, nulls included, into one buffer", () => {
    for (const withNulls of [false, true]) {
      const batch = randomBatch(300, withNulls ? 7 : 8, withNulls);
      const indices = Uint32Array.from([299, 0, 5, 5, 17, 128, 1, 250]);
      const taken = takeRows(batch, indices);
      const all = cells(batch);
      expect(cells(taken)).toEqual([...indices].map((i) => all[i]));
      // A column without nulls stays without a validity array.
      taken.columns.forEach((column, c) => {
        expect(column.validity === null).toBe((batch.columns[c] as Column).validity === null);
      });
      // Every typed array of the new batch is a view of one allocation.
      expect(buffersOf(taken).size).toBe(1);
    }
  });

  it("takes no rows, and rows in any order with repeats", () => {
    const batch = randomBatch(50, 9, true);
    expect(takeRows(batch, new Uint32Array(0)).numRows).toBe(0);
    const indices = [49, 49, 3, 0, 48];
    expect(cells(takeRows(batch, indices))).toEqual(indices.map((i) => cells(batch)[i]));
  });
});

describe("concatRows", () => {
  it("joins batches with and without nulls into one batch in one buffer", () => {
    const parts = [randomBatch(40, 1, false), randomBatch(33, 2, true), randomBatch(1, 3, false)];
    const joined = concatRows(parts);
    expect(joined.numRows).toBe(74);
    expect(cells(joined)).toEqual(parts.flatMap(cells));
    expect(buffersOf(joined).size).toBe(1);
  });
});
