import { afterEach, describe, expect, it, vi } from "vitest";
import {
  HoraeDBClient,
  HoraeDBClosedError,
  HoraeDBWriteError,
  Point,
  StatusCode,
  type HoraeDBError,
} from "../src/index.js";
import {
  FakeStorageServer,
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
  behaviour: FakeBehaviour = {},
): Promise<{ server: FakeStorageServer; client: HoraeDBClient }> {
  const server = await FakeStorageServer.start(behaviour);
  fakes.push(server);
  const client = new HoraeDBClient({
    endpoints: [server.endpoint],
    retry: { initialBackoffMs: 5, maxBackoffMs: 20 },
  });
  clients.push(client);
  return { server, client };
}

const point = (i: number, table = "cpu") =>
  new Point(table)
    .tag("host", `h${i % 3}`)
    .field("v", i)
    .timestamp(1_000 + i);
const rowsPerWrite = (server: FakeStorageServer) =>
  server.writeRequests.map((r) =>
    r.tableRequests.reduce(
      (n, t) => n + (t.series?.entries.reduce((m, e) => m + e.fieldGroups.length, 0) ?? 0),
      0,
    ),
  );

describe("BatchingWriter", () => {
  it("sends a batch each time maxRows points are buffered, and the rest on flush()", async () => {
    const { server, client } = await setUp();
    const writer = client.writer({ maxRows: 100, flushIntervalMs: 60_000 });
    for (let i = 0; i < 250; i++) await writer.add(point(i));
    await vi.waitFor(() => expect(writer.inFlightBatches).toBe(0));
    expect(rowsPerWrite(server)).toEqual([100, 100]);
    expect(writer.bufferedPoints).toBe(50);
    await writer.flush();
    expect(rowsPerWrite(server)).toEqual([100, 100, 50]);
    expect(writer.stats).toEqual({ pointsAdded: 250, pointsWritten: 250, pointsFailed: 0, batchesSent: 3 });
  });

  it("sends a batch once its estimated size reaches maxBytes", async () => {
    const { server, client } = await setUp();
    const size = point(0).estimatedBytes;
    const writer = client.writer({ maxRows: 1_000_000, maxBytes: size * 10, flushIntervalMs: 60_000 });
    // Points 0..9 all have single-digit values, so each is exactly `size` bytes.
    await writer.add(Array.from({ length: 10 }, (_, i) => point(i)));
    await vi.waitFor(() => expect(rowsPerWrite(server)).toEqual([10]));
    await writer.add(point(1));
    expect(writer.bufferedPoints).toBe(1);
    await writer.close();
    expect(rowsPerWrite(server)).toEqual([10, 1]);
  });

  it("sends a partial batch flushIntervalMs after its first point without flush()", async () => {
    const { server, client } = await setUp();
    const writer = client.writer({ maxRows: 1_000, flushIntervalMs: 150 });
    const started = Date.now();
    await writer.add([point(1), point(2), point(3)]);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(server.writeRequests).toHaveLength(0);
    await vi.waitFor(() => expect(rowsPerWrite(server)).toEqual([3]), { timeout: 2_000, interval: 5 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  it("makes add() wait once maxPendingBytes are pending, and resumes it as sends complete", async () => {
    const held: Array<() => void> = [];
    const { server, client } = await setUp({
      write: (request) =>
        new Promise((resolve) => {
          held.push(() => resolve(okWrite(request)));
        }),
    });
    const size = point(0).estimatedBytes;
    const writer = client.writer({
      maxRows: 2,
      maxPendingBytes: size * 4,
      maxInFlightBatches: 1,
      flushIntervalMs: 60_000,
    });
    // Four points fit: two batches (one sending, one queued behind it).
    for (let i = 0; i < 4; i++) await writer.add(point(i));
    expect(writer.pendingBytes).toBe(size * 4);
    let fifthAdded = false;
    const fifth = writer.add(point(4)).then(() => (fifthAdded = true));
    await vi.waitFor(() => expect(held).toHaveLength(1));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(fifthAdded).toBe(false);
    expect(writer.pendingBytes).toBe(size * 4);
    held.shift()?.();
    await fifth;
    expect(writer.pendingBytes).toBeLessThanOrEqual(size * 4);
    const closing = writer.close();
    await vi.waitFor(() => expect(held.length).toBeGreaterThan(0));
    while (server.rowsReceived < 5 || held.length > 0) {
      held.shift()?.();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await closing;
    expect(server.rowsReceived).toBe(5);
    expect(writer.pendingBytes).toBe(0);
  });

  it("keeps background failures for the next flush(), which rejects once with every failed table", async () => {
    const { client } = await setUp({
      write: (request) =>
        writeAnswer(request, (table) =>
          table.startsWith("bad")
            ? header(StatusCode.STATUS_CODE_INVALID_ARGUMENT, `${table} is bad`)
            : header(StatusCode.STATUS_CODE_OK),
        ),
    });
    const writer = client.writer({ maxRows: 2, flushIntervalMs: 60_000 });
    await writer.add([point(1, "bad1"), point(2, "good")]);
    await writer.add([point(3, "bad2"), point(4, "good")]);
    const error = (await writer.flush().catch((e: unknown) => e)) as HoraeDBWriteError;
    expect(error).toBeInstanceOf(HoraeDBWriteError);
    expect([...error.tables].sort()).toEqual(["bad1", "bad2"]);
    expect(error.written).toEqual([
      { table: "good", rows: 1 },
      { table: "good", rows: 1 },
    ]);
    await expect(writer.flush()).resolves.toBeUndefined();
    expect(writer.stats).toMatchObject({ pointsWritten: 2, pointsFailed: 2 });
  });

  it("hands background failures with the failed points to onError instead", async () => {
    const { client } = await setUp({
      write: (request) =>
        writeAnswer(request, (table) =>
          table === "bad"
            ? header(StatusCode.STATUS_CODE_INVALID_ARGUMENT, "no")
            : header(StatusCode.STATUS_CODE_OK),
        ),
    });
    const reported: Array<{ error: HoraeDBError; points: readonly Point[] }> = [];
    const writer = client.writer({
      maxRows: 10,
      onError: (error, points) => reported.push({ error, points }),
    });
    const bad = point(1, "bad");
    await writer.add([bad, point(2, "good")]);
    await expect(writer.flush()).resolves.toBeUndefined();
    expect(reported).toHaveLength(1);
    expect(reported[0]?.error).toBeInstanceOf(HoraeDBWriteError);
    expect(reported[0]?.points).toEqual([bad]);
  });

  it("close() sends what is pending; add() after it rejects with HoraeDBClosedError", async () => {
    const { server, client } = await setUp();
    const writer = client.writer({ flushIntervalMs: 60_000 });
    await writer.add([point(1), point(2)]);
    await writer.close();
    expect(server.rowsReceived).toBe(2);
    await expect(writer.add(point(3))).rejects.toBeInstanceOf(HoraeDBClosedError);
  });

  it("is closed, and so flushed, by the client's close()", async () => {
    const { server, client } = await setUp();
    const writer = client.writer({ flushIntervalMs: 60_000 });
    await writer.add([point(1), point(2), point(3)]);
    await client.close();
    expect(writer.closed).toBe(true);
    expect(server.rowsReceived).toBe(3);
    await expect(client.write(point(4))).rejects.toBeInstanceOf(HoraeDBClosedError);
    expect(() => client.writer()).toThrow(HoraeDBClosedError);
  });
});
