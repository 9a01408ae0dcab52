import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import {
  bindGrpcServer,
  createLogger,
  ListenError,
  NetworkServers,
  type NetworkServersOptions,
} from "../src/index.js";
import { callUnary, testClient, testServiceDefinition } from "./grpc-test-service.js";
import { captureLogs } from "./log-capture.js";

const running: NetworkServers[] = [];
const clients: grpc.Client[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await Promise.all(running.splice(0).map((servers) => servers.stop()));
});

function newServers(overrides: Partial<NetworkServersOptions> = {}) {
  const logs = captureLogs();
  const servers = new NetworkServers({
    bindAddr: "127.0.0.1",
    grpcPort: 0,
    httpPort: 0,
    shutdownTimeoutMs: 5_000,
    logger: createLogger({ name: "test", level: "info", destination: logs.destination }),
    ...overrides,
  });
  running.push(servers);
  return { servers, logs };
}

/** Binds and releases a gRPC port; with 0, finds a port that is free right now. */
async function freeGrpcPort(port = 0): Promise<number> {
  const probe = new grpc.Server();
  try {
    return await bindGrpcServer(probe, "127.0.0.1", port);
  } finally {
    probe.forceShutdown();
  }
}

async function getHealth(httpAddress: string) {
  const response = await fetch(`http://${httpAddress}/health`);
  const body: unknown = await response.json();
  return { status: response.status, body };
}

describe("NetworkServers", () => {
  it("serves GET /health with 200 and the details once started on ports chosen at run time", async () => {
    const { servers } = newServers({ healthDetails: () => ({ server: "test" }) });
    const addresses = await servers.start();
    expect(addresses.grpcPort).toBeGreaterThan(0);
    expect(addresses.httpPort).toBeGreaterThan(0);
    expect(addresses.http).toBe(`127.0.0.1:${addresses.httpPort}`);
    expect(addresses.grpc).toBe(`127.0.0.1:${addresses.grpcPort}`);
    await expect(getHealth(addresses.http)).resolves.toEqual({
      status: 200,
      body: { status: "ok", server: "test" },
    });
  });

  it("answers /health 503 shutting_down while draining, then stops listening on both ports", async () => {
    const { servers } = newServers();
    let entered!: () => void;
    let release!: () => void;
    const handlerEntered = new Promise<void>((resolve) => (entered = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    servers.grpc.addService(testServiceDefinition, {
      Unary: (_call: unknown, callback: grpc.sendUnaryData<Buffer>) => {
        entered();
        void released.then(() => callback(null, Buffer.from("done")));
      },
    });
    const addresses = await servers.start();
    const client = testClient(addresses.grpc);
    clients.push(client);
    const inFlight = callUnary(client);
    await handlerEntered;

    const stopped = servers.stop();
    await expect(getHealth(addresses.http)).resolves.toEqual({
      status: 503,
      body: { status: "shutting_down" },
    });
    release();
    await expect(inFlight).resolves.toEqual(Buffer.from("done"));
    await stopped;

    await expect(fetch(`http://${addresses.http}/health`)).rejects.toThrow();
    const late = testClient(addresses.grpc);
    clients.push(late);
    await expect(callUnary(late)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
  });

  it("fails with a ListenError when the HTTP port is taken and leaves the gRPC port free", async () => {
    const { servers: first } = newServers();
    const taken = await first.start();
    const grpcPort = await freeGrpcPort();
    const { servers: second } = newServers({ grpcPort, httpPort: taken.httpPort });
    const error = await second.start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ListenError);
    expect((error as ListenError).message).toBe(
      `cannot listen for HTTP on 127.0.0.1:${taken.httpPort}: address already in use`,
    );
    // The gRPC port the failed start had bound can be bound again.
    await expect(freeGrpcPort(grpcPort)).resolves.toBe(grpcPort);
  });

  it("does not log requests unless request logging is on", async () => {
    const quiet = newServers();
    const quietAddresses = await quiet.servers.start();
    await getHealth(quietAddresses.http);
    expect(quiet.logs.lines.filter((line) => line.msg === "request completed")).toEqual([]);

    const verbose = newServers({ requestLogging: true });
    const verboseAddresses = await verbose.servers.start();
    await getHealth(verboseAddresses.http);
    expect(verbose.logs.lines).toContainEqual(
      expect.objectContaining({ msg: "request completed", component: "http" }),
    );
  });
});
