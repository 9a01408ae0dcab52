import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Column } from "../../src/batch/column.js";
import type { ColumnBatch } from "../../src/batch/column-batch.js";
import { compareStrings } from "../../src/memtable/key-lanes.js";
import { ObjectNotFoundError } from "../../src/object-store/errors.js";
import { DataType } from "../../src/table/data-type.js";
import {
  encodeSst,
  readSst,
  readSstMeta,
  SST_META_KEY,
  SstColumnNotFoundError,
  SstCorruptionError,
  SstInputError,
  SstNotFoundError,
  SstReader,
  writeSst,
  type SstMeta,
  type SstWriteRequest,
} from "../../src/sst/index.js";
import { parquetWasm } from "../../src/sst/parquet-wasm.js";
import { DEFAULT_SCALE, tsbsCpuSchema, tsbsSortedBatch } from "../../src/testing/tsbs.js";
import {
  allTypesBatch,
  allTypesSchema,
  collect,
  openTempStore,
  rowsOf,
  rowsOfAll,
  type TempStore,
} from "./fixtures.js";

const { start: START_MS, intervalMs: INTERVAL_MS } = DEFAULT_SCALE;

const KEY = "testCluster/tables/7/sst/1.parquet";

let temp: TempStore;
beforeEach(async () => {
  temp = await openTempStore();
});
afterEach(async () => {
  await temp.remove();
});

function allTypesRequest(n = 3000, rowsPerGroup = 500): SstWriteRequest {
  return {
    schema: allTypesSchema(),
    batches: [allTypesBatch(n, 4)],
    options: { numRowsPerRowGroup: rowsPerGroup },
    maxSequence: 1234,
    table: "all_types",
  };
}

/** Splits a batch into consecutive parts at the given row offsets. */
function splitBatch(batch: ColumnBatch, cuts: readonly number[]): ColumnBatch[] {
  const bounds = [0, ...cuts, batch.numRows];
  return bounds.slice(1).map((end, i) => {
    const start = bounds[i] as number;
    return {
      names: batch.names,
      columns: batch.columns.map((c): Column => ({
        type: c.type,
        values: c.values.slice(start, end),
        validity: c.validity === null ? null : c.validity.slice(start, end),
      })),
      numRows: end - start,
    };
  });
}

/** Row-group row counts as the Parquet footer records them. */
async function parquetRowGroupRows(bytes: Uint8Array): Promise<number[]> {
  const blob = new Blob([bytes]);
  const file = await parquetWasm().ParquetFile.fromFile(blob);
  return file
    .metadata()
    .rowGroups()
    .map((g) => g.numRows());
}

describe("SST write and read", () => {
  it("round-trips every data type with nulls", async () => {
    const request = allTypesRequest();
    const meta = await writeSst(temp.store, KEY, request);
    const batches = await collect(readSst(temp.store, KEY, { meta }));
    const input = request.batches[0] as ColumnBatch;
    expect(batches.every((b) => b.names.join() === input.names.join())).toBe(true);
    expect(batches[0]?.columns.map((c) => c.type)).toEqual(input.columns.map((c) => c.type));
    expect(rowsOfAll(batches)).toEqual(rowsOf(input));
  });

  it("keeps the primary-key order across input batches and row groups", async () => {
    const input = tsbsSortedBatch(12, 500);
    const parts = splitBatch(input, [1, 777, 4000]);
    const meta = await writeSst(temp.store, KEY, {
      schema: tsbsCpuSchema(),
      batches: parts,
      options: { numRowsPerRowGroup: 1000 },
      maxSequence: 9,
    });
    expect(meta.rowGroups.map((g) => g.numRows)).toEqual([...Array<number>(6).fill(1000)]);
    const out = await collect(
      readSst(temp.store, KEY, { meta, projection: ["tsid", "timestamp", "hostname"] }),
    );
    const rows = rowsOfAll(out);
    expect(rows).toEqual(rowsOf(input, ["tsid", "timestamp", "hostname"]));
    for (let i = 1; i < rows.length; i++) {
      const [pt, ps] = rows[i - 1] as [bigint, number];
      const [t, s] = rows[i] as [bigint, number];
      expect(pt < t || (pt === t && ps <= s)).toBe(true);
    }
  });

  it("records file metadata and per-row-group statistics that match the rows", async () => {
    const request = allTypesRequest(3000, 700);
    const { bytes, meta } = await encodeSst(request);
    const input = request.batches[0] as ColumnBatch;
    const col = (name: string) => input.columns[input.names.indexOf(name)] as Column;
    const ts = col("ts").values as Float64Array;

    expect(meta.fileSize).toBe(bytes.length);
    expect(meta.rowCount).toBe(3000);
    expect(meta.maxSequence).toBe(1234);
    expect(meta.schemaVersion).toBe(request.schema.version);
    expect(meta.compression).toBe("ZSTD");
    expect(meta.primaryKey).toEqual(["host", "ts"]);
    expect(meta.columns.map((c) => c.name)).toEqual(request.schema.columns.map((c) => c.name));
    expect(meta.timeRange).toEqual({ min: Math.min(...ts), max: Math.max(...ts) });
    expect(meta.crc32c).toMatch(/^[0-9a-f]{8}$/);
    expect(meta.rowGroups.map((g) => g.numRows)).toEqual([700, 700, 700, 700, 200]);
    // Our row groups are exactly the file's.
    expect(await parquetRowGroupRows(bytes)).toEqual([700, 700, 700, 700, 200]);

    meta.rowGroups.forEach((group, g) => {
      const start = g * 700;
      const end = start + group.numRows;
      const slice = <T>(values: ArrayLike<T>) => Array.from(values).slice(start, end);
      const groupTs = slice(ts);
      expect(group.timeRange).toEqual({ min: Math.min(...groupTs), max: Math.max(...groupTs) });
      for (const tag of ["host", "dc"]) {
        const c = col(tag);
        const present = slice(c.values as string[]).filter((_, i) => c.validity?.[start + i] !== 0);
        const sorted = [...new Set(present)].sort(compareStrings);
        const expected = {
          min: sorted[0] ?? null,
          max: sorted[sorted.length - 1] ?? null,
          ...(present.length < group.numRows ? { nullCount: group.numRows - present.length } : {}),
          ...(sorted.length > 1 ? { distinct: sorted } : {}),
        };
        expect(group.columns[tag]).toEqual(expected);
      }
      // Only TAG and key columns carry statistics; the timestamp key is the row group's timeRange.
      expect(Object.keys(group.columns).sort()).toEqual(["dc", "host"]);
    });
  });

  it("records int64/uint64 key statistics as decimal strings", async () => {
    const input = tsbsSortedBatch(5, 300);
    const { meta } = await encodeSst({
      schema: tsbsCpuSchema(),
      batches: [input],
      options: { numRowsPerRowGroup: 400 },
      maxSequence: 1,
    });
    const tsid = input.columns[input.names.indexOf("tsid")]?.values as BigUint64Array;
    meta.rowGroups.forEach((group, g) => {
      const ids = Array.from(tsid.slice(g * 400, g * 400 + group.numRows));
      const min = ids.reduce((a, b) => (b < a ? b : a));
      const max = ids.reduce((a, b) => (b > a ? b : a));
      expect(group.columns.tsid).toEqual({ min: min.toString(), max: max.toString() });
    });
  });

  it("prunes row groups by time range and reads only the others", async () => {
    // 10 hosts x 1000 timestamps, 250 rows per row group: each host spans 4 row groups, each a
    // quarter of the time range.
    const input = tsbsSortedBatch(10, 1000);
    const meta = await writeSst(temp.store, KEY, {
      schema: tsbsCpuSchema(),
      batches: [input],
      options: { numRowsPerRowGroup: 250 },
      maxSequence: 1,
    });
    const timeRange = { start: START_MS + 100 * INTERVAL_MS, end: START_MS + 200 * INTERVAL_MS };
    const scan = readSst(temp.store, KEY, { meta, timeRange, projection: ["hostname", "timestamp"] });
    const rows = rowsOfAll(await collect(scan));
    expect(scan.metrics).toMatchObject({
      rowGroupsTotal: 40,
      rowGroupsPruned: 30,
      rowGroupsRead: 10,
      bytesRead: meta.fileSize,
    });
    expect(scan.metrics.rowsRead).toBe(2500);
    const inRange = (r: unknown[]) => (r[1] as number) >= timeRange.start && (r[1] as number) < timeRange.end;
    expect(rows.filter(inRange)).toEqual(rowsOf(input, ["hostname", "timestamp"]).filter(inRange));
    expect(rows.filter(inRange)).toHaveLength(1000);
  });

  it("prunes row groups by tag equality and IN", async () => {
    const input = tsbsSortedBatch(10, 1000);
    const meta = await writeSst(temp.store, KEY, {
      schema: tsbsCpuSchema(),
      batches: [input],
      options: { numRowsPerRowGroup: 250 },
      maxSequence: 1,
    });
    const hostRows = (hosts: string[]) =>
      rowsOf(input, ["hostname", "timestamp"]).filter((r) => hosts.includes(r[0] as string));

    const one = readSst(temp.store, KEY, { meta, tagFilter: { hostname: ["host_3"] } });
    const oneRows = rowsOfAll(await collect(one), ["hostname", "timestamp"]);
    expect(one.metrics).toMatchObject({ rowGroupsTotal: 40, rowGroupsPruned: 36, rowGroupsRead: 4 });
    expect(oneRows).toEqual(hostRows(["host_3"]));

    const two = readSst(temp.store, KEY, {
      meta,
      tagFilter: { hostname: ["host_3", "host_8"], os: ["os_1"] },
    });
    const twoRows = rowsOfAll(await collect(two), ["hostname", "timestamp"]);
    // host_8 has os_1 (8 % 7); host_3 has os_3, so only host_8's row groups remain.
    expect(two.metrics).toMatchObject({ rowGroupsPruned: 36, rowGroupsRead: 4 });
    expect(twoRows).toEqual(hostRows(["host_8"]));

    const none = readSst(temp.store, KEY, { meta, tagFilter: { hostname: ["host_99"] } });
    expect(await collect(none)).toEqual([]);
    // Pruned by the meta alone: the file is not even fetched.
    expect(none.metrics).toMatchObject({ rowGroupsPruned: 40, rowGroupsRead: 0, bytesRead: 0 });
    const later = readSst(temp.store, KEY, {
      meta,
      timeRange: { start: meta.timeRange.max + 1, end: Infinity },
    });
    expect(await collect(later)).toEqual([]);
    expect(later.metrics).toMatchObject({ rowGroupsTotal: 40, rowGroupsPruned: 40, bytesRead: 0 });
  });

  it("projects columns in the requested order and fills columns the file predates", async () => {
    const request = allTypesRequest(1000, 300);
    const meta = await writeSst(temp.store, KEY, request);
    const input = request.batches[0] as ColumnBatch;

    const projected = await collect(readSst(temp.store, KEY, { meta, projection: ["f64", "host", "blob"] }));
    expect(projected[0]?.names).toEqual(["f64", "host", "blob"]);
    expect(rowsOfAll(projected)).toEqual(rowsOf(input, ["f64", "host", "blob"]));

    const newer = request.schema.withAddedColumns([{ name: "added", type: DataType.Int32 }]);
    const filled = await collect(
      readSst(temp.store, KEY, { meta, schema: newer, projection: ["added", "ts"], batchSize: 128 }),
    );
    expect(filled.every((b) => b.numRows <= 128)).toBe(true);
    expect(rowsOfAll(filled)).toEqual(rowsOf(input, ["ts"]).map(([ts]) => [null, ts]));

    const onlyAdded = await collect(readSst(temp.store, KEY, { meta, schema: newer, projection: ["added"] }));
    expect(rowsOfAll(onlyAdded)).toEqual(Array.from({ length: 1000 }, () => [null]));

    await expect(collect(readSst(temp.store, KEY, { meta, projection: ["added"] }))).rejects.toThrow(
      SstColumnNotFoundError,
    );
  });

  it("reads the SstMeta back from the file alone", async () => {
    const request = allTypesRequest(2000, 600);
    const meta = await writeSst(temp.store, KEY, request);
    expect(await readSstMeta(temp.store, KEY)).toEqual(meta);

    // The key-value metadata is plain JSON in the Parquet footer, for any Parquet reader.
    const bytes = await temp.store.get(KEY);
    const file = await parquetWasm().ParquetFile.fromFile(new Blob([bytes]));
    const raw = file.metadata().fileMetadata().keyValueMetadata().get(SST_META_KEY) as string;
    const embedded = JSON.parse(raw) as Partial<SstMeta>;
    expect(embedded.crc32c).toBe(meta.crc32c);
    expect(embedded.rowGroups).toEqual(meta.rowGroups);
    expect(embedded.fileSize).toBeUndefined();

    // Without a meta from the manifest, the scan reads it from the footer.
    const scan = new SstReader(temp.store).read(KEY, { tagFilter: { host: ["h001"] } });
    const rows = rowsOfAll(await collect(scan), ["host"]);
    expect(scan.metrics.rowGroupsPruned).toBeGreaterThan(0);
    expect(rows.some((r) => r[0] === "h001")).toBe(true);
  });

  it("honours the compression option", async () => {
    const sizes: Record<string, number> = {};
    for (const compression of ["ZSTD", "SNAPPY", "UNCOMPRESSED"] as const) {
      const request = { ...allTypesRequest(2000, 1000), options: { compression, numRowsPerRowGroup: 1000 } };
      const meta = await writeSst(temp.store, `t/${compression}.parquet`, request);
      expect(meta.compression).toBe(compression);
      sizes[compression] = meta.fileSize;
      const rows = rowsOfAll(await collect(readSst(temp.store, `t/${compression}.parquet`, { meta })));
      expect(rows).toEqual(rowsOf(request.batches[0] as ColumnBatch));
    }
    expect(sizes.ZSTD).toBeLessThan(sizes.UNCOMPRESSED as number);
    expect(sizes.SNAPPY).toBeLessThan(sizes.UNCOMPRESSED as number);
  });
});

describe("SST errors", () => {
  async function writeValid(): Promise<{ meta: SstMeta; bytes: Uint8Array }> {
    const meta = await writeSst(temp.store, KEY, allTypesRequest(2000, 500));
    return { meta, bytes: await temp.store.get(KEY) };
  }

  async function expectCorrupt(bytes: Uint8Array, meta: SstMeta | undefined, reason: RegExp): Promise<void> {
    await temp.store.put(KEY, bytes);
    const error = await collect(readSst(temp.store, KEY, { meta })).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SstCorruptionError);
    expect((error as SstCorruptionError).key).toBe(KEY);
    expect((error as SstCorruptionError).message).toContain(KEY);
    expect((error as SstCorruptionError).reason).toMatch(reason);
  }

  it("rejects a file with a flipped bit in its data pages, with or without the meta", async () => {
    const { meta, bytes } = await writeValid();
    const damaged = bytes.slice();
    const at = Math.floor(bytes.length / 3);
    damaged[at] = (damaged[at] as number) ^ 0x10;
    await expectCorrupt(damaged, meta, /checksum mismatch/);
    await expectCorrupt(damaged, undefined, /checksum mismatch/);
  });

  it("rejects a truncated file", async () => {
    const { meta, bytes } = await writeValid();
    await expectCorrupt(bytes.subarray(0, bytes.length - 100), meta, /bytes, the SST meta says/);
    await expectCorrupt(bytes.subarray(0, bytes.length - 100), undefined, /PAR1|footer/);
    await expectCorrupt(bytes.subarray(0, 5), undefined, /too short/);
    await expectCorrupt(new Uint8Array(0), undefined, /too short/);
  });

  it("rejects a damaged footer", async () => {
    const { meta, bytes } = await writeValid();
    const footerLength = Buffer.from(bytes.buffer, bytes.byteOffset).readUInt32LE(bytes.length - 8);
    const damaged = bytes.slice();
    const at = bytes.length - 8 - Math.floor(footerLength / 2);
    damaged[at] = (damaged[at] as number) ^ 0xff;
    await expectCorrupt(damaged, meta, /checksum/);
    const badLength = bytes.slice();
    badLength[bytes.length - 5] = 0x7f;
    await expectCorrupt(badLength, undefined, /footer length/);
  });

  it("rejects a file that is not the one the meta describes", async () => {
    const { meta, bytes } = await writeValid();
    const other = await encodeSst({ ...allTypesRequest(2000, 500), maxSequence: 4321 });
    expect(other.bytes.length).toBe(bytes.length);
    await expectCorrupt(other.bytes, meta, /differs from the SST meta/);
  });

  it("rejects a Parquet file this layer did not write", async () => {
    const wasm = parquetWasm();
    const { bytes } = await writeValid();
    const foreign = wasm.writeParquet(wasm.readParquet(bytes));
    await expectCorrupt(foreign, undefined, /no SST checksum/);
  });

  it("wraps the store's not-found error with the SST key", async () => {
    const error = await collect(readSst(temp.store, "missing/1.parquet")).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SstNotFoundError);
    expect((error as SstNotFoundError).key).toBe("missing/1.parquet");
    expect((error as SstNotFoundError).cause).toBeInstanceOf(ObjectNotFoundError);
    await expect(readSstMeta(temp.store, "missing/1.parquet")).rejects.toThrow(SstNotFoundError);
  });

  it("refuses rows that break the writer's contract", async () => {
    const schema = tsbsCpuSchema();
    const sorted = tsbsSortedBatch(3, 10);
    const base = { schema, maxSequence: 1, table: "cpu" };

    const swapped = splitBatch(sorted, [5, 6]);
    const unsorted = [swapped[1], swapped[0], swapped[2]] as ColumnBatch[];
    await expect(encodeSst({ ...base, batches: unsorted })).rejects.toThrow(/not sorted by primary key/);

    const nullKey = splitBatch(sorted, [])[0] as ColumnBatch;
    const ts = nullKey.columns[nullKey.names.indexOf("timestamp")] as Column;
    const withNull = {
      ...nullKey,
      columns: nullKey.columns.map((c) =>
        c === ts ? { ...c, validity: new Uint8Array(nullKey.numRows).fill(1).fill(0, 4, 5) } : c,
      ),
    };
    const error = await encodeSst({ ...base, batches: [withNull] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SstInputError);
    expect(error).toMatchObject({ table: "cpu", column: "timestamp", row: 4 });

    const unknown = { ...sorted, names: sorted.names.map((n) => (n === "os" ? "nope" : n)) };
    await expect(encodeSst({ ...base, batches: [unknown] })).rejects.toThrow(/not in the schema/);

    const retyped = {
      ...sorted,
      columns: sorted.columns.map((c, i) =>
        sorted.names[i] === "usage_user" ? { ...c, type: DataType.Float, values: new Float32Array(30) } : c,
      ),
    };
    await expect(encodeSst({ ...base, batches: [retyped] })).rejects.toThrow(/the schema says double/);
    await expect(encodeSst({ ...base, batches: [] })).rejects.toThrow(/at least one row/);
  });
});
