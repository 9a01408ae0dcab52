// Writes an Arrow table of 1,000 rows to `example_arrow` in the columnar form.
// Run against a local server (`npm start`): node client/dist/examples/arrow-batch.js
import { HoraeDBClient } from "@horaedb/client";
import { Float64, makeVector, Table, Utf8, vectorFromArray } from "apache-arrow";

const endpoint = process.env.HORAEDB_ENDPOINT ?? "127.0.0.1:8831";
const client = new HoraeDBClient({ endpoints: [endpoint] });

const rows = 1_000;
const start = Date.now() - rows * 1_000;
const table = new Table({
  host: vectorFromArray(
    Array.from({ length: rows }, (_, i) => `sensor-${i % 10}`),
    new Utf8(),
  ),
  // Int64 milliseconds since the epoch; an Arrow Timestamp(millisecond) column works too.
  ts: makeVector(BigInt64Array.from({ length: rows }, (_, i) => BigInt(start + i * 1_000))),
  temperature: vectorFromArray(
    Array.from({ length: rows }, (_, i) => 20 + Math.sin(i / 50)),
    new Float64(),
  ),
});
try {
  const result = await client.writeArrow("example_arrow", table, { tags: ["host"], timestamp: "ts" });
  // { rows: 1000, tables: [ { table: "example_arrow", rows: 1000 } ] }
  console.log(JSON.stringify(result));
} finally {
  await client.close();
}
