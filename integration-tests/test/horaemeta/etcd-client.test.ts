import { once } from "node:events";
import { createServer, connect as connectTcp, type Server, type Socket } from "node:net";
import { randomUUID } from "node:crypto";
import type { Etcd3 } from "etcd3";
import { connectEtcd } from "@horaedb/horaemeta/metadata";
import { afterAll, afterEach, describe, expect, inject, it } from "vitest";

// horaemeta's etcd client against a real etcd, reached through a TCP proxy the test can stall or
// close. A stall or an outage must not keep the client from calling etcd once it answers again: a
// replica renewing a leader lease of a few seconds cannot wait out a 5 s circuit breaker.

const { etcd } = inject("services");
const etcdUrl = new URL(etcd.endpoints[0]!);
const key = `etcd-client-test/${randomUUID()}`;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  const direct = connectEtcd({ endpoints: etcd.endpoints, callTimeoutMs: 5_000 });
  await direct.delete().key(key);
  direct.close();
});

/** A TCP proxy to etcd that can hold traffic (a stalled etcd) or stop listening (etcd down). */
class EtcdProxy {
  readonly #sockets = new Set<Socket>();
  readonly #held: (() => void)[] = [];
  #server: Server | undefined;
  #stalled = false;
  port = 0;

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async listen(): Promise<void> {
    const server = createServer((client) => this.#pipe(client));
    server.listen(this.port, "127.0.0.1");
    await once(server, "listening");
    this.port = (server.address() as { port: number }).port;
    this.#server = server;
  }

  /** Holds every byte the client sends until `resume`. */
  stall(): void {
    this.#stalled = true;
  }

  resume(): void {
    this.#stalled = false;
    for (const release of this.#held.splice(0)) release();
  }

  /** Stops listening and drops every connection: the client's next dials are refused. */
  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    const server = this.#server;
    this.#server = undefined;
    if (server !== undefined) await new Promise((resolve) => server.close(resolve));
  }

  #pipe(client: Socket): void {
    const upstream = connectTcp(Number(etcdUrl.port), etcdUrl.hostname);
    for (const socket of [client, upstream]) {
      this.#sockets.add(socket);
      socket.on("close", () => this.#sockets.delete(socket));
      socket.on("error", () => undefined);
    }
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
    upstream.pipe(client);
    client.on("data", (chunk: Buffer) => {
      if (this.#stalled) this.#held.push(() => upstream.write(chunk));
      else upstream.write(chunk);
    });
  }
}

async function startProxy(): Promise<EtcdProxy> {
  const proxy = new EtcdProxy();
  await proxy.listen();
  cleanups.push(() => proxy.close());
  return proxy;
}

function client(endpoints: string[], callTimeoutMs: number): Etcd3 {
  const etcdClient = connectEtcd({ endpoints, callTimeoutMs });
  cleanups.push(() => etcdClient.close());
  return etcdClient;
}

/** The error a call fails with, or undefined if it succeeded. */
async function failureOf(call: Promise<unknown>): Promise<Error | undefined> {
  try {
    await call;
    return undefined;
  } catch (error) {
    return error as Error;
  }
}

describe("horaemeta's etcd client", () => {
  it("calls etcd again as soon as it answers after a stall that timed out several calls", async () => {
    const proxy = await startProxy();
    const etcdClient = client([proxy.endpoint], 300);
    await etcdClient.put(key).value("before");

    proxy.stall();
    const timedOut = [];
    for (let i = 0; i < 5; i += 1) timedOut.push(await failureOf(etcdClient.get(key).string()));
    expect(timedOut.map((error) => error?.constructor.name)).toEqual(
      Array(5).fill("GRPCDeadlineExceededError"),
    );

    proxy.resume();
    expect(await etcdClient.get(key).string()).toBe("before");
  });

  it("calls etcd again as soon as it listens after refusing connections", async () => {
    const proxy = await startProxy();
    const etcdClient = client([proxy.endpoint], 2_000);
    await etcdClient.put(key).value("up");

    await proxy.close();
    const refused = [];
    for (let i = 0; i < 5; i += 1) refused.push(await failureOf(etcdClient.get(key).string()));
    expect(refused.map((error) => error?.constructor.name)).toEqual(Array(5).fill("GRPCUnavailableError"));

    await proxy.listen();
    expect(await etcdClient.get(key).string()).toBe("up");
  });

  it("sends every call to a live endpoint while another endpoint refuses connections", async () => {
    const down = await startProxy();
    const up = await startProxy();
    const etcdClient = client([down.endpoint, up.endpoint], 2_000);
    await down.close();

    for (let i = 0; i < 10; i += 1) {
      await etcdClient.put(key).value(`value-${i}`);
      expect(await etcdClient.get(key).string()).toBe(`value-${i}`);
    }
  });
});
