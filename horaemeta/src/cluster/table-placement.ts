/** Which shard a new table goes to. Pure: the caller reads the cluster and writes the table. */
import { ClusterNotReadyError } from "../errors.js";
import type { ClusterView, ShardView } from "../metadata/index.js";

/**
 * The shard for a new table: among the shards that have a leader, the one holding the fewest
 * tables, counting `pending` creates already headed for each (the lowest id on a tie). Throws
 * ClusterNotReadyError when no shard has a leader yet.
 */
export function pickShardForTable(
  view: ClusterView,
  shards: readonly ShardView[],
  pending: ReadonlyMap<number, number> = new Map(),
): ShardView {
  const byId = new Map(shards.map((shard) => [shard.shardId, shard]));
  const load = (shard: ShardView) => shard.tableIds.length + (pending.get(shard.shardId) ?? 0);
  let best: ShardView | undefined;
  for (const assignment of view.shards) {
    if (assignment.leader === null) continue;
    const shard = byId.get(assignment.shardId);
    if (shard === undefined) continue;
    if (
      best === undefined ||
      load(shard) < load(best) ||
      (load(shard) === load(best) && shard.shardId < best.shardId)
    ) {
      best = shard;
    }
  }
  if (best === undefined) throw new ClusterNotReadyError("no shard has a leader yet");
  return best;
}

/**
 * The shards for the `count` sub-tables of a new partitioned table, in partition order, among the
 * shards that have a leader. Each pick takes the shard that, in this order of preference:
 * 1. holds the fewest of this table's sub-tables so far (so every sub-table has a shard of its own
 *    while there are enough; beyond that they spread evenly: no shard holds two more than another);
 * 2. is led by the node leading the fewest of them so far (so they spread over the nodes: different
 *    nodes while there are enough, then evenly);
 * 3. holds the fewest tables, counting `pending` creates, then has the lowest id.
 * Throws ClusterNotReadyError when no shard has a leader yet.
 */
export function pickShardsForPartitions(
  view: ClusterView,
  shards: readonly ShardView[],
  count: number,
  pending: ReadonlyMap<number, number> = new Map(),
): ShardView[] {
  const byId = new Map(shards.map((shard) => [shard.shardId, shard]));
  const candidates = view.shards.flatMap((assignment) => {
    const shard = byId.get(assignment.shardId);
    return assignment.leader === null || shard === undefined ? [] : [{ shard, leader: assignment.leader }];
  });
  if (candidates.length === 0) throw new ClusterNotReadyError("no shard has a leader yet");
  const perShard = new Map<number, number>();
  const perNode = new Map<string, number>();
  const picked: ShardView[] = [];
  for (let i = 0; i < count; i++) {
    const rank = (c: (typeof candidates)[number]) => [
      perShard.get(c.shard.shardId) ?? 0,
      perNode.get(c.leader) ?? 0,
      c.shard.tableIds.length + (pending.get(c.shard.shardId) ?? 0),
      c.shard.shardId,
    ];
    let best = candidates[0]!;
    for (const candidate of candidates.slice(1)) {
      const [a, b] = [rank(candidate), rank(best)];
      const first = a.findIndex((value, j) => value !== b[j]);
      if (first !== -1 && a[first]! < b[first]!) best = candidate;
    }
    perShard.set(best.shard.shardId, (perShard.get(best.shard.shardId) ?? 0) + 1);
    perNode.set(best.leader, (perNode.get(best.leader) ?? 0) + 1);
    picked.push(best.shard);
  }
  return picked;
}
