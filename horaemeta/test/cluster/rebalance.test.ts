import { describe, expect, it } from "vitest";
import { rebalanceMoves } from "../../src/cluster/shard-scheduler.js";
import type { ClusterView, NodeStatus } from "../../src/metadata/index.js";

function node(name: string, state: "online" | "offline" = "online"): NodeStatus {
  return {
    name,
    state,
    endpoint: { host: name.split(":")[0]!, port: Number(name.split(":")[1]) },
    zone: "",
    binaryVersion: "test",
    lastHeartbeatMs: 1,
    leaseTtlMs: 2_000,
    leaseDeadlineMs: 2_001,
    etcdLeaseId: "1",
    shards: [],
    load: null,
    shardLoads: [],
  };
}

function view(leaders: (string | null)[], followers: string[][] = []): ClusterView {
  return {
    version: 1,
    updatedAtMs: 1,
    shards: leaders.map((leader, shardId) => ({ shardId, leader, followers: followers[shardId] ?? [] })),
  };
}

describe("rebalanceMoves", () => {
  it("moves leaderships from the busiest to the idlest node until they differ by at most one", () => {
    const moves = rebalanceMoves(
      view(["a:1", "a:1", "a:1", "a:1", "b:1"]),
      [node("a:1"), node("b:1"), node("c:1")],
      10,
    );
    expect(moves.map((move) => [move.shardId, move.from, move.to])).toEqual([
      [0, "a:1", "c:1"],
      [1, "a:1", "b:1"], // b and c lead one each now; the name breaks the tie
    ]);
  });

  it("stops at the bound, prefers a shard the idle node follows, and ignores offline nodes", () => {
    const moves = rebalanceMoves(
      view(["a:1", "a:1", "a:1"], [[], [], ["b:1"]]),
      [node("a:1"), node("b:1"), node("c:1", "offline")],
      1,
    );
    expect(moves.map((move) => [move.shardId, move.to])).toEqual([[2, "b:1"]]);
    expect(rebalanceMoves(view(["a:1", "b:1"]), [node("a:1"), node("b:1")], 5)).toEqual([]);
    expect(rebalanceMoves(view(["a:1", "a:1"]), [node("a:1")], 5)).toEqual([]);
  });
});
