import { describe, expect, it } from "vitest";
import { ClusterNotReadyError, pickShardForTable } from "../../src/index.js";
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
