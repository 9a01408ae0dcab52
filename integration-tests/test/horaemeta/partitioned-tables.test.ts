import { Etcd3 } from "etcd3";
import type { HoraeMetaServer } from "@horaedb/horaemeta";
import { MetadataStore, type TableRecord } from "@horaedb/horaemeta/metadata";
import { SimulatedInstance } from "@horaedb/horaemeta/testing";
import { StatusCode, type meta } from "@horaedb/proto";
import { afterAll, afterEach, describe, expect, inject, it } from "vitest";
import { waitFor } from "../support/wait.js";
import {
  connectMeta,
  freshRootPath,
  header,
  instancesMatchPlacement,
  newReplica,
  replicaConfig,
  TABLE_SCHEMA,
  watchInvariants,
  type MetaClient,
} from "./meta-test-support.js";

// Partitioned tables over MetaService (real gRPC) on a horaemeta leader with a real etcd and
// simulated instances: create_partitioned_table and drop_partitioned_table, placement, routes,
// rollback on a refusal, duplicates and bad input. An invariant checker reads the mapping every
// 20 ms during each test (and once more at its end); any violation it ever saw fails the test.

const { etcd } = inject("services");
const raw = new Etcd3({ hosts: etcd.endpoints, dialTimeout: 5_000 });
const roots: string[] = [];
const replicas: HoraeMetaServer[] = [];
const instances: SimulatedInstance[] = [];
const clients: MetaClient[] = [];
const stores: MetadataStore[] = [];
const checkers: (() => Promise<string[]>)[] = [];

afterEach(async () => {
  const found = (await Promise.all(checkers.splice(0).map((stop) => stop()))).flat();
  await Promise.all(instances.splice(0).map((instance) => instance.stop()));
  for (const client of clients.splice(0)) client.close();
  await Promise.all(replicas.splice(0).map((replica) => replica.stop()));
  for (const store of stores.splice(0)) store.close();
  expect(found, "invariant violations seen during the test").toEqual([]);
});

afterAll(async () => {
  await Promise.all(roots.map((root) => raw.delete().prefix(`${root}/`)));
  raw.close();
});

interface Cluster {
  readonly store: MetadataStore;
  readonly client: MetaClient;
  readonly instances: SimulatedInstance[];
}

/** A leader with `shards` shards (one follower each where possible) placed on `nodes` instances. */
async function startCluster(shards: number, nodes: number): Promise<Cluster> {
  const root = freshRootPath();
  roots.push(root);
  const replica = newReplica(
    replicaConfig(etcd.endpoints, root, {
      cluster: {
        shard_total: shards,
        followers_per_shard: 1,
        min_node_count: nodes,
        node_lease_ttl_ms: 2_000,
        topology: "static",
      },
      procedure: { event_deadline_ms: 2_000, lock_wait_ms: 5_000 },
    }),
  );
  replicas.push(replica);
  const addresses = await replica.start();
  const client = connectMeta(addresses.grpc);
  clients.push(client);
  const store = MetadataStore.connect({ endpoints: etcd.endpoints, rootPath: root, clusterName: "test" });
  stores.push(store);
  await waitFor("the leader", () => replica.isLeader, 15_000, 20);
  const started: SimulatedInstance[] = [];
  for (let i = 0; i < nodes; i++) {
    const instance = new SimulatedInstance({
      metaEndpoints: [addresses.grpc],
      clusterName: "test",
      leaseTtlMs: 2_000,
      heartbeatIntervalMs: 100,
    });
    instances.push(instance);
    await instance.start();
    started.push(instance);
  }
  checkers.push(watchInvariants(store));
  await waitFor("instances to hold their placement", () => instancesMatchPlacement(store, started), 15_000);
  return { store, client, instances: started };
}

function createPartitioned(
  cluster: Cluster,
  name: string,
  partitionInfo: meta.CreateTableRequest["partitionInfo"],
  extra: Partial<meta.CreateTableRequest> = {},
) {
  return cluster.client.createTable({
    header: header(),
    schemaName: "public",
    name,
    tableSchema: TABLE_SCHEMA,
    partitionInfo,
    ...extra,
  });
}

/** The stored sub-tables of `name`, in partition order (fails the test when it is not partitioned). */
async function subTablesOf(cluster: Cluster, name: string): Promise<TableRecord[]> {
  const table = await cluster.store.tables.get("public", name);
  expect(table?.partitionInfo, `${name} is a partitioned table`).not.toBeNull();
  return cluster.store.tables.subTablesOf(table!);
}

function instanceNamed(cluster: Cluster, name: string | null): SimulatedInstance {
  const found = cluster.instances.find((instance) => instance.name === name);
  if (found === undefined) throw new Error(`no instance ${name}`);
  return found;
}

/** Which instances hold table `tableId` on shard `shardId`, by role. */
function holders(cluster: Cluster, shardId: number, tableId: number) {
  return cluster.instances
    .filter((instance) => instance.shards.get(shardId)?.tables.has(String(tableId)) === true)
    .map((instance) => ({ name: instance.name, role: instance.shards.get(shardId)!.role }));
}

/** Every table id any instance holds. */
function heldTableIds(cluster: Cluster): Set<string> {
  return new Set(
    cluster.instances.flatMap((instance) =>
      [...instance.shards.values()].flatMap((shard) => [...shard.tables]),
    ),
  );
}

describe("partitioned tables", () => {
  it("creates one: sub-tables on different shards led by different nodes, on their instances, routed", async () => {
    const cluster = await startCluster(4, 3);
    const created = await createPartitioned(cluster, "cpu", { keyColumns: ["host"], partitionCount: 3 });
    expect(created.header?.code, created.header?.message).toBe(StatusCode.STATUS_CODE_OK);
    expect(created.createdTable).toMatchObject({
      name: "cpu",
      schemaName: "public",
      partitionInfo: {
        keyColumns: ["host"],
        partitionCount: 3,
        subTableNames: ["__cpu_0", "__cpu_1", "__cpu_2"],
      },
    });
    // The partitioned table itself is on no shard.
    expect(created.shardInfo).toBeNull();

    const parent = (await cluster.store.tables.get("public", "cpu"))!;
    expect(parent).toMatchObject({
      id: Number(created.createdTable!.id),
      shardId: null,
      parentTableId: null,
    });
    const subs = await subTablesOf(cluster, "cpu");
    expect(subs.map((sub) => sub.name)).toEqual(["__cpu_0", "__cpu_1", "__cpu_2"]);
    expect(subs.every((sub) => sub.parentTableId === parent.id && sub.partitionInfo === null)).toBe(true);
    const view = await cluster.store.cluster.getView();
    const placementOf = (shardId: number) => view.shards.find((shard) => shard.shardId === shardId)!;
    const shardIds = subs.map((sub) => sub.shardId!);
    expect(new Set(shardIds).size).toBe(3);
    expect(new Set(shardIds.map((id) => placementOf(id).leader)).size).toBe(3);
    for (const sub of subs) {
      const placement = placementOf(sub.shardId!);
      // On the shard's leader (CreateTableOnShard) and its follower (OpenTableOnShard).
      expect(holders(cluster, sub.shardId!, sub.id)).toEqual(
        expect.arrayContaining([
          { name: placement.leader, role: "leader" },
          { name: placement.followers[0], role: "follower" },
        ]),
      );
      expect(instanceNamed(cluster, placement.leader).shards.get(sub.shardId!)?.version).toBe(
        (await cluster.store.shards.get(sub.shardId!)).version,
      );
    }

    const routes = await cluster.client.routeTables({
      header: header(),
      schemaName: "public",
      tableNames: ["cpu", "__cpu_0", "__cpu_1", "__cpu_2"],
    });
    expect(routes.header?.code).toBe(StatusCode.STATUS_CODE_OK);
    const [partitioned, ...subRoutes] = routes.entries;
    expect(partitioned?.table?.partitionInfo?.subTableNames).toEqual(["__cpu_0", "__cpu_1", "__cpu_2"]);
    expect(partitioned?.nodeShards).toEqual([]);
    for (const [i, entry] of subRoutes.entries()) {
      expect(entry.table).toMatchObject({
        name: subs[i]!.name,
        id: String(subs[i]!.id),
        partitionInfo: null,
      });
      const placement = placementOf(subs[i]!.shardId!);
      const leader = entry.nodeShards.find((nodeShard) => nodeShard.shardInfo?.role === "SHARD_ROLE_LEADER");
      expect(`${leader?.endpoint?.host}:${leader?.endpoint?.port}`).toBe(placement.leader);
      expect(leader?.shardInfo?.id).toBe(subs[i]!.shardId);
    }
    const ofShard = await cluster.client.getTablesOfShards({ header: header(), shardIds: [shardIds[0]!] });
    expect(ofShard.tablesOfShards[0]?.tables.map((table) => table.name)).toEqual(["__cpu_0"]);
  });

  it("drops one with all its sub-tables, and refuses to drop a sub-table on its own", async () => {
    const cluster = await startCluster(4, 3);
    const created = await createPartitioned(cluster, "cpu", { keyColumns: ["host"], partitionCount: 4 });
    expect(created.header?.code, created.header?.message).toBe(StatusCode.STATUS_CODE_OK);
    const subs = await subTablesOf(cluster, "cpu");
    expect(subs).toHaveLength(4);

    const subDrop = await cluster.client.dropTable({
      header: header(),
      schemaName: "public",
      name: "__cpu_1",
    });
    expect(subDrop.header?.code).toBe(StatusCode.STATUS_CODE_FAILED_PRECONDITION);
    expect(subDrop.header?.message).toContain("sub-table of partitioned table public.cpu");
    expect(await cluster.store.tables.get("public", "__cpu_1")).toMatchObject({ id: subs[1]!.id });

    const versions = await Promise.all(
      subs.map(async (sub) => (await cluster.store.shards.get(sub.shardId!)).version),
    );
    const dropped = await cluster.client.dropTable({ header: header(), schemaName: "public", name: "cpu" });
    expect(dropped.header?.code, dropped.header?.message).toBe(StatusCode.STATUS_CODE_OK);
    expect(dropped.droppedTable?.partitionInfo?.partitionCount).toBe(4);
    expect(await cluster.store.tables.list()).toEqual([]);
    for (const [i, sub] of subs.entries()) {
      expect(holders(cluster, sub.shardId!, sub.id)).toEqual([]);
      expect((await cluster.store.shards.get(sub.shardId!)).version).toBe(versions[i]! + 1);
    }
    const routes = await cluster.client.routeTables({
      header: header(),
      schemaName: "public",
      tableNames: ["cpu", "__cpu_0"],
    });
    expect(routes.entries).toEqual([]);
    const again = await cluster.client.dropTable({ header: header(), schemaName: "public", name: "cpu" });
    expect(again.header?.code).toBe(StatusCode.STATUS_CODE_NOT_FOUND);

    const kinds = (await cluster.store.procedures.list())
      .map((stored) => stored.procedure)
      .filter((procedure) => procedure.kind.endsWith("partitioned_table"))
      .map((procedure) => `${procedure.kind} ${procedure.state}`);
    expect(kinds).toEqual(["create_partitioned_table finished", "drop_partitioned_table finished"]);
  });

  it("spreads more partitions than shards evenly over the shards and their nodes", async () => {
    const cluster = await startCluster(4, 2);
    const created = await createPartitioned(cluster, "mem", { keyColumns: ["host"], partitionCount: 6 });
    expect(created.header?.code, created.header?.message).toBe(StatusCode.STATUS_CODE_OK);
    const subs = await subTablesOf(cluster, "mem");
    const view = await cluster.store.cluster.getView();
    const perShard = new Map<number, number>();
    const perNode = new Map<string, number>();
    for (const sub of subs) {
      perShard.set(sub.shardId!, (perShard.get(sub.shardId!) ?? 0) + 1);
      const leader = view.shards.find((shard) => shard.shardId === sub.shardId)!.leader!;
      perNode.set(leader, (perNode.get(leader) ?? 0) + 1);
      expect(holders(cluster, sub.shardId!, sub.id)).toContainEqual({ name: leader, role: "leader" });
    }
    expect([...perShard.values()].sort()).toEqual([1, 1, 2, 2]);
    expect([...perNode.values()]).toEqual([3, 3]);
  });

  it("rolls every sub-table back when one shard's leader refuses its sub-table", async () => {
    const cluster = await startCluster(3, 3);
    const refusing = cluster.instances[1]!;
    refusing.behaviour.refuse.add("CreateTableOnShard");
    const refused = await createPartitioned(cluster, "cpu", { keyColumns: ["host"], partitionCount: 3 });
    expect(refused.header?.code).toBe(StatusCode.STATUS_CODE_INVALID_ARGUMENT);
    expect(refused.header?.message).toContain(`${refusing.name} refused CreateTableOnShard`);
    expect(await cluster.store.tables.list()).toEqual([]);
    expect(heldTableIds(cluster)).toEqual(new Set());
    // The leaders that accepted their sub-table were told to drop it again.
    for (const instance of cluster.instances.filter((i) => i !== refusing)) {
      const methods = instance.events.map((event) => event.method);
      expect(methods).toContain("CreateTableOnShard");
      expect(methods.lastIndexOf("DropTableOnShard")).toBeGreaterThan(
        methods.lastIndexOf("CreateTableOnShard"),
      );
    }
    const procedure = (await cluster.store.procedures.list()).find(
      (stored) => stored.procedure.kind === "create_partitioned_table",
    )!.procedure;
    expect(procedure.state).toBe("rolled_back");
    expect(procedure.history.map((entry) => entry.state)).toEqual([
      "create_metadata",
      "create_on_shards",
      "drop_on_shards",
      "drop_metadata",
      "rolled_back",
    ]);

    refusing.behaviour.refuse.clear();
    const accepted = await createPartitioned(cluster, "cpu", { keyColumns: ["host"], partitionCount: 3 });
    expect(accepted.header?.code, accepted.header?.message).toBe(StatusCode.STATUS_CODE_OK);
    expect(await subTablesOf(cluster, "cpu")).toHaveLength(3);
  });

  it("answers a duplicate create like a plain table's, and refuses sub-table names other tables have", async () => {
    const cluster = await startCluster(2, 2);
    const first = await createPartitioned(cluster, "cpu", { keyColumns: ["host"], partitionCount: 2 });
    expect(first.header?.code, first.header?.message).toBe(StatusCode.STATUS_CODE_OK);

    const again = await createPartitioned(cluster, "cpu", { keyColumns: ["host"], partitionCount: 2 });
    expect(again.header?.code).toBe(StatusCode.STATUS_CODE_ALREADY_EXISTS);
    const tolerated = await createPartitioned(
      cluster,
      "cpu",
      { keyColumns: ["host"], partitionCount: 2 },
      { createIfNotExist: true },
    );
    expect(tolerated.header?.code).toBe(StatusCode.STATUS_CODE_OK);
    expect(tolerated.createdTable).toEqual(first.createdTable);
    const plain = await cluster.client.createTable({
      header: header(),
      schemaName: "public",
      name: "cpu",
      tableSchema: TABLE_SCHEMA,
    });
    expect(plain.header?.code).toBe(StatusCode.STATUS_CODE_ALREADY_EXISTS);

    // A sub-table name another table has: nothing is created.
    const taken = await cluster.client.createTable({
      header: header(),
      schemaName: "public",
      name: "__disk_1",
      tableSchema: TABLE_SCHEMA,
    });
    expect(taken.header?.code).toBe(StatusCode.STATUS_CODE_OK);
    const before = await cluster.store.tables.list();
    const clash = await createPartitioned(cluster, "disk", { keyColumns: ["host"], partitionCount: 2 });
    expect(clash.header?.code).toBe(StatusCode.STATUS_CODE_FAILED_PRECONDITION);
    expect(clash.header?.message).toContain("sub-table name public.__disk_1");
    const given = await createPartitioned(cluster, "disk2", {
      keyColumns: ["host"],
      partitionCount: 2,
      subTableNames: ["d_a", "cpu"],
    });
    expect(given.header?.code).toBe(StatusCode.STATUS_CODE_FAILED_PRECONDITION);
    expect(await cluster.store.tables.list()).toEqual(before);
    expect(heldTableIds(cluster).size).toBe(before.filter((table) => table.shardId !== null).length);

    // Names given in the request are used as they are.
    const named = await createPartitioned(cluster, "disk", {
      keyColumns: ["host"],
      partitionCount: 2,
      subTableNames: ["disk_a", "disk_b"],
    });
    expect(named.header?.code, named.header?.message).toBe(StatusCode.STATUS_CODE_OK);
    expect((await subTablesOf(cluster, "disk")).map((sub) => sub.name)).toEqual(["disk_a", "disk_b"]);
  });

  it("refuses bad partitioning with INVALID_ARGUMENT naming the field, creating nothing", async () => {
    const cluster = await startCluster(2, 1);
    const cases: [meta.CreateTableRequest["partitionInfo"], string][] = [
      [{ keyColumns: ["host"], partitionCount: 0 }, "partition_info.partition_count"],
      [{ keyColumns: ["host"], partitionCount: 33 }, "partition_info.partition_count"],
      [{ keyColumns: [], partitionCount: 2 }, "partition_info.key_columns"],
      [
        { keyColumns: ["region"], partitionCount: 2 },
        "partition_info.key_columns[0]: region is not a column",
      ],
      [{ keyColumns: ["value"], partitionCount: 2 }, "value is not a TAG column"],
      [{ keyColumns: ["host", "host"], partitionCount: 2 }, "host appears twice"],
      [{ keyColumns: ["host"], partitionCount: 2, subTableNames: ["a"] }, "has 1 names for 2 partitions"],
      [{ keyColumns: ["host"], partitionCount: 2, subTableNames: ["a", "a"] }, "a appears twice"],
      [
        { keyColumns: ["host"], partitionCount: 2, subTableNames: ["a", "bad"] },
        "must differ from the table's name",
      ],
      [{ keyColumns: ["host"], partitionCount: 2, subTableNames: ["a", ""] }, "sub_table_names[1]"],
    ];
    for (const [partitionInfo, message] of cases) {
      const response = await createPartitioned(cluster, "bad", partitionInfo);
      expect(response.header?.code, JSON.stringify(partitionInfo)).toBe(
        StatusCode.STATUS_CODE_INVALID_ARGUMENT,
      );
      expect(response.header?.message).toContain(message);
    }
    expect(await cluster.store.tables.list()).toEqual([]);
    const kinds = (await cluster.store.procedures.list()).map((stored) => stored.procedure.kind);
    expect(kinds).not.toContain("create_partitioned_table");
  });
});
