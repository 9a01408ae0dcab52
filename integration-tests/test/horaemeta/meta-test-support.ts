/**
 * Shared by the horaemeta integration tests: a promise-based MetaService client, replicas, a TCP
 * proxy, and the checks of procedure tests (instances against the placement, invariants).
 */
import { randomUUID } from "node:crypto";
import { createServer, connect, type Server, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import * as grpc from "@grpc/grpc-js";
import { createLogger } from "@horaedb/common";
import {
  HoraeMetaServer,
  InvariantChecker,
  resolveHoraeMetaConfig,
  type HoraeMetaConfigInput,
} from "@horaedb/horaemeta";
import type { MetadataStore } from "@horaedb/horaemeta/metadata";
import type { SimulatedInstance } from "@horaedb/horaemeta/testing";
import { loadMetaProto, type meta } from "@horaedb/proto";

/** Deadline of each test call; forwarded calls and etcd retries fit well within it. */
const CALL_DEADLINE_MS = 10_000;

type Unary<Request, Response> = (
  request: Request,
  options: grpc.CallOptions,
  callback: grpc.requestCallback<Response>,
) => grpc.ClientUnaryCall;

/** A MetaService client whose methods return promises of the decoded responses. */
export function connectMeta(address: string) {
  const { MetaService } = loadMetaProto().horaedb.meta.v1;
  const client = new MetaService(address, grpc.credentials.createInsecure());
  const unary =
    <Request, Response>(method: Unary<Request, Response>) =>
    (request: Request): Promise<Response> =>
      new Promise((resolve, reject) => {
        method(request, { deadline: Date.now() + CALL_DEADLINE_MS }, (error, response) => {
          if (error !== null || response === undefined) reject(error ?? new Error("no response"));
          else resolve(response);
        });
      });
  return {
    nodeHeartbeat: unary<meta.NodeHeartbeatRequest, meta.NodeHeartbeatResponse__Output>((r, o, c) =>
      client.NodeHeartbeat(r, o, c),
    ),
    allocSchemaId: unary<meta.AllocSchemaIdRequest, meta.AllocSchemaIdResponse__Output>((r, o, c) =>
      client.AllocSchemaId(r, o, c),
    ),
    createTable: unary<meta.CreateTableRequest, meta.CreateTableResponse__Output>((r, o, c) =>
      client.CreateTable(r, o, c),
    ),
    dropTable: unary<meta.DropTableRequest, meta.DropTableResponse__Output>((r, o, c) =>
      client.DropTable(r, o, c),
    ),
    routeTables: unary<meta.RouteTablesRequest, meta.RouteTablesResponse__Output>((r, o, c) =>
      client.RouteTables(r, o, c),
    ),
    getTablesOfShards: unary<meta.GetTablesOfShardsRequest, meta.GetTablesOfShardsResponse__Output>(
      (r, o, c) => client.GetTablesOfShards(r, o, c),
    ),
    getNodes: unary<meta.GetNodesRequest, meta.GetNodesResponse__Output>((r, o, c) =>
      client.GetNodes(r, o, c),
    ),
    close: () => client.close(),
  };
}

export type MetaClient = ReturnType<typeof connectMeta>;

/**
 * Whether every shard is placed and each instance holds exactly what the placement gives it, in that
 * role (false before the cluster exists).
 */
export async function instancesMatchPlacement(
  store: MetadataStore,
  instances: readonly SimulatedInstance[],
): Promise<boolean> {
  const view = await store.cluster.getView().catch(() => undefined);
  if (view === undefined || view.shards.some((shard) => shard.leader === null)) return false;
  return instances.every((instance) =>
    view.shards.every((shard) => {
      const held = instance.shards.get(shard.shardId);
      if (shard.leader === instance.name) return held?.role === "leader";
      if (shard.followers.includes(instance.name)) return held?.role === "follower";
      return held === undefined;
    }),
  );
}

/**
 * Checks the cluster's invariants every 20 ms until the returned function is called; that function
 * checks once more and returns every violation seen.
 */
export function watchInvariants(store: MetadataStore): () => Promise<string[]> {
  const checker = new InvariantChecker();
  const found = new Set<string>();
  let running = true;
  const loop = (async () => {
    while (running) {
      for (const violation of await checker.check(store).catch(() => [])) found.add(violation);
      await sleep(20);
    }
    for (const violation of await checker.check(store)) found.add(violation);
  })();
  return async () => {
    running = false;
    await loop;
    return [...found];
  };
}

/** A root path of its own, so tests never see each other's keys. */
export function freshRootPath(): string {
  return `/horaemeta-test/${randomUUID()}`;
}

/** Configuration of an in-process replica: ports chosen at run time, short leases and passes. */
export function replicaConfig(
  etcdEndpoints: readonly string[],
  rootPath: string,
  input: HoraeMetaConfigInput = {},
) {
  return resolveHoraeMetaConfig({
    ...input,
    server: { grpc_port: 0, http_port: 0, shutdown_timeout_ms: 2_000, ...input.server },
    etcd: { endpoints: [...etcdEndpoints], root_path: rootPath, call_timeout_ms: 2_000, ...input.etcd },
    election: { lease_ttl_s: 2, ...input.election },
    cluster: { name: "test", ...input.cluster },
    scheduler: { interval_ms: 100, ...input.scheduler },
  });
}

export function newReplica(config: ReturnType<typeof resolveHoraeMetaConfig>): HoraeMetaServer {
  return new HoraeMetaServer(config, { logger: createLogger({ name: "horaemeta", level: "silent" }) });
}

/** The header of a request from node `node` of cluster `test`. */
export function header(node = ""): meta.RequestHeader {
  return { node, clusterName: "test" };
}

/** A heartbeat of a horaedb node at 127.0.0.1:`port`. */
export function heartbeat(port: number, zone = ""): meta.NodeHeartbeatRequest {
  return {
    header: header(`127.0.0.1:${port}`),
    info: { endpoint: { host: "127.0.0.1", port }, zone, leaseTtlMs: 10_000, binaryVersion: "test" },
  };
}

export const TABLE_SCHEMA = {
  columns: [
    { name: "ts", dataType: "DATA_TYPE_TIMESTAMP" as const },
    { name: "host", dataType: "DATA_TYPE_STRING" as const, isTag: true },
    { name: "value", dataType: "DATA_TYPE_DOUBLE" as const, isNullable: true, defaultExpr: "0" },
  ],
  timestampColumn: "ts",
};

/**
 * A TCP proxy to etcd that can be cut: `blackhole()` stops forwarding in both directions without
 * closing anything (a network partition as the client sees it); `heal()` drops the stalled
 * connections and forwards again.
 */
export class CuttableProxy {
  readonly #server: Server;
  readonly #target: { host: string; port: number };
  readonly #sockets = new Set<Socket>();
  readonly #pairs = new Set<[Socket, Socket]>();
  #cut = false;

  constructor(targetUrl: string) {
    const url = new URL(targetUrl);
    this.#target = { host: url.hostname, port: Number(url.port) };
    this.#server = createServer((client) => this.#accept(client));
  }

  /**
   * Listens on 127.0.0.1 at `port`, by default one chosen at run time; resolves to the proxy's etcd
   * endpoint. After `close()` it may listen again, on the same port.
   */
  async start(port = 0): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(port, "127.0.0.1", () => {
        this.#server.off("error", reject);
        resolve();
      });
    });
    const address = this.#server.address();
    if (address === null || typeof address === "string") throw new Error("the proxy has no port");
    return `http://127.0.0.1:${address.port}`;
  }

  blackhole(): void {
    this.#cut = true;
    for (const [client, upstream] of this.#pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      // Read and drop, so nothing is delivered and nothing is closed.
      client.on("data", () => undefined);
      upstream.on("data", () => undefined);
    }
  }

  heal(): void {
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    this.#pairs.clear();
    this.#cut = false;
  }

  async close(): Promise<void> {
    this.heal();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    this.#track(client);
    if (this.#cut) {
      client.on("data", () => undefined);
      return;
    }
    const upstream = connect(this.#target.port, this.#target.host);
    this.#track(upstream);
    this.#pairs.add([client, upstream]);
    client.pipe(upstream);
    upstream.pipe(client);
  }

  #track(socket: Socket): void {
    this.#sockets.add(socket);
    socket.on("error", () => socket.destroy());
    socket.on("close", () => this.#sockets.delete(socket));
  }
}
