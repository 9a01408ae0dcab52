import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { Etcd3 } from "etcd3";
import type { HoraeMetaServer } from "@horaedb/horaemeta";
import { MetadataStore } from "@horaedb/horaemeta/metadata";
import { SimulatedInstance } from "@horaedb/horaemeta/testing";
import { StatusCode } from "@horaedb/proto";
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

// Procedures and schedulers of a horaemeta leader against a real etcd and simulated instances that
// answer its events over real gRPC. An invariant checker reads the mapping every 20 ms during each
// test (and once more at its end); any violation it ever saw fails the test.

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
  readonly http: string;
  readonly instances: SimulatedInstance[];
  readonly replica: HoraeMetaServer;
}

async function startCluster(
  options: {
    shards?: number;
    followers?: number;
    nodes?: number;
    topology?: "static" | "dynamic";
    keepEnded?: number;
  } = {},
): Promise<Cluster> {
  const root = freshRootPath();
  roots.push(root);
  const nodes = options.nodes ?? 3;
  const replica = newReplica(
    replicaConfig(etcd.endpoints, root, {
      cluster: {
        shard_total: options.shards ?? 4,
        followers_per_shard: options.followers ?? 1,
        min_node_count: nodes,
        node_lease_ttl_ms: 2_000,
        topology: options.topology ?? "static",
      },
      procedure: { event_deadline_ms: 2_000, lock_wait_ms: 5_000, keep_ended: options.keepEnded ?? 1_000 },
      scheduler: { rebalance_max_moves: 1 },
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
  const cluster = { store, client, http: addresses.http, instances: started, replica };
  await waitForOpenShards(cluster);
  return cluster;
}

/** Waits until every instance holds exactly the shards the placement gives it, in the right role. */
async function waitForOpenShards(cluster: Cluster, instances = cluster.instances): Promise<void> {
  await waitFor(
    "instances to hold what the placement gives them",
    () => instancesMatchPlacement(cluster.store, instances),
    15_000,
  );
}

async function admin(cluster: Cluster, method: "GET" | "POST", path: string, body?: unknown) {
  const response = await fetch(`http://${cluster.http}${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

function instanceNamed(cluster: Cluster, name: string | null): SimulatedInstance {
  const found = cluster.instances.find((instance) => instance.name === name);
  if (found === undefined) throw new Error(`no instance ${name}`);
  return found;
}

const HORAECTL = fileURLToPath(new URL("../../../horaemeta/dist/src/horaectl.js", import.meta.url));

/** Runs horaectl against the cluster; resolves with its exit code and output. */
function horaectl(
  cluster: Cluster,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [HORAECTL, "--endpoints", `127.0.0.1:1,${cluster.http}`, ...args],
      { timeout: 30_000 },
      (error, stdout, stderr) => resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr }),
    );
  });
}

async function createTable(cluster: Cluster, name: string) {
  return cluster.client.createTable({
    header: header(),
    schemaName: "public",
    name,
    tableSchema: TABLE_SCHEMA,
  });
}

describe("horaemeta procedures", () => {
  it("opens every placed shard on its leader and followers, and creates and drops tables on them", async () => {
    const cluster = await startCluster();
    const created = await createTable(cluster, "cpu");
    expect(created.header?.code, created.header?.message).toBe(StatusCode.STATUS_CODE_OK);
    const shardId = created.shardInfo!.id;
    const tableId = created.createdTable!.id;
    const placement = (await cluster.store.cluster.getView()).shards.find(
      (shard) => shard.shardId === shardId,
    )!;
    const leader = instanceNamed(cluster, placement.leader);
    const follower = instanceNamed(cluster, placement.followers[0]!);
    expect(leader.shards.get(shardId)?.tables.has(tableId)).toBe(true);
    expect(follower.shards.get(shardId)?.tables.has(tableId)).toBe(true);
    expect(leader.shards.get(shardId)?.version).toBe((await cluster.store.shards.get(shardId)).version);

    const dropped = await cluster.client.dropTable({ header: header(), schemaName: "public", name: "cpu" });
    expect(dropped.header?.code).toBe(StatusCode.STATUS_CODE_OK);
    expect(leader.shards.get(shardId)?.tables.has(tableId)).toBe(false);
    expect(follower.shards.get(shardId)?.tables.has(tableId)).toBe(false);

    const procedures = (await admin(cluster, "GET", "/api/v1/procedures?all=1")).body.procedures as {
      kind: string;
      state: string;
    }[];
    expect(procedures.filter((p) => p.kind === "create_table").map((p) => p.state)).toEqual(["finished"]);
    expect(procedures.filter((p) => p.kind === "drop_table").map((p) => p.state)).toEqual(["finished"]);
    expect(procedures.filter((p) => p.kind === "open_shard").length).toBeGreaterThanOrEqual(8);
  });

  it("rolls a create back when the shard's leader refuses it: no table is left anywhere", async () => {
    const cluster = await startCluster();
    for (const instance of cluster.instances) instance.behaviour.refuse.add("CreateTableOnShard");
    const refused = await createTable(cluster, "refused");
    expect(refused.header?.code).toBe(StatusCode.STATUS_CODE_INVALID_ARGUMENT);
    expect(refused.header?.message).toContain("CreateTableOnShard refused");
    expect(await cluster.store.tables.get("public", "refused")).toBeUndefined();
    for (const instance of cluster.instances) {
      expect([...instance.shards.values()].every((shard) => shard.tables.size === 0)).toBe(true);
    }
    for (const instance of cluster.instances) instance.behaviour.refuse.clear();
    const accepted = await createTable(cluster, "refused");
    expect(accepted.header?.code).toBe(StatusCode.STATUS_CODE_OK);
  });

  it("transfers a leadership to a follower (role switch) and to a node that does not hold the shard", async () => {
    const cluster = await startCluster({ shards: 3, followers: 1, nodes: 3 });
    const created = await createTable(cluster, "cpu");
    expect(created.header?.code, created.header?.message).toBe(StatusCode.STATUS_CODE_OK);
    const tableId = created.createdTable!.id;
    const placementOf = async (shardId: number) =>
      (await cluster.store.cluster.getView()).shards.find((placed) => placed.shardId === shardId)!;
    const shard = await placementOf(created.shardInfo!.id);
    const follower = shard.followers[0]!;
    const switched = await admin(cluster, "POST", `/api/v1/shards/${shard.shardId}/transfer-leader`, {
      to: follower,
    });
    expect(switched.status, JSON.stringify(switched.body)).toBe(200);
    let after = await placementOf(shard.shardId);
    expect(after.leader).toBe(follower);
    expect(after.followers).toEqual([shard.leader]);
    expect(instanceNamed(cluster, follower).shards.get(shard.shardId)?.role).toBe("leader");
    expect(instanceNamed(cluster, shard.leader).shards.get(shard.shardId)?.role).toBe("follower");

    const outsider = cluster.instances.find(
      (i) => i.name !== after.leader && !after.followers.includes(i.name),
    )!;
    const moved = await admin(cluster, "POST", `/api/v1/shards/${shard.shardId}/transfer-leader`, {
      to: outsider.name,
    });
    expect(moved.status, JSON.stringify(moved.body)).toBe(200);
    after = await placementOf(shard.shardId);
    expect(after.leader).toBe(outsider.name);
    expect(outsider.shards.get(shard.shardId)?.role).toBe("leader");
    // A node opening a shard it never held loads the shard's tables from horaemeta.
    expect(outsider.shards.get(shard.shardId)?.tables.has(tableId)).toBe(true);
    expect(instanceNamed(cluster, follower).shards.has(shard.shardId)).toBe(false); // closed there

    // Bad input changes nothing.
    const before = await cluster.store.cluster.getView();
    const unknown = await admin(cluster, "POST", `/api/v1/shards/${shard.shardId}/transfer-leader`, {
      to: "127.0.0.1:1",
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toContain("not online");
    const noShard = await admin(cluster, "POST", `/api/v1/shards/99/transfer-leader`, { to: outsider.name });
    expect(noShard.status).toBe(400);
    const malformed = await admin(cluster, "POST", `/api/v1/shards/x/transfer-leader`, { to: outsider.name });
    expect(malformed.status).toBe(400);
    expect(await cluster.store.cluster.getView()).toEqual(before);
  });

  it("splits a shard's tables into a new shard on the same nodes, and merges them back", async () => {
    const cluster = await startCluster({ shards: 2, followers: 1, nodes: 2 });
    const tableIds: number[] = [];
    for (const name of ["a", "b", "c", "d"]) {
      const response = await createTable(cluster, name);
      expect(response.header?.code, response.header?.message).toBe(StatusCode.STATUS_CODE_OK);
      if (response.shardInfo!.id === 0) tableIds.push(Number(response.createdTable!.id));
    }
    expect(tableIds).toHaveLength(2);
    const split = await admin(cluster, "POST", "/api/v1/shards/0/split", { tableIds: [tableIds[1]] });
    expect(split.status, JSON.stringify(split.body)).toBe(200);
    const newShardId = (split.body.procedure as { params: { newShardId: number } }).params.newShardId;
    const [source, target] = await Promise.all([
      cluster.store.shards.get(0),
      cluster.store.shards.get(newShardId),
    ]);
    expect(source.tableIds).toEqual([tableIds[0]]);
    expect(target.tableIds).toEqual([tableIds[1]]);
    const view = await cluster.store.cluster.getView();
    const placementOf = (id: number) => view.shards.find((shard) => shard.shardId === id)!;
    expect(placementOf(newShardId)).toMatchObject({
      leader: placementOf(0).leader,
      followers: placementOf(0).followers,
    });
    const leader = instanceNamed(cluster, placementOf(0).leader);
    expect([...leader.shards.get(newShardId)!.tables]).toEqual([String(tableIds[1])]);

    const badSplit = await admin(cluster, "POST", "/api/v1/shards/0/split", { tableIds: [999_999] });
    expect(badSplit.status).toBe(400);
    expect(badSplit.body.error).toContain("not in shard 0");

    const merged = await admin(cluster, "POST", "/api/v1/shards/merge", {
      sourceShardIds: [newShardId],
      targetShardId: 0,
    });
    expect(merged.status, JSON.stringify(merged.body)).toBe(200);
    expect([...(await cluster.store.shards.get(0)).tableIds].sort()).toEqual([...tableIds].sort());
    expect((await cluster.store.cluster.getView()).shards.map((shard) => shard.shardId)).toEqual([0, 1]);
    expect(leader.shards.has(newShardId)).toBe(false);
    expect([...leader.shards.get(0)!.tables].sort()).toEqual(tableIds.map(String).sort());
  });

  it("fails a node's shards over only after its lease ended, promoting caught-up followers", async () => {
    const cluster = await startCluster({ shards: 4, followers: 1, nodes: 3 });
    const view = await cluster.store.cluster.getView();
    const victim = instanceNamed(cluster, view.shards[0]!.leader);
    const led = view.shards.filter((shard) => shard.leader === victim.name);
    const followed = view.shards.filter((shard) => shard.followers.includes(victim.name));
    await victim.stopHeartbeats();
    const lastHeartbeat = victim.lastAcceptedHeartbeatSentAtMs;
    let movedAt = 0;
    await waitFor(
      "the victim's shards to be led and followed elsewhere",
      async () => {
        const now = await cluster.store.cluster.getView();
        const done = now.shards.every(
          (shard) => shard.leader !== victim.name && !shard.followers.includes(victim.name),
        );
        if (done) movedAt = Date.now();
        return done;
      },
      15_000,
      20,
    );
    // The lease (2 s from when horaemeta received the last heartbeat, after it was sent) had ended
    // before anything moved.
    expect(movedAt - lastHeartbeat).toBeGreaterThanOrEqual(2_000);
    const after = await cluster.store.cluster.getView();
    for (const shard of led) {
      const now = after.shards.find((s) => s.shardId === shard.shardId)!;
      expect(now.leader).toBe(shard.followers[0]); // the caught-up follower was promoted
    }
    for (const shard of followed) {
      const now = after.shards.find((s) => s.shardId === shard.shardId)!;
      expect(now.leader).toBe(shard.leader);
    }
    await victim.stop();
    const survivors = cluster.instances.filter((instance) => instance !== victim);
    await waitForOpenShards(cluster, survivors);
    const promoted = survivors.flatMap((instance) =>
      instance.events.filter((event) => event.method === "SwitchShardRole").map((event) => event.shardId),
    );
    expect(promoted.sort()).toEqual(led.map((shard) => shard.shardId).sort());
  });

  it("pauses and resumes the schedulers: a node's expiry moves nothing while paused", async () => {
    const cluster = await startCluster({ shards: 2, followers: 1, nodes: 2 });
    const paused = await admin(cluster, "POST", "/api/v1/schedule", {
      enabled: false,
      reason: "maintenance",
    });
    expect(paused.status).toBe(200);
    const victim = instanceNamed(cluster, (await cluster.store.cluster.getView()).shards[0]!.leader);
    await victim.stopHeartbeats();
    await waitFor(
      "the victim's lease to end",
      async () => (await cluster.store.nodes.get(victim.name))?.state === "offline",
      10_000,
    );
    await sleep(500);
    const frozen = await cluster.store.cluster.getView();
    expect(frozen.shards.some((shard) => shard.leader === victim.name)).toBe(true);
    expect((await admin(cluster, "GET", "/api/v1/cluster")).body.schedule).toMatchObject({ enabled: false });

    expect((await admin(cluster, "POST", "/api/v1/schedule", { enabled: true })).status).toBe(200);
    await waitFor(
      "failover after resuming",
      async () =>
        (await cluster.store.cluster.getView()).shards.every((shard) => shard.leader !== victim.name),
      10_000,
    );
  });

  it("rebalances leaderships when a node joins a dynamic cluster, one move at a time", async () => {
    const cluster = await startCluster({ shards: 4, followers: 0, nodes: 1, topology: "dynamic" });
    const first = cluster.instances[0]!;
    expect(first.shardIds("leader")).toEqual([0, 1, 2, 3]);
    const joining = new SimulatedInstance({
      metaEndpoints: [cluster.replica.advertisedEndpoint!],
      clusterName: "test",
      leaseTtlMs: 2_000,
      heartbeatIntervalMs: 100,
    });
    instances.push(joining);
    await joining.start();
    await waitFor(
      "two leaderships to move to the new node",
      () => joining.shardIds("leader").length === 2,
      15_000,
    );
    expect(first.shardIds("leader")).toHaveLength(2);
    const counts = new Map<string, number>();
    for (const shard of (await cluster.store.cluster.getView()).shards) {
      counts.set(shard.leader!, (counts.get(shard.leader!) ?? 0) + 1);
    }
    expect([...counts.values()]).toEqual([2, 2]);
  });

  it("keeps only the newest ended procedures once many have ended", async () => {
    const cluster = await startCluster({ shards: 2, followers: 0, nodes: 1, keepEnded: 5 });
    for (let i = 0; i < 70; i++) {
      const response = await createTable(cluster, `t${i}`);
      expect(response.header?.code, response.header?.message).toBe(StatusCode.STATUS_CODE_OK);
    }
    // 2 open_shard + 70 create_table ended; a prune ran after the 64th and kept the newest 5.
    await waitFor(
      "the prune",
      async () => (await cluster.store.procedures.list()).length <= 5 + 72 - 64,
      5_000,
    );
    const kept = (await cluster.store.procedures.list()).map((stored) => stored.procedure);
    expect(kept.every((procedure) => procedure.state === "finished")).toBe(true);
    expect(kept.at(-1)?.kind).toBe("create_table");
    expect(await cluster.store.tables.list()).toHaveLength(70);
  });

  it("horaectl shows the cluster as tables or JSON and operates it, trying endpoints in turn", async () => {
    const cluster = await startCluster({ shards: 2, followers: 1, nodes: 2 });
    const shards = await horaectl(cluster, "shards");
    expect(shards.code, shards.stderr).toBe(0);
    const lines = shards.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^SHARD\s+LEADER\s+FOLLOWERS\s+VERSION\s+TABLES\s+PROCEDURE$/);
    expect(lines).toHaveLength(3);
    const json = await horaectl(cluster, "--json", "shards");
    const parsed = JSON.parse(json.stdout) as {
      shards: { id: number; leader: string; followers: string[] }[];
    };
    expect(parsed.shards.map((shard) => shard.id)).toEqual([0, 1]);

    const shard = parsed.shards[0]!;
    const moved = await horaectl(cluster, "transfer-leader", "0", shard.followers[0]!);
    expect(moved.code, moved.stderr).toBe(0);
    expect(moved.stdout).toMatch(/procedure \d+ \(transfer_leader\) finished/);
    expect((await cluster.store.cluster.getView()).shards[0]!.leader).toBe(shard.followers[0]);

    expect((await horaectl(cluster, "schedule", "pause", "--reason", "upgrade")).code).toBe(0);
    const info = await horaectl(cluster, "cluster");
    expect(info.stdout).toMatch(/schedulers\s+paused \(upgrade\)/);
    expect((await horaectl(cluster, "schedule", "resume")).code).toBe(0);
    expect((await horaectl(cluster, "check")).stdout.trim()).toBe("every invariant holds");
    const history = await horaectl(cluster, "procedures", "--all");
    expect(history.stdout).toContain("transfer_leader");

    const refused = await horaectl(cluster, "transfer-leader", "0", "127.0.0.1:1");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("not online");
    const usage = await horaectl(cluster, "split", "zero", "1");
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("shard must be a non-negative integer");
  });
});
