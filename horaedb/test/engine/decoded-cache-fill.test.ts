import { describe, expect, it } from "vitest";
import type { Column } from "../../src/batch/column.js";
import type { ColumnBatch } from "../../src/batch/column-batch.js";
import { DecodedCacheFill } from "../../src/engine/decoded-cache-fill.js";
import type { SstFileEntry } from "../../src/manifest/index.js";
import { DecodedColumnCache } from "../../src/sst/decoded-cache.js";
import { SstFileReader } from "../../src/sst/reader.js";
import { writeSst } from "../../src/sst/index.js";
import { EventLoopTurns } from "../../src/sst/writer.js";
import { allTypesBatch, allTypesSchema, tempStorePerTest } from "../sst/fixtures.js";

const KEY = "testCluster/tables/7/sst/1.parquet";
const ROWS_PER_GROUP = 16;

const temp = tempStorePerTest();

/** Rows [start, end) of the batch, without the columns named in `drop`. */
function part(batch: ColumnBatch, start: number, end: number, drop: readonly string[] = []): ColumnBatch {
  const keep = batch.names.map((name, i) => [name, i] as const).filter(([name]) => !drop.includes(name));
  return {
    names: keep.map(([name]) => name),
    columns: keep.map(([, i]) => {
      const c = batch.columns[i] as Column;
      return {
        type: c.type,
        values: c.values.slice(start, end),
        validity: c.validity?.slice(start, end) ?? null,
      };
    }),
    numRows: end - start,
  };
}

describe("DecodedCacheFill", () => {
  it("takes the newest files, as many as the cache holds by the estimate of their size", () => {
    // 100 rows x 2 columns are estimated at 3,200 bytes: two files fit in 7,000, three do not.
    const fill = new DecodedCacheFill(new DecodedColumnCache(7000), [100, 100, 100], 2, ROWS_PER_GROUP);
    expect([0, 1, 2].map((i) => fill.wants(i))).toEqual([false, true, true]);
    const none = new DecodedCacheFill(new DecodedColumnCache(1000), [100], 2, ROWS_PER_GROUP);
    expect(none.wants(0)).toBe(false);
  });

  it("caches a file written from several batches as reading it decodes, a missing column as nulls", async () => {
    const schema = allTypesSchema();
    const all = allTypesBatch(60, 3);
    // Batch boundaries that do not fall on row group boundaries; the middle batch lacks `note`.
    const batches = [part(all, 0, 10), part(all, 10, 37, ["note"]), part(all, 37, 60)];
    const meta = await writeSst(temp().store, KEY, {
      schema,
      batches,
      options: { numRowsPerRowGroup: ROWS_PER_GROUP },
      maxSequence: 1,
    });
    const cache = new DecodedColumnCache(64 * 1024 * 1024);
    const fill = new DecodedCacheFill(cache, [60], schema.columns.length, ROWS_PER_GROUP);
    await fill.addBatches(0, schema, batches, new EventLoopTurns(10));
    expect(cache.stats().entries).toBe(0);
    const file = { key: KEY, meta } as unknown as SstFileEntry;
    fill.commit([file]);
    expect(cache.stats().entries).toBe(schema.columns.length * meta.rowGroups.length);

    const fileId = DecodedColumnCache.fileId(KEY, meta.crc32c);
    const reader = new SstFileReader(temp().store, KEY, { meta, schema });
    try {
      for (let g = 0; g < meta.rowGroups.length; g++) {
        const decoded = await reader.rowGroup(g, all.names);
        all.names.forEach((name, c) => {
          const expected = decoded.columns[c] as Column;
          const cached = cache.column(fileId, g, name) as Column;
          expect(cached.validity, `${name} of group ${g}`).toEqual(expected.validity);
          const valid = (col: Column) =>
            Array.from(col.values as ArrayLike<unknown>).filter((_, i) => col.validity?.[i] !== 0);
          expect(valid(cached), `${name} of group ${g}`).toEqual(valid(expected));
        });
      }
    } finally {
      reader.close();
    }
    // Row group 1 (rows 16..31) lies in the batch without `note`: all nulls, in the cache as in the file.
    const note = cache.column(fileId, 1, "note") as Column;
    expect(Array.from(note.validity ?? [])).toEqual(new Array<number>(16).fill(0));
  });

  it("leaves out a file whose row groups are not those its rows were cut into", async () => {
    const schema = allTypesSchema();
    const all = allTypesBatch(60, 3);
    const meta = await writeSst(temp().store, KEY, {
      schema,
      batches: [all],
      options: { numRowsPerRowGroup: 2 * ROWS_PER_GROUP },
      maxSequence: 1,
    });
    const cache = new DecodedColumnCache(64 * 1024 * 1024);
    // Cut into groups of 16 rows while the file was written in groups of 32.
    const fill = new DecodedCacheFill(cache, [60], schema.columns.length, ROWS_PER_GROUP);
    await fill.addBatches(0, schema, [all], new EventLoopTurns(10));
    fill.commit([{ key: KEY, meta } as unknown as SstFileEntry]);
    expect(cache.stats().entries).toBe(0);
  });
});
