import { createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import {
  MetadataStore,
  MetadataTimeoutError,
  MetadataUnavailableError,
  type MetadataError,
} from "../../src/metadata/index.js";

// No etcd here: a listener that accepts connections and never answers stands for a hung etcd, and
// a port nobody listens on for an unreachable one.

const stores: MetadataStore[] = [];
const servers: Server[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const store of stores.splice(0)) store.close();
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

async function silentServer(): Promise<number> {
  const server = createServer((socket) => sockets.push(socket));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as { port: number }).port;
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function storeAt(port: number, callTimeoutMs: number): MetadataStore {
  const store = MetadataStore.connect({
    endpoints: [`http://127.0.0.1:${port}`],
    clusterName: "unit",
    callTimeoutMs,
  });
  stores.push(store);
  return store;
}

async function failure(promise: Promise<unknown>): Promise<MetadataError> {
  try {
    await promise;
  } catch (error) {
    return error as MetadataError;
  }
  throw new Error("expected the call to fail");
}

describe("etcd call deadlines and failures", () => {
  it("fails a call to an etcd that never answers with a retryable MetadataTimeoutError at the deadline", async () => {
    const store = storeAt(await silentServer(), 300);
    const started = Date.now();
    const error = await failure(store.schemas.create("public"));
    const elapsed = Date.now() - started;

    expect(error).toBeInstanceOf(MetadataTimeoutError);
    expect(error.retryable).toBe(true);
    expect((error as MetadataTimeoutError).timeoutMs).toBe(300);
    expect((error as MetadataTimeoutError).operation).toBe("create schema");
    // One deadline for the call, shared by the etcd client's internal retries.
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(2_000);
  });

  it("fails calls to an unreachable etcd with a retryable MetadataUnavailableError, without waiting", async () => {
    const store = storeAt(await closedPort(), 5_000);
    const started = Date.now();
    const refused = await failure(store.cluster.getView());
    // A second call dials again and is refused again.
    const refusedAgain = await failure(store.cluster.getView());

    for (const error of [refused, refusedAgain]) {
      expect(error).toBeInstanceOf(MetadataUnavailableError);
      expect(error.retryable).toBe(true);
      expect((error as MetadataUnavailableError).operation).toBe("get cluster view");
    }
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
