import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import {
  backoffMs,
  DEFAULT_RETRY_POLICY,
  HoraeDBClient,
  HoraeDBTransportError,
  HoraeDBWriteError,
  StatusCode,
  type HoraeDBClientOptions,
} from "../src/index.js";
import {
  FakeStorageServer,
  GrpcFailure,
  header,
  okWrite,
  writeAnswer,
  type FakeBehaviour,
} from "./fixtures/fake-storage-server.js";

const fakes: FakeStorageServer[] = [];
const clients: HoraeDBClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => undefined)));
  await Promise.all(fakes.splice(0).map((f) => f.stop()));
});

async function setUp(
  behaviour: FakeBehaviour,
  options: Partial<HoraeDBClientOptions> = {},
): Promise<{ server: FakeStorageServer; client: HoraeDBClient }> {
  const server = await FakeStorageServer.start(behaviour);
  fakes.push(server);
  const client = new HoraeDBClient({
    endpoints: [server.endpoint],
    ...options,
    retry: { initialBackoffMs: 5, maxBackoffMs: 20, ...options.retry },
  });
  clients.push(client);
  return { server, client };
}

/** Answers the scripted write answers in turn, then OK; records when each request arrived. */
function scripted(
  ...answers: Array<(r: Parameters<typeof okWrite>[0]) => ReturnType<NonNullable<FakeBehaviour["write"]>>>
) {
  const arrivals: number[] = [];
  const write: FakeBehaviour["write"] = (request) => {
    arrivals.push(Date.now());
    const answer = answers[arrivals.length - 1];
    return answer === undefined ? okWrite(request) : answer(request);
  };
  return { write, arrivals };
}

const failWith =
  (code: StatusCode, message: string, retryAfterMs = 0) =>
  (request: Parameters<typeof okWrite>[0]) =>
    writeAnswer(request, () => header(code, message, retryAfterMs));

describe("backoffMs", () => {
  const policy = { ...DEFAULT_RETRY_POLICY, initialBackoffMs: 100, maxBackoffMs: 1_000 };

  it("draws uniformly below an exponentially growing, capped ceiling (full jitter)", () => {
    expect(backoffMs(policy, 1, 0, () => 0.999)).toBe(99);
    expect(backoffMs(policy, 3, 0, () => 0.999)).toBe(399);
    expect(backoffMs(policy, 10, 0, () => 0.999)).toBe(999);
    expect(backoffMs(policy, 10, 0, () => 0)).toBe(0);
  });

  it("never waits less than the server's retry_after_ms", () => {
    expect(backoffMs(policy, 1, 250, () => 0)).toBe(250);
    expect(backoffMs(policy, 10, 250, () => 0.9)).toBe(900);
  });
});

describe("write retries", () => {
  it("retries RESOURCE_EXHAUSTED after at least the server's retry_after_ms", async () => {
    const { write, arrivals } = scripted(
      failWith(StatusCode.STATUS_CODE_RESOURCE_EXHAUSTED, "memtables full", 300),
    );
    const { client } = await setUp({ write });
    await expect(client.write(client.point("cpu").field("v", 1))).resolves.toMatchObject({ rows: 1 });
    expect(arrivals).toHaveLength(2);
    expect((arrivals[1] as number) - (arrivals[0] as number)).toBeGreaterThanOrEqual(295);
  });

  it("retries UNAVAILABLE until the server takes the rows", async () => {
    const unavailable = failWith(StatusCode.STATUS_CODE_UNAVAILABLE, "shard opening");
    const { write, arrivals } = scripted(unavailable, unavailable);
    const { client } = await setUp({ write });
    await expect(client.write(client.point("cpu").field("v", 1))).resolves.toMatchObject({ rows: 1 });
    expect(arrivals).toHaveLength(3);
  });

  it("gives up after maxAttempts and says the failure is retryable", async () => {
    const { server, client } = await setUp(
      { write: failWith(StatusCode.STATUS_CODE_UNAVAILABLE, "shard opening") },
      { retry: { maxAttempts: 4 } },
    );
    const error = (await client
      .write(client.point("cpu").field("v", 1))
      .catch((e: unknown) => e)) as HoraeDBWriteError;
    expect(error).toBeInstanceOf(HoraeDBWriteError);
    expect(error.retryable).toBe(true);
    expect(error.failures).toEqual([
      expect.objectContaining({
        table: "cpu",
        code: StatusCode.STATUS_CODE_UNAVAILABLE,
        attempts: 4,
        retryable: true,
      }),
    ]);
    expect(server.writeRequests).toHaveLength(4);
  });

  it("gives up when the write's deadline would pass before the next attempt", async () => {
    const { server, client } = await setUp({
      write: failWith(StatusCode.STATUS_CODE_RESOURCE_EXHAUSTED, "memtables full", 150),
    });
    const started = Date.now();
    const error = (await client
      .write(client.point("cpu").field("v", 1), { timeoutMs: 400 })
      .catch((e: unknown) => e)) as HoraeDBWriteError;
    // Attempts at about 0, 150 and 300 ms; the next would start after the deadline, so it stops
    // there instead of waiting another 150 ms (the margin allows for a slow machine).
    expect(Date.now() - started).toBeLessThan(550);
    expect(error.failures[0]?.message).toMatch(
      /memtables full \(gave up after \d attempts: deadline reached\)/,
    );
    expect(server.writeRequests.length).toBeGreaterThanOrEqual(2);
    expect(server.writeRequests.length).toBeLessThanOrEqual(3);
  });

  it.each([
    [StatusCode.STATUS_CODE_INVALID_ARGUMENT, "bad column"],
    [StatusCode.STATUS_CODE_NOT_FOUND, "no such schema"],
    [StatusCode.STATUS_CODE_INTERNAL, "oops"],
  ])("does not retry %s", async (code, message) => {
    const { server, client } = await setUp({ write: failWith(code, message) });
    const error = (await client
      .write(client.point("cpu").field("v", 1))
      .catch((e: unknown) => e)) as HoraeDBWriteError;
    expect(error).toMatchObject({ code, retryable: false });
    expect(error.failures).toEqual([expect.objectContaining({ table: "cpu", code, message, attempts: 1 })]);
    expect(server.writeRequests).toHaveLength(1);
  });

  it("retries only the tables whose result was retryable", async () => {
    const { server, client } = await setUp({
      write: (request, self) =>
        writeAnswer(request, (table) =>
          table === "busy" && self.writeRequests.length === 1
            ? header(StatusCode.STATUS_CODE_RESOURCE_EXHAUSTED, "full")
            : table === "bad"
              ? header(StatusCode.STATUS_CODE_INVALID_ARGUMENT, "bad")
              : header(StatusCode.STATUS_CODE_OK),
        ),
    });
    const error = (await client
      .write([
        client.point("ok").field("v", 1),
        client.point("busy").field("v", 1),
        client.point("bad").field("v", 1),
      ])
      .catch((e: unknown) => e)) as HoraeDBWriteError;
    expect(error.tables).toEqual(["bad"]);
    expect(error.written).toEqual([
      { table: "ok", rows: 1 },
      { table: "busy", rows: 1 },
    ]);
    expect(server.writeRequests.map((r) => r.tableRequests.map((t) => t.table))).toEqual([
      ["ok", "busy", "bad"],
      ["busy"],
    ]);
  });

  it("resends after a gRPC deadline when writes are idempotent, and not when they are not", async () => {
    const slowFirst = (): FakeBehaviour => ({
      write: async (request, self) => {
        if (self.writeRequests.length === 1) await new Promise((resolve) => setTimeout(resolve, 300));
        return okWrite(request);
      },
    });
    const idempotent = await setUp(slowFirst(), { requestTimeoutMs: 100 });
    await expect(
      idempotent.client.write(idempotent.client.point("cpu").field("v", 1)),
    ).resolves.toMatchObject({
      rows: 1,
    });
    expect(idempotent.server.writeRequests).toHaveLength(2);

    const appendOnly = await setUp(slowFirst(), { requestTimeoutMs: 100, idempotentWrites: false });
    const error = (await appendOnly.client
      .write(appendOnly.client.point("cpu").field("v", 1))
      .catch((e: unknown) => e)) as HoraeDBWriteError;
    expect(error).toBeInstanceOf(HoraeDBWriteError);
    expect(error.code).toBe(StatusCode.STATUS_CODE_DEADLINE_EXCEEDED);
    expect(error.cause).toBeInstanceOf(HoraeDBTransportError);
    expect((error.cause as HoraeDBTransportError).grpcCode).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(appendOnly.server.writeRequests).toHaveLength(1);
  });

  it("does not retry a gRPC failure that is not transient", async () => {
    const { server, client } = await setUp({
      write: () => new GrpcFailure(grpc.status.RESOURCE_EXHAUSTED, "message larger than max"),
    });
    const error = (await client
      .write(client.point("cpu").field("v", 1))
      .catch((e: unknown) => e)) as HoraeDBWriteError;
    expect(error.failures).toEqual([
      expect.objectContaining({
        attempts: 1,
        retryable: false,
        message: expect.stringMatching(/message larger than max/) as unknown,
      }),
    ]);
    expect(server.writeRequests).toHaveLength(1);
  });

  it("retries while no endpoint answers and reports the transport failure at the end", async () => {
    const down = await FakeStorageServer.start();
    const endpoint = down.endpoint;
    await down.stop();
    const client = new HoraeDBClient({
      endpoints: [endpoint],
      retry: { maxAttempts: 3, initialBackoffMs: 5 },
    });
    clients.push(client);
    const error = (await client
      .write(client.point("cpu").field("v", 1))
      .catch((e: unknown) => e)) as HoraeDBWriteError;
    expect(error).toBeInstanceOf(HoraeDBWriteError);
    expect(error.failures[0]).toMatchObject({
      code: StatusCode.STATUS_CODE_UNAVAILABLE,
      attempts: 3,
      retryable: true,
    });
    expect(error.failures[0]?.cause).toBeInstanceOf(HoraeDBTransportError);
    expect(client.stats.routeCalls).toBe(3);
  });
});
