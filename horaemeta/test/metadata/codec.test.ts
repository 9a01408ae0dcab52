import { describe, expect, it } from "vitest";
import {
  decodeRecord,
  encodeRecord,
  METADATA_FORMAT,
  MetadataCorruptionError,
  type MetadataRecordKind,
} from "../../src/metadata/index.js";
import type { MetadataRecordTypes } from "../../src/metadata/codec.js";

const KEY = "/horaedb/c/some/key";

const samples: { [K in MetadataRecordKind]: MetadataRecordTypes[K] } = {
  cluster_settings: {
    name: "c",
    shardCount: 8,
    followersPerShard: 1,
    topologyType: "dynamic",
    minNodeCount: 2,
    nodeLeaseTtlMs: 10_000,
    metaLeaderLeaseTtlMs: 5_000,
    createdAtMs: 1_700_000_000_000,
  },
  cluster_state: { state: "Prepare", updatedAtMs: 1 },
  cluster_view: {
    version: 3,
    shards: [
      { shardId: 0, leader: "a:1", followers: ["b:1", "c:1"] },
      { shardId: 1, leader: null, followers: [] },
    ],
    updatedAtMs: 2,
  },
  schema: { id: 1, name: "public", createdAtMs: 3 },
  table: {
    id: 2 ** 40,
    name: "cpu",
    schemaId: 1,
    schemaName: "public",
    shardId: null,
    partitionInfo: { keyColumns: ["host"], partitionCount: 2, subTableNames: ["__cpu_0", "__cpu_1"] },
    parentTableId: null,
    tableSchema: {
      columns: [{ name: "ts", data_type: "DATA_TYPE_TIMESTAMP", is_tag: false, default_expr: null }],
      timestamp_column: "ts",
      version: 1,
    },
    options: { ttl: "7d" },
    createdAtMs: 4,
    createRequestId: "req-1",
  },
  table_name: { tableId: 7 },
  shard_view: { shardId: 2, version: 9, tableIds: [3, 1, 2], updatedAtMs: 5 },
  node: {
    name: "10.0.0.1:8831",
    endpoint: { host: "10.0.0.1", port: 8831 },
    zone: "z1",
    binaryVersion: "0.1.0",
    lastHeartbeatMs: 6,
    leaseTtlMs: 10_000,
    leaseDeadlineMs: 10_006,
    etcdLeaseId: "7587869361531541257",
    shards: [{ shardId: 1, role: "leader", version: 4, status: "ready" }],
    load: { cpuUsage: 0.5, memoryBytes: 1024, writeRowsPerSecond: 10.5, queriesPerSecond: 0 },
    shardLoads: [{ shardId: 1, memtableBytes: 512, writeRowsPerSecond: 10.5 }],
  },
  node_lease: { etcdLeaseId: "1", grantedAtMs: 7 },
  procedure: {
    id: 11,
    kind: "TransferLeader",
    state: "Running",
    shardIds: [1, 2],
    params: { from: "a:1", to: "b:1", nested: [1, "x", null, true] },
    history: [
      { state: "Init", atMs: 8 },
      { state: "Running", atMs: 9, detail: "closing shard on a:1" },
    ],
    createdAtMs: 8,
    updatedAtMs: 9,
  },
  shard_lock: { procedureId: 11, kind: "TransferLeader" },
  schedule: { enabled: false, updatedAtMs: 12, reason: "maintenance" },
  id_counter: { next: 4096 },
};

function bytes(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

/** The stored JSON of `record` with `patch` applied to its record fields. */
function patched<K extends MetadataRecordKind>(
  kind: K,
  record: MetadataRecordTypes[K],
  patch: Record<string, unknown>,
): Buffer {
  const stored = JSON.parse(encodeRecord(kind, record)) as { data: Record<string, unknown> };
  stored.data = { ...stored.data, ...patch };
  for (const [field, value] of Object.entries(patch)) if (value === undefined) delete stored.data[field];
  return bytes(stored);
}

function corruption(run: () => unknown): MetadataCorruptionError {
  try {
    run();
  } catch (error) {
    if (error instanceof MetadataCorruptionError) return error;
    throw error;
  }
  throw new Error("expected a MetadataCorruptionError");
}

describe("metadata value codec", () => {
  it("round-trips every record kind, nested in an envelope with the format and the kind", () => {
    for (const kind of Object.keys(samples) as MetadataRecordKind[]) {
      const encoded = encodeRecord(kind, samples[kind]);
      expect(JSON.parse(encoded)).toEqual({ format: METADATA_FORMAT, kind, data: samples[kind] });
      expect(decodeRecord(kind, KEY, Buffer.from(encoded))).toEqual(samples[kind]);
    }
  });

  it("ignores fields it does not know, so a later writer may add some", () => {
    const stored = patched("shard_view", samples.shard_view, { leaderHint: "x" });
    expect(decodeRecord("shard_view", KEY, stored)).toEqual(samples.shard_view);
  });

  it("reads a table record written before sub-tables existed as a table with no parent", () => {
    const plain = { ...samples.table, shardId: 5, partitionInfo: null };
    // `undefined` removes the field from the stored value.
    expect(decodeRecord("table", KEY, patched("table", plain, { parentTableId: undefined }))).toEqual(plain);
  });

  it("reports a value that is not JSON, or not an object, as corruption at its key", () => {
    const notJson = corruption(() => decodeRecord("schema", KEY, Buffer.from("{oops")));
    expect(notJson.key).toBe(KEY);
    expect(notJson.reason).toBe("value is not JSON");
    expect(corruption(() => decodeRecord("schema", KEY, bytes([1, 2]))).reason).toBe(
      "value is not a JSON object",
    );
  });

  it("refuses another format version", () => {
    const stored = { ...(JSON.parse(encodeRecord("schema", samples.schema)) as object), format: 2 };
    expect(corruption(() => decodeRecord("schema", KEY, bytes(stored))).reason).toContain(
      "unsupported format 2",
    );
    const { format: _format, ...withoutFormat } = JSON.parse(
      encodeRecord("schema", samples.schema),
    ) as Record<string, unknown>;
    expect(corruption(() => decodeRecord("schema", KEY, bytes(withoutFormat))).reason).toContain(
      "unsupported format undefined",
    );
  });

  it("refuses a record of another kind, e.g. a table record under a shard key", () => {
    const error = corruption(() =>
      decodeRecord("shard_view", KEY, Buffer.from(encodeRecord("table", samples.table))),
    );
    expect(error.reason).toBe('holds a "table" record, expected shard_view');
  });

  it("names the first invalid field", () => {
    const reason = (stored: Buffer, kind: MetadataRecordKind) =>
      corruption(() => decodeRecord(kind, KEY, stored)).reason;
    expect(reason(patched("shard_view", samples.shard_view, { version: 0 }), "shard_view")).toMatch(
      /^version: /,
    );
    expect(reason(patched("shard_view", samples.shard_view, { tableIds: [1, -2] }), "shard_view")).toMatch(
      /^tableIds\.1: /,
    );
    expect(
      reason(patched("cluster_state", samples.cluster_state, { state: "Broken" }), "cluster_state"),
    ).toMatch(/^state: /);
    expect(reason(patched("table", samples.table, { shardId: undefined }), "table")).toMatch(/^shardId: /);
    expect(reason(bytes({ format: METADATA_FORMAT, kind: "table" }), "table")).toMatch(/^\$: /);
  });
});
