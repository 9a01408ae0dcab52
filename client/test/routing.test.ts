import { afterEach, describe, expect, it } from "vitest";
import { HoraeDBClient, HoraeDBWriteError, StatusCode, type HoraeDBClientOptions } from "../src/index.js";
import { FakeStorageServer, header, okWrite, routeTo, writeAnswer } from "./fixtures/fake-storage-server.js";

const fakes: FakeStorageServer[] = [];
const clients: HoraeDBClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => undefined)));
  await Promise.all(fakes.splice(0).map((f) => f.stop()));
});

async function fake(...args: Parameters<typeof FakeStorageServer.start>): Promise<FakeStorageServer> {
  const server = await FakeStorageServer.start(...args);
  fakes.push(server);
  return server;
}

function clientOf(options: HoraeDBClientOptions): HoraeDBClient {
  const client = new HoraeDBClient({ retry: { initialBackoffMs: 5, maxBackoffMs: 20 }, ...options });
  clients.push(client);
  return client;
}

const tablesOf = (server: FakeStorageServer) =>
  server.writeRequests.map((r) => r.tableRequests.map((t) => t.table));

describe("routing", () => {
  it("looks a table's route up once and reuses it for later writes", async () => {
    const a = await fake();
    const client = clientOf({ endpoints: [a.endpoint] });
    for (let i = 0; i < 3; i++) await client.write(client.point("cpu").field("v", i));
    expect(a.routeRequests.map((r) => r.tables)).toEqual([["cpu"]]);
    expect(a.writeRequests).toHaveLength(3);
    expect(client.stats.routeCalls).toBe(1);
  });

  it("looks the route up again once the cache TTL has passed", async () => {
    const a = await fake();
    const client = clientOf({ endpoints: [a.endpoint], routeCacheTtlMs: 50 });
    await client.write(client.point("cpu").field("v", 1));
    await client.write(client.point("cpu").field("v", 2));
    expect(a.routeRequests).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 80));
    await client.write(client.point("cpu").field("v", 3));
    expect(a.routeRequests).toHaveLength(2);
  });

  it("sends each table's rows to the leader Route names, which may be another instance", async () => {
    const leader = await fake();
    const entry = await fake({ route: (request) => routeTo(request, leader.port) });
    const client = clientOf({ endpoints: [entry.endpoint] });
    await client.write([client.point("cpu").field("v", 1), client.point("mem").field("v", 2)]);
    expect(entry.writeRequests).toHaveLength(0);
    expect(tablesOf(leader)).toEqual([["cpu", "mem"]]);
    expect(await client.route(["cpu"])).toEqual(new Map([["cpu", leader.endpoint]]));
  });

  it("refreshes the route and retries transparently when a table result says ROUTE_STALE", async () => {
    let moved = false;
    const newLeader = await fake();
    const oldLeader = await fake({
      write: (request) =>
        writeAnswer(request, (table) =>
          moved && table === "cpu"
            ? header(StatusCode.STATUS_CODE_ROUTE_STALE, "shard 0 moved")
            : header(StatusCode.STATUS_CODE_OK),
        ),
    });
    const entry = await fake({
      route: (request) => ({
        ...routeTo(request, oldLeader.port),
        routes: request.tables.map((table) => ({
          table,
          leader: { host: "127.0.0.1", port: moved && table === "cpu" ? newLeader.port : oldLeader.port },
        })),
      }),
    });
    const client = clientOf({ endpoints: [entry.endpoint] });
    await client.write([client.point("cpu").field("v", 1), client.point("mem").field("v", 2)]);
    moved = true;
    const result = await client.write([client.point("cpu").field("v", 3), client.point("mem").field("v", 4)]);
    expect(result).toEqual({
      rows: 2,
      tables: [
        { table: "cpu", rows: 1 },
        { table: "mem", rows: 1 },
      ],
    });
    // Only the stale table was looked up again and sent again; mem stayed with its leader.
    expect(entry.routeRequests.map((r) => r.tables)).toEqual([["cpu", "mem"], ["cpu"]]);
    expect(tablesOf(newLeader)).toEqual([["cpu"]]);
    expect(tablesOf(oldLeader)).toEqual([
      ["cpu", "mem"],
      ["cpu", "mem"],
    ]);
  });

  it("treats a response header saying ROUTE_STALE (without table results) the same way", async () => {
    const newLeader = await fake();
    const oldLeader = await fake({
      write: () => ({
        header: header(StatusCode.STATUS_CODE_ROUTE_STALE, "not the leader"),
        tableResults: [],
      }),
    });
    let routeCalls = 0;
    const entry = await fake({
      route: (request) => routeTo(request, routeCalls++ === 0 ? oldLeader.port : newLeader.port),
    });
    const client = clientOf({ endpoints: [entry.endpoint] });
    await expect(client.write(client.point("cpu").field("v", 1))).resolves.toMatchObject({ rows: 1 });
    expect(oldLeader.writeRequests).toHaveLength(1);
    expect(newLeader.writeRequests).toHaveLength(1);
  });

  it("reports a route that stays stale as UNAVAILABLE after the last attempt, never as ROUTE_STALE", async () => {
    const stale = await fake({
      write: (request) => writeAnswer(request, () => header(StatusCode.STATUS_CODE_ROUTE_STALE, "moved")),
    });
    const client = clientOf({ endpoints: [stale.endpoint], retry: { maxAttempts: 3, initialBackoffMs: 1 } });
    const error = (await client
      .write(client.point("cpu").field("v", 1))
      .catch((e: unknown) => e)) as HoraeDBWriteError;
    expect(error).toBeInstanceOf(HoraeDBWriteError);
    expect(error.code).toBe(StatusCode.STATUS_CODE_UNAVAILABLE);
    expect(error.failures).toEqual([
      expect.objectContaining({
        table: "cpu",
        code: StatusCode.STATUS_CODE_UNAVAILABLE,
        attempts: 3,
        retryable: true,
      }),
    ]);
    expect(error.failures[0]?.message).toMatch(/route stayed stale: moved \(gave up after 3 attempts\)/);
    expect(stale.writeRequests).toHaveLength(3);
    expect(stale.routeRequests).toHaveLength(3);
  });

  it("sends a table without a route (not created yet) to a configured endpoint, asking Route again next time", async () => {
    const created = new Set<string>();
    const a = await fake({
      route: (request, self) =>
        routeTo({ ...request, tables: request.tables.filter((t) => created.has(t)) }, self.port),
      write: (request) => {
        request.tableRequests.forEach((t) => created.add(t.table));
        return okWrite(request);
      },
    });
    const client = clientOf({ endpoints: [a.endpoint] });
    for (let i = 0; i < 3; i++) await client.write(client.point("new_table").field("v", i));
    expect(a.writeRequests).toHaveLength(3);
    // Asked before the first write (no route yet) and before the second (created by then), then cached.
    expect(a.routeRequests).toHaveLength(2);
    expect(await client.route(["new_table", "other"])).toEqual(
      new Map([
        ["new_table", a.endpoint],
        ["other", undefined],
      ]),
    );
  });

  it("lets one table request create a new table before the others for it are sent", async () => {
    const created = new Set<string>();
    const arrivals: Array<{ existed: boolean; tableRequests: number }> = [];
    const a = await fake({
      route: (request, self) =>
        routeTo({ ...request, tables: request.tables.filter((t) => created.has(t)) }, self.port),
      write: async (request) => {
        arrivals.push({ existed: created.has("fresh"), tableRequests: request.tableRequests.length });
        await new Promise((resolve) => setTimeout(resolve, 20));
        request.tableRequests.forEach((t) => created.add(t.table));
        return okWrite(request);
      },
    });
    // A tiny request size splits the points into one table request (and one Write call) each.
    const client = clientOf({ endpoints: [a.endpoint], maxRequestBytes: 1 });
    const points = Array.from({ length: 4 }, (_, i) =>
      client
        .point("fresh")
        .field("v", i)
        .timestamp(1_000 + i),
    );
    const results = await Promise.all([
      client.write(points),
      client.write(client.point("fresh").field("v", 9).timestamp(2_000)),
    ]);
    expect(results.map((r) => r.rows)).toEqual([4, 1]);
    expect(arrivals).toHaveLength(5);
    // Exactly one request reached the server while the table did not exist; the rest waited for it.
    expect(arrivals.filter((x) => !x.existed)).toEqual([{ existed: false, tableRequests: 1 }]);
    expect(arrivals[0]?.existed).toBe(false);
  });

  it("asks the next endpoint for routes when one does not answer", async () => {
    const down = await fake();
    const downEndpoint = down.endpoint;
    await down.stop();
    const up = await fake();
    const client = clientOf({ endpoints: [downEndpoint, up.endpoint] });
    await expect(client.write(client.point("cpu").field("v", 1))).resolves.toMatchObject({ rows: 1 });
    expect(up.routeRequests).toHaveLength(1);
    expect(up.writeRequests).toHaveLength(1);
  });
});

describe("requests per endpoint", () => {
  /** A server that holds each Write for 50 ms and records how many it held at once at most. */
  async function slowServer(): Promise<{ server: FakeStorageServer; maxInFlight: () => number }> {
    let inFlight = 0;
    let max = 0;
    const server = await fake({
      write: async (request) => {
        max = Math.max(max, ++inFlight);
        await new Promise((resolve) => setTimeout(resolve, 50));
        inFlight--;
        return okWrite(request);
      },
    });
    return { server, maxInFlight: () => max };
  }

  it("sends writes to one endpoint concurrently, up to maxInFlightPerEndpoint at once", async () => {
    const limited = await slowServer();
    const client = clientOf({ endpoints: [limited.server.endpoint], maxInFlightPerEndpoint: 3 });
    const writes = Array.from({ length: 10 }, (_, i) => client.write(client.point("cpu").field("v", i)));
    expect((await Promise.all(writes)).map((r) => r.rows)).toEqual(Array(10).fill(1));
    expect(limited.maxInFlight()).toBe(3);

    // With the default limit (16), all ten are in flight together.
    const open = await slowServer();
    const other = clientOf({ endpoints: [open.server.endpoint] });
    await Promise.all(Array.from({ length: 10 }, (_, i) => other.write(other.point("cpu").field("v", i))));
    expect(open.maxInFlight()).toBe(10);
  });
});
