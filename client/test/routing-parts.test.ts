import { describe, expect, it } from "vitest";
import { EndpointRotation } from "../src/endpoint-rotation.js";
import { HoraeDBArgumentError, normalizeEndpoint, resolveClientOptions } from "../src/index.js";
import { RouteCache } from "../src/route-cache.js";
import { Semaphore } from "../src/semaphore.js";

describe("RouteCache", () => {
  it("forgets a route once its TTL has passed", () => {
    let now = 1_000;
    const cache = new RouteCache(100, () => now);
    cache.put("public", "cpu", "h:1", 1n);
    now += 99;
    expect(cache.get("public", "cpu")?.leader).toBe("h:1");
    now += 1;
    expect(cache.get("public", "cpu")).toBeUndefined();
  });

  it("keys routes by database and table, and drops them on invalidation", () => {
    const cache = new RouteCache(1_000, () => 0);
    cache.put("public", "cpu", "h:1", 1n);
    cache.put("other", "cpu", "h:2", 1n);
    cache.put("public", "mem", "h:2", 1n);
    expect(cache.get("other", "cpu")?.leader).toBe("h:2");
    cache.invalidate("public", "cpu");
    expect(cache.get("public", "cpu")).toBeUndefined();
    cache.invalidateLeader("h:2");
    expect(cache.size).toBe(0);
  });

  it("does not let a route from an older cluster view replace a live newer one", () => {
    const cache = new RouteCache(1_000, () => 0);
    cache.put("public", "cpu", "new:1", 5n);
    cache.put("public", "cpu", "old:1", 4n);
    expect(cache.get("public", "cpu")).toMatchObject({ leader: "new:1", clusterVersion: 5n });
    expect(cache.newestClusterVersion).toBe(5n);
    cache.invalidate("public", "cpu");
    cache.put("public", "cpu", "old:1", 4n);
    expect(cache.get("public", "cpu")?.leader).toBe("old:1");
  });
});

describe("EndpointRotation", () => {
  it("takes turns, and passes over an endpoint that just failed while another is healthy", () => {
    let now = 0;
    const rotation = new EndpointRotation(["a:1", "b:1", "c:1"], 1_000, () => now);
    expect([rotation.pick(), rotation.pick(), rotation.pick(), rotation.pick()]).toEqual([
      "a:1",
      "b:1",
      "c:1",
      "a:1",
    ]);
    rotation.markFailed("b:1");
    expect(rotation.order()).toEqual(["c:1", "a:1", "b:1"]);
    expect(rotation.order()).toEqual(["c:1", "a:1", "b:1"]);
    now = 1_000;
    // Cooled down: it takes its turn in the middle again.
    expect(rotation.order()).toEqual(["a:1", "b:1", "c:1"]);
  });
});

describe("endpoints and options", () => {
  it.each([
    ["127.0.0.1:8831", "127.0.0.1:8831"],
    [" db.local ", "db.local:8831"],
    ["[::1]:9000", "[::1]:9000"],
    ["::1", "[::1]:8831"],
  ])("normalizes %j to %j", (input, expected) => {
    expect(normalizeEndpoint(input)).toBe(expected);
  });

  it.each(["", "host:0", "host:x", "host:70000"])("refuses endpoint %j", (input) => {
    expect(() => normalizeEndpoint(input)).toThrow(HoraeDBArgumentError);
  });

  it("fills defaults and refuses bad options by name", () => {
    const options = resolveClientOptions({ endpoints: ["a:1", "a:1"] });
    expect(options).toMatchObject({
      endpoints: ["a:1"],
      database: "public",
      idempotentWrites: true,
      compression: "zstd",
      compressAboveBytes: 1024 * 1024,
    });
    expect(() => resolveClientOptions({ endpoints: [] })).toThrow(/endpoints/);
    expect(() => resolveClientOptions({ endpoints: ["a:1"], requestTimeoutMs: 0 })).toThrow(
      /requestTimeoutMs/,
    );
    expect(() => resolveClientOptions({ endpoints: ["a:1"], retry: { maxAttempts: 0 } })).toThrow(
      /maxAttempts/,
    );
    const compression = "brotli" as unknown as "zstd";
    expect(() => resolveClientOptions({ endpoints: ["a:1"], compression })).toThrow(
      'options.compression must be one of zstd, gzip, none, got "brotli"',
    );
  });

  it("opens channels with an 8 MiB HTTP/2 receive window, which channelOptions override", () => {
    const window = "grpc-node.flow_control_window";
    expect(resolveClientOptions({ endpoints: ["a:1"] }).channelOptions[window]).toBe(8 * 1024 * 1024);
    const options = resolveClientOptions({ endpoints: ["a:1"], channelOptions: { [window]: 65_535 } });
    expect(options.channelOptions).toMatchObject({
      [window]: 65_535,
      "grpc.max_reconnect_backoff_ms": 2_000,
    });
  });
});

describe("Semaphore", () => {
  it("bounds the permits taken and serves waiters in order", async () => {
    const semaphore = new Semaphore(2);
    const first = await semaphore.acquire();
    await semaphore.acquire();
    const order: number[] = [];
    const third = semaphore.acquire().then((release) => (order.push(3), release));
    const fourth = semaphore.acquire().then((release) => (order.push(4), release));
    await Promise.resolve();
    expect(semaphore.inUse).toBe(2);
    expect(order).toEqual([]);
    first();
    first();
    (await third)();
    await fourth;
    expect(order).toEqual([3, 4]);
    expect(semaphore.inUse).toBe(2);
  });
});
