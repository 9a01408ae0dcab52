import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { Etcd3 } from "etcd3";
import { afterAll, describe, expect, inject, it } from "vitest";
import {
  ClusterNotFoundError,
  ClusterStateConflictError,
  ClusterViewConflictError,
  decodeRecord,
  InvalidClusterStateTransitionError,
  InvalidMetadataRequestError,
  MetadataConflictError,
  MetadataStore,
  ProcedureConflictError,
  ProcedureNotFoundError,
  ShardLockedError,
  retryOnConflict,
  SchemaNotFoundError,
  ShardNotEmptyError,
  ShardNotFoundError,
  ShardVersionConflictError,
  SubTableNameTakenError,
  TableAlreadyExistsError,
  TableNotFoundError,
  TableNotInShardError,
  type MetadataStoreOptions,
  type ShardView,
  type TableRecord,
} from "@horaedb/horaemeta/metadata";
import { waitFor } from "../support/wait.js";

// The cluster metadata store against a real etcd (design §5): every operation, the compare-and-swap
// guards, block id allocation, node leases, and a randomized run of concurrent writers.

const CALL_DEADLINE_MS = 5_000;
const { etcd } = inject("services");

/** Every store and the raw client are closed at the end; each test uses roots of its own. */
const stores: MetadataStore[] = [];
const roots: string[] = [];
const raw = new Etcd3({
  hosts: etcd.endpoints,
  dialTimeout: CALL_DEADLINE_MS,
  defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + CALL_DEADLINE_MS }),
});

afterAll(async () => {
  for (const store of stores) store.close();
  await Promise.all(roots.map((root) => raw.delete().prefix(`${root}/`)));
  raw.close();
});

/** A fresh root path: tests never see each other's keys. */
function freshRoot(): string {
  const root = `/horaedb-test/${randomUUID()}`;
  roots.push(root);
  return root;
}

/** A store with its own etcd client, like a separate horaemeta process. */
function openStore(rootPath: string, options: Partial<MetadataStoreOptions> = {}): MetadataStore {
  const store = MetadataStore.connect({
    endpoints: etcd.endpoints,
    rootPath,
    clusterName: "test",
    callTimeoutMs: CALL_DEADLINE_MS,
    ...options,
  });
  stores.push(store);
  return store;
}

const TABLE_SCHEMA = {
  columns: [
    { name: "ts", data_type: "DATA_TYPE_TIMESTAMP", is_tag: false, is_nullable: false },
    { name: "host", data_type: "DATA_TYPE_STRING", is_tag: true, is_nullable: false },
    { name: "value", data_type: "DATA_TYPE_DOUBLE", is_tag: false, is_nullable: true },
  ],
  timestamp_column: "ts",
  primary_key_columns: [],
  version: 1,
};

/** A created cluster with a `public` schema. */
async function clusterWithSchema(
  shardCount = 4,
): Promise<{ store: MetadataStore; root: string; schemaId: number }> {
  const root = freshRoot();
  const store = openStore(root);
  await store.cluster.createCluster({ shardCount });
  const { schema } = await store.schemas.create("public");
  return { store, root, schemaId: schema.id };
}

function createTable(store: MetadataStore, tableName: string, shardId: number, requestId?: string) {
  return store.tables.create({
    schemaName: "public",
    tableName,
    shardId,
    tableSchema: TABLE_SCHEMA,
    ...(requestId === undefined ? {} : { requestId }),
  });
}

async function rawKeys(prefix: string): Promise<string[]> {
  return raw.getAll().prefix(prefix).keys();
}

describe("cluster", () => {
  it("creates settings, state Empty, empty shards at version 1 and an unplaced view at version 1", async () => {
    const root = freshRoot();
    const store = openStore(root, { now: () => 1_700_000_000_000 });
    const { settings, created } = await store.cluster.createCluster({ shardCount: 3, followersPerShard: 1 });

    expect(created).toBe(true);
    expect(settings).toEqual({
      name: "test",
      shardCount: 3,
      followersPerShard: 1,
      topologyType: "static",
      minNodeCount: 1,
      nodeLeaseTtlMs: 10_000,
      metaLeaderLeaseTtlMs: 10_000,
      createdAtMs: 1_700_000_000_000,
    });
    expect(await store.cluster.getSettings()).toEqual(settings);
    expect((await store.cluster.getState()).state).toBe("Empty");
    const view = await store.cluster.getView();
    expect(view.version).toBe(1);
    expect(view.shards).toEqual([0, 1, 2].map((shardId) => ({ shardId, leader: null, followers: [] })));
    expect((await store.shards.list()).map((s) => [s.shardId, s.version, s.tableIds])).toEqual([
      [0, 1, []],
      [1, 1, []],
      [2, 1, []],
    ]);
    expect(await rawKeys(`${root}/`)).toEqual([
      `${root}/test/cluster/settings`,
      `${root}/test/cluster/state`,
      `${root}/test/cluster/view`,
      `${root}/test/id_counters/shard`,
      `${root}/test/shards/0000000000/view`,
      `${root}/test/shards/0000000001/view`,
      `${root}/test/shards/0000000002/view`,
    ]);
  });

  it("is created once: concurrent and later creators get the stored settings back", async () => {
    const root = freshRoot();
    const creators = [openStore(root), openStore(root), openStore(root)];
    const results = await Promise.all(
      creators.map((store, i) => store.cluster.createCluster({ shardCount: 4 + i })),
    );

    expect(results.filter((r) => r.created)).toHaveLength(1);
    const winner = results.find((r) => r.created)!.settings;
    for (const result of results) expect(result.settings).toEqual(winner);
    const later = await openStore(root).cluster.createCluster({ shardCount: 99 });
    expect(later).toEqual({ settings: winner, created: false });
    expect((await creators[0]!.cluster.getView()).shards).toHaveLength(winner.shardCount);
  });

  it("creates more shards than one etcd transaction can hold", async () => {
    const store = openStore(freshRoot());
    await store.cluster.createCluster({ shardCount: 300 });
    expect((await store.shards.list()).map((s) => s.shardId)).toEqual([...Array(300).keys()]);
    expect((await store.cluster.getView()).shards).toHaveLength(300);
  });

  it("moves the state Empty -> Prepare -> Stable -> Prepare and refuses other changes", async () => {
    const store = openStore(freshRoot());
    await expect(store.cluster.setState("Prepare")).rejects.toBeInstanceOf(ClusterNotFoundError);
    await store.cluster.createCluster();

    await expect(store.cluster.setState("Stable")).rejects.toMatchObject({
      constructor: InvalidClusterStateTransitionError,
      from: "Empty",
      to: "Stable",
    });
    expect((await store.cluster.setState("Prepare", { expected: "Empty" })).state).toBe("Prepare");
    const again = await store.cluster.setState("Prepare");
    expect(again.state).toBe("Prepare");
    await expect(store.cluster.setState("Stable", { expected: "Empty" })).rejects.toMatchObject({
      constructor: ClusterStateConflictError,
      expectedState: "Empty",
      actualState: "Prepare",
    });
    expect((await store.cluster.setState("Stable")).state).toBe("Stable");
    expect((await store.cluster.setState("Prepare")).state).toBe("Prepare");
    expect((await store.cluster.getState()).state).toBe("Prepare");
  });

  it("reports a cluster that was never created", async () => {
    const store = openStore(freshRoot());
    await expect(store.cluster.getSettings()).rejects.toBeInstanceOf(ClusterNotFoundError);
    await expect(store.cluster.getView()).rejects.toBeInstanceOf(ClusterNotFoundError);
    await expect(store.routes.route("public", ["cpu"])).rejects.toBeInstanceOf(ClusterNotFoundError);
  });
});

describe("cluster view and shards", () => {
  it("assigns leaders and followers: topology version + 1, changed shards' versions + 1", async () => {
    const store = openStore(freshRoot());
    await store.cluster.createCluster({ shardCount: 3 });
    const { view, changedShards } = await store.cluster.assignShards({
      expectedVersion: 1,
      assignments: [
        { shardId: 0, leader: "a:1", followers: ["c:1", "b:1"] },
        { shardId: 2, leader: "b:1", followers: [] },
      ],
    });

    expect(view.version).toBe(2);
    expect(view.shards).toEqual([
      { shardId: 0, leader: "a:1", followers: ["b:1", "c:1"] },
      { shardId: 1, leader: null, followers: [] },
      { shardId: 2, leader: "b:1", followers: [] },
    ]);
    expect(changedShards.map((s) => [s.shardId, s.version])).toEqual([
      [0, 2],
      [2, 2],
    ]);
    expect(await store.cluster.getView()).toEqual(view);
    expect((await store.shards.get(1)).version).toBe(1);
    expect((await store.shards.get(2)).version).toBe(2);
  });

  it("answers a repeated assignment with the current view and writes nothing", async () => {
    const store = openStore(freshRoot());
    await store.cluster.createCluster({ shardCount: 2 });
    const request = { expectedVersion: 1, assignments: [{ shardId: 1, leader: "a:1", followers: ["b:1"] }] };
    const first = await store.cluster.assignShards(request);
    const repeat = await store.cluster.assignShards(request);

    expect(repeat.view).toEqual(first.view);
    expect(repeat.changedShards).toEqual([]);
    expect((await store.shards.get(1)).version).toBe(2);
  });

  it("refuses a stale topology version, an unknown shard and a leader among the followers", async () => {
    const store = openStore(freshRoot());
    await store.cluster.createCluster({ shardCount: 2 });
    await store.cluster.assignShards({ assignments: [{ shardId: 0, leader: "a:1", followers: [] }] });

    await expect(
      store.cluster.assignShards({
        expectedVersion: 1,
        assignments: [{ shardId: 1, leader: "b:1", followers: [] }],
      }),
    ).rejects.toMatchObject({ constructor: ClusterViewConflictError, expectedVersion: 1, actualVersion: 2 });
    await expect(
      store.cluster.assignShards({ assignments: [{ shardId: 7, leader: "b:1", followers: [] }] }),
    ).rejects.toBeInstanceOf(ShardNotFoundError);
    await expect(
      store.cluster.assignShards({ assignments: [{ shardId: 1, leader: "b:1", followers: ["b:1"] }] }),
    ).rejects.toBeInstanceOf(InvalidMetadataRequestError);
    expect((await store.cluster.getView()).version).toBe(2);
  });

  it("lets exactly one of two concurrent assigners of the same view version win", async () => {
    const root = freshRoot();
    const [a, b] = [openStore(root), openStore(root)];
    await a.cluster.createCluster({ shardCount: 2 });
    const results = await Promise.allSettled([
      a.cluster.assignShards({
        expectedVersion: 1,
        assignments: [{ shardId: 0, leader: "a:1", followers: [] }],
      }),
      b.cluster.assignShards({
        expectedVersion: 1,
        assignments: [{ shardId: 1, leader: "b:1", followers: [] }],
      }),
    ]);

    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const loser = results.find((r) => r.status === "rejected")!;
    expect(loser.reason).toBeInstanceOf(MetadataConflictError);
    expect((await a.cluster.getView()).version).toBe(2);
  });

  it("adds a shard with a fresh id and deletes only empty shards", async () => {
    const { store } = await clusterWithSchema(2);
    const { shard, view } = await store.shards.create();

    expect(shard).toMatchObject({ shardId: 2, version: 1, tableIds: [] });
    expect(view.version).toBe(2);
    expect(view.shards.map((s) => s.shardId)).toEqual([0, 1, 2]);
    await createTable(store, "cpu", 2);
    await expect(store.shards.delete(2)).rejects.toBeInstanceOf(ShardNotEmptyError);
    await store.tables.drop({ schemaName: "public", tableName: "cpu" });
    await expect(store.shards.delete(2, { expectedVersion: 2 })).rejects.toBeInstanceOf(
      ShardVersionConflictError,
    );
    const after = await store.shards.delete(2, { expectedVersion: 3 });

    expect(after.version).toBe(3);
    expect(after.shards.map((s) => s.shardId)).toEqual([0, 1]);
    await expect(store.shards.get(2)).rejects.toBeInstanceOf(ShardNotFoundError);
    // Shard ids are never reused.
    expect((await store.shards.create()).shard.shardId).toBe(3);
  });
});

describe("schemas", () => {
  it("creates a schema once; concurrent and repeated creators get the same id", async () => {
    const root = freshRoot();
    const creators = [openStore(root), openStore(root), openStore(root)];
    const results = await Promise.all(creators.map((store) => store.schemas.create("metrics")));

    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.schema.id)).size).toBe(1);
    const repeat = await creators[1]!.schemas.create("metrics");
    expect(repeat).toEqual({ schema: results[0]!.schema, created: false });
    const other = await creators[2]!.schemas.create("public");
    expect(other.schema.id).not.toBe(repeat.schema.id);
    expect((await creators[0]!.schemas.list()).map((s) => s.name)).toEqual(["metrics", "public"]);
    expect(await creators[0]!.schemas.get("nope")).toBeUndefined();
  });
});

describe("tables", () => {
  it("creates a table: record, name key and shard view with the id appended, version + 1", async () => {
    const { store, root, schemaId } = await clusterWithSchema();
    const { table, shardVersion, created } = await store.tables.create({
      schemaName: "public",
      tableName: "cpu",
      shardId: 2,
      tableSchema: TABLE_SCHEMA,
      options: { ttl: "7d" },
    });

    expect(created).toBe(true);
    expect(shardVersion).toBe(2);
    expect(table).toMatchObject({
      name: "cpu",
      schemaId,
      schemaName: "public",
      shardId: 2,
      tableSchema: TABLE_SCHEMA,
      options: { ttl: "7d" },
      partitionInfo: null,
      parentTableId: null,
    });
    expect(await store.tables.get("public", "cpu")).toEqual(table);
    expect(await store.tables.getById(table.id)).toEqual(table);
    expect(await store.shards.get(2)).toMatchObject({ version: 2, tableIds: [table.id] });
    expect(await rawKeys(`${root}/test/tables/`)).toEqual([
      `${root}/test/tables/by_id/${String(table.id).padStart(20, "0")}`,
      `${root}/test/tables/by_name/${String(schemaId).padStart(10, "0")}/cpu`,
    ]);
    const [ofShard] = await store.tables.tablesOfShards([2]);
    expect(ofShard).toEqual({ shard: await store.shards.get(2), tables: [table] });
  });

  it("refuses a missing schema, a missing shard and a taken name", async () => {
    const { store } = await clusterWithSchema();
    const { table } = await createTable(store, "cpu", 0);

    await expect(
      store.tables.create({ schemaName: "nope", tableName: "cpu", shardId: 0, tableSchema: {} }),
    ).rejects.toBeInstanceOf(SchemaNotFoundError);
    await expect(createTable(store, "mem", 17)).rejects.toBeInstanceOf(ShardNotFoundError);
    await expect(createTable(store, "cpu", 1)).rejects.toMatchObject({
      constructor: TableAlreadyExistsError,
      table,
    });
    expect((await store.shards.get(1)).version).toBe(1);
  });

  it("lets exactly one of two concurrent creators of the same table win", async () => {
    const { root, store } = await clusterWithSchema();
    const other = openStore(root);
    const results = await Promise.allSettled([createTable(store, "cpu", 0), createTable(other, "cpu", 1)]);

    const won = results.filter((r) => r.status === "fulfilled");
    const lost = results.filter((r) => r.status === "rejected");
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    const winner = (won[0] as PromiseFulfilledResult<{ table: TableRecord }>).value.table;
    expect((lost[0] as PromiseRejectedResult).reason).toMatchObject({
      constructor: TableAlreadyExistsError,
      table: winner,
    });
    const shards = await store.shards.list();
    expect(shards.flatMap((s) => s.tableIds)).toEqual([winner.id]);
    expect(shards.map((s) => s.version).sort()).toEqual([1, 1, 1, 2]);
    expect(await store.tables.list()).toEqual([winner]);
  });

  it("refuses a create against a stale shard version and writes nothing", async () => {
    const { store } = await clusterWithSchema();
    await createTable(store, "cpu", 0); // shard 0 now at version 2

    const create = store.tables.create({
      schemaName: "public",
      tableName: "mem",
      shardId: 0,
      tableSchema: TABLE_SCHEMA,
      expectedShardVersion: 1,
    });
    await expect(create).rejects.toMatchObject({
      constructor: ShardVersionConflictError,
      shardId: 0,
      expectedVersion: 1,
      actualVersion: 2,
    });
    expect(await store.tables.get("public", "mem")).toBeUndefined();
    expect((await store.shards.get(0)).version).toBe(2);
  });

  it("answers a retried create (same request id) with the table the first one created", async () => {
    const { root, store } = await clusterWithSchema();
    const first = await createTable(store, "cpu", 1, "procedure-17");
    // The retry may come from another horaemeta after a leader change.
    const retry = await createTable(openStore(root), "cpu", 1, "procedure-17");

    expect(retry).toEqual({ table: first.table, shardVersion: first.shardVersion, created: false });
    expect(await store.shards.get(1)).toMatchObject({ version: 2, tableIds: [first.table.id] });
    await expect(createTable(store, "cpu", 1, "procedure-18")).rejects.toBeInstanceOf(
      TableAlreadyExistsError,
    );
  });

  it("creates a partitioned table and its sub-tables in one transaction, and drops them in one", async () => {
    const { store } = await clusterWithSchema();
    const request = {
      schemaName: "public",
      tableName: "cpu",
      tableSchema: TABLE_SCHEMA,
      keyColumns: ["host"],
      subTables: [
        { name: "__cpu_0", shardId: 1 },
        { name: "__cpu_1", shardId: 2 },
        { name: "__cpu_2", shardId: 1 },
      ],
      requestId: "partitioned-1",
    };
    const { table, subTables, created } = await store.tables.createPartitioned(request);
    expect(created).toBe(true);
    expect(table).toMatchObject({
      name: "cpu",
      shardId: null,
      parentTableId: null,
      partitionInfo: {
        keyColumns: ["host"],
        partitionCount: 3,
        subTableNames: ["__cpu_0", "__cpu_1", "__cpu_2"],
      },
    });
    expect(subTables.map((sub) => [sub.name, sub.shardId, sub.parentTableId])).toEqual([
      ["__cpu_0", 1, table.id],
      ["__cpu_1", 2, table.id],
      ["__cpu_2", 1, table.id],
    ]);
    // Each shard touched goes up one version, whatever number of sub-tables it got.
    expect(await store.shards.get(1)).toMatchObject({
      version: 2,
      tableIds: [subTables[0]!.id, subTables[2]!.id],
    });
    expect(await store.shards.get(2)).toMatchObject({ version: 2, tableIds: [subTables[1]!.id] });
    expect(await store.shards.get(0)).toMatchObject({ version: 1, tableIds: [] });
    expect(await store.tables.subTablesOf(table)).toEqual(subTables);
    // A repeat of the request is answered with what it created; another request is refused.
    expect(await store.tables.createPartitioned(request)).toEqual({ table, subTables, created: false });
    await expect(store.tables.createPartitioned({ ...request, requestId: "other" })).rejects.toBeInstanceOf(
      TableAlreadyExistsError,
    );
    await expect(
      store.tables.createPartitioned({
        ...request,
        tableName: "mem",
        subTables: [{ name: "__cpu_1", shardId: 0 }],
      }),
    ).rejects.toBeInstanceOf(SubTableNameTakenError);
    expect(await store.tables.get("public", "mem")).toBeUndefined();
    // Neither half goes on its own with the plain drop.
    await expect(store.tables.drop({ schemaName: "public", tableName: "cpu" })).rejects.toBeInstanceOf(
      InvalidMetadataRequestError,
    );
    await expect(store.tables.drop({ schemaName: "public", tableName: "__cpu_1" })).rejects.toBeInstanceOf(
      InvalidMetadataRequestError,
    );

    const dropped = await store.tables.dropPartitioned({ schemaName: "public", tableName: "cpu" });
    expect(dropped).toEqual({ table, subTables });
    expect(await store.tables.list()).toEqual([]);
    expect(await store.shards.get(1)).toMatchObject({ version: 3, tableIds: [] });
    expect(await store.shards.get(2)).toMatchObject({ version: 3, tableIds: [] });
    await expect(
      store.tables.dropPartitioned({ schemaName: "public", tableName: "cpu" }),
    ).rejects.toBeInstanceOf(TableNotFoundError);
  });

  it("drops a table: record, name key and shard membership, version + 1", async () => {
    const { store, root } = await clusterWithSchema();
    const { table } = await createTable(store, "cpu", 3);
    await createTable(store, "mem", 3);

    await expect(
      store.tables.drop({ schemaName: "public", tableName: "cpu", expectedShardVersion: 2 }),
    ).rejects.toBeInstanceOf(ShardVersionConflictError);
    const dropped = await store.tables.drop({
      schemaName: "public",
      tableName: "cpu",
      expectedShardVersion: 3,
    });

    expect(dropped).toEqual({ table, shardVersion: 4 });
    expect(await store.tables.get("public", "cpu")).toBeUndefined();
    expect(await store.tables.getById(table.id)).toBeUndefined();
    expect((await store.shards.get(3)).tableIds).not.toContain(table.id);
    expect((await rawKeys(`${root}/test/tables/by_name/`)).map((k) => k.split("/").at(-1))).toEqual(["mem"]);
    await expect(store.tables.drop({ schemaName: "public", tableName: "cpu" })).rejects.toBeInstanceOf(
      TableNotFoundError,
    );
    // The name is free again, and the new table gets a new id.
    const recreated = await createTable(store, "cpu", 0);
    expect(recreated.table.id).toBeGreaterThan(table.id);
  });

  it("moves tables between shards: both views and the records, versions + 1", async () => {
    const { store } = await clusterWithSchema();
    const a = (await createTable(store, "a", 0)).table;
    const b = (await createTable(store, "b", 0)).table;
    const c = (await createTable(store, "c", 0)).table; // shard 0 at version 4

    await expect(
      store.tables.move({ tableIds: [a.id], fromShardId: 0, toShardId: 1, expectedFromVersion: 3 }),
    ).rejects.toBeInstanceOf(ShardVersionConflictError);
    await expect(
      store.tables.move({ tableIds: [a.id], fromShardId: 1, toShardId: 2 }),
    ).rejects.toBeInstanceOf(TableNotInShardError);
    const moved = await store.tables.move({
      tableIds: [c.id, a.id],
      fromShardId: 0,
      toShardId: 1,
      expectedFromVersion: 4,
      expectedToVersion: 1,
    });

    expect(moved.from).toMatchObject({ shardId: 0, version: 5, tableIds: [b.id] });
    expect(moved.to).toMatchObject({ shardId: 1, version: 2, tableIds: [c.id, a.id] });
    expect(moved.tables.map((t) => [t.id, t.shardId])).toEqual([
      [c.id, 1],
      [a.id, 1],
    ]);
    expect((await store.tables.getById(a.id))?.shardId).toBe(1);
    expect((await store.tables.get("public", "c"))?.shardId).toBe(1);
    const [zero, one] = await store.tables.tablesOfShards([0, 1]);
    expect(zero!.tables.map((t) => t.name)).toEqual(["b"]);
    expect(one!.tables.map((t) => t.name)).toEqual(["c", "a"]);
    await expect(store.tables.tablesOfShards([0, 9])).rejects.toBeInstanceOf(ShardNotFoundError);
  });
});

describe("routes", () => {
  it("routes tables to their shard's leader and followers, in request order, skipping missing ones", async () => {
    const { store } = await clusterWithSchema(2);
    const cpu = (await createTable(store, "cpu", 0)).table;
    const mem = (await createTable(store, "mem", 1)).table;
    await store.nodes.heartbeat({
      name: "h1:8831",
      endpoint: { host: "h1", port: 8831 },
      leaseTtlMs: 10_000,
    });
    await store.cluster.assignShards({
      assignments: [
        { shardId: 0, leader: "h1:8831", followers: ["h2:8831"] },
        { shardId: 1, leader: "h2:8831", followers: [] },
      ],
    });

    const result = await store.routes.route("public", ["mem", "missing", "cpu"]);
    expect(result.clusterVersion).toBe(2);
    expect(result.routes).toEqual([
      {
        table: mem,
        shardId: 1,
        shardVersion: 3,
        leader: { name: "h2:8831", endpoint: null, state: "offline" },
        followers: [],
      },
      {
        table: cpu,
        shardId: 0,
        shardVersion: 3,
        leader: { name: "h1:8831", endpoint: { host: "h1", port: 8831 }, state: "online" },
        followers: [{ name: "h2:8831", endpoint: null, state: "offline" }],
      },
    ]);
    expect((await store.routes.route("nope", ["cpu"])).routes).toEqual([]);
    await store.nodes.delete("h1:8831");
  });
});

describe("nodes", () => {
  it("registers a node on its first heartbeat and renews the same lease on later ones", async () => {
    const store = openStore(freshRoot());
    const first = await store.nodes.heartbeat({
      name: "10.0.0.1:8831",
      endpoint: { host: "10.0.0.1", port: 8831 },
      zone: "z1",
      binaryVersion: "0.1.0",
      leaseTtlMs: 10_000,
      shards: [{ shardId: 0, role: "leader", version: 3, status: "ready" }],
    });
    const second = await store.nodes.heartbeat({
      name: "10.0.0.1:8831",
      endpoint: { host: "10.0.0.1", port: 8831 },
      leaseTtlMs: 10_000,
    });

    expect(first.renewed).toBe(false);
    expect(second.renewed).toBe(true);
    expect(second.node.etcdLeaseId).toBe(first.node.etcdLeaseId);
    expect(second.leaseDeadlineMs).toBe(second.node.lastHeartbeatMs + 10_000);
    const listed = await store.nodes.list();
    expect(listed).toEqual([second.node]);
    expect(listed[0]).toMatchObject({ state: "online", zone: "", shards: [] });
    await store.nodes.delete("10.0.0.1:8831");
    expect(await store.nodes.list()).toEqual([]);
  });

  it("keeps a node online while it heartbeats and takes it offline once its lease runs out", async () => {
    const root = freshRoot();
    const store = openStore(root);
    const heartbeat = () =>
      store.nodes.heartbeat({ name: "n:1", endpoint: { host: "n", port: 1 }, leaseTtlMs: 2_000 });

    // Heartbeats every 700 ms for longer than the lease: only the renewals keep it.
    await heartbeat();
    for (let i = 0; i < 5; i++) {
      await sleep(700);
      expect((await heartbeat()).renewed).toBe(true);
    }
    const lastHeartbeat = Date.now();
    expect((await store.nodes.get("n:1"))?.state).toBe("online");

    await waitFor(
      "the node lease to expire",
      async () => (await store.nodes.get("n:1"))?.state === "offline",
      10_000,
      100,
    );
    const expiredAfter = Date.now() - lastHeartbeat;
    expect(expiredAfter).toBeGreaterThanOrEqual(1_900);
    expect(expiredAfter).toBeLessThan(4_500);
    // The record stays, so the scheduler still knows what the node held; only the lease key is gone.
    expect(await rawKeys(`${root}/test/node_leases/`)).toEqual([]);
    expect(await store.nodes.list()).toMatchObject([{ name: "n:1", state: "offline" }]);

    const back = await heartbeat();
    expect(back.renewed).toBe(false);
    expect((await store.nodes.get("n:1"))?.state).toBe("online");
    await store.nodes.delete("n:1");
  });
});

describe("procedures", () => {
  it("stores procedures guarded by their revision", async () => {
    const store = openStore(freshRoot());
    const created = await store.procedures.create({
      kind: "TransferLeader",
      state: "Init",
      shardIds: [1],
      params: { to: "b:1" },
    });
    expect(await store.procedures.get(created.procedure.id)).toEqual(created);

    const advanced = {
      ...created.procedure,
      state: "Running",
      updatedAtMs: created.procedure.updatedAtMs + 1,
    };
    const stored = await store.procedures.put(advanced, created.revision);
    expect(stored.revision).toBeGreaterThan(created.revision);
    await expect(
      store.procedures.put({ ...advanced, state: "Failed" }, created.revision),
    ).rejects.toMatchObject({
      constructor: ProcedureConflictError,
      expectedRevision: created.revision,
      actualRevision: stored.revision,
    });
    await expect(store.procedures.put(advanced, 0)).rejects.toBeInstanceOf(ProcedureConflictError);
    const second = await store.procedures.create({
      kind: "SplitShard",
      state: "Init",
      shardIds: [],
      params: null,
    });
    expect((await store.procedures.list()).map((p) => [p.procedure.id, p.procedure.state])).toEqual([
      [created.procedure.id, "Running"],
      [second.procedure.id, "Init"],
    ]);

    // Unfinished, it still locks shard 1 and cannot be deleted.
    await expect(store.procedures.delete(created.procedure.id, stored.revision)).rejects.toThrow(
      /still locks shards 1/,
    );
    const ended = await store.procedures.put({ ...advanced, state: "finished" }, stored.revision, {
      release: true,
    });
    await expect(store.procedures.delete(created.procedure.id, stored.revision)).rejects.toBeInstanceOf(
      ProcedureConflictError,
    );
    await store.procedures.delete(created.procedure.id, ended.revision);
    expect(await store.procedures.get(created.procedure.id)).toBeUndefined();
    await expect(store.procedures.delete(created.procedure.id, ended.revision)).rejects.toBeInstanceOf(
      ProcedureNotFoundError,
    );
  });

  it("lets at most one unfinished procedure hold a shard, taking and releasing locks atomically", async () => {
    const store = openStore(freshRoot());
    const first = await store.procedures.create({
      kind: "open_shard",
      state: "open",
      shardIds: [2, 3],
      params: {},
    });
    expect(await store.procedures.locks()).toEqual([
      { shardId: 2, procedureId: first.procedure.id, kind: "open_shard" },
      { shardId: 3, procedureId: first.procedure.id, kind: "open_shard" },
    ]);
    await expect(
      store.procedures.create({ kind: "split_shard", state: "start", shardIds: [3, 4], params: {} }),
    ).rejects.toMatchObject({
      constructor: ShardLockedError,
      shardId: 3,
      holderProcedureId: first.procedure.id,
    });
    // The refused create took nothing: shard 4 is still free.
    expect((await store.procedures.locks()).map((lock) => lock.shardId)).toEqual([2, 3]);

    // Growing the set locks the added shard; a shard held elsewhere refuses the whole write.
    const other = await store.procedures.create({
      kind: "close_shard",
      state: "close",
      shardIds: [9],
      params: {},
    });
    const grown = await store.procedures.put({ ...first.procedure, shardIds: [2, 3, 5] }, first.revision);
    await expect(
      store.procedures.put({ ...grown.procedure, shardIds: [2, 3, 5, 9] }, grown.revision),
    ).rejects.toMatchObject({
      constructor: ShardLockedError,
      shardId: 9,
      holderProcedureId: other.procedure.id,
    });
    expect((await store.procedures.get(first.procedure.id))?.procedure.shardIds).toEqual([2, 3, 5]);

    // Ending releases every lock in the same write; the shards are free for the next procedure.
    await store.procedures.put({ ...grown.procedure, state: "finished" }, grown.revision, { release: true });
    expect((await store.procedures.locks()).map((lock) => lock.shardId)).toEqual([9]);
    const next = await store.procedures.create({
      kind: "split_shard",
      state: "start",
      shardIds: [3, 4],
      params: {},
    });
    expect((await store.procedures.locks()).map((lock) => [lock.shardId, lock.procedureId])).toEqual([
      [3, next.procedure.id],
      [4, next.procedure.id],
      [9, other.procedure.id],
    ]);
  });
});

describe("id allocation", () => {
  it("reserves ids in blocks with one counter update per block", async () => {
    const root = freshRoot();
    const store = openStore(root, { idBlockSizes: { procedure: 10 } });
    const ids: number[] = [];
    for (let i = 0; i < 25; i++) ids.push(await store.ids.next("procedure"));

    expect(ids).toEqual([...Array(25).keys()].map((i) => i + 1));
    const key = store.keys.idCounter("procedure");
    const counter = await raw.get(key).exec();
    expect(decodeRecord("id_counter", key, counter.kvs[0]!.value).next).toBe(31);
    // Created once, then moved twice: three compare-and-swaps for 25 ids.
    expect(counter.kvs[0]!.version).toBe("3");
  });

  it("never hands out an id twice across concurrent allocators or after a restart", async () => {
    const root = freshRoot();
    const a = openStore(root, { idBlockSizes: { table: 16 } });
    const b = openStore(root, { idBlockSizes: { table: 16 } });
    const draw = (store: MetadataStore, n: number) =>
      Promise.all(Array.from({ length: n }, () => store.ids.next("table")));

    const [fromA, fromB] = await Promise.all([draw(a, 300), draw(b, 300)]);
    const all = [...fromA, ...fromB];
    expect(new Set(all).size).toBe(600);

    // A "restart": a new store over the same counters; the unused rest of the old blocks is skipped.
    a.close();
    const restarted = openStore(root, { idBlockSizes: { table: 16 } });
    const afterRestart = await draw(restarted, 20);
    expect(Math.min(...afterRestart)).toBeGreaterThan(Math.max(...all));
    expect(new Set([...all, ...afterRestart]).size).toBe(620);
  });
});

describe("concurrent writers", () => {
  it("keeps the mapping consistent under random concurrent creates, drops and moves", async () => {
    const SHARDS = 4;
    const WRITERS = 4;
    const OPS_PER_WRITER = 40;
    const NAMES = Array.from({ length: 24 }, (_, i) => `t${i}`);
    const { root, store: admin, schemaId } = await clusterWithSchema(SHARDS);
    const writers = Array.from({ length: WRITERS }, () => openStore(root, { idBlockSizes: { table: 4 } }));
    const startRevision = Number((await raw.get(admin.keys.clusterView()).exec()).header.revision);

    // Version bumps each shard should have seen, counted from the operations' own answers.
    const bumps = new Map<number, number>();
    const bump = (shardId: number) => bumps.set(shardId, (bumps.get(shardId) ?? 0) + 1);
    const outcomes = new Map<string, number>();
    const count = (what: string) => outcomes.set(what, (outcomes.get(what) ?? 0) + 1);
    const expected = [
      TableAlreadyExistsError,
      TableNotFoundError,
      TableNotInShardError,
      MetadataConflictError,
    ];

    const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;
    /** Retries on conflicts like retryOnConflict, counting them: they show the guards at work. */
    const retried = <T>(operation: () => Promise<T>): Promise<T> =>
      retryOnConflict(
        async () => {
          try {
            return await operation();
          } catch (error) {
            if (error instanceof MetadataConflictError) count(`guard failed: ${error.name}`);
            throw error;
          }
        },
        { attempts: 20 },
      );
    await Promise.all(
      writers.map(async (store) => {
        for (let i = 0; i < OPS_PER_WRITER; i++) {
          const name = pick(NAMES);
          const op = pick(["create", "create", "drop", "move"] as const);
          try {
            if (op === "create") {
              const { table } = await retried(() => createTable(store, name, pick([0, 1, 2, 3])));
              bump(table.shardId!);
            } else if (op === "drop") {
              const { table } = await retried(() =>
                store.tables.drop({ schemaName: "public", tableName: name }),
              );
              bump(table.shardId!);
            } else {
              const moved = await retryOnConflict(
                async () => {
                  const table = await store.tables.get("public", name);
                  if (table === undefined) throw new TableNotFoundError(`public.${name}`);
                  const from = table.shardId!;
                  const to = (from + 1 + Math.floor(Math.random() * (SHARDS - 1))) % SHARDS;
                  return store.tables.move({
                    tableIds: [table.id],
                    fromShardId: from,
                    toShardId: to,
                  });
                },
                { attempts: 20 },
              );
              bump(moved.from.shardId);
              bump(moved.to.shardId);
            }
            count(`${op} ok`);
          } catch (error) {
            if (!expected.some((type) => error instanceof type)) throw error;
            count(`${op} ${(error as Error).name}`);
          }
        }
      }),
    );

    const tables = await admin.tables.list();
    const shards = await admin.shards.list();
    const nameKeys = await raw.getAll().prefix(`${root}/test/tables/by_name/`).strings();

    // Every table is in exactly one shard view, the one its record names; views list only tables.
    const shardOf = new Map<number, number>();
    for (const shard of shards) {
      expect(new Set(shard.tableIds).size).toBe(shard.tableIds.length);
      for (const id of shard.tableIds) {
        expect(shardOf.has(id)).toBe(false);
        shardOf.set(id, shard.shardId);
      }
    }
    expect([...shardOf.keys()].sort((x, y) => x - y)).toEqual(tables.map((t) => t.id));
    for (const table of tables) expect(shardOf.get(table.id)).toBe(table.shardId);

    // By id and by name agree, one to one.
    expect(Object.keys(nameKeys)).toHaveLength(tables.length);
    for (const table of tables) {
      const key = admin.keys.tableByName(schemaId, table.name);
      expect(decodeRecord("table_name", key, Buffer.from(nameKeys[key]!)).tableId).toBe(table.id);
    }

    // Each shard's version went up by exactly one per change, and only up: replay its history.
    for (const shard of shards) expect(shard.version).toBe(1 + (bumps.get(shard.shardId) ?? 0));
    const history = await shardViewHistory(`${root}/test/shards/`, startRevision, shards);
    for (const shard of shards) {
      const versions = history.get(shard.shardId) ?? [];
      expect(versions).toEqual(Array.from({ length: versions.length }, (_, i) => 2 + i));
      expect(versions.at(-1) ?? 1).toBe(shard.version);
    }
    expect(outcomes.get("create ok") ?? 0).toBeGreaterThan(0);
    console.log(JSON.stringify(Object.fromEntries([...outcomes].sort())));
  });
});

/** The versions each shard view was written with after `startRevision`, from etcd's history. */
async function shardViewHistory(
  prefix: string,
  startRevision: number,
  finalViews: readonly ShardView[],
): Promise<Map<number, number[]>> {
  const lastRevisions = await Promise.all(
    finalViews.map(async (view) => {
      const key = `${prefix}${String(view.shardId).padStart(10, "0")}/view`;
      return Number((await raw.get(key).exec()).kvs[0]!.mod_revision);
    }),
  );
  const until = Math.max(...lastRevisions);
  const versions = new Map<number, number[]>();
  let seen = 0;
  const watcher = await raw
    .watch()
    .prefix(prefix)
    .startRevision(String(startRevision + 1))
    .create();
  try {
    watcher.on("put", (kv) => {
      const view = decodeRecord("shard_view", kv.key.toString(), kv.value);
      versions.set(view.shardId, [...(versions.get(view.shardId) ?? []), view.version]);
      seen = Math.max(seen, Number(kv.mod_revision));
    });
    await waitFor("the shard view history to replay", () => seen >= until, 10_000);
  } finally {
    await watcher.cancel();
  }
  return versions;
}
