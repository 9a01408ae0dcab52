import { setTimeout as sleep } from "node:timers/promises";
import { Etcd3, type Watcher } from "etcd3";
import type { HoraeMetaServer } from "@horaedb/horaemeta";
import { MetadataStore, type ClusterState } from "@horaedb/horaemeta/metadata";
import { SimulatedInstance } from "@horaedb/horaemeta/testing";
import { StatusCode, type meta } from "@horaedb/proto";
import { afterAll, afterEach, describe, expect, inject, it } from "vitest";
import { waitFor } from "../support/wait.js";
import {
  connectMeta,
  freshRootPath,
  header,
  heartbeat,
  newReplica,
  replicaConfig,
  TABLE_SCHEMA,
  type MetaClient,
} from "./meta-test-support.js";

// The MetaService of horaemeta replicas against a real etcd, through real gRPC clients: the cluster
// lifecycle driven by heartbeats, table DDL and routing, and forwarding from a follower replica.

const { etcd } = inject("services");
const raw = new Etcd3({
  hosts: etcd.endpoints,
  dialTimeout: 5_000,
  defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + 5_000 }),
});
const roots: string[] = [];
const replicas: HoraeMetaServer[] = [];
const clients: MetaClient[] = [];
const stores: MetadataStore[] = [];
const watchers: Watcher[] = [];
const instances: SimulatedInstance[] = [];

afterEach(async () => {
  await Promise.all(instances.splice(0).map((instance) => instance.stop()));
  for (const client of clients.splice(0)) client.close();
  await Promise.all(watchers.splice(0).map((watcher) => watcher.cancel()));
  await Promise.all(replicas.splice(0).map((replica) => replica.stop()));
  for (const store of stores.splice(0)) store.close();
});

afterAll(async () => {
  await Promise.all(roots.map((root) => raw.delete().prefix(`${root}/`)));
  raw.close();
});

function rootPath(): string {
  const root = freshRootPath();
  roots.push(root);
  return root;
}

async function startReplica(root: string, cluster: Record<string, unknown> = {}) {
  const replica = newReplica(replicaConfig(etcd.endpoints, root, { cluster }));
  replicas.push(replica);
  const addresses = await replica.start();
  const client = connectMeta(addresses.grpc);
  clients.push(client);
  return { replica, addresses, client };
}

/** A simulated horaedb instance heartbeating to `metaAddress`, answering horaemeta's events. */
async function startInstance(metaAddress: string): Promise<SimulatedInstance> {
  const instance = new SimulatedInstance({
    metaEndpoints: [metaAddress],
    clusterName: "test",
    leaseTtlMs: 10_000,
  });
  instances.push(instance);
  await instance.start();
  return instance;
}

function openStore(root: string): MetadataStore {
  const store = MetadataStore.connect({ endpoints: etcd.endpoints, rootPath: root, clusterName: "test" });
  stores.push(store);
  return store;
}

async function waitForLeader(...candidates: HoraeMetaServer[]): Promise<HoraeMetaServer> {
  let leader: HoraeMetaServer | undefined;
  await waitFor(
    "a horaemeta leader",
    () => (leader = candidates.find((replica) => replica.isLeader)) !== undefined,
    15_000,
    20,
  );
  return leader!;
}

async function waitForState(store: MetadataStore, state: ClusterState): Promise<void> {
  await waitFor(
    `cluster state ${state}`,
    async () => {
      try {
        return (await store.cluster.getState()).state === state;
      } catch {
        return false; // the cluster is not created yet
      }
    },
    15_000,
    50,
  );
}

function expectOk(response: { header: { code: string; message: string } | null }): void {
  expect(response.header, response.header?.message).toMatchObject({ code: StatusCode.STATUS_CODE_OK });
}

/** leader and followers per shard, from GetNodes. */
function placements(response: meta.GetNodesResponse__Output) {
  const byShard = new Map<number, { leaders: string[]; followers: string[] }>();
  for (const { endpoint, shardInfo } of response.nodeShards) {
    const node = `${endpoint!.host}:${endpoint!.port}`;
    const entry = byShard.get(shardInfo!.id) ?? { leaders: [], followers: [] };
    if (shardInfo!.role === "SHARD_ROLE_LEADER") entry.leaders.push(node);
    else entry.followers.push(node);
    byShard.set(shardInfo!.id, entry);
  }
  return byShard;
}

/** Every version written to the cluster view and the shard views under `root`, in write order. */
async function recordVersions(root: string) {
  const history = new Map<string, number[]>();
  const states: string[] = [];
  const watcher = await raw.watch().prefix(`${root}/test/`).create();
  watchers.push(watcher);
  watcher.on("put", (kv) => {
    const key = kv.key.toString();
    const data = () =>
      (JSON.parse(kv.value.toString()) as { data: { version?: number; state?: string } }).data;
    if (key.endsWith("/cluster/state")) states.push(data().state ?? "?");
    if (key.endsWith("/cluster/view") || /\/shards\/\d+\/view$/.test(key)) {
      history.set(key, [...(history.get(key) ?? []), data().version ?? -1]);
    }
  });
  return { history, states };
}

describe("horaemeta MetaService", () => {
  it("registers nodes by heartbeat and, once min_node_count are online, places every shard and turns Stable", async () => {
    const root = rootPath();
    const { history, states } = await recordVersions(root);
    const { replica, client } = await startReplica(root, {
      shard_total: 8,
      followers_per_shard: 1,
      min_node_count: 3,
    });
    await waitForLeader(replica);
    const store = openStore(root);
    await waitForState(store, "Empty");

    const clusterVersions: number[] = [];
    for (const port of [9001, 9002]) {
      const response = await client.nodeHeartbeat(heartbeat(port));
      expectOk(response);
      expect(response.leaseTtlMs).toBe("10000");
      clusterVersions.push(Number(response.clusterVersion));
    }
    await sleep(400); // several scheduler passes: two nodes are not enough
    expect((await store.cluster.getState()).state).toBe("Empty");
    expect((await client.getNodes({ header: header() })).nodeShards).toEqual([]);

    clusterVersions.push(Number((await client.nodeHeartbeat(heartbeat(9003))).clusterVersion));
    await waitForState(store, "Stable");
    clusterVersions.push(Number((await client.nodeHeartbeat(heartbeat(9001))).clusterVersion));

    const nodes = await client.getNodes({ header: header() });
    expectOk(nodes);
    const byShard = placements(nodes);
    expect([...byShard.keys()].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const ledBy = new Map<string, number>();
    for (const [, { leaders, followers }] of byShard) {
      expect(leaders).toHaveLength(1); // exactly one leader per shard
      expect(followers).toHaveLength(1);
      expect(followers).not.toContain(leaders[0]); // never a follower on its leader's node
      ledBy.set(leaders[0]!, (ledBy.get(leaders[0]!) ?? 0) + 1);
    }
    expect([...ledBy.values()].sort()).toEqual([2, 3, 3]);
    expect(Number(nodes.clusterVersion)).toBe(2);
    expect(nodes.nodeShards.every((entry) => entry.shardInfo?.version === "2")).toBe(true);
    expect((await store.nodes.list()).map((node) => node.name)).toEqual([
      "127.0.0.1:9001",
      "127.0.0.1:9002",
      "127.0.0.1:9003",
    ]);

    // Versions only increase: as the heartbeats saw them, and in every write etcd recorded.
    expect(clusterVersions).toEqual([...clusterVersions].sort((a, b) => a - b));
    expect(clusterVersions.at(-1)).toBe(2);
    await waitFor("the watch to see the shard views", () => history.size === 9, 5_000);
    for (const [key, versions] of history) {
      for (let i = 1; i < versions.length; i++) {
        expect(versions[i], `${key}: ${versions.join(" -> ")}`).toBeGreaterThan(versions[i - 1]!);
      }
    }
    expect(states).toEqual(["Empty", "Prepare", "Stable"]);
  });

  it("places fewer followers per shard when there are not enough other nodes", async () => {
    const root = rootPath();
    const { replica, client } = await startReplica(root, {
      shard_total: 4,
      followers_per_shard: 2,
      min_node_count: 2,
    });
    await waitForLeader(replica);
    const store = openStore(root);
    await waitForState(store, "Empty");
    expectOk(await client.nodeHeartbeat(heartbeat(9101)));
    expectOk(await client.nodeHeartbeat(heartbeat(9102)));
    await waitForState(store, "Stable");
    const byShard = placements(await client.getNodes({ header: header() }));
    expect(byShard.size).toBe(4);
    for (const [, { leaders, followers }] of byShard) {
      expect(leaders).toHaveLength(1);
      expect(followers).toHaveLength(1);
      expect(followers[0]).not.toBe(leaders[0]);
    }
  });

  it("creates, routes, lists and drops tables end to end, placing each on the least loaded shard", async () => {
    const root = rootPath();
    const { replica, client, addresses } = await startReplica(root, { shard_total: 4 });
    await waitForLeader(replica);
    const store = openStore(root);
    await waitForState(store, "Empty");
    const instance = await startInstance(addresses.grpc);
    await waitForState(store, "Stable");
    await waitFor("the instance to open its shards", () => instance.shardIds("leader").length === 4, 10_000);

    const schemaId = await client.allocSchemaId({ header: header(), name: "metrics" });
    expectOk(schemaId);
    expect(await client.allocSchemaId({ header: header(), name: "metrics" })).toMatchObject({
      id: schemaId.id,
    });

    const create = (name: string, extra: Partial<meta.CreateTableRequest> = {}) =>
      client.createTable({
        header: header(),
        schemaName: "metrics",
        name,
        tableSchema: TABLE_SCHEMA,
        ...extra,
      });
    const shards: number[] = [];
    for (const name of ["t0", "t1", "t2", "t3", "t4"]) {
      const response = await create(name);
      expectOk(response);
      expect(response.createdTable).toMatchObject({ name, schemaName: "metrics", schemaId: schemaId.id });
      expect(response.shardInfo?.role).toBe("SHARD_ROLE_LEADER");
      shards.push(response.shardInfo!.id);
    }
    expect(shards.slice(0, 4).sort()).toEqual([0, 1, 2, 3]);
    expect(shards[4]).toBe(0); // all hold one table: the lowest id wins the tie
    // Each create reached the shard's leader before it was answered.
    const createdIds = [...instance.shards.values()].flatMap((shard) => [...shard.tables]).sort();
    expect(createdIds).toHaveLength(5);

    const stored = await store.tables.get("metrics", "t0");
    expect(stored?.tableSchema).toMatchObject({
      timestampColumn: "ts",
      columns: [{ name: "ts" }, { name: "host", isTag: true }, { name: "value", defaultExpr: "0" }],
    });

    const again = await create("t0");
    expect(again.header).toMatchObject({ code: StatusCode.STATUS_CODE_ALREADY_EXISTS });
    const tolerated = await create("t0", { createIfNotExist: true });
    expectOk(tolerated);
    expect(tolerated.createdTable?.id).toBe(stored?.id.toString());

    // Partitioned tables have their own tests (partitioned-tables.test.ts); bad partitioning is refused.
    const noPartitions = await create("p", { partitionInfo: { keyColumns: ["host"], partitionCount: 0 } });
    expect(noPartitions.header?.code).toBe(StatusCode.STATUS_CODE_INVALID_ARGUMENT);
    expect(noPartitions.header?.message).toContain("partition_info.partition_count");
    const invalid = await create("bad", { tableSchema: { ...TABLE_SCHEMA, timestampColumn: "host" } });
    expect(invalid.header?.code).toBe(StatusCode.STATUS_CODE_INVALID_ARGUMENT);
    const unknownOption = await create("bad", { options: { retention: "1d" } });
    expect(unknownOption.header?.code).toBe(StatusCode.STATUS_CODE_INVALID_ARGUMENT);

    const nodes = await client.getNodes({ header: header() });
    const routes = await client.routeTables({
      header: header(),
      schemaName: "metrics",
      tableNames: ["t1", "missing", "t0"],
    });
    expectOk(routes);
    expect(routes.clusterVersion).toBe(nodes.clusterVersion);
    expect(routes.entries.map((entry) => entry.table?.name)).toEqual(["t1", "t0"]);
    for (const entry of routes.entries) {
      expect(entry.nodeShards).toHaveLength(1);
      expect(entry.nodeShards[0]).toMatchObject({
        endpoint: { host: "127.0.0.1", port: Number(instance.name.split(":")[1]) },
        shardInfo: { role: "SHARD_ROLE_LEADER" },
      });
    }

    const t0Shard = shards[0]!;
    const before = await client.getTablesOfShards({ header: header(instance.name), shardIds: [t0Shard] });
    expectOk(before);
    expect(before.tablesOfShards[0]?.shardInfo?.role).toBe("SHARD_ROLE_LEADER");
    expect(before.tablesOfShards[0]?.tables.map((table) => table.name).sort()).toEqual(["t0", "t4"]);
    const unknownShard = await client.getTablesOfShards({ header: header(), shardIds: [99] });
    expect(unknownShard.header?.code).toBe(StatusCode.STATUS_CODE_NOT_FOUND);

    const dropped = await client.dropTable({ header: header(), schemaName: "metrics", name: "t0" });
    expectOk(dropped);
    expect(dropped.droppedTable?.name).toBe("t0");
    expect(instance.shards.get(t0Shard)?.tables.has(dropped.droppedTable!.id)).toBe(false);
    const droppedAgain = await client.dropTable({ header: header(), schemaName: "metrics", name: "t0" });
    expect(droppedAgain.header?.code).toBe(StatusCode.STATUS_CODE_NOT_FOUND);
    const after = await client.getTablesOfShards({ header: header(), shardIds: [t0Shard] });
    expect(after.tablesOfShards[0]?.tables.map((table) => table.name)).toEqual(["t4"]);
    expect(Number(after.tablesOfShards[0]?.shardInfo?.version)).toBe(
      Number(before.tablesOfShards[0]?.shardInfo?.version) + 1,
    );
    expect(
      (await client.routeTables({ header: header(), schemaName: "metrics", tableNames: ["t0"] })).entries,
    ).toEqual([]);
  });

  it("places concurrent creates evenly: every create lands on a shard that was least loaded", async () => {
    const root = rootPath();
    const { replica, client, addresses } = await startReplica(root, { shard_total: 4 });
    await waitForLeader(replica);
    const store = openStore(root);
    await waitForState(store, "Empty");
    const instance = await startInstance(addresses.grpc);
    await waitForState(store, "Stable");
    await waitFor("the instance to open its shards", () => instance.shardIds("leader").length === 4, 10_000);

    const responses = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        client.createTable({
          header: header(),
          schemaName: "public",
          name: `c${i}`,
          tableSchema: TABLE_SCHEMA,
        }),
      ),
    );
    responses.forEach(expectOk);
    const counts = (await store.shards.list()).map((shard) => shard.tableIds.length);
    expect(counts).toEqual([3, 3, 3, 3]);
  });

  it("forwards a request that reaches a follower replica to the leader", async () => {
    const root = rootPath();
    const first = await startReplica(root, { shard_total: 2 });
    await waitForLeader(first.replica);
    const second = await startReplica(root, { shard_total: 2 });
    const leader = await waitForLeader(first.replica, second.replica);
    const follower = leader === first.replica ? second : first;
    expect(follower.replica.isLeader).toBe(false);

    const store = openStore(root);
    await waitForState(store, "Empty");
    const instance = await startInstance(follower.addresses.grpc);
    await waitForState(store, "Stable");
    await waitFor("the instance to open its shards", () => instance.shardIds("leader").length === 2, 10_000);

    const created = await follower.client.createTable({
      header: header(),
      schemaName: "public",
      name: "forwarded",
      tableSchema: TABLE_SCHEMA,
    });
    expectOk(created);
    expect((await store.tables.get("public", "forwarded"))?.id.toString()).toBe(created.createdTable?.id);

    const leaderClient = leader === first.replica ? first.client : second.client;
    const request = { header: header(), schemaName: "public", tableNames: ["forwarded"] };
    const viaFollower = await follower.client.routeTables(request);
    expectOk(viaFollower);
    expect(viaFollower).toEqual(await leaderClient.routeTables(request));
    expect(follower.replica.isLeader).toBe(false);
  });
});
