/**
 * Failover latency: a node that leads shards stops heartbeating; etcd deletes its lease key when the
 * lease expires (the expiry), and horaemeta moves every shard it leads or follows to other nodes
 * (the move: no shard in the cluster view names it any more). Measured on the wall clock, which the
 * instances' heartbeat times, the watch and the procedures' history all use.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { ProcedureRecord } from "@horaedb/horaemeta/metadata";
import type { SimulatedInstance } from "@horaedb/horaemeta/testing";
import { ClusterNotSettledError, type MetaCluster } from "./cluster.js";

/** How often the cluster view is read while waiting for the move. */
const POLL_MS = 10;

export interface FailoverRun {
  readonly victim: string;
  readonly ledShards: readonly number[];
  readonly followedShards: readonly number[];
  /** When the victim sent its last heartbeat that horaemeta accepted. */
  readonly lastHeartbeatMs: number;
  /** When the watch saw the victim's lease key deleted. */
  readonly expiryMs: number;
  /** When the cluster view was first read without the victim. */
  readonly movedMs: number;
  /** When the run began: the victim's failover procedures were created after it. */
  readonly sinceMs: number;
}

/** A node of `live` leading at least one shard in the current view. */
export async function pickVictim(
  cluster: MetaCluster,
  live: readonly SimulatedInstance[],
): Promise<SimulatedInstance> {
  const view = await cluster.store.cluster.getView();
  const leaders = new Set(view.shards.map((shard) => shard.leader));
  const victim = live.find((instance) => leaders.has(instance.name));
  if (victim === undefined) throw new Error("no live node leads a shard");
  return victim;
}

/** Stops `victim`'s heartbeats and measures until its shards are led and followed elsewhere; then stops it. */
export async function measureFailover(
  cluster: MetaCluster,
  victim: SimulatedInstance,
  timeoutMs: number,
): Promise<FailoverRun> {
  const view = await cluster.store.cluster.getView();
  const ledShards = view.shards.filter((s) => s.leader === victim.name).map((s) => s.shardId);
  const followedShards = view.shards.filter((s) => s.followers.includes(victim.name)).map((s) => s.shardId);
  const since = Date.now();
  // Waiting for the deletion starts before the heartbeats stop, so it cannot be missed.
  const expiry = cluster.expiries.expiryOf(victim.name, since, timeoutMs);
  expiry.catch(() => undefined); // awaited below; this keeps an early rejection from going unhandled
  await victim.stopHeartbeats();
  const lastHeartbeatMs = victim.lastAcceptedHeartbeatSentAtMs;

  const deadline = Date.now() + timeoutMs;
  let movedMs: number;
  for (;;) {
    const now = await cluster.store.cluster.getView();
    if (now.shards.every((s) => s.leader !== victim.name && !s.followers.includes(victim.name))) {
      movedMs = Date.now();
      break;
    }
    if (Date.now() >= deadline) {
      const left = now.shards.filter((s) => s.leader === victim.name || s.followers.includes(victim.name));
      throw new ClusterNotSettledError(
        `the shards of ${victim.name} to move`,
        timeoutMs,
        `still on shards ${left.map((s) => s.shardId).join(", ")}`,
      );
    }
    await sleep(POLL_MS);
  }
  const expiryMs = await expiry;
  await victim.stop();
  return {
    victim: victim.name,
    ledShards,
    followedShards,
    lastHeartbeatMs,
    expiryMs,
    movedMs,
    sinceMs: since,
  };
}

/**
 * Where the time of a run went, relative to the expiry: when the victim's failover procedures were
 * created, when the last of them wrote the placement (its transition to `open_successor`), when the
 * view was seen without the victim, and when the last procedure ended (after SwitchShardRole or
 * OpenShard was answered). Read once the procedures have ended.
 */
export async function describeFailover(cluster: MetaCluster, run: FailoverRun): Promise<string> {
  const procedures = (await cluster.store.procedures.list())
    .map((stored) => stored.procedure)
    .filter(
      (procedure: ProcedureRecord) =>
        procedure.kind === "failover" &&
        procedure.createdAtMs >= run.sinceMs &&
        (procedure.params as { node?: unknown } | null)?.node === run.victim,
    );
  const at = (ms: number | undefined) =>
    ms === undefined ? "-" : `${ms >= run.expiryMs ? "+" : ""}${ms - run.expiryMs} ms`;
  const latest = (times: readonly number[]) => (times.length === 0 ? undefined : Math.max(...times));
  const reached = (state: string) =>
    procedures.flatMap((p) => p.history.filter((entry) => entry.state === state).map((entry) => entry.atMs));
  const created = procedures.map((p) => p.createdAtMs);
  const led = run.ledShards.join(",") || "-";
  const followed = run.followedShards.join(",") || "-";
  return [
    `${run.victim} (led ${led}, followed ${followed}): lease expired`,
    `${run.expiryMs - run.lastHeartbeatMs} ms after its last heartbeat;`,
    `${procedures.length} failover procedures created by ${at(latest(created))},`,
    `placement written by ${at(latest(reached("open_successor")))},`,
    `view seen without it at ${at(run.movedMs)}, procedures ended by ${at(latest(reached("finished")))}`,
  ].join(" ");
}
