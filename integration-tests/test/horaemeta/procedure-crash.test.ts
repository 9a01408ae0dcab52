import { fileURLToPath } from "node:url";
import { Etcd3 } from "etcd3";
import { ServerProcess } from "@horaedb/common/testing";
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
  TABLE_SCHEMA,
  watchInvariants,
  type MetaClient,
} from "./meta-test-support.js";

// The horaemeta leader is SIGKILLed at every step of every procedure kind: it pauses the first
// procedure of the kind at a failpoint (before a step runs, or after it ran and before its outcome was stored),
// the test kills it there, and the other replica, elected in its place, finishes or rolls the
// procedure back. Afterwards no procedure is left unfinished, every instance holds what the placement
// says, the outcome is all or nothing, and the invariants held at every check along the way.

const { etcd } = inject("services");
const raw = new Etcd3({ hosts: etcd.endpoints, dialTimeout: 5_000 });
const mainScript = fileURLToPath(new URL("../../../horaemeta/dist/src/main.js", import.meta.url));
const roots: string[] = [];
const processes: ServerProcess[] = [];
const instances: SimulatedInstance[] = [];
const clients: MetaClient[] = [];
const stores: MetadataStore[] = [];

afterEach(async () => {
  await Promise.all(instances.splice(0).map((instance) => instance.stop()));
  for (const client of clients.splice(0)) client.close();
  for (const process of processes.splice(0)) process.kill();
  for (const store of stores.splice(0)) store.close();
});

afterAll(async () => {
  await Promise.all(roots.map((root) => raw.delete().prefix(`${root}/`)));
  raw.close();
});

type Kind =
  | "create_table"
  | "drop_table"
  | "create_partitioned_table"
  | "drop_partitioned_table"
  | "transfer_leader"
  | "split_shard"
  | "merge_shards"
  | "failover"
  | "open_shard"
  | "close_shard";

interface CrashCase {
  readonly kind: Kind;
  readonly state: string;
  readonly phase: "before" | "after";
  /** An instance refuses CreateTableOnShard, so that the procedure goes down its rollback steps. */
  readonly refused?: boolean;
}

const CASES: readonly CrashCase[] = [
  ...["create_metadata", "create_on_shard"].map((state) => ({ kind: "create_table" as const, state })),
  ...["check", "drop_metadata", "drop_on_shard"].map((state) => ({ kind: "drop_table" as const, state })),
  ...["create_metadata", "create_on_shards"].map((state) => ({
    kind: "create_partitioned_table" as const,
    state,
  })),
  ...["drop_on_shards", "drop_metadata"].map((state) => ({
    kind: "create_partitioned_table" as const,
    state,
    refused: true,
  })),
  ...["check", "drop_metadata", "drop_on_shards"].map((state) => ({
    kind: "drop_partitioned_table" as const,
    state,
  })),
  ...["check", "release_old", "update_placement", "open_new"].map((state) => ({
    kind: "transfer_leader" as const,
    state,
  })),
  ...["check", "create_shard", "move_tables", "split_on_nodes"].map((state) => ({
    kind: "split_shard" as const,
    state,
  })),
  ...["check", "move_tables", "merge_on_nodes", "delete_sources"].map((state) => ({
    kind: "merge_shards" as const,
    state,
  })),
  ...["choose", "update_placement", "open_successor"].map((state) => ({ kind: "failover" as const, state })),
  { kind: "open_shard" as const, state: "open" },
  { kind: "close_shard" as const, state: "close" },
].flatMap((base) => [
  { ...base, phase: "before" as const },
  { ...base, phase: "after" as const },
]);

interface Replica {
  readonly process: ServerProcess;
  readonly grpc: string;
  readonly http: string;
}

async function spawnReplica(root: string, failpoint: string): Promise<Replica> {
  const process = new ServerProcess(mainScript, ["--grpc-port", "0", "--http-port", "0"], {
    HORAEMETA_ETCD__ENDPOINTS: etcd.endpoints.join(","),
    HORAEMETA_ETCD__ROOT_PATH: root,
    HORAEMETA_ETCD__CALL_TIMEOUT_MS: "2000",
    HORAEMETA_CLUSTER__NAME: "test",
    HORAEMETA_CLUSTER__SHARD_TOTAL: "4",
    HORAEMETA_CLUSTER__FOLLOWERS_PER_SHARD: "1",
    HORAEMETA_CLUSTER__MIN_NODE_COUNT: "3",
    // Node leases outlast a leader change (election TTL 2 s plus the campaign), as in any sound
    // configuration: a lease shorter than that lapses while no replica leads, and the new leader
    // fails the node's shards over, a different story from the one each case tells.
    HORAEMETA_CLUSTER__NODE_LEASE_TTL_MS: "6000",
    HORAEMETA_ELECTION__LEASE_TTL_S: "2",
    HORAEMETA_SCHEDULER__INTERVAL_MS: "100",
    HORAEMETA_PROCEDURE__EVENT_DEADLINE_MS: "2000",
    HORAEMETA_PROCEDURE__FAILPOINT: failpoint,
    HORAEMETA_LOG__LEVEL: "info",
  });
  processes.push(process);
  const listening = await process.waitForLine((line) => line.msg === "listening");
  return { process, grpc: String(listening.grpc), http: String(listening.http) };
}

async function isLeader(replica: Replica): Promise<boolean> {
  try {
    const response = await fetch(`http://${replica.http}/api/v1/leader`, {
      signal: AbortSignal.timeout(1_000),
    });
    return ((await response.json()) as { isLeader: boolean }).isLeader;
  } catch {
    return false;
  }
}

async function post(replica: Replica, path: string, body: unknown): Promise<void> {
  await fetch(`http://${replica.http}${path}`, {
    method: "POST",
    body: JSON.stringify(body),
    headers: { "content-type": "application/json" },
  }).catch(() => undefined); // the leader is killed while the request waits
}

describe("horaemeta leader killed at every procedure step", () => {
  it.each(CASES)("$kind, killed $phase $state: the next leader finishes or rolls back", async (crash) => {
    const root = freshRootPath();
    roots.push(root);
    const failpoint = `${crash.kind}:${crash.state}${crash.phase === "after" ? ":after" : ""}`;
    // The replica with the failpoint leads (it starts first); the other one, without, takes over.
    const leader = await spawnReplica(root, failpoint);
    await waitFor("the first replica to lead", () => isLeader(leader), 15_000);
    const survivor = await spawnReplica(root, "");
    const replicas = [leader, survivor];
    const store = MetadataStore.connect({ endpoints: etcd.endpoints, rootPath: root, clusterName: "test" });
    stores.push(store);
    const client = connectMeta(leader.grpc);
    clients.push(client);

    const cluster: SimulatedInstance[] = [];
    for (let i = 0; i < 3; i++) {
      const instance = new SimulatedInstance({
        metaEndpoints: replicas.map((replica) => replica.grpc),
        clusterName: "test",
        leaseTtlMs: 6_000,
        heartbeatIntervalMs: 100,
      });
      instances.push(instance);
      await instance.start();
      cluster.push(instance);
    }
    const stopChecking = watchInvariants(store);

    const reached = leader.process.waitForLine(
      (line) => line.msg.startsWith("procedure failpoint reached") && line.kind === crash.kind,
      20_000,
    );
    if (crash.kind !== "open_shard") {
      await waitFor("instances to open their shards", () => instancesMatchPlacement(store, cluster), 15_000);
    }
    const view = await store.cluster.getView();
    let victim: SimulatedInstance | undefined;
    let tableShard = -1;
    /** Creates table `t` (before the crash, except in the create_table case, where it is the crash). */
    const createTable = async () => {
      const created = await client.createTable({
        header: header(),
        schemaName: "public",
        name: "t",
        tableSchema: TABLE_SCHEMA,
      });
      if (crash.kind !== "create_table") expect(created.header?.code).toBe(StatusCode.STATUS_CODE_OK);
      return created;
    };
    /** Creates partitioned table `p` with 3 sub-tables (the crash in its own case, else before it). */
    const createPartitioned = async () => {
      const created = await client.createTable({
        header: header(),
        schemaName: "public",
        name: "p",
        tableSchema: TABLE_SCHEMA,
        partitionInfo: { keyColumns: ["host"], partitionCount: 3 },
      });
      if (crash.kind !== "create_partitioned_table") {
        expect(created.header?.code, created.header?.message).toBe(StatusCode.STATUS_CODE_OK);
      }
      return created;
    };
    let subTableIds: string[] = [];
    switch (crash.kind) {
      case "open_shard":
        break;
      case "create_table":
        void createTable().catch(() => undefined);
        break;
      case "create_partitioned_table":
        // Its 3 sub-tables go to shards led by the 3 instances: one refusing rolls all back.
        if (crash.refused === true) cluster[0]!.behaviour.refuse.add("CreateTableOnShard");
        void createPartitioned().catch(() => undefined);
        break;
      case "drop_partitioned_table": {
        await createPartitioned();
        const parent = (await store.tables.get("public", "p"))!;
        subTableIds = (await store.tables.subTablesOf(parent)).map((sub) => String(sub.id));
        expect(subTableIds).toHaveLength(3);
        void client.dropTable({ header: header(), schemaName: "public", name: "p" }).catch(() => undefined);
        break;
      }
      case "drop_table": {
        const created = await createTable();
        tableShard = created.shardInfo!.id;
        void client.dropTable({ header: header(), schemaName: "public", name: "t" }).catch(() => undefined);
        break;
      }
      case "transfer_leader":
        void post(leader, `/api/v1/shards/0/transfer-leader`, { to: view.shards[0]!.followers[0] });
        break;
      case "split_shard": {
        const created = await createTable();
        tableShard = created.shardInfo!.id;
        void post(leader, `/api/v1/shards/${tableShard}/split`, {
          tableIds: [Number(created.createdTable!.id)],
        });
        break;
      }
      case "merge_shards": {
        const created = await createTable();
        tableShard = created.shardInfo!.id;
        const leaderOf = view.shards.find((shard) => shard.shardId === tableShard)!.leader;
        const target = view.shards.find((shard) => shard.leader === leaderOf && shard.shardId !== tableShard);
        if (target === undefined) {
          // 4 shards on 3 nodes: one node leads two; merge onto one of those instead.
          const counts = new Map<string, number[]>();
          for (const shard of view.shards)
            counts.set(shard.leader!, [...(counts.get(shard.leader!) ?? []), shard.shardId]);
          const [first, second] = [...counts.values()].find((ids) => ids.length >= 2)!;
          void post(leader, "/api/v1/shards/merge", { sourceShardIds: [first], targetShardId: second });
        } else {
          void post(leader, "/api/v1/shards/merge", {
            sourceShardIds: [tableShard],
            targetShardId: target.shardId,
          });
        }
        break;
      }
      case "failover":
        victim = cluster.find((instance) => instance.name === view.shards[0]!.leader)!;
        await victim.stopHeartbeats();
        break;
      case "close_shard": {
        // An instance reports a shard the placement does not give it.
        const outsider = cluster.find((instance) => !instance.shards.has(0))!;
        outsider.shards.set(0, { role: "follower", version: 1, tables: new Set() });
        break;
      }
    }

    const paused = await reached;
    expect(paused).toMatchObject({ state: crash.state, phase: crash.phase });
    leader.process.child.kill("SIGKILL");
    await waitFor("the other replica to lead", () => isLeader(survivor), 15_000);
    const survivors = cluster.filter((instance) => instance !== victim);
    await waitFor(
      "every procedure to end and the instances to converge",
      async () => {
        const unfinished = (await store.procedures.list()).filter(
          (stored) => !["finished", "rolled_back"].includes(stored.procedure.state),
        );
        if (unfinished.length > 0 || !(await instancesMatchPlacement(store, survivors))) return false;
        // A failover is over once the placement no longer names the victim (a pass may still be due).
        const placement = (await store.cluster.getView()).shards;
        return placement.every(
          (shard) =>
            victim === undefined || (shard.leader !== victim.name && !shard.followers.includes(victim.name)),
        );
      },
      30_000,
    ).catch(async (error: unknown) => {
      // Say what did not settle: the procedures, the placement, and what each instance holds.
      const procedures = (await store.procedures.list()).map(({ procedure }) => ({
        id: procedure.id,
        kind: procedure.kind,
        state: procedure.state,
        history: procedure.history,
      }));
      const held = survivors.map((instance) => ({
        name: instance.name,
        shards: [...instance.shards.entries()].map(([id, shard]) => `${id}:${shard.role}@${shard.version}`),
      }));
      const placement = (await store.cluster.getView()).shards;
      throw new Error(
        `${(error as Error).message}\n${JSON.stringify({ procedures, placement, held }, null, 1)}`,
      );
    });
    expect(await stopChecking()).toEqual([]);

    const crashed = (await store.procedures.list()).find(
      (stored) => stored.procedure.kind === crash.kind,
    )!.procedure;
    expect(["finished", "rolled_back"]).toContain(crashed.state);
    const table = await store.tables.get("public", "t");
    const holders = cluster.filter((instance) =>
      [...instance.shards.values()].some(
        (shard) => table !== undefined && shard.tables.has(String(table.id)),
      ),
    );
    switch (crash.kind) {
      case "create_table":
        // All or nothing: the table exists exactly when its shard's leader has it.
        if (table === undefined) expect(holders).toEqual([]);
        else {
          const placement = (await store.cluster.getView()).shards.find(
            (shard) => shard.shardId === table.shardId,
          )!;
          expect(
            cluster
              .find((instance) => instance.name === placement.leader)!
              .shards.get(table.shardId!)
              ?.tables.has(String(table.id)),
          ).toBe(true);
        }
        break;
      case "drop_table":
        expect(crashed.state).toBe("finished");
        expect(table).toBeUndefined();
        break;
      case "create_partitioned_table": {
        // All or nothing: the table and its 3 sub-tables exist, each on its shard's leader, or none
        // of them does and no instance holds a sub-table.
        const parent = await store.tables.get("public", "p");
        const subNames = ["__p_0", "__p_1", "__p_2"];
        const subs = await Promise.all(subNames.map((name) => store.tables.get("public", name)));
        const held = cluster.flatMap((instance) =>
          [...instance.shards.values()].flatMap((shard) => [...shard.tables]),
        );
        if (parent === undefined || crash.refused === true) {
          expect(parent).toBeUndefined();
          expect(crashed.state).toBe("rolled_back");
          expect(subs).toEqual([undefined, undefined, undefined]);
          expect(held).toEqual([]);
        } else {
          expect(crashed.state).toBe("finished");
          const placement = (await store.cluster.getView()).shards;
          for (const sub of subs) {
            expect(sub?.parentTableId).toBe(parent.id);
            const leader = placement.find((shard) => shard.shardId === sub!.shardId)!.leader;
            const onLeader = cluster.find((instance) => instance.name === leader)!.shards.get(sub!.shardId!);
            expect(onLeader?.tables.has(String(sub!.id))).toBe(true);
          }
        }
        break;
      }
      case "drop_partitioned_table": {
        expect(crashed.state).toBe("finished");
        expect(await store.tables.list()).toEqual([]);
        const held = cluster.flatMap((instance) =>
          [...instance.shards.values()].flatMap((shard) => [...shard.tables]),
        );
        expect(held.filter((id) => subTableIds.includes(id))).toEqual([]);
        break;
      }
      case "transfer_leader": {
        const leaderNow = (await store.cluster.getView()).shards[0]!.leader;
        expect(leaderNow).toBe(
          crashed.state === "finished" ? view.shards[0]!.followers[0] : view.shards[0]!.leader,
        );
        break;
      }
      case "split_shard":
        if (crashed.state === "finished") expect(table!.shardId).not.toBe(tableShard);
        else expect(table!.shardId).toBe(tableShard);
        expect((await store.shards.list()).length).toBe(crashed.state === "finished" ? 5 : 4);
        break;
      case "merge_shards":
        expect((await store.shards.list()).length).toBe(crashed.state === "finished" ? 3 : 4);
        break;
      case "failover": {
        const after = await store.cluster.getView();
        expect(
          after.shards.some(
            (shard) => shard.leader === victim!.name || shard.followers.includes(victim!.name),
          ),
        ).toBe(false);
        break;
      }
      default:
        break;
    }
  });
});
