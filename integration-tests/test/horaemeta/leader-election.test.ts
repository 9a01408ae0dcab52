import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { Etcd3 } from "etcd3";
import type { HoraeMetaServer, LeaderStatusBody } from "@horaedb/horaemeta";
import { ServerProcess } from "@horaedb/common/testing";
import { StatusCode } from "@horaedb/proto";
import { afterAll, afterEach, describe, expect, inject, it } from "vitest";
import { waitFor } from "../support/wait.js";
import {
  connectMeta,
  CuttableProxy,
  freshRootPath,
  header,
  newReplica,
  replicaConfig,
  type MetaClient,
} from "./meta-test-support.js";

// Leader election among horaemeta replicas against a real etcd: a SIGKILLed leader is replaced
// within the lease TTL + 1 s, and a leader cut off from etcd stops acting as leader before anyone
// else is elected.

const LEASE_TTL_S = 2;
const LEASE_TTL_MS = LEASE_TTL_S * 1000;
/** What the design allows after the leader dies: the lease TTL plus one second. */
const FAILOVER_BOUND_MS = LEASE_TTL_MS + 1_000;
/** Room for process scheduling and the 25 ms polling of the measurement itself. */
const SCHEDULING_SLACK_MS = 250;

const mainScript = fileURLToPath(new URL("../../../horaemeta/dist/src/main.js", import.meta.url));
const { etcd } = inject("services");
const raw = new Etcd3({
  hosts: etcd.endpoints,
  dialTimeout: 5_000,
  defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + 5_000 }),
});
const roots: string[] = [];
const processes: ServerProcess[] = [];
const replicas: HoraeMetaServer[] = [];
const proxies: CuttableProxy[] = [];
const clients: MetaClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  for (const process of processes.splice(0)) process.kill();
  await Promise.all(replicas.splice(0).map((replica) => replica.stop()));
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
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

/** One figure, printed as a JSON line like the benchmarks' (design.md section 8). */
function report(name: string, valueMs: number): void {
  console.log(JSON.stringify({ name, value: Math.round(valueMs), unit: "ms" }));
}

interface ReplicaProcess {
  readonly process: ServerProcess;
  readonly grpc: string;
  readonly http: string;
}

async function spawnReplica(root: string): Promise<ReplicaProcess> {
  const process = new ServerProcess(mainScript, ["--grpc-port", "0", "--http-port", "0"], {
    HORAEMETA_ETCD__ENDPOINTS: etcd.endpoints.join(","),
    HORAEMETA_ETCD__ROOT_PATH: root,
    HORAEMETA_ETCD__CALL_TIMEOUT_MS: "2000",
    HORAEMETA_CLUSTER__NAME: "test",
    HORAEMETA_ELECTION__LEASE_TTL_S: String(LEASE_TTL_S),
  });
  processes.push(process);
  const listening = await process.waitForLine((line) => line.msg === "listening");
  return { process, grpc: String(listening.grpc), http: String(listening.http) };
}

async function leaderStatus(replica: ReplicaProcess): Promise<LeaderStatusBody | undefined> {
  try {
    const response = await fetch(`http://${replica.http}/api/v1/leader`, {
      signal: AbortSignal.timeout(1_000),
    });
    return (await response.json()) as LeaderStatusBody;
  } catch {
    return undefined; // killed, or not answering right now
  }
}

/** Waits until exactly one replica reports leading and every other one names it; returns it. */
async function agreedLeader(replicas: readonly ReplicaProcess[]): Promise<ReplicaProcess> {
  let leader: ReplicaProcess | undefined;
  await waitFor(
    "the replicas to agree on one leader",
    async () => {
      const statuses = await Promise.all(replicas.map(leaderStatus));
      const leading = replicas.filter((_, i) => statuses[i]?.isLeader === true);
      if (leading.length !== 1) return false;
      leader = leading[0]!;
      return statuses.every((status) => status?.leader === leader!.grpc);
    },
    15_000,
    50,
  );
  return leader!;
}

/** SIGKILLs the leader and measures until another replica reports that it leads. */
async function killLeaderAndMeasure(leader: ReplicaProcess, others: readonly ReplicaProcess[]) {
  const killedAt = performance.now();
  leader.process.child.kill("SIGKILL");
  for (;;) {
    const statuses = await Promise.all(others.map(leaderStatus));
    const index = statuses.findIndex((status) => status?.isLeader === true);
    if (index >= 0) return { next: others[index]!, elapsedMs: performance.now() - killedAt };
    if (performance.now() - killedAt > 15_000) throw new Error("no replica took over within 15 s");
    await sleep(25);
  }
}

describe("horaemeta leader election", () => {
  it("elects a new leader within the lease TTL + 1 s after the leader is SIGKILLed, twice", async () => {
    const root = rootPath();
    const all = await Promise.all([spawnReplica(root), spawnReplica(root), spawnReplica(root)]);

    const first = await agreedLeader(all);
    const survivors = all.filter((replica) => replica !== first);
    const failover1 = await killLeaderAndMeasure(first, survivors);
    report("horaemeta_failover_3_replicas_ms", failover1.elapsedMs);
    expect(failover1.elapsedMs).toBeLessThanOrEqual(FAILOVER_BOUND_MS + SCHEDULING_SLACK_MS);
    expect(await first.process.exited).toMatchObject({ signal: "SIGKILL" });
    expect(await agreedLeader(survivors)).toBe(failover1.next);

    // The remaining follower forwards to the new leader.
    const follower = survivors.find((replica) => replica !== failover1.next)!;
    const client = connectMeta(follower.grpc);
    clients.push(client);
    await waitFor(
      "the new leader to create the cluster",
      async () => (await client.getNodes({ header: header() })).header?.code === StatusCode.STATUS_CODE_OK,
      5_000,
    );

    const failover2 = await killLeaderAndMeasure(failover1.next, [follower]);
    report("horaemeta_failover_2_replicas_ms", failover2.elapsedMs);
    expect(failover2.elapsedMs).toBeLessThanOrEqual(FAILOVER_BOUND_MS + SCHEDULING_SLACK_MS);
    expect(failover2.next).toBe(follower);
  });

  it("stops a leader cut off from etcd before another replica is elected, which happens within TTL + 1 s", async () => {
    const root = rootPath();
    const proxy = new CuttableProxy(etcd.endpoints[0]!);
    proxies.push(proxy);
    const proxied = newReplica(replicaConfig([await proxy.start()], root));
    replicas.push(proxied);
    await proxied.start();
    await waitFor("the proxied replica to lead", () => proxied.isLeader, 10_000, 20);
    const direct = newReplica(replicaConfig(etcd.endpoints, root));
    replicas.push(direct);
    await direct.start();
    await sleep(500); // the second replica campaigns and waits behind the leader
    expect(direct.isLeader).toBe(false);

    let steppedDownAt: number | undefined;
    let electedAt: number | undefined;
    let bothLed = false;
    const cutAt = performance.now();
    proxy.blackhole();
    await waitFor(
      "the directly connected replica to lead",
      () => {
        const now = performance.now();
        if (proxied.isLeader && direct.isLeader) bothLed = true;
        if (steppedDownAt === undefined && !proxied.isLeader) steppedDownAt = now;
        if (electedAt === undefined && direct.isLeader) electedAt = now;
        return electedAt !== undefined && steppedDownAt !== undefined;
      },
      15_000,
      5,
    );
    const stepDownMs = steppedDownAt! - cutAt;
    const takeOverMs = electedAt! - cutAt;
    report("horaemeta_partitioned_leader_step_down_ms", stepDownMs);
    report("horaemeta_partitioned_leader_replaced_ms", takeOverMs);
    expect(bothLed).toBe(false);
    expect(steppedDownAt!).toBeLessThan(electedAt!);
    expect(stepDownMs).toBeLessThanOrEqual(LEASE_TTL_MS);
    expect(takeOverMs).toBeLessThanOrEqual(FAILOVER_BOUND_MS + SCHEDULING_SLACK_MS);

    // Back in touch with etcd, the old leader campaigns again behind the new one.
    proxy.heal();
    const client = connectMeta(`${String(proxied.advertisedEndpoint)}`);
    clients.push(client);
    await waitFor(
      "the old leader to forward to the new one",
      async () => (await client.getNodes({ header: header() })).header?.code === StatusCode.STATUS_CODE_OK,
      20_000,
      200,
    );
    expect(direct.isLeader).toBe(true);
    expect(proxied.isLeader).toBe(false);
  });
});
