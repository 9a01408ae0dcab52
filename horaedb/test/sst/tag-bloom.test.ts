import { describe, expect, it } from "vitest";
import type { Column } from "../../src/batch/column.js";
import {
  encodeSst,
  MAX_DISTINCT_TAG_VALUES,
  MAX_TAG_BLOOM_VALUES,
  parseSstMeta,
  selectRowGroups,
  type ColumnStats,
} from "../../src/sst/index.js";
import { buildTagBloom, isValidTagBloom, tagBloomMayContain } from "../../src/sst/tag-bloom.js";
import { tsbsCpuSchema, tsbsSortedBatch } from "../../src/testing/tsbs.js";

const values = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe("tag Bloom filter", () => {
  it("holds every value it was built from", () => {
    for (const n of [1, 17, 100, 1024]) {
      const all = values("host_", n);
      const bloom = buildTagBloom(all, n);
      expect(isValidTagBloom(bloom)).toBe(true);
      for (const value of all) expect(tagBloomMayContain(bloom, value), `${value} of ${n}`).toBe(true);
    }
    // Not only ASCII: every UTF-16 code unit counts.
    const bloom = buildTagBloom(["ünïcödé", "中文", "emoji 🚀"], 3);
    for (const value of ["ünïcödé", "中文", "emoji 🚀"]) expect(tagBloomMayContain(bloom, value)).toBe(true);
  });

  it("rules out about 99 of 100 values it was not built from", () => {
    const bloom = buildTagBloom(values("host_", 100), 100);
    const absent = values("other_", 10_000);
    const falsePositives = absent.filter((value) => tagBloomMayContain(bloom, value)).length;
    expect(falsePositives / absent.length).toBeLessThan(0.02);
  });

  it("has a fixed encoding, part of the SST format", () => {
    // Files written earlier are read with this code: the bits of a set must never change.
    // (Checked against a separate implementation of the format described in tag-bloom.ts.)
    expect(buildTagBloom(["host_0", "host_1", "host_2"], 3)).toEqual({ hashes: 7, bits: "SZIlSTIAAA4=" });
  });

  it("refuses malformed filters", () => {
    const good = buildTagBloom(values("v", 20), 20);
    expect(isValidTagBloom({ ...good, hashes: 0 })).toBe(false);
    expect(isValidTagBloom({ ...good, hashes: 33 })).toBe(false);
    expect(isValidTagBloom({ ...good, bits: "AAAA" })).toBe(false); // 3 bytes: under 64 bits
    expect(isValidTagBloom({ ...good, bits: "not base64!" })).toBe(false);
  });
});

describe("tag Bloom filters in SstMeta", () => {
  // 100 hosts of 30 rows each, sorted by series: 1,000-row groups hold about 34 hosts each.
  const schema = tsbsCpuSchema();
  const batch = tsbsSortedBatch(100, 30);
  const hostname = batch.columns[batch.names.indexOf("hostname")] as Column;

  it("sums up a row group's tag values in a filter when there are too many to list, and prunes by it", async () => {
    const { meta } = await encodeSst({
      schema,
      batches: [batch],
      options: { numRowsPerRowGroup: 1000 },
      maxSequence: 1,
    });
    const hostsOf = meta.rowGroups.map(
      (_, g) => new Set((hostname.values as string[]).slice(g * 1000, g * 1000 + 1000)),
    );
    for (const [g, group] of meta.rowGroups.entries()) {
      const stats = group.columns.hostname;
      expect(hostsOf[g]?.size).toBeGreaterThan(MAX_DISTINCT_TAG_VALUES);
      expect(stats?.distinct).toBeUndefined();
      expect(stats?.bloom).toBeDefined();
    }
    // The filter survives the meta's JSON (manifest and file footer) as it is.
    const parsed = parseSstMeta(JSON.parse(JSON.stringify(meta)) as unknown);
    expect(parsed.rowGroups).toEqual(meta.rowGroups);

    let kept = 0;
    let wrong = 0;
    for (let h = 0; h < 100; h++) {
      const host = `host_${h}`;
      const selected = selectRowGroups(parsed, { tagFilter: { hostname: [host] } });
      const holding = meta.rowGroups.map((_, g) => g).filter((g) => hostsOf[g]?.has(host) === true);
      // Never a row group that holds the host left out; rarely one that does not kept.
      for (const g of holding) expect(selected, host).toContain(g);
      kept += selected.length;
      wrong += selected.length - holding.length;
    }
    expect(wrong).toBeLessThan(kept * 0.05);
    // min/max alone (series ids are hashes, so each group spans nearly every host) keep far more.
    const withoutFilters = {
      ...parsed,
      rowGroups: parsed.rowGroups.map((g) => ({
        ...g,
        columns: { ...g.columns, hostname: { ...g.columns.hostname, bloom: undefined } as ColumnStats },
      })),
    };
    let keptByMinMax = 0;
    for (let h = 0; h < 100; h++) {
      keptByMinMax += selectRowGroups(withoutFilters, { tagFilter: { hostname: [`host_${h}`] } }).length;
    }
    expect(kept).toBeLessThan(keptByMinMax * 0.6);
  });

  it("keeps no filter for a row group of more distinct values than MAX_TAG_BLOOM_VALUES", async () => {
    const many = tsbsSortedBatch(MAX_TAG_BLOOM_VALUES + 1, 1);
    const { meta } = await encodeSst({
      schema,
      batches: [many],
      options: { numRowsPerRowGroup: MAX_TAG_BLOOM_VALUES + 1 },
      maxSequence: 1,
    });
    expect(meta.rowGroups).toHaveLength(1);
    expect(meta.rowGroups[0]?.columns.hostname?.bloom).toBeUndefined();
    expect(meta.rowGroups[0]?.columns.hostname?.distinct).toBeUndefined();
  });
});
