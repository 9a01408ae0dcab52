/**
 * `npm run bench:tsbs`: TSBS cpu-only ingest and queries on our standalone server, side by side with
 * InfluxDB 1.x and VictoriaMetrics when they are installed.
 *
 * 1. Generates the TSBS cpu-only data set deterministically (10 tags, 10 fields, one row per host
 *    every 10 s; 100 hosts x 1 day by default), ending at the current hour so that no retention
 *    policy drops it.
 * 2. Starts `horaedb` (node horaedb/dist/src/main.js, ports 0, temporary data directory) and ingests
 *    the rows through the SDK: the columnar path (`writeArrow`, tables built beforehand) into `cpu`,
 *    then the series path (points built and sent by `write()`) into `cpu_series`, dropped afterwards.
 * 3. Starts each installed peer on loopback (free ports, temporary directories) and ingests the same
 *    rows as line protocol over HTTP (bodies built beforehand), `--concurrency` requests at a time,
 *    with the servers loaded before it stopped (SIGSTOP) meanwhile.
 *    After each system's ingest, the bench waits until every server is idle (background flushes,
 *    compactions, merges), so that one system's work does not slow down the next one's phase.
 * 4. Checks that every system sees every row, then runs the TSBS query shapes (our SQL, InfluxQL,
 *    MetricsQL: see `peers/*.ts` for the equivalents and where they differ). Each shape gets
 *    `--warmup` + `--repeat` queries, their parameters drawn from a seeded generator, the same
 *    queries for every system; the first `--warmup` are not timed. `--order` decides how they run:
 *    - `tsbs` (default), as TSBS runs them: one system at a time, alone (the others' processes are
 *      stopped with SIGSTOP meanwhile, so that none of their background work runs), runs its
 *      warm-up queries of every shape, then its timed queries shape by shape, back to back;
 *    - `interleaved`: each query on every system in turn before the next query (each round starting
 *      with the next system), so every query follows another system's.
 *    Result sizes are compared with the expected ones. Latencies are those of a server in steady
 *    state, as TSBS measures them over thousands of queries: a just-started Node.js server compiles
 *    its hot paths over its first several thousand queries (a server in Go or Rust starts
 *    compiled), so the warm-up queries, the same for every system, are not timed. By 2,000 per
 *    shape (12,000 in all) most of the fall in the medians is over (bench/README.md has figures).
 * 5. Prints one JSON object per figure on stdout, then a side-by-side table on stderr.
 *
 * Every process started is stopped (SIGTERM, then SIGKILL) and every directory removed at the end,
 * on error and on Ctrl-C.
 *
 * Flags: --hosts N, --hours N, --batch N (rows per write), --concurrency N (writes in flight),
 * --warmup N (untimed queries per shape first), --repeat N (timed queries per shape), --order
 * tsbs|interleaved, --queries a,b, --seed N (query parameters), --peers a,b (influxdb,
 * victoria-metrics; empty for none), --skip-series, --install-peers (install a missing peer from its
 * Debian package; as root), --influxd PATH, --victoria-metrics PATH.
 */
import { parseArgs } from "node:util";
import {
  DEFAULT_SCALE,
  drawTsbsQuery,
  TSBS_QUERY_SHAPES,
  tsbsBatches,
  tsbsExpectedRows,
  tsbsQueryRandom,
  type TsbsBatch,
  type TsbsQuery,
  type TsbsQueryShape,
  type TsbsScale,
} from "@horaedb/horaedb/testing";
import type { Table } from "apache-arrow";
import { ensureProgram } from "@horaedb/integration-tests";
import { cleanupOnSignals, runCleanup } from "./cleanup.js";
import { findExecutable } from "./peers/child-process.js";
import { HoraeDb, tsbsArrowTable } from "./peers/horaedb.js";
import { InfluxDb } from "./peers/influxdb.js";
import { tsbsLineProtocol } from "./peers/line-protocol.js";
import type { LineProtocolTarget, QueryTarget, SystemName } from "./peers/query-target.js";
import { VictoriaMetrics } from "./peers/victoria-metrics.js";
import { ProgressBar } from "./progress.js";
import { emit, emitHostLoad, FlagError, median, percentile, positiveInteger, readFlags } from "./report.js";
import { textTable } from "./text-table.js";
import { parseShapes } from "./tsbs-shapes.js";

const HOUR = 3_600_000;
const PEERS = ["influxdb", "victoria-metrics"] as const;
type PeerName = (typeof PEERS)[number];
const QUERY_ORDERS = ["tsbs", "interleaved"] as const;
/** How the systems' queries follow one another (see step 4 above). */
type QueryOrder = (typeof QUERY_ORDERS)[number];

function parseOrder(value: string | undefined): QueryOrder {
  const order = QUERY_ORDERS.find((known) => known === value);
  if (order === undefined) {
    throw new FlagError(`--order must be one of ${QUERY_ORDERS.join(", ")}, not ${String(value)}`);
  }
  return order;
}
const SYSTEMS: readonly SystemName[] = ["horaedb", "influxdb", "victoria-metrics"];

function parsePeers(list: string | undefined): PeerName[] {
  const names = (list ?? "")
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name.length > 0 && name !== "none");
  const unknown = names.filter((name) => !(PEERS as readonly string[]).includes(name));
  if (unknown.length > 0) {
    throw new FlagError(`unknown peer(s) ${unknown.join(", ")}; known: ${PEERS.join(", ")}`);
  }
  return names as PeerName[];
}

const config = readFlags(() => {
  const { values: flags } = parseArgs({
    options: {
      hosts: { type: "string", default: String(DEFAULT_SCALE.hosts) },
      hours: { type: "string", default: "24" },
      batch: { type: "string", default: "5000" },
      concurrency: { type: "string", default: "4" },
      warmup: { type: "string", default: "2000" },
      repeat: { type: "string", default: "300" },
      order: { type: "string", default: "tsbs" },
      queries: { type: "string", default: TSBS_QUERY_SHAPES.join(",") },
      seed: { type: "string", default: "1" },
      peers: { type: "string", default: "influxdb,victoria-metrics" },
      "skip-series": { type: "boolean", default: false },
      "install-peers": { type: "boolean", default: false },
      influxd: { type: "string", default: "influxd" },
      "victoria-metrics": { type: "string", default: "victoria-metrics" },
    },
  });
  const hours = positiveInteger("hours", flags.hours);
  const dataEnd = Math.floor(Date.now() / HOUR) * HOUR;
  const scale: TsbsScale = {
    ...DEFAULT_SCALE,
    hosts: positiveInteger("hosts", flags.hosts),
    start: dataEnd - hours * HOUR,
    durationMs: hours * HOUR,
  };
  return {
    hours,
    scale,
    batchRows: positiveInteger("batch", flags.batch),
    concurrency: positiveInteger("concurrency", flags.concurrency),
    warmupRounds: positiveInteger("warmup", flags.warmup),
    rounds: positiveInteger("repeat", flags.repeat),
    order: parseOrder(flags.order),
    shapes: parseShapes(flags.queries),
    seed: positiveInteger("seed", flags.seed),
    peers: parsePeers(flags.peers),
    skipSeries: flags["skip-series"],
    installPeers: flags["install-peers"],
    binaries: { influxdb: flags.influxd, "victoria-metrics": flags["victoria-metrics"] },
  };
});
const { hours, scale, batchRows, concurrency, warmupRounds, rounds, shapes } = config;
const totalRows = scale.hosts * Math.floor(scale.durationMs / scale.intervalMs);

/** Figures for the table: value per system, by figure label. */
const figures = new Map<string, { unit: string; values: Partial<Record<SystemName, number>> }>();

function record(figure: string, name: string, system: SystemName, value: number, unit: string): void {
  emit(name, value, unit);
  const entry = figures.get(figure) ?? { unit, values: {} };
  entry.values[system] = value;
  figures.set(figure, entry);
}

function generate(): TsbsBatch[] {
  const progress = new ProgressBar("generating", totalRows, "rows");
  const batches: TsbsBatch[] = [];
  for (const batch of tsbsBatches(scale, batchRows)) {
    batches.push(batch);
    progress.tick(batch.numRows);
  }
  progress.finish();
  return batches;
}

/** Times `ingest`, reporting rows on a progress bar; returns rows/s. */
async function timedIngest(
  label: string,
  ingest: (onRows: (rows: number) => void) => Promise<void>,
): Promise<number> {
  const progress = new ProgressBar(label, totalRows, "rows");
  const started = performance.now();
  await ingest((rows) => progress.tick(rows));
  const seconds = (performance.now() - started) / 1000;
  progress.finish();
  return totalRows / seconds;
}

async function ingestHoraeDb(horaedb: HoraeDb, batches: readonly TsbsBatch[]): Promise<void> {
  const progress = new ProgressBar("arrow tables", totalRows, "rows");
  const tables = batches.map((batch) => {
    const table = tsbsArrowTable(batch);
    progress.tick(batch.numRows);
    return table;
  });
  progress.finish();
  await horaedb.createTable(horaedb.table);
  const columnar = await timedIngest("horaedb columnar", (onRows) =>
    horaedb.ingestColumnar(horaedb.table, tables, concurrency, (table: Table) => onRows(table.numRows)),
  );
  record(
    "ingest rows/s, columnar | line protocol",
    "tsbs.ingest.columnar.horaedb",
    "horaedb",
    columnar,
    "rows/s",
  );

  if (config.skipSeries) return;
  await waitUntilIdle([horaedb]);
  const seriesTable = `${horaedb.table}_series`;
  await horaedb.createTable(seriesTable);
  const series = await timedIngest("horaedb series", (onRows) =>
    horaedb.ingestSeries(seriesTable, batches, concurrency, (batch) => onRows(batch.numRows)),
  );
  record("ingest rows/s, series", "tsbs.ingest.series.horaedb", "horaedb", series, "rows/s");
  // Queries run on the columnar table alone; the series table would only take memory.
  await horaedb.dropTable(seriesTable);
}

async function startPeer(name: PeerName): Promise<LineProtocolTarget | undefined> {
  const binary = await peerBinary(name);
  if (binary === undefined) return undefined;
  return name === "influxdb" ? InfluxDb.start(binary) : VictoriaMetrics.start(binary, scale);
}

/**
 * The peer's executable: found on PATH (or at the given path), else, with --install-peers, from its
 * Debian package, installed now (as root); undefined, said on stderr, when there is none.
 */
async function peerBinary(name: PeerName): Promise<string | undefined> {
  const wanted = config.binaries[name];
  const found = findExecutable(wanted);
  if (found !== undefined) return found;
  if (!config.installPeers || wanted.includes("/")) {
    console.error(
      `${name}: ${wanted} not found (Debian package ${name}; --install-peers installs it); skipped`,
    );
    return undefined;
  }
  console.error(`${name}: ${wanted} not found; installing the Debian package ${name}`);
  try {
    return await ensureProgram({ command: wanted, debianPackage: name });
  } catch (error) {
    console.error(`${name}: ${error instanceof Error ? error.message : String(error)}; skipped`);
    return undefined;
  }
}

async function ingestPeer(
  peer: LineProtocolTarget,
  bodies: readonly Buffer[],
  rowsPerBody: number[],
): Promise<void> {
  const rowsOf = new Map(bodies.map((body, i) => [body, rowsPerBody[i] as number]));
  const rate = await timedIngest(`${peer.name} line protocol`, (onRows) =>
    peer.ingestLines(bodies, concurrency, (body) => onRows(rowsOf.get(body) ?? 0)),
  );
  record(
    "ingest rows/s, columnar | line protocol",
    `tsbs.ingest.line_protocol.${peer.name}`,
    peer.name,
    rate,
    "rows/s",
  );
  await peer.settle();
}

const IDLE_TIMEOUT_MS = 60_000;

/**
 * Runs `phase` of `target` with every other system paused (SIGSTOP), as TSBS measures a database
 * alone on its machine: the others' background work (merges, compactions, cache flushes, which
 * can run at any time, below the idle threshold too) cannot take a core from it.
 */
async function alone<T>(
  target: QueryTarget,
  targets: readonly QueryTarget[],
  phase: () => Promise<T>,
): Promise<T> {
  const others = targets.filter((other) => other !== target);
  for (const other of others) other.pause();
  try {
    return await phase();
  } finally {
    for (const other of others) other.resume();
  }
}

/**
 * Waits for the background work of every system (flushes, compactions, merges after ingest) to end,
 * so that it does not slow down the next phase or another system.
 */
async function waitUntilIdle(targets: readonly QueryTarget[]): Promise<void> {
  for (const target of targets) {
    if (!(await target.waitUntilIdle(IDLE_TIMEOUT_MS))) {
      console.error(`${target.name} still busy after ${IDLE_TIMEOUT_MS / 1000} s; going on`);
    }
  }
}

async function checkRows(targets: readonly QueryTarget[]): Promise<void> {
  for (const target of targets) {
    const rows = await target.countRows();
    if (rows !== totalRows) throw new Error(`${target.name} holds ${rows} rows, expected ${totalRows}`);
  }
}

/** Result sizes that differ from the expected ones (or, for high-cpu, from horaedb's), by message. */
const mismatches = new Map<string, number>();

async function runQueries(targets: readonly QueryTarget[]): Promise<Map<string, number[]>> {
  const random = tsbsQueryRandom(config.seed);
  const queryCount = warmupRounds + rounds;
  // The same queries for every system, drawn round by round.
  const queries = new Map<TsbsQueryShape, TsbsQuery[]>(shapes.map((shape) => [shape, []]));
  for (let round = 0; round < queryCount; round++) {
    for (const shape of shapes) queries.get(shape)?.push(drawTsbsQuery(shape, scale, random));
  }
  const samples = new Map<string, number[]>();
  /** Result sizes by shape and query index, by system. */
  const rowsOf = new Map<string, Map<QueryTarget, number>>();
  const progress = new ProgressBar("queries", queryCount * shapes.length * targets.length, "queries");
  const run = async (target: QueryTarget, shape: TsbsQueryShape, index: number): Promise<void> => {
    const query = queries.get(shape)?.[index] as TsbsQuery;
    const started = performance.now();
    const rows = await target.query(query);
    const ms = performance.now() - started;
    progress.tick();
    const sizes = rowsOf.get(`${shape}/${index}`) ?? new Map<QueryTarget, number>();
    sizes.set(target, rows);
    rowsOf.set(`${shape}/${index}`, sizes);
    if (index < warmupRounds) return;
    const key = `${shape}/${target.name}`;
    const times = samples.get(key) ?? [];
    times.push(ms);
    samples.set(key, times);
  };
  if (config.order === "tsbs") {
    // One system at a time: its warm-up queries of every shape, then its timed ones shape by shape.
    for (const target of targets) {
      // What the previous system still does after its queries must not slow this one down.
      await waitUntilIdle(targets);
      await alone(target, targets, async () => {
        for (const shape of shapes)
          for (let index = 0; index < warmupRounds; index++) await run(target, shape, index);
        for (const shape of shapes) {
          for (let index = warmupRounds; index < queryCount; index++) await run(target, shape, index);
        }
      });
    }
  } else {
    // Rotating which system goes first spreads the cost of following another system's work (its
    // garbage collection, the caches it displaced) instead of charging it to one system.
    for (let index = 0; index < queryCount; index++) {
      const order = targets.map((_, i) => targets[(i + index) % targets.length] as QueryTarget);
      for (const shape of shapes) for (const target of order) await run(target, shape, index);
    }
  }
  progress.finish();
  // Compared with the expected size, or (high-cpu-1) with the first system's, horaedb's.
  for (const shape of shapes) {
    for (let index = 0; index < queryCount; index++) {
      const query = queries.get(shape)?.[index] as TsbsQuery;
      const sizes = rowsOf.get(`${shape}/${index}`) ?? new Map<QueryTarget, number>();
      const reference = tsbsExpectedRows(query, scale.hosts) ?? sizes.get(targets[0] as QueryTarget);
      for (const [target, rows] of sizes) {
        if (reference !== undefined && rows !== reference) noteMismatch(target.name, query, rows, reference);
      }
    }
  }
  return samples;
}

function noteMismatch(system: SystemName, query: TsbsQuery, rows: number, expected: number): void {
  const message = `${system} ${query.shape}: ${rows} rows where ${expected} were expected`;
  mismatches.set(message, (mismatches.get(message) ?? 0) + 1);
}

function reportQueries(samples: Map<string, number[]>, targets: readonly QueryTarget[]): void {
  for (const shape of shapes) {
    for (const target of targets) {
      const times = samples.get(`${shape}/${target.name}`) ?? [];
      if (times.length === 0) continue;
      record(
        `${shape} median ms`,
        `tsbs.query.${shape}.median.${target.name}`,
        target.name,
        median(times),
        "ms",
      );
      record(
        `${shape} p99 ms`,
        `tsbs.query.${shape}.p99.${target.name}`,
        target.name,
        percentile(times, 99),
        "ms",
      );
    }
  }
}

function formatValue(value: number | undefined, unit: string): string {
  if (value === undefined) return "-";
  return unit === "ms" ? value.toFixed(value < 10 ? 2 : 1) : Math.round(value).toLocaleString("en-US");
}

/**
 * The side-by-side table. `horaedb / vm` is horaedb's figure over VictoriaMetrics's; the targets are
 * columnar ingest >= 1.0 and each query's median <= 1.0.
 */
function printTable(): void {
  const rows = [...figures].map(([figure, { unit, values }]) => {
    const ours = values.horaedb;
    const ratioTo = (peer: number | undefined) =>
      ours !== undefined && peer !== undefined && peer > 0 ? ours / peer : undefined;
    const ratio = ratioTo(values["victoria-metrics"]);
    const influxRatio = ratioTo(values.influxdb);
    let target = "";
    if (ratio !== undefined && figure.startsWith("ingest rows/s, columnar"))
      target = ratio >= 1 ? "met" : "missed";
    if (ratio !== undefined && figure.endsWith("median ms")) target = ratio <= 1 ? "met" : "missed";
    return [
      figure,
      ...SYSTEMS.map((system) => formatValue(values[system], unit)),
      influxRatio === undefined ? "-" : influxRatio.toFixed(2),
      ratio === undefined ? "-" : ratio.toFixed(2),
      target,
    ];
  });
  const header = ["figure", ...SYSTEMS, "horaedb / influx", "horaedb / vm", "target"];
  console.error(
    `\nTSBS cpu-only, ${scale.hosts} hosts x ${hours} h = ${totalRows.toLocaleString("en-US")} rows; ` +
      `queries in ${config.order} order, ${warmupRounds} untimed + ${rounds} timed per shape and system`,
  );
  console.error(textTable(header, rows));
  for (const [message, count] of mismatches) console.error(`result size differs: ${message} (${count} runs)`);
}

/**
 * Starts every system and loads the rows into each. The rows and their line-protocol bodies are
 * not kept past this, so that the clients' process holds only what the queries need.
 */
async function ingestAll(batches: readonly TsbsBatch[]): Promise<QueryTarget[]> {
  const horaedb = await HoraeDb.start("cpu");
  await ingestHoraeDb(horaedb, batches);
  const targets: QueryTarget[] = [horaedb];
  await waitUntilIdle(targets);
  if (config.peers.length === 0) return targets;
  const progress = new ProgressBar("line protocol", totalRows, "rows");
  const bodies = batches.map((batch) => {
    const body = tsbsLineProtocol(batch);
    progress.tick(batch.numRows);
    return body;
  });
  progress.finish();
  const rowsPerBody = batches.map((batch) => batch.numRows);
  for (const name of config.peers) {
    const peer = await startPeer(name);
    if (peer === undefined) continue;
    await alone(peer, targets, () => ingestPeer(peer, bodies, rowsPerBody));
    targets.push(peer);
    await waitUntilIdle(targets);
  }
  return targets;
}

/**
 * How much horaedb holds in memtables as queries start: the unflushed tail of the data, which the
 * queries reaching it read from memory. Where the last flush fell decides it, so it explains some
 * of the difference between runs.
 */
async function reportMemtables(targets: readonly QueryTarget[]): Promise<void> {
  for (const target of targets) {
    if (!(target instanceof HoraeDb)) continue;
    const bytes = await target.memtableBytes();
    console.error(`horaedb memtables hold ${(bytes / 2 ** 20).toFixed(1)} MiB as queries start`);
    emit("tsbs.queries.memtable_bytes.horaedb", bytes, "bytes");
  }
}

async function main(): Promise<void> {
  cleanupOnSignals();
  emit("tsbs.rows", totalRows, "rows");
  const targets = await ingestAll(generate());

  await checkRows(targets);
  await waitUntilIdle(targets);
  await reportMemtables(targets);
  reportQueries(await runQueries(targets), targets);
  emitHostLoad();
  printTable();
}

try {
  await main();
} finally {
  await runCleanup();
}
