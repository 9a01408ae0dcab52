import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HoraeDBClient, type Point } from "../src/index.js";
import { HoraeDBServers, RECENT_MS as T, scanRows } from "./fixtures/horaedb-server.js";

let servers: HoraeDBServers;
let client: HoraeDBClient | undefined;

beforeEach(() => {
  servers = new HoraeDBServers();
});
afterEach(async () => {
  await client?.close().catch(() => undefined);
  client = undefined;
  await servers.stopAll();
});

describe("a server that restarts in the middle of a batch", () => {
  it("gets every point of an OVERWRITE table exactly once through the writer's retries", async () => {
    const first = await servers.start();
    client = new HoraeDBClient({
      endpoints: [first.endpoint],
      requestTimeoutMs: 2_000,
      writeTimeoutMs: 30_000,
      retry: { maxAttempts: 100, initialBackoffMs: 20, maxBackoffMs: 200 },
    });
    const writer = client.writer({ maxRows: 500, flushIntervalMs: 60_000, maxInFlightBatches: 2 });
    const point = (i: number): Point =>
      client!
        .point("restart")
        .tag("host", `h${i % 10}`)
        .field("value", i)
        .timestamp(T + Math.floor(i / 10));
    const total = 5_000;
    const beforeStop = 1_250;

    // Two batches are written and a partial one is buffered when the server goes away.
    for (let i = 0; i < beforeStop; i++) await writer.add(point(i));
    await writer.add([]);
    const stopping = servers.stop(first.server);
    // Batches cut now reach a stopping, then a stopped server: they fail and are retried.
    for (let i = beforeStop; i < total; i++) await writer.add(point(i));
    await stopping;
    await new Promise((resolve) => setTimeout(resolve, 300));
    const second = await servers.start(first.port);
    await writer.close();

    expect(writer.stats).toMatchObject({ pointsAdded: total, pointsWritten: total, pointsFailed: 0 });
    // The restart was felt: batches failed and were sent again.
    expect(client.stats.writeRetries).toBeGreaterThan(0);
    const rows = await scanRows(second.server, "restart", ["host", "timestamp", "value"]);
    expect(rows).toHaveLength(total);
    const values = rows.map((r) => r[2] as number).sort((a, b) => a - b);
    expect(values).toEqual(Array.from({ length: total }, (_, i) => i));
    for (const [host, timestamp, value] of rows) {
      expect([host, timestamp]).toEqual([
        `h${(value as number) % 10}`,
        T + Math.floor((value as number) / 10),
      ]);
    }
  });
});
