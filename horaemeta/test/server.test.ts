import * as grpc from "@grpc/grpc-js";
import { createLogger } from "@horaedb/common";
import { loadMetaProto, StatusCode, type meta } from "@horaedb/proto";
import { afterEach, describe, expect, it } from "vitest";
import { HoraeMetaServer, resolveHoraeMetaConfig, type LeaderStatusBody } from "../src/index.js";

const servers: HoraeMetaServer[] = [];
const clients: grpc.Client[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await Promise.all(servers.splice(0).map((server) => server.stop()));
});

/** A server whose etcd cannot be reached: nothing listens on port 1. */
function newServer() {
  const config = resolveHoraeMetaConfig({
    server: { grpc_port: 0, http_port: 0 },
    etcd: { endpoints: ["http://127.0.0.1:1"], call_timeout_ms: 200 },
  });
  const server = new HoraeMetaServer(config, {
    logger: createLogger({ name: "horaemeta", level: "silent" }),
  });
  servers.push(server);
  return server;
}

describe("HoraeMetaServer", () => {
  it("listens on ports chosen at run time and answers GET /health with 200", async () => {
    const addresses = await newServer().start();
    const response = await fetch(`http://${addresses.http}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      status: "ok",
      server: "horaemeta",
      cluster: "defaultCluster",
      role: "follower",
    });
  });

  it("answers a MetaService call with a retryable UNAVAILABLE header while no leader can be found", async () => {
    const addresses = await newServer().start();
    const { MetaService } = loadMetaProto().horaedb.meta.v1;
    const client = new MetaService(addresses.grpc, grpc.credentials.createInsecure());
    clients.push(client);
    const response = await new Promise<meta.GetNodesResponse__Output | undefined>((resolve, reject) => {
      client.GetNodes({}, (error, answer) => (error ? reject(error) : resolve(answer)));
    });
    expect(response?.header).toMatchObject({ code: StatusCode.STATUS_CODE_UNAVAILABLE });
    expect(response?.header?.message).toContain("no horaemeta leader is known");
    expect(response?.header?.retryAfterMs).toBeGreaterThan(0);
  });

  it("reports on GET /api/v1/leader that it does not lead, with 503 while etcd cannot say who does", async () => {
    const server = newServer();
    const addresses = await server.start();
    const response = await fetch(`http://${addresses.http}/api/v1/leader`);
    expect(response.status).toBe(503);
    const body = (await response.json()) as LeaderStatusBody;
    expect(body).toMatchObject({ self: addresses.grpc, isLeader: false, leader: null });
    expect(body.error).toContain("no horaemeta leader is known");
    expect(server.advertisedEndpoint).toBe(addresses.grpc);
  });

  it("reports shutting_down as soon as stop() begins and stops listening when it resolves", async () => {
    const server = newServer();
    const addresses = await server.start();
    const stopped = server.stop();
    expect(server.health.state).toBe("shutting_down");
    await stopped;
    await expect(fetch(`http://${addresses.http}/health`)).rejects.toThrow();
  });
});
