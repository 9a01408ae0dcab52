import { describe, expect, it } from "vitest";
import type { Column } from "../../src/batch/column.js";
import type { ColumnBatch } from "../../src/batch/column-batch.js";
import { DecodedColumnCache } from "../../src/sst/decoded-cache.js";
import { decodedForm, decodedRowGroups } from "../../src/sst/decoded-form.js";
import { SstFileReader } from "../../src/sst/reader.js";
import { writeSst } from "../../src/sst/index.js";
import { DataType } from "../../src/table/data-type.js";
import { allTypesBatch, allTypesSchema, tempStorePerTest } from "./fixtures.js";

const KEY = "testCluster/tables/7/sst/1.parquet";
const ROWS = 100;
const ROWS_PER_GROUP = 16;

const temp = tempStorePerTest();

describe("decodedRowGroups", () => {
  it("builds each row group's columns exactly as a read decodes them from the SST", async () => {
    const schema = allTypesSchema();
    const batch = withStaleNullCells(allTypesBatch(ROWS, 5));
    const meta = await writeSst(temp().store, KEY, {
      schema,
      batches: [batch],
      options: { numRowsPerRowGroup: ROWS_PER_GROUP },
      maxSequence: 1,
    });
    expect(meta.rowGroups.length).toBe(Math.ceil(ROWS / ROWS_PER_GROUP));
    const reader = new SstFileReader(temp().store, KEY, { meta, schema });
    const built = batch.columns.map((c) => decodedRowGroups(c, ROWS, ROWS_PER_GROUP));
    let groupsWithoutNulls = 0;
    let groupsWithNulls = 0;
    try {
      for (let g = 0; g < meta.rowGroups.length; g++) {
        const decoded = await reader.rowGroup(g, batch.names);
        batch.names.forEach((name, c) => {
          const expected = decoded.columns[c] as Column;
          const actual = built[c]?.[g] as Column;
          // Same type, array type, validity (null when the group has no null) and values. A
          // decoded number in a null cell is whatever the decoder's buffer held, so numbers are
          // compared in valid cells; strings and byte arrays in every cell.
          expect(actual.type, name).toBe(expected.type);
          expect(actual.values.constructor, name).toBe(expected.values.constructor);
          expect(actual.validity, name).toEqual(expected.validity);
          expect(validCells(actual), name).toEqual(validCells(expected));
          if (Array.isArray(expected.values)) expect(actual.values, name).toEqual(expected.values);
          if (actual.validity === null) groupsWithoutNulls++;
          else groupsWithNulls++;
        });
      }
    } finally {
      reader.close();
    }
    // Both cases of a nullable column occur: groups with nulls and groups without.
    expect(groupsWithNulls).toBeGreaterThan(0);
    expect(groupsWithoutNulls).toBeGreaterThan(0);
  });

  it("cuts the rows into groups of the given size, the last one shorter", () => {
    const column: Column = {
      type: DataType.Double,
      values: Float64Array.from([1, 2, 3, 4, 5]),
      validity: null,
    };
    const groups = decodedRowGroups(column, 5, 2);
    expect(groups.map((g) => Array.from(g.values as Float64Array))).toEqual([[1, 2], [3, 4], [5]]);
  });

  it("gives each group arrays of its own, not views of the source", () => {
    const values = Float64Array.from([1, 2, 3, 4]);
    const validity = Uint8Array.from([1, 0, 1, 1]);
    const group = decodedForm({ type: DataType.Double, values, validity }, 0, 2);
    expect((group.values as Float64Array).buffer).not.toBe(values.buffer);
    expect(group.validity?.buffer).not.toBe(validity.buffer);
    // The source is left as it was, its null cell included.
    expect(Array.from(values)).toEqual([1, 2, 3, 4]);
    expect(Array.from(group.values as Float64Array)).toEqual([1, 0]);
  });

  it("copies binary values, which may be views of a larger buffer", () => {
    const request = Uint8Array.from([1, 2, 3, 4, 5, 6]);
    const column: Column = { type: DataType.Varbinary, values: [request.subarray(0, 3)], validity: null };
    const group = decodedForm(column, 0, 1);
    const [value] = group.values as Uint8Array[];
    expect(Array.from(value as Uint8Array)).toEqual([1, 2, 3]);
    expect(value?.buffer.byteLength).toBe(3);
  });
});

/** The batch with a leftover value in every null string and byte array cell (numbers have theirs). */
function withStaleNullCells(batch: ColumnBatch): ColumnBatch {
  const columns = batch.columns.map((column): Column => {
    const { validity, values } = column;
    if (validity === null || !Array.isArray(values)) return column;
    const stale = column.type === DataType.String ? "stale" : Uint8Array.of(9);
    return { ...column, values: values.map((v, i) => (validity[i] === 0 ? stale : v)) as Column["values"] };
  });
  return { ...batch, columns };
}

/** The column's values in its valid cells, in order. */
function validCells(column: Column): unknown[] {
  return Array.from(column.values as ArrayLike<unknown>).filter((_, i) => column.validity?.[i] !== 0);
}

describe("DecodedColumnCache.putColumns", () => {
  it("serves the columns put to a reader of the file without fetching it", async () => {
    const schema = allTypesSchema();
    const batch = allTypesBatch(ROWS, 5);
    const meta = await writeSst(temp().store, KEY, {
      schema,
      batches: [batch],
      options: { numRowsPerRowGroup: ROWS_PER_GROUP },
      maxSequence: 1,
    });
    const cache = new DecodedColumnCache(64 * 1024 * 1024);
    const fileId = DecodedColumnCache.fileId(KEY, meta.crc32c);
    for (let g = 0; g < meta.rowGroups.length; g++) {
      const start = g * ROWS_PER_GROUP;
      const end = Math.min(start + ROWS_PER_GROUP, ROWS);
      cache.putColumns(
        fileId,
        g,
        new Map(batch.names.map((name, c) => [name, decodedForm(batch.columns[c] as Column, start, end)])),
      );
    }
    // The object is gone: only the cache can answer.
    await temp().store.delete(KEY);
    const reader = new SstFileReader(temp().store, KEY, { meta, schema, cache });
    try {
      const last = meta.rowGroups.length - 1;
      const group = await reader.rowGroup(last, ["host", "f64"]);
      expect(group.numRows).toBe(ROWS - last * ROWS_PER_GROUP);
      expect(group.columns[0]?.values).toEqual(
        (batch.columns[0]?.values as string[]).slice(last * ROWS_PER_GROUP),
      );
      expect(reader.metrics.cacheHits).toBe(2);
      expect(reader.metrics.cacheMisses).toBe(0);
    } finally {
      reader.close();
    }
  });
});
