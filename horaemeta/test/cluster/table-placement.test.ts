import { describe, expect, it } from "vitest";
import { ClusterNotReadyError, pickShardForTable, pickShardsForPartitions } from "../../src/index.js";
import type { ClusterView, ShardView } from "../../src/metadata/index.js";

function shard(shardId: number, tableCount: number): ShardView {
  return {
    shardId,
    version: 1 + tableCount,
    tableIds: Array.from({ length: tableCount }, (_, i) => shardId * 100 + i),
    updatedAtMs: 0,
  };
}

function view(leaders: readonly (string | null)[]): ClusterView {
  return {
    version: 2,
    shards: leaders.map((leader, shardId) => ({ shardId, leader, followers: [] })),
    updatedAtMs: 0,
  };
}

describe("pickShardForTable", () => {
  it("picks the assigned shard holding the fewest tables", () => {
    const picked = pickShardForTable(view(["a:1", "a:1", "b:1"]), [shard(0, 3), shard(1, 1), shard(2, 2)]);
    expect(picked.shardId).toBe(1);
  });

  it("ignores shards without a leader, however empty", () => {
    const picked = pickShardForTable(view([null, "a:1", "b:1"]), [shard(0, 0), shard(1, 5), shard(2, 4)]);
    expect(picked.shardId).toBe(2);
  });

  it("breaks ties by the lowest shard id", () => {
    const picked = pickShardForTable(view(["a:1", "b:1", "a:1"]), [shard(2, 1), shard(1, 1), shard(0, 2)]);
    expect(picked.shardId).toBe(1);
  });

  it("refuses with a retryable ClusterNotReadyError while no shard has a leader", () => {
    expect(() => pickShardForTable(view([null, null]), [shard(0, 0), shard(1, 0)])).toThrow(
      ClusterNotReadyError,
    );
  });
});

describe("pickShardsForPartitions", () => {
  const ids = (picked: readonly ShardView[]) => picked.map((s) => s.shardId);

  it("puts each sub-table on a shard of its own, led by a different node first, then the least loaded", () => {
    // a leads 0, 1, 2; b leads 3; c leads 4 (the busiest shard).
    const leaders = ["a:1", "a:1", "a:1", "b:1", "c:1"];
    const shards = [shard(0, 2), shard(1, 0), shard(2, 1), shard(3, 3), shard(4, 9)];
    expect(ids(pickShardsForPartitions(view(leaders), shards, 3))).toEqual([1, 3, 4]);
    // A fourth goes back to a, on its least loaded remaining shard; a fifth on a's last one.
    expect(ids(pickShardsForPartitions(view(leaders), shards, 5))).toEqual([1, 3, 4, 2, 0]);
  });

  it("spreads more sub-tables than shards evenly over the shards and their nodes", () => {
    const leaders = ["a:1", "b:1", "a:1", "b:1"];
    const shards = [0, 1, 2, 3].map((id) => shard(id, 0));
    const picked = ids(pickShardsForPartitions(view(leaders), shards, 10));
    const perShard = [0, 1, 2, 3].map((id) => picked.filter((p) => p === id).length);
    expect(perShard).toEqual([3, 3, 2, 2]);
    const onA = picked.filter((id) => leaders[id] === "a:1").length;
    expect(onA).toBe(5);
  });

  it("counts creates under way and skips shards without a leader", () => {
    const leaders = [null, "a:1", "a:1", "b:1"];
    const shards = [shard(0, 0), shard(1, 0), shard(2, 0), shard(3, 0)];
    const picked = pickShardsForPartitions(view(leaders), shards, 2, new Map([[1, 2]]));
    expect(ids(picked)).toEqual([2, 3]);
  });

  it("refuses with ClusterNotReadyError while no shard has a leader", () => {
    expect(() => pickShardsForPartitions(view([null]), [shard(0, 0)], 2)).toThrow(ClusterNotReadyError);
  });
});
