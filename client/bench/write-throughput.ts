/**
 * `npm run bench -w @horaedb/client`: write throughput of the SDK into a local horaedb.
 *
 * - `client_writer_points_per_sec`: points (10 tags, 10 double fields, 1,000 series) added to a
 *   batching writer with default thresholds, timed from the first add() to the end of close().
 * - `client_write_arrow_rows_per_sec`: the same shape as Arrow tables of `--arrow-batch` rows, sent
 *   by writeArrow() one after the other (`..._sequential`) and `--concurrency` at a time.
 *
 * The server runs as a separate process (so it does not share the client's event loop) on ports
 * chosen at run time over a temporary data directory, unless HORAEDB_ENDPOINT names a running one.
 * Prints one JSON object per figure: {"name","value","unit"}.
 *
 * Flags: --points N (default 200000), --arrow-rows N (default 200000), --arrow-batch N (default
 * 5000), --concurrency N (default 4).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { ServerProcess } from "@horaedb/common/testing";
import { makeVector, Table, Utf8, vectorFromArray, type Vector } from "apache-arrow";
import { HoraeDBClient, type Point } from "@horaedb/client";

const { values: flags } = parseArgs({
  options: {
    points: { type: "string", default: "200000" },
    "arrow-rows": { type: "string", default: "200000" },
    "arrow-batch": { type: "string", default: "5000" },
    concurrency: { type: "string", default: "4" },
  },
});
const POINTS = Number(flags.points);
const ARROW_ROWS = Number(flags["arrow-rows"]);
const ARROW_BATCH = Number(flags["arrow-batch"]);
const CONCURRENCY = Number(flags.concurrency);

const TAGS = [
  "hostname",
  "region",
  "datacenter",
  "rack",
  "os",
  "arch",
  "team",
  "service",
  "service_version",
  "service_environment",
];
const FIELDS = [
  "usage_user",
  "usage_system",
  "usage_idle",
  "usage_nice",
  "usage_iowait",
  "usage_irq",
  "usage_softirq",
  "usage_steal",
  "usage_guest",
  "usage_guest_nice",
];
const SERIES = 1_000;
const START = Date.now() - 24 * 3_600_000;

function emit(name: string, value: number, unit: string): void {
  console.log(JSON.stringify({ name, value: Math.round(value * 100) / 100, unit }));
}

/** Tag values of series `s`: the host is unique, the others repeat with small cardinalities. */
function tagValue(tag: number, series: number): string {
  return tag === 0 ? `host_${series}` : `${TAGS[tag]}_${series % (3 + tag)}`;
}

function point(client: HoraeDBClient, i: number): Point {
  const series = i % SERIES;
  const p = client.point("bench_points").timestamp(START + Math.floor(i / SERIES) * 1_000);
  for (let t = 0; t < TAGS.length; t++) p.tag(TAGS[t] as string, tagValue(t, series));
  for (let f = 0; f < FIELDS.length; f++) p.field(FIELDS[f] as string, (i * (f + 1)) % 100);
  return p;
}

function arrowBatch(first: number, rows: number): Table {
  const columns: Record<string, Vector> = {};
  TAGS.forEach((tag, t) => {
    columns[tag] = vectorFromArray(
      Array.from({ length: rows }, (_, r) => tagValue(t, (first + r) % SERIES)),
      new Utf8(),
    );
  });
  columns.timestamp = makeVector(
    BigInt64Array.from({ length: rows }, (_, r) => BigInt(START + Math.floor((first + r) / SERIES) * 1_000)),
  );
  FIELDS.forEach((field, f) => {
    columns[field] = makeVector(Float64Array.from({ length: rows }, (_, r) => ((first + r) * (f + 1)) % 100));
  });
  return new Table(columns);
}

async function benchWriter(client: HoraeDBClient): Promise<void> {
  const writer = client.writer();
  const started = performance.now();
  for (let i = 0; i < POINTS; i++) await writer.add(point(client, i));
  await writer.close();
  const seconds = (performance.now() - started) / 1_000;
  if (writer.stats.pointsWritten !== POINTS)
    throw new Error(`only ${writer.stats.pointsWritten} points written`);
  emit("client_writer_points_per_sec", POINTS / seconds, "points/s");
}

async function benchArrow(
  client: HoraeDBClient,
  table: string,
  concurrency: number,
  name: string,
): Promise<void> {
  // Tables are built before timing: the figure is the SDK's encoding and sending, not Arrow's builders.
  const batches: Table[] = [];
  for (let first = 0; first < ARROW_ROWS; first += ARROW_BATCH) {
    batches.push(arrowBatch(first, Math.min(ARROW_BATCH, ARROW_ROWS - first)));
  }
  let next = 0;
  let rows = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let b = next++; b < batches.length; b = next++) {
        const written = await client.writeArrow(table, batches[b] as Table, { tags: TAGS });
        rows += written.rows;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1_000;
  if (rows !== ARROW_ROWS) throw new Error(`only ${rows} Arrow rows written`);
  emit(name, ARROW_ROWS / seconds, "rows/s");
}

async function main(): Promise<void> {
  let endpoint = process.env.HORAEDB_ENDPOINT;
  let server: ServerProcess | undefined;
  let dataDir: string | undefined;
  if (endpoint === undefined) {
    dataDir = await mkdtemp(join(tmpdir(), "horaedb-client-bench-"));
    const main = fileURLToPath(new URL("./main.js", import.meta.resolve("@horaedb/horaedb")));
    server = new ServerProcess(main, ["--grpc-port", "0", "--http-port", "0", "--data-dir", dataDir]);
    const listening = await server.waitForLine((line) => line.msg === "listening", 30_000);
    endpoint = String(listening.grpc);
  }
  const client = new HoraeDBClient({ endpoints: [endpoint] });
  try {
    await benchWriter(client);
    await benchArrow(client, "bench_arrow_seq", 1, "client_write_arrow_rows_per_sec_sequential");
    await benchArrow(client, "bench_arrow", CONCURRENCY, "client_write_arrow_rows_per_sec");
  } finally {
    await client.close();
    if (server !== undefined) {
      server.child.kill("SIGTERM");
      await server.exitCode(30_000).catch(() => server?.kill());
    }
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
