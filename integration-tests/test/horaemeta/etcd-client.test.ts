import { randomUUID } from "node:crypto";
import type { Etcd3 } from "etcd3";
import { connectEtcd } from "@horaedb/horaemeta/metadata";
import { afterAll, afterEach, describe, expect, inject, it } from "vitest";
import { CuttableProxy } from "./meta-test-support.js";

// horaemeta's etcd client against a real etcd, reached through a proxy the test cuts or closes. A
// stall or an outage must not keep the client from calling etcd once it answers again: a replica
// renewing a leader lease of a few seconds cannot wait out a 5 s circuit breaker.

const { etcd } = inject("services");
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

async function startProxy(): Promise<{ proxy: CuttableProxy; endpoint: string }> {
  const proxy = new CuttableProxy(etcd.endpoints[0]!);
  const endpoint = await proxy.start();
  cleanups.push(() => proxy.close());
  return { proxy, endpoint };
}

function client(endpoints: string[], callTimeoutMs: number): Etcd3 {
  const etcdClient = connectEtcd({ endpoints, callTimeoutMs });
  cleanups.push(() => etcdClient.close());
  return etcdClient;
}

/** The class name of the error a call fails with, or "ok" if it succeeded. */
async function outcomeOf(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return "ok";
  } catch (error) {
    return (error as Error).constructor.name;
  }
}

describe("horaemeta's etcd client", () => {
  it("calls etcd again as soon as it answers after a stall that timed out several calls", async () => {
    const { proxy, endpoint } = await startProxy();
    const etcdClient = client([endpoint], 300);
    await etcdClient.put(key).value("before");

    proxy.blackhole();
    const timedOut = [];
    for (let i = 0; i < 5; i += 1) timedOut.push(await outcomeOf(etcdClient.get(key).string()));
    expect(timedOut).toEqual(Array(5).fill("GRPCDeadlineExceededError"));

    proxy.heal();
    expect(await etcdClient.get(key).string()).toBe("before");
  });

  it("calls etcd again as soon as it listens after refusing connections", async () => {
    const { proxy, endpoint } = await startProxy();
    const etcdClient = client([endpoint], 2_000);
    await etcdClient.put(key).value("up");

    await proxy.close();
    const refused = [];
    for (let i = 0; i < 5; i += 1) refused.push(await outcomeOf(etcdClient.get(key).string()));
    expect(refused).toEqual(Array(5).fill("GRPCUnavailableError"));

    await proxy.start(Number(new URL(endpoint).port));
    expect(await etcdClient.get(key).string()).toBe("up");
  });

  it("sends every call to a live endpoint while another endpoint refuses connections", async () => {
    const down = await startProxy();
    const up = await startProxy();
    const etcdClient = client([down.endpoint, up.endpoint], 2_000);
    await down.proxy.close();

    for (let i = 0; i < 10; i += 1) {
      await etcdClient.put(key).value(`value-${i}`);
      expect(await etcdClient.get(key).string()).toBe(`value-${i}`);
    }
  });
});
