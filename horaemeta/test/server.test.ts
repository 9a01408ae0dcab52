import * as grpc from "@grpc/grpc-js";
import { createLogger } from "@horaedb/common";
import { loadMetaProto } from "@horaedb/proto";
import { afterEach, describe, expect, it } from "vitest";
import { HoraeMetaServer, resolveHoraeMetaConfig } from "../src/index.js";

const servers: HoraeMetaServer[] = [];
const clients: grpc.Client[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await Promise.all(servers.splice(0).map((server) => server.stop()));
});

function newServer() {
  const config = resolveHoraeMetaConfig({ server: { grpc_port: 0, http_port: 0 } });
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
    expect(await response.json()).toEqual({ status: "ok", server: "horaemeta", cluster: "defaultCluster" });
  });

  it("answers a MetaService call from a real client with UNIMPLEMENTED", async () => {
    const addresses = await newServer().start();
    const { MetaService } = loadMetaProto().horaedb.meta.v1;
    const client = new MetaService(addresses.grpc, grpc.credentials.createInsecure());
    clients.push(client);
    const error = await new Promise<grpc.ServiceError | null>((resolve) => {
      client.GetNodes({}, (err) => resolve(err));
    });
    expect(error).toMatchObject({
      code: grpc.status.UNIMPLEMENTED,
      details: "horaedb.meta.v1.MetaService/GetNodes is not implemented yet",
    });
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
