/**
 * `npm run bench:meta`: horaemeta under load from simulated horaedb instances.
 *
 * Starts etcd (a temporary directory), one horaemeta in this process and `--nodes` simulated
 * instances heartbeating every second, waits until the cluster is Stable and every instance holds
 * what the placement gives it, then measures:
 * 1. heartbeats/s: every node sends heartbeats back to back for `--heartbeat-seconds`; p50/p99;
 * 2. create-table procedures/s: `--tables` CreateTable calls over gRPC, `--concurrency` in flight;
 *    p50/p99; then checks every table is on the instance leading its shard (exit 1 otherwise);
 * 3. failover, `--failovers` times: a node leading shards stops heartbeating; the time from its lease
 *    key's deletion (the expiry) to no shard naming it in the cluster view, and from its last
 *    heartbeat. The target is under 1 s after the expiry.
 *
 * Prints one JSON object per figure on stdout ({"name","value","unit"}), progress on stderr. Every
 * process and the temporary directory are removed at the end, on errors and on Ctrl-C.
 */
import { parseArgs } from "node:util";
import { cleanupOnSignals, runCleanup } from "./cleanup.js";
import { startMetaCluster, waitForPlacement } from "./meta/cluster.js";
import { checkTablesOnLeaders, measureCreateTables } from "./meta/create-tables.js";
import { describeFailover, measureFailover, pickVictim, type FailoverRun } from "./meta/failover.js";
import { measureHeartbeats } from "./meta/heartbeats.js";
import { emit, emitHostLoad, FlagError, median, percentile, positiveInteger, readFlags } from "./report.js";

/** The failover target: shards led elsewhere within this long after the node's lease expired. */
const FAILOVER_TARGET_MS = 1_000;
/** How long the cluster may take to place and open every shard (a loaded machine is slow). */
const SETTLE_TIMEOUT_MS = 120_000;
const FAILOVER_TIMEOUT_MS = 30_000;

const config = readFlags(() => {
  const { values: flags } = parseArgs({
    options: {
      nodes: { type: "string", default: "100" },
      shards: { type: "string", default: "64" },
      "heartbeat-seconds": { type: "string", default: "10" },
      tables: { type: "string", default: "1000" },
      concurrency: { type: "string", default: "16" },
      failovers: { type: "string", default: "3" },
    },
  });
  const nodes = positiveInteger("nodes", flags.nodes);
  const failovers = positiveInteger("failovers", flags.failovers);
  if (nodes < 2) throw new FlagError("--nodes must be at least 2, so that shards have somewhere to go");
  if (failovers >= nodes) {
    throw new FlagError(`--failovers (${failovers}) must be below --nodes (${nodes}): each run stops a node`);
  }
  return {
    nodes,
    shards: positiveInteger("shards", flags.shards),
    heartbeatMs: positiveInteger("heartbeat-seconds", flags["heartbeat-seconds"]) * 1_000,
    tables: positiveInteger("tables", flags.tables),
    concurrency: positiveInteger("concurrency", flags.concurrency),
    failovers,
  };
});

const seconds = (ms: number) => (ms / 1_000).toFixed(1);

async function main(): Promise<void> {
  cleanupOnSignals();
  const started = performance.now();
  const cluster = await startMetaCluster({ nodes: config.nodes, shards: config.shards });
  await waitForPlacement(cluster, cluster.instances, SETTLE_TIMEOUT_MS);
  console.error(
    `cluster Stable: ${config.shards} shards (1 follower each) on ${config.nodes} nodes, ` +
      `each holding its placement, ${seconds(performance.now() - started)} s after start`,
  );
  emit("meta.nodes", config.nodes, "nodes");
  emit("meta.shards", config.shards, "shards");

  console.error(`heartbeats: every node back to back for ${seconds(config.heartbeatMs)} s`);
  const heartbeatsFrom = Date.now();
  const heartbeats = await measureHeartbeats(cluster.instances, config.heartbeatMs);
  emit("meta.heartbeat.rate", (heartbeats.accepted / heartbeats.elapsedMs) * 1_000, "heartbeats/s");
  emit("meta.heartbeat.p50", percentile(heartbeats.latenciesMs, 50), "ms");
  emit("meta.heartbeat.p99", percentile(heartbeats.latenciesMs, 99), "ms");
  emit("meta.heartbeat.failed", heartbeats.failed, "heartbeats");
  // A node whose heartbeats were answered too late lost its lease: a sign of overload.
  const expiredDuringHeartbeats = cluster.expiries.countSince(heartbeatsFrom);
  emit("meta.heartbeat.lease_expiries", expiredDuringHeartbeats, "leases");
  if (heartbeats.failed > 0) console.error(`first failed heartbeat: ${heartbeats.firstFailure}`);
  if (expiredDuringHeartbeats > 0) {
    console.error(`${expiredDuringHeartbeats} node leases expired while heartbeating; waiting for repairs`);
  }
  await waitForPlacement(cluster, cluster.instances, SETTLE_TIMEOUT_MS);

  console.error(`create table: ${config.tables} tables, ${config.concurrency} in flight`);
  const tables = await measureCreateTables(cluster, config.tables, config.concurrency);
  emit("meta.create_table.rate", (tables.created.length / tables.elapsedMs) * 1_000, "tables/s");
  emit("meta.create_table.p50", percentile(tables.latenciesMs, 50), "ms");
  emit("meta.create_table.p99", percentile(tables.latenciesMs, 99), "ms");
  await checkTablesOnLeaders(cluster, tables.created);
  console.error(`every table is on the instance leading its shard`);

  const runs: FailoverRun[] = [];
  let live = [...cluster.instances];
  for (let run = 1; run <= config.failovers; run++) {
    const victim = await pickVictim(cluster, live);
    console.error(`failover ${run}/${config.failovers}: ${victim.name} stops heartbeating`);
    const result = await measureFailover(cluster, victim, FAILOVER_TIMEOUT_MS);
    runs.push(result);
    live = live.filter((instance) => instance !== victim);
    emit(`meta.failover.after_expiry_ms.run_${run}`, result.movedMs - result.expiryMs, "ms");
    emit(`meta.failover.after_last_heartbeat_ms.run_${run}`, result.movedMs - result.lastHeartbeatMs, "ms");
    // The next run starts from a settled cluster: the survivors hold the new placement.
    await waitForPlacement(cluster, live, SETTLE_TIMEOUT_MS);
    console.error(`  ${await describeFailover(cluster, result)}`);
  }
  const afterExpiry = runs.map((run) => run.movedMs - run.expiryMs);
  const medianAfterExpiry = median(afterExpiry);
  emit("meta.failover.after_expiry_ms.median", medianAfterExpiry, "ms");
  emit(
    "meta.failover.after_last_heartbeat_ms.median",
    median(runs.map((run) => run.movedMs - run.lastHeartbeatMs)),
    "ms",
  );
  const met = medianAfterExpiry < FAILOVER_TARGET_MS;
  emit("meta.failover.target_met", met ? 1 : 0, "boolean");
  const within = afterExpiry.filter((ms) => ms < FAILOVER_TARGET_MS).length;
  console.error(
    `failover target (shards led elsewhere under ${FAILOVER_TARGET_MS} ms after the lease expiry): ` +
      `${met ? "met" : "NOT met"}, median ${Math.round(medianAfterExpiry)} ms, ` +
      `${within} of ${runs.length} runs within it`,
  );
  emitHostLoad();
  console.error(`run time ${seconds(performance.now() - started)} s`);
}

try {
  await main();
} catch (error) {
  console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  await runCleanup();
}
