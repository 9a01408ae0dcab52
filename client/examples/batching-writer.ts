// Streams 20,000 points into `example_batched` through a batching writer.
// Run against a local server (`npm start`): node client/dist/examples/batching-writer.js
import { HoraeDBClient } from "@horaedb/client";

const endpoint = process.env.HORAEDB_ENDPOINT ?? "127.0.0.1:8831";
const client = new HoraeDBClient({ endpoints: [endpoint] });

const writer = client.writer({
  maxRows: 5_000, // send once 5,000 points are buffered...
  maxBytes: 4 * 1024 * 1024, // ...or 4 MiB of them...
  flushIntervalMs: 500, // ...or 500 ms after the first one
  maxPendingBytes: 32 * 1024 * 1024, // add() waits beyond this
  onError: (error, failedPoints) => {
    console.error(`${failedPoints.length} points not written: ${error.message}`);
    process.exitCode = 1;
  },
});

const start = Date.now() - 20_000;
try {
  for (let i = 0; i < 20_000; i++) {
    const point = client
      .point("example_batched")
      .tag("device", `device-${i % 100}`)
      .field("reading", Math.random())
      .fieldInt32("sequence", i)
      .timestamp(start + i);
    // Awaiting add() applies backpressure: it resolves at once unless maxPendingBytes are pending.
    await writer.add(point);
  }
  await writer.flush();
  console.log(JSON.stringify(writer.stats));
} finally {
  // Flushes what is left (and any writer the client made), then closes the connections.
  await client.close();
}
