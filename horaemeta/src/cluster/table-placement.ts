/** Which shard a new table goes to. Pure: the caller reads the cluster and writes the table. */
import { ClusterNotReadyError } from "../errors.js";
import type { ClusterView, ShardView } from "../metadata/index.js";

/**
 * The shard for a new table: among the shards that have a leader, the one holding the fewest
 * tables (the lowest id on a tie). Throws ClusterNotReadyError when no shard has a leader yet.
 */
export function pickShardForTable(view: ClusterView, shards: readonly ShardView[]): ShardView {
  const tableCounts = new Map(shards.map((shard) => [shard.shardId, shard]));
  let best: ShardView | undefined;
  for (const assignment of view.shards) {
    if (assignment.leader === null) continue;
    const shard = tableCounts.get(assignment.shardId);
    if (shard === undefined) continue;
    if (
      best === undefined ||
      shard.tableIds.length < best.tableIds.length ||
      (shard.tableIds.length === best.tableIds.length && shard.shardId < best.shardId)
    ) {
      best = shard;
    }
  }
  if (best === undefined) throw new ClusterNotReadyError("no shard has a leader yet");
  return best;
}
