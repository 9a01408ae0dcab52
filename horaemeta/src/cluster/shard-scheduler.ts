/**
 * The schedulers of design.md §6 that move shards, run by the horaemeta leader after each pass of the
 * cluster lifecycle. Each decision becomes a procedure; a shard that a procedure holds is left alone.
 * - failover: a node whose lease has ended (its lease key is gone, so it writes no more) loses every
 *   shard it leads or follows (procedure failover: promote a caught-up follower, else reopen);
 * - reopen: an online node that should hold a shard (per the placement) and does not report it open
 *   in that role is told to open it; a node reporting a shard it should not hold is told to close it.
 *   Only reports sent after the last procedure on the shard ended count, so a node is not told twice;
 * - rebalance (dynamic topology only): when the online nodes' leader counts differ by two or more,
 *   move a bounded number of leaderships from the busiest node to the idlest (a follower first).
 * All of them stop while scheduling is paused.
 */
import type { Logger } from "@horaedb/common";
import type { LeaderTerm } from "../election/leader-term.js";
import type { ClusterView, MetadataStore, NodeStatus, ShardRole } from "../metadata/index.js";
import type { ProcedureDefinition } from "../procedure/definition.js";
import { holdsAnyRole } from "../procedure/kinds/common.js";
import { failoverProcedure } from "../procedure/kinds/failover.js";
import { closeShardProcedure, openShardProcedure } from "../procedure/kinds/shard-open-close.js";
import { transferLeaderProcedure } from "../procedure/kinds/transfer-leader.js";
import type { ProcedureManager } from "../procedure/procedure-manager.js";
import type { JsonObject } from "../metadata/index.js";

export interface ShardSchedulerOptions {
  readonly store: MetadataStore;
  readonly procedures: ProcedureManager;
  readonly logger: Logger;
  /** Leaderships moved per rebalance pass at most. */
  readonly maxRebalanceMoves: number;
}

/** A procedure the scheduler decided on. */
export interface ScheduledProcedure {
  readonly kind: string;
  readonly shardId: number;
  readonly detail: string;
}

export class ShardScheduler {
  readonly #options: ShardSchedulerOptions;
  /** Shards with a scheduled procedure still running, so one pass does not schedule them again. */
  readonly #inFlight = new Set<number>();

  constructor(options: ShardSchedulerOptions) {
    this.#options = options;
  }

  /** One pass of every scheduler; starts the procedures it decides on and returns what it started. */
  async schedule(term: LeaderTerm, topologyType: "static" | "dynamic"): Promise<ScheduledProcedure[]> {
    const { store } = this.#options;
    const [view, nodes, locks] = await Promise.all([
      store.cluster.getView(),
      store.nodes.list(),
      store.procedures.locks(),
    ]);
    const busy = new Set([...locks.map((lock) => lock.shardId), ...this.#inFlight]);
    const started: ScheduledProcedure[] = [];
    const start = <P extends JsonObject>(
      definition: ProcedureDefinition<P>,
      params: P,
      shardId: number,
      detail: string,
    ): void => {
      if (busy.has(shardId)) return;
      busy.add(shardId);
      this.#inFlight.add(shardId);
      started.push({ kind: definition.kind, shardId, detail });
      this.#options.procedures
        .run(definition, params, [shardId], term)
        .catch((error: unknown) => {
          this.#options.logger.info(
            { shardId, kind: definition.kind, reason: (error as Error).message },
            "scheduled procedure did not finish",
          );
        })
        .finally(() => this.#inFlight.delete(shardId));
    };

    const byName = new Map(nodes.map((node) => [node.name, node]));
    const isOffline = (name: string) => byName.get(name)?.state !== "online";

    // failover: every shard a node with an ended lease holds.
    for (const shard of view.shards) {
      for (const node of [shard.leader, ...shard.followers]) {
        if (node !== null && isOffline(node)) {
          start(failoverProcedure, { shardId: shard.shardId, node }, shard.shardId, `${node} is offline`);
        }
      }
    }

    // reopen / close: what online nodes report against the placement.
    for (const node of nodes) {
      if (node.state !== "online") continue;
      for (const { shardId, role } of expectedShards(view, node.name)) {
        if (busy.has(shardId) || node.lastHeartbeatMs < this.#options.procedures.lastEndedAt(shardId))
          continue;
        const reported = node.shards.find((shard) => shard.shardId === shardId);
        if (reported?.role === role && reported.status === "ready") continue;
        start(
          openShardProcedure,
          { shardId, node: node.name, role },
          shardId,
          `${node.name} reports the shard ${reported === undefined ? "absent" : `${reported.role} ${reported.status}`}, should be ${role}`,
        );
      }
      for (const reported of node.shards) {
        if (node.lastHeartbeatMs < this.#options.procedures.lastEndedAt(reported.shardId)) continue;
        const placement = view.shards.find((shard) => shard.shardId === reported.shardId);
        const placed = placement !== undefined && holdsAnyRole(placement, node.name);
        if (placed || reported.status === "closed") continue;
        start(
          closeShardProcedure,
          { shardId: reported.shardId, node: node.name },
          reported.shardId,
          `${node.name} holds shard ${reported.shardId} outside the placement`,
        );
      }
    }

    if (topologyType === "dynamic") {
      for (const move of rebalanceMoves(view, nodes, this.#options.maxRebalanceMoves)) {
        start(
          transferLeaderProcedure,
          { shardId: move.shardId, from: move.from, to: move.to },
          move.shardId,
          `rebalance: ${move.from} leads ${move.fromCount} shards, ${move.to} ${move.toCount}`,
        );
      }
    }
    if (started.length > 0) this.#options.logger.info({ procedures: started }, "scheduled procedures");
    return started;
  }
}

/** The shards the placement gives `node`, with its role in each. */
export function expectedShards(view: ClusterView, node: string): { shardId: number; role: ShardRole }[] {
  return view.shards.flatMap((shard): { shardId: number; role: ShardRole }[] =>
    shard.leader === node
      ? [{ shardId: shard.shardId, role: "leader" as const }]
      : shard.followers.includes(node)
        ? [{ shardId: shard.shardId, role: "follower" as const }]
        : [],
  );
}

export interface RebalanceMove {
  readonly shardId: number;
  readonly from: string;
  readonly to: string;
  readonly fromCount: number;
  readonly toCount: number;
}

/**
 * Leadership moves that even out the online nodes' leader counts: from the node leading the most
 * shards to the one leading the fewest while they differ by two or more, preferring shards the idle
 * node already follows (a role switch, no replay). Pure.
 */
export function rebalanceMoves(
  view: ClusterView,
  nodes: readonly NodeStatus[],
  maxMoves: number,
): RebalanceMove[] {
  const online = nodes.filter((node) => node.state === "online").map((node) => node.name);
  if (online.length < 2) return [];
  const leaders = new Map(view.shards.map((shard) => [shard.shardId, shard.leader]));
  const moves: RebalanceMove[] = [];
  const moved = new Set<number>();
  while (moves.length < maxMoves) {
    const counts = new Map(online.map((name) => [name, 0]));
    for (const leader of leaders.values()) {
      if (leader !== null && counts.has(leader)) counts.set(leader, counts.get(leader)! + 1);
    }
    const sorted = [...counts.entries()].sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]));
    const [idle, idleCount] = sorted[0]!;
    const [busiest, busiestCount] = sorted[sorted.length - 1]!;
    if (busiestCount - idleCount < 2) break;
    const candidates = view.shards.filter(
      (shard) => leaders.get(shard.shardId) === busiest && !moved.has(shard.shardId),
    );
    const shard = candidates.find((c) => c.followers.includes(idle)) ?? candidates[0];
    if (shard === undefined) break;
    moves.push({
      shardId: shard.shardId,
      from: busiest,
      to: idle,
      fromCount: busiestCount,
      toCount: idleCount,
    });
    moved.add(shard.shardId);
    leaders.set(shard.shardId, idle);
  }
  return moves;
}
