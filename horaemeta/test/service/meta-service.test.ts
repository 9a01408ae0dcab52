import * as grpc from "@grpc/grpc-js";
import { bindGrpcServer, createLogger } from "@horaedb/common";
import { loadMetaProto, metaServiceDefinition, StatusCode, type meta } from "@horaedb/proto";
import { afterEach, describe, expect, it } from "vitest";
import {
  FORWARDED_BY_METADATA_KEY,
  LeaderForwarder,
  LeaderTerm,
  metaServiceHandlers,
  NotLeaderError,
  type LeaderLocator,
  type MetaServiceOperations,
} from "../../src/index.js";

// MetaService dispatch over real gRPC, with the leadership and the operations faked: a replica that
// leads runs the call, one that does not forwards it to the leader it looks up.

const logger = createLogger({ name: "horaemeta", level: "silent" });
const servers: grpc.Server[] = [];
const clients: grpc.Client[] = [];
const terms: LeaderTerm[] = [];
const forwarders: LeaderForwarder[] = [];

afterEach(() => {
  for (const client of clients.splice(0)) client.close();
  for (const server of servers.splice(0)) server.forceShutdown();
  for (const term of terms.splice(0)) term.end("test over");
  for (const forwarder of forwarders.splice(0)) forwarder.close();
});

function activeTerm(replica: string): LeaderTerm {
  const term = new LeaderTerm({
    replica,
    leaseId: "1",
    confirmedSentAt: performance.now(),
    leaseTtlMs: 60_000,
  });
  terms.push(term);
  return term;
}

/** Operations that fail the test if called, except those given. */
function operations(overrides: Partial<MetaServiceOperations> = {}): MetaServiceOperations {
  const unexpected = () => Promise.reject(new Error("this replica must not run the call"));
  return {
    nodeHeartbeat: unexpected,
    allocSchemaId: unexpected,
    createTable: unexpected,
    dropTable: unexpected,
    routeTables: unexpected,
    getTablesOfShards: unexpected,
    getNodes: unexpected,
    ...overrides,
  };
}

async function serve(options: {
  term?: LeaderTerm;
  operations?: MetaServiceOperations;
  locator?: LeaderLocator;
}): Promise<string> {
  const server = new grpc.Server();
  servers.push(server);
  const forwarder = new LeaderForwarder({
    locator: options.locator ?? { candidate: "unused", leader: () => Promise.reject(new Error("no lookup")) },
    timeoutMs: 2_000,
  });
  forwarders.push(forwarder);
  server.addService(
    metaServiceDefinition(),
    metaServiceHandlers({
      clusterName: "test",
      leadership: { currentTerm: options.term },
      forwarder,
      operations: options.operations ?? operations(),
      logger,
    }),
  );
  const port = await bindGrpcServer(server, "127.0.0.1", 0);
  return `127.0.0.1:${port}`;
}

function client(address: string) {
  const { MetaService } = loadMetaProto().horaedb.meta.v1;
  const metaClient = new MetaService(address, grpc.credentials.createInsecure());
  clients.push(metaClient);
  return metaClient;
}

function getNodes(address: string, metadata = new grpc.Metadata()): Promise<meta.GetNodesResponse__Output> {
  return new Promise((resolve, reject) => {
    client(address).GetNodes({ header: { clusterName: "test" } }, metadata, (error, response) =>
      error || response === undefined ? reject(error ?? new Error("no response")) : resolve(response),
    );
  });
}

const LEADER_ANSWER: meta.GetNodesResponse = {
  header: { code: StatusCode.STATUS_CODE_OK },
  clusterVersion: "7",
  nodeShards: [
    { endpoint: { host: "10.0.0.1", port: 8831 }, shardInfo: { id: 0, role: "SHARD_ROLE_LEADER" } },
  ],
};

describe("MetaService dispatch", () => {
  it("runs the call on the replica that leads", async () => {
    const address = await serve({
      term: activeTerm("leader"),
      operations: operations({ getNodes: () => Promise.resolve(LEADER_ANSWER) }),
    });
    const response = await getNodes(address);
    expect(response.clusterVersion).toBe("7");
    expect(response.header?.code).toBe(StatusCode.STATUS_CODE_OK);
  });

  it("forwards a call that reaches a replica that does not lead, request and answer unchanged", async () => {
    let seen: meta.CreateTableRequest__Output | undefined;
    const leader = await serve({
      term: activeTerm("leader"),
      operations: operations({
        createTable: (request) => {
          seen = request;
          return Promise.resolve({ header: { code: StatusCode.STATUS_CODE_OK }, createdTable: { id: "12" } });
        },
      }),
    });
    const follower = await serve({
      locator: { candidate: "follower:1", leader: () => Promise.resolve(leader) },
    });

    const request: meta.CreateTableRequest = {
      header: { node: "10.0.0.1:8831", clusterName: "test" },
      schemaName: "public",
      name: "cpu",
      tableSchema: {
        columns: [
          { name: "ts", dataType: "DATA_TYPE_TIMESTAMP" },
          { name: "v", dataType: "DATA_TYPE_DOUBLE", isNullable: true, defaultExpr: "0" },
        ],
        timestampColumn: "ts",
      },
      options: { ttl: "7d" },
      createIfNotExist: true,
    };
    const response = await new Promise<meta.CreateTableResponse__Output | undefined>((resolve, reject) => {
      client(follower).CreateTable(request, (error, answer) => (error ? reject(error) : resolve(answer)));
    });
    expect(response?.createdTable?.id).toBe("12");
    expect(seen).toMatchObject({
      header: { node: "10.0.0.1:8831", clusterName: "test" },
      schemaName: "public",
      name: "cpu",
      options: { ttl: "7d" },
      createIfNotExist: true,
    });
    expect(seen?.tableSchema?.columns[1]).toMatchObject({ name: "v", defaultExpr: "0", isNullable: true });
  });

  it("answers UNAVAILABLE, retryable, when no replica leads", async () => {
    const follower = await serve({
      locator: { candidate: "follower:1", leader: () => Promise.resolve(undefined) },
    });
    const response = await getNodes(follower);
    expect(response.header).toMatchObject({ code: StatusCode.STATUS_CODE_UNAVAILABLE });
    expect(response.header?.retryAfterMs).toBeGreaterThan(0);
  });

  it("answers UNAVAILABLE when etcd still names this replica although its term has ended", async () => {
    const follower = await serve({ locator: { candidate: "me:1", leader: () => Promise.resolve("me:1") } });
    const response = await getNodes(follower);
    expect(response.header?.code).toBe(StatusCode.STATUS_CODE_UNAVAILABLE);
    expect(response.header?.message).toContain("whose term has ended");
  });

  it("never forwards a forwarded call a second time", async () => {
    let lookups = 0;
    const follower = await serve({
      locator: {
        candidate: "b:1",
        leader: () => {
          lookups++;
          return Promise.resolve("c:1");
        },
      },
    });
    const metadata = new grpc.Metadata();
    metadata.set(FORWARDED_BY_METADATA_KEY, "a:1");
    const response = await getNodes(follower, metadata);
    expect(response.header?.code).toBe(StatusCode.STATUS_CODE_UNAVAILABLE);
    expect(response.header?.message).toContain("a:1 forwarded the call here");
    expect(lookups).toBe(0);
  });

  it("answers UNAVAILABLE when the leader cannot be reached", async () => {
    const probe = new grpc.Server();
    const port = await bindGrpcServer(probe, "127.0.0.1", 0);
    probe.forceShutdown(); // the port is now closed
    const follower = await serve({
      locator: { candidate: "b:1", leader: () => Promise.resolve(`127.0.0.1:${port}`) },
    });
    const response = await getNodes(follower);
    expect(response.header?.code).toBe(StatusCode.STATUS_CODE_UNAVAILABLE);
    expect(response.header?.message).toContain(`forwarding GetNodes to the leader 127.0.0.1:${port} failed`);
  });

  it("answers UNAVAILABLE when the leader's term ends during the call", async () => {
    const term = activeTerm("leader");
    const address = await serve({
      term,
      operations: operations({
        getNodes: () => {
          term.end("etcd reports the leader lease expired");
          return Promise.reject(new NotLeaderError("leader", "etcd reports the leader lease expired"));
        },
      }),
    });
    const response = await getNodes(address);
    expect(response.header?.code).toBe(StatusCode.STATUS_CODE_UNAVAILABLE);
  });

  it("refuses a request for another cluster with FAILED_PRECONDITION before anything else", async () => {
    const address = await serve({ term: activeTerm("leader") });
    const response = await new Promise<meta.GetNodesResponse__Output | undefined>((resolve, reject) => {
      client(address).GetNodes({ header: { clusterName: "other" } }, (error, answer) =>
        error ? reject(error) : resolve(answer),
      );
    });
    expect(response?.header?.code).toBe(StatusCode.STATUS_CODE_FAILED_PRECONDITION);
  });
});
