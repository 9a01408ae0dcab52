/**
 * `npm run bench -w @horaedb/client`: write throughput of the SDK into a local horaedb, TSBS
 * cpu-only shaped rows (10 tags, 10 double fields, 1,000 series, 1 s apart per series).
 *
 * - `client_writer_points_per_sec`: points built and added to a batching writer with default
 *   thresholds, timed from the first add() to the end of close().
 * - `client_write_series_rows_per_sec_c<N>`: `write()` of `--batch`-point arrays (the series form),
 *   N calls at a time. The points are built before timing.
 * - `client_write_arrow_rows_per_sec_c<N>`: `writeArrow()` of `--batch`-row Arrow tables whose tags
 *   are Utf8, N calls at a time; `client_write_arrow_dict_rows_per_sec_c<N>` the same with
 *   Dictionary<Utf8> tags. The tables are built before timing.
 *
 * N runs from 1 to `--concurrency`, each into a table of its own. Each form first writes one batch
 * untimed (connection, table creation, JIT warm-up). The server runs as a separate process (so it
 * does not share the client's event loop) on ports chosen at run time over a temporary data
 * directory, unless HORAEDB_ENDPOINT names a running one. Prints one JSON object per figure:
 * {"name","value","unit"}.
 *
 * Rates depend on what else the machine runs; the CPU time each side spends per row does much
 * less. So each rate comes with `<name>.client_cpu` and, for a server this bench started (on
 * Linux), `<name>.server_cpu`: CPU microseconds per row over the timed run.
 *
 * Flags: --points N (default 200000; 0 skips the writer), --rows N per form and concurrency
 * (default 200000), --batch N (default 5000), --concurrency N (default 4), --forms (default
 * "series,arrow,arrow-dict"). `--arrow-rows` and `--arrow-batch` are the old names of --rows and
 * --batch.
 */
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { ServerProcess } from "@horaedb/common/testing";
import { Dictionary, Int32, makeVector, Table, Utf8, vectorFromArray, type Vector } from "apache-arrow";
import { HoraeDBClient, type Point, type WriteResult } from "@horaedb/client";

const { values: flags } = parseArgs({
  options: {
    points: { type: "string", default: "200000" },
    rows: { type: "string" },
    "arrow-rows": { type: "string" },
    batch: { type: "string" },
    "arrow-batch": { type: "string" },
    concurrency: { type: "string", default: "4" },
    forms: { type: "string", default: "series,arrow,arrow-dict" },
  },
});
const POINTS = Number(flags.points);
const ROWS = Number(flags.rows ?? flags["arrow-rows"] ?? 200_000);
const BATCH = Number(flags.batch ?? flags["arrow-batch"] ?? 5_000);
const MAX_CONCURRENCY = Number(flags.concurrency);
const FORMS = flags.forms.split(",").filter((f) => f.length > 0);
for (const form of FORMS) {
  if (!["series", "arrow", "arrow-dict"].includes(form)) throw new Error(`unknown form ${form}`);
}

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

/** The server process, when this bench started it: its CPU time is read from /proc. */
let serverPid: number | undefined;

/** CPU milliseconds (user + system) the server has used, or undefined where /proc cannot tell. */
function serverCpuMs(): number | undefined {
  if (serverPid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${serverPid}/stat`, "utf8");
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15, in ticks.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}
/** USER_HZ, which Linux fixes at 100 for what /proc reports. */
const CLOCK_TICKS_PER_SECOND = 100;

/** Times `run` (which writes `rows` rows) and prints its rate with the CPU each side spent per row. */
async function measure(name: string, rows: number, unit: string, run: () => Promise<void>): Promise<void> {
  const serverBefore = serverCpuMs();
  const clientBefore = process.cpuUsage();
  const started = performance.now();
  await run();
  const seconds = (performance.now() - started) / 1_000;
  const client = process.cpuUsage(clientBefore);
  const serverAfter = serverCpuMs();
  emit(name, rows / seconds, unit);
  emit(`${name}.client_cpu`, (client.user + client.system) / rows, "us/row");
  if (serverBefore !== undefined && serverAfter !== undefined) {
    emit(`${name}.server_cpu`, ((serverAfter - serverBefore) * 1_000) / rows, "us/row");
  }
}

/** Tag values of series `s`: the host is unique, the others repeat with small cardinalities. */
const TAG_VALUES = Array.from({ length: SERIES }, (_, s) =>
  TAGS.map((tag, t) => (t === 0 ? `host_${s}` : `${tag}_${s % (3 + t)}`)),
);

function timestampOf(row: number): number {
  return START + Math.floor(row / SERIES) * 1_000;
}

function point(client: HoraeDBClient, table: string, i: number): Point {
  const tags = TAG_VALUES[i % SERIES] as string[];
  const p = client.point(table).timestamp(timestampOf(i));
  for (let t = 0; t < TAGS.length; t++) p.tag(TAGS[t] as string, tags[t] as string);
  for (let f = 0; f < FIELDS.length; f++) p.field(FIELDS[f] as string, (i * (f + 1)) % 100);
  return p;
}

function arrowBatch(first: number, rows: number, dictionaryTags: boolean): Table {
  const columns: Record<string, Vector> = {};
  const tagType = () => (dictionaryTags ? new Dictionary(new Utf8(), new Int32()) : new Utf8());
  TAGS.forEach((tag, t) => {
    const values = Array.from({ length: rows }, (_, r) => (TAG_VALUES[(first + r) % SERIES] as string[])[t]);
    columns[tag] = vectorFromArray(values, tagType());
  });
  columns.timestamp = makeVector(
    BigInt64Array.from({ length: rows }, (_, r) => BigInt(timestampOf(first + r))),
  );
  FIELDS.forEach((field, f) => {
    columns[field] = makeVector(Float64Array.from({ length: rows }, (_, r) => ((first + r) * (f + 1)) % 100));
  });
  return new Table(columns);
}

async function benchWriter(client: HoraeDBClient): Promise<void> {
  const writer = client.writer();
  await measure("client_writer_points_per_sec", POINTS, "points/s", async () => {
    for (let i = 0; i < POINTS; i++) await writer.add(point(client, "bench_writer", i));
    await writer.close();
  });
  if (writer.stats.pointsWritten !== POINTS)
    throw new Error(`only ${writer.stats.pointsWritten} points written`);
}

/** Sends `batches` with `concurrency` calls at a time and prints the rate as `name`. */
async function timeBatches<B>(
  name: string,
  batches: readonly B[],
  concurrency: number,
  send: (batch: B) => Promise<WriteResult>,
): Promise<void> {
  let next = 0;
  let rows = 0;
  await measure(name, ROWS, "rows/s", async () => {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let b = next++; b < batches.length; b = next++) {
          const written = await send(batches[b] as B);
          rows += written.rows;
        }
      }),
    );
  });
  if (rows !== ROWS) throw new Error(`only ${rows} of ${ROWS} rows written`);
}

function batchStarts(): number[] {
  const starts: number[] = [];
  for (let first = 0; first < ROWS; first += BATCH) starts.push(first);
  return starts;
}

async function benchSeries(client: HoraeDBClient): Promise<void> {
  const build = (table: string) =>
    batchStarts().map((first) =>
      Array.from({ length: Math.min(BATCH, ROWS - first) }, (_, r) => point(client, table, first + r)),
    );
  await client.write(build("bench_series_warmup")[0] as Point[]);
  for (let concurrency = 1; concurrency <= MAX_CONCURRENCY; concurrency++) {
    // Points name their table, so each run builds its own (untimed).
    const batches = build(`bench_series_c${concurrency}`);
    await timeBatches(`client_write_series_rows_per_sec_c${concurrency}`, batches, concurrency, (points) =>
      client.write(points),
    );
  }
}

async function benchArrow(client: HoraeDBClient, dictionaryTags: boolean): Promise<void> {
  const form = dictionaryTags ? "arrow_dict" : "arrow";
  const batches = batchStarts().map((first) =>
    arrowBatch(first, Math.min(BATCH, ROWS - first), dictionaryTags),
  );
  const options = { tags: TAGS };
  await client.writeArrow(`bench_${form}_warmup`, batches[0] as Table, options);
  for (let concurrency = 1; concurrency <= MAX_CONCURRENCY; concurrency++) {
    const table = `bench_${form}_c${concurrency}`;
    await timeBatches(`client_write_${form}_rows_per_sec_c${concurrency}`, batches, concurrency, (batch) =>
      client.writeArrow(table, batch, options),
    );
  }
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
    serverPid = server.child.pid;
  }
  const client = new HoraeDBClient({ endpoints: [endpoint] });
  try {
    if (POINTS > 0) await benchWriter(client);
    if (FORMS.includes("series")) await benchSeries(client);
    if (FORMS.includes("arrow")) await benchArrow(client, false);
    if (FORMS.includes("arrow-dict")) await benchArrow(client, true);
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
