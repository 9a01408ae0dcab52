import { describe, expect, it } from "vitest";
import {
  InvalidMetadataRequestError,
  MetadataKeys,
  type ParsedMetadataKey,
} from "../../src/metadata/index.js";
import { prefixRangeEnd } from "../../src/metadata/keys.js";

const keys = new MetadataKeys("/horaedb", "defaultCluster");

describe("metadata key layout", () => {
  it("puts every key under <rootPath>/<cluster>/ in the documented places", () => {
    expect(keys.root).toBe("/horaedb/defaultCluster/");
    expect(keys.clusterSettings()).toBe("/horaedb/defaultCluster/cluster/settings");
    expect(keys.clusterState()).toBe("/horaedb/defaultCluster/cluster/state");
    expect(keys.clusterView()).toBe("/horaedb/defaultCluster/cluster/view");
    expect(keys.schema("public")).toBe("/horaedb/defaultCluster/schemas/public");
    expect(keys.tableById(42)).toBe("/horaedb/defaultCluster/tables/by_id/00000000000000000042");
    expect(keys.tableByName(7, "cpu")).toBe("/horaedb/defaultCluster/tables/by_name/0000000007/cpu");
    expect(keys.shardView(3)).toBe("/horaedb/defaultCluster/shards/0000000003/view");
    expect(keys.node("10.0.0.1:8831")).toBe("/horaedb/defaultCluster/nodes/10.0.0.1%3A8831");
    expect(keys.nodeLease("10.0.0.1:8831")).toBe("/horaedb/defaultCluster/node_leases/10.0.0.1%3A8831");
    expect(keys.procedure(9)).toBe("/horaedb/defaultCluster/procedures/00000000000000000009");
    expect(keys.shardLock(4)).toBe("/horaedb/defaultCluster/shard_locks/0000000004");
    expect(keys.idCounter("table")).toBe("/horaedb/defaultCluster/id_counters/table");
  });

  it("pads ids so that byte order is numeric order", () => {
    const ids = [0, 9, 10, 99, 100, 12_345, 2 ** 32 - 1, Number.MAX_SAFE_INTEGER];
    const tableKeys = ids.map((id) => keys.tableById(id));
    expect([...tableKeys].sort()).toEqual(tableKeys);
    const shardKeys = [0, 1, 10, 4_294_967_295].map((id) => keys.shardView(id));
    expect([...shardKeys].sort()).toEqual(shardKeys);
  });

  it("parses every key back to what it was built from", () => {
    const cases: [string, ParsedMetadataKey][] = [
      [keys.clusterSettings(), { type: "clusterSettings" }],
      [keys.clusterState(), { type: "clusterState" }],
      [keys.clusterView(), { type: "clusterView" }],
      [keys.schema("public"), { type: "schema", schemaName: "public" }],
      [keys.tableById(Number.MAX_SAFE_INTEGER), { type: "tableById", tableId: Number.MAX_SAFE_INTEGER }],
      [
        keys.tableByName(4_294_967_295, "cpu"),
        { type: "tableByName", schemaId: 4_294_967_295, tableName: "cpu" },
      ],
      [keys.shardView(0), { type: "shardView", shardId: 0 }],
      [keys.node("h:1"), { type: "node", nodeName: "h:1" }],
      [keys.nodeLease("h:1"), { type: "nodeLease", nodeName: "h:1" }],
      [keys.procedure(1), { type: "procedure", procedureId: 1 }],
      [keys.shardLock(7), { type: "shardLock", shardId: 7 }],
      [keys.clusterSchedule(), { type: "clusterSchedule" }],
      [keys.idCounter("procedure"), { type: "idCounter", kind: "procedure" }],
    ];
    for (const [key, parsed] of cases) expect(keys.parse(key)).toEqual(parsed);
  });

  it("encodes names so that slashes, percent signs and non-ASCII survive a round trip", () => {
    for (const name of ["a/b", "../x", "100%", "温度", "a b?c#d", "with%2Fescape"]) {
      const key = keys.tableByName(1, name);
      expect(key.split("/")).toHaveLength(keys.root.split("/").length + 3);
      expect(keys.parse(key)).toEqual({ type: "tableByName", schemaId: 1, tableName: name });
      expect(keys.parse(keys.schema(name))).toEqual({ type: "schema", schemaName: name });
    }
  });

  it("does not parse keys of another cluster, unknown areas or non-canonical segments", () => {
    const other = new MetadataKeys("/horaedb", "other");
    expect(keys.parse(other.clusterView())).toBeUndefined();
    expect(keys.parse("/horaedb/defaultClusterX/cluster/view")).toBeUndefined();
    expect(keys.parse(`${keys.root}unknown/x`)).toBeUndefined();
    expect(keys.parse(`${keys.root}cluster/other`)).toBeUndefined();
    expect(keys.parse(`${keys.root}tables/by_id/42`)).toBeUndefined(); // not padded
    expect(keys.parse(`${keys.root}shards/00000000000000000003/view`)).toBeUndefined(); // wrong width
    expect(keys.parse(`${keys.root}shards/0000000003/lock`)).toBeUndefined();
    expect(keys.parse(`${keys.root}schemas/a%2fb`)).toBeUndefined(); // lower-case escape: not ours
    expect(keys.parse(`${keys.root}schemas/%E0%A4%A`)).toBeUndefined(); // malformed escape
    expect(keys.parse(`${keys.root}schemas/`)).toBeUndefined();
    expect(keys.parse(`${keys.root}id_counters/node`)).toBeUndefined();
  });

  it("refuses ids and names that cannot be keys", () => {
    expect(() => keys.tableById(-1)).toThrow(InvalidMetadataRequestError);
    expect(() => keys.tableById(1.5)).toThrow(InvalidMetadataRequestError);
    expect(() => keys.tableById(Number.MAX_SAFE_INTEGER + 1)).toThrow(InvalidMetadataRequestError);
    expect(() => keys.shardView(2 ** 32)).toThrow(InvalidMetadataRequestError);
    expect(() => keys.schema("")).toThrow(InvalidMetadataRequestError);
  });

  it("validates the root path and cluster name like the configuration does", () => {
    expect(() => new MetadataKeys("horaedb", "c")).toThrow(/rootPath/);
    expect(() => new MetadataKeys("/horaedb/", "c")).toThrow(/rootPath/);
    expect(() => new MetadataKeys("/horaedb", "a/b")).toThrow(/clusterName/);
    expect(new MetadataKeys("/a/b", "c-1").root).toBe("/a/b/c-1/");
  });

  it("ends a prefix range just past every key with that prefix", () => {
    expect(prefixRangeEnd("/a/")).toEqual(Buffer.from("/a0"));
    // UTF-8 "\u00ff" is c3 bf: the last byte is incremented, not the code point.
    expect(prefixRangeEnd("a\u00ff")).toEqual(Buffer.from([0x61, 0xc3, 0xc0]));
    const prefix = keys.tablesByIdPrefix();
    const end = prefixRangeEnd(prefix);
    expect(Buffer.compare(Buffer.from(keys.tableById(Number.MAX_SAFE_INTEGER)), end)).toBe(-1);
    expect(Buffer.compare(Buffer.from(keys.tableByName(0, "a")), end)).toBe(1);
  });
});
