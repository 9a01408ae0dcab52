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
