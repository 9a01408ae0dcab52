/**
 * The cluster the meta bench measures, all on loopback: one etcd (a child process in a temporary
 * directory), one horaemeta in this process, and simulated horaedb instances (real gRPC
 * MetaEventService servers in this process) heartbeating to it. Every part registers its own
 * cleanup as soon as it exists.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Etcd3 } from "etcd3";
import { pino } from "pino";
import { HoraeMetaServer, resolveHoraeMetaConfig } from "@horaedb/horaemeta";
import { MetadataStore, type ClusterView } from "@horaedb/horaemeta/metadata";
import { SimulatedInstance } from "@horaedb/horaemeta/testing";
import { startEtcd } from "@horaedb/integration-tests";
import { onCleanup } from "../cleanup.js";
import { LeaseExpiries } from "./lease-expiries.js";
import { MetaServiceClient } from "./meta-client.js";

export const CLUSTER_NAME = "bench";
const ROOT_PATH = "/horaemeta-bench";
/** The lease a node gets per heartbeat, and how often the instances heartbeat in the background. */
export const NODE_LEASE_TTL_MS = 2_000;
export const HEARTBEAT_INTERVAL_MS = 1_000;
const LEADER_TIMEOUT_MS = 30_000;

export interface MetaClusterOptions {
  readonly nodes: number;
  readonly shards: number;
}

export interface MetaCluster {
  readonly server: HoraeMetaServer;
  readonly store: MetadataStore;
  readonly client: MetaServiceClient;
  readonly instances: readonly SimulatedInstance[];
  readonly expiries: LeaseExpiries;
}

/** The cluster did not reach the state a phase needs in time. */
export class ClusterNotSettledError extends Error {
  override readonly name = "ClusterNotSettledError";

  constructor(what: string, timeoutMs: number, lastMismatch: string) {
    super(`${what} did not happen within ${timeoutMs} ms; last seen: ${lastMismatch}`);
  }
}

export async function startMetaCluster(options: MetaClusterOptions): Promise<MetaCluster> {
  const dir = await mkdtemp(join(tmpdir(), "horaedb-bench-meta-"));
  onCleanup("the temporary directory", () => rm(dir, { recursive: true, force: true }));
  const etcd = await startEtcd({ dir: join(dir, "etcd") });
  onCleanup("etcd", () => etcd.stop());
  const endpoints = etcd.endpoint.endpoints;
  console.error(`etcd on ${etcd.address} (started in ${Math.round(etcd.startMs)} ms)`);

  const raw = new Etcd3({ hosts: [...endpoints], dialTimeout: 5_000 });
  onCleanup("the etcd client", () => Promise.resolve(raw.close()));
  const store = MetadataStore.connect({ endpoints, rootPath: ROOT_PATH, clusterName: CLUSTER_NAME });
  onCleanup("the metadata store", () => Promise.resolve(store.close()));
  const expiries = await LeaseExpiries.watch(raw, store.keys);
  onCleanup("the lease watch", () => expiries.close());

  const config = resolveHoraeMetaConfig({
    server: { bind_addr: "127.0.0.1", grpc_port: 0, http_port: 0, shutdown_timeout_ms: 2_000 },
    etcd: { endpoints: [...endpoints], root_path: ROOT_PATH },
    election: { lease_ttl_s: 2 },
    cluster: {
      name: CLUSTER_NAME,
      shard_total: options.shards,
      followers_per_shard: 1,
      min_node_count: options.nodes,
      node_lease_ttl_ms: NODE_LEASE_TTL_MS,
      topology: "static",
    },
    scheduler: { interval_ms: 1_000 },
    log: { level: "warn" },
  });
  // Warnings and errors go to stderr: stdout carries the figures only.
  const logger = pino({ name: "horaemeta", level: config.log.level }, pino.destination(2));
  const server = new HoraeMetaServer(config, { logger });
  onCleanup("horaemeta", () => server.stop());
  const addresses = await server.start();
  await until("horaemeta to lead", LEADER_TIMEOUT_MS, 20, () =>
    Promise.resolve(server.isLeader ? undefined : "not the leader yet"),
  );
  console.error(`horaemeta leading on ${addresses.grpc}`);

  const client = new MetaServiceClient(addresses.grpc, CLUSTER_NAME);
  onCleanup("the MetaService client", () => Promise.resolve(client.close()));

  const instances: SimulatedInstance[] = [];
  onCleanup("the simulated instances", async () => {
    await Promise.all(instances.map((instance) => instance.stop()));
  });
  await Promise.all(
    Array.from({ length: options.nodes }, async () => {
      const instance = new SimulatedInstance({
        metaEndpoints: [addresses.grpc],
        clusterName: CLUSTER_NAME,
        leaseTtlMs: NODE_LEASE_TTL_MS,
        heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS,
      });
      instances.push(instance);
      await instance.start();
    }),
  );
  return { server, store, client, instances, expiries };
}

/**
 * Polls `mismatch` every `intervalMs` until it returns undefined; on timeout throws
 * ClusterNotSettledError with the last mismatch it described.
 */
export async function until(
  what: string,
  timeoutMs: number,
  intervalMs: number,
  mismatch: () => Promise<string | undefined>,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let last = "nothing checked yet";
  for (;;) {
    const found = await mismatch().catch((error: unknown) => `error: ${String(error)}`);
    if (found === undefined) return;
    last = found;
    if (performance.now() >= deadline) throw new ClusterNotSettledError(what, timeoutMs, last);
    await sleep(intervalMs);
  }
}

/** Where `instance` differs from what the placement gives it, or undefined when it holds exactly that. */
export function placementMismatch(view: ClusterView, instance: SimulatedInstance): string | undefined {
  for (const shard of view.shards) {
    const held = instance.shards.get(shard.shardId);
    const wanted =
      shard.leader === instance.name
        ? "leader"
        : shard.followers.includes(instance.name)
          ? "follower"
          : undefined;
    if (held?.role !== wanted) {
      return `${instance.name} holds shard ${shard.shardId} as ${held?.role ?? "nothing"}, placed as ${wanted ?? "nothing"}`;
    }
  }
  return undefined;
}

/**
 * Waits until the cluster is Stable, every shard has a leader, and each of `instances` holds exactly
 * what the placement gives it, in the placed role.
 */
export async function waitForPlacement(
  cluster: MetaCluster,
  instances: readonly SimulatedInstance[],
  timeoutMs: number,
): Promise<ClusterView> {
  let settled: ClusterView | undefined;
  await until("the instances to hold what the placement gives them", timeoutMs, 100, async () => {
    const state = await cluster.store.cluster.getState();
    if (state.state !== "Stable") return `cluster state ${state.state}`;
    const view = await cluster.store.cluster.getView();
    const unplaced = view.shards.filter((shard) => shard.leader === null).length;
    if (unplaced > 0) return `${unplaced} shards without a leader`;
    for (const instance of instances) {
      const mismatch = placementMismatch(view, instance);
      if (mismatch !== undefined) return mismatch;
    }
    settled = view;
    return undefined;
  });
  return settled!;
}
