// Writes a few points to the table `example_cpu` and prints what was written.
// Run against a local server (`npm start`): node client/dist/examples/points.js
import { HoraeDBClient } from "@horaedb/client";

const endpoint = process.env.HORAEDB_ENDPOINT ?? "127.0.0.1:8831";
const client = new HoraeDBClient({ endpoints: [endpoint] });

try {
  const now = Date.now();
  const result = await client.write([
    client.point("example_cpu").tag("host", "web-1").tag("region", "eu").field("usage", 0.42).timestamp(now),
    client
      .point("example_cpu")
      .tag("host", "web-2")
      .tag("region", "eu")
      .field("usage", 0.17)
      .fieldInt64("processes", 312n)
      .fieldBool("healthy", true)
      .fieldString("kernel", "6.8.0")
      .timestamp(now),
  ]);
  // { rows: 2, tables: [ { table: "example_cpu", rows: 2 } ] }
  console.log(JSON.stringify(result));
} finally {
  await client.close();
}
