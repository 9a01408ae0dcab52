/**
 * Where unplaced shards go: a leader per shard, spread evenly over the online nodes, and followers
 * on other nodes. Pure: the scheduler reads the cluster, this decides, the scheduler writes.
 */
import type { ClusterView, ShardAssignment } from "../metadata/index.js";

/** A node shards can be placed on. */
export interface PlacementNode {
  /** `host:port`. */
  readonly name: string;
  /** Failure domain; empty when unknown. */
  readonly zone: string;
}

interface NodeLoad {
  readonly node: PlacementNode;
  leaders: number;
  /** Shards the node holds in any role. */
  shards: number;
}

/**
 * Places every shard of `view` that has no leader. The leader of each (in shard id order) is the
 * node leading the fewest shards so far (then holding the fewest, then by name): on a fresh cluster
 * that is round robin. Followers are the least loaded other nodes, preferring zones other than the
 * leader's: `followersPerShard` of them, or as many as there are other nodes. Shards that already
 * have a leader are kept and count towards the load of their nodes.
 *
 * Returns the new assignments only, in shard id order; none when `nodes` is empty.
 */
export function placeUnassignedShards(
  view: ClusterView,
  nodes: readonly PlacementNode[],
  followersPerShard: number,
): ShardAssignment[] {
  if (nodes.length === 0) return [];
  const loads = new Map<string, NodeLoad>(
    [...nodes]
      .sort((a, b) => compareNames(a.name, b.name))
      .map((node) => [node.name, { node, leaders: 0, shards: 0 }]),
  );
  for (const shard of view.shards) {
    if (shard.leader === null) continue;
    const leader = loads.get(shard.leader);
    if (leader !== undefined) {
      leader.leaders++;
      leader.shards++;
    }
    for (const follower of shard.followers) {
      const load = loads.get(follower);
      if (load !== undefined) load.shards++;
    }
  }

  const assignments: ShardAssignment[] = [];
  const unplaced = view.shards.filter((shard) => shard.leader === null).sort((a, b) => a.shardId - b.shardId);
  for (const shard of unplaced) {
    const leader = leastLoaded([...loads.values()], (a, b) => a.leaders - b.leaders || a.shards - b.shards);
    leader.leaders++;
    leader.shards++;
    const leaderZone = leader.node.zone;
    const sameZone = (load: NodeLoad) => (leaderZone !== "" && load.node.zone === leaderZone ? 1 : 0);
    const followers = [...loads.values()]
      .filter((load) => load !== leader)
      .sort(
        (a, b) => sameZone(a) - sameZone(b) || a.shards - b.shards || compareNames(a.node.name, b.node.name),
      )
      .slice(0, followersPerShard);
    for (const follower of followers) follower.shards++;
    assignments.push({
      shardId: shard.shardId,
      leader: leader.node.name,
      followers: followers.map((load) => load.node.name).sort(compareNames),
    });
  }
  return assignments;
}

/** The first of `loads` by `compare`, ties broken by node name. `loads` is not empty. */
function leastLoaded(loads: readonly NodeLoad[], compare: (a: NodeLoad, b: NodeLoad) => number): NodeLoad {
  return loads.reduce((best, load) => {
    const order = compare(load, best) || compareNames(load.node.name, best.node.name);
    return order < 0 ? load : best;
  });
}

function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
