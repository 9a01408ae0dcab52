import { describe, expect, it } from "vitest";
import { placeUnassignedShards, type PlacementNode } from "../../src/index.js";
import type { ClusterView, ShardAssignment } from "../../src/metadata/index.js";

function freshView(shardCount: number): ClusterView {
  return {
    version: 1,
    shards: Array.from({ length: shardCount }, (_, shardId) => ({ shardId, leader: null, followers: [] })),
    updatedAtMs: 0,
  };
}

function nodes(...names: string[]): PlacementNode[] {
  return names.map((name) => ({ name, zone: "" }));
}

function countBy(values: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

function leaders(assignments: readonly ShardAssignment[]): string[] {
  return assignments.map((assignment) => assignment.leader ?? "none");
}

describe("placeUnassignedShards", () => {
  it("spreads the leaders of a fresh cluster round robin over the nodes, in shard id order", () => {
    const assignments = placeUnassignedShards(freshView(8), nodes("c:1", "a:1", "b:1"), 0);
    expect(assignments.map((a) => a.shardId)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(leaders(assignments)).toEqual(["a:1", "b:1", "c:1", "a:1", "b:1", "c:1", "a:1", "b:1"]);
    expect(assignments.every((a) => a.followers.length === 0)).toBe(true);
  });

  it("never places a follower on its shard's leader's node, and balances followers too", () => {
    const assignments = placeUnassignedShards(freshView(6), nodes("a:1", "b:1", "c:1"), 1);
    for (const assignment of assignments) {
      expect(assignment.followers).toHaveLength(1);
      expect(assignment.followers).not.toContain(assignment.leader);
    }
    const held = assignments.flatMap((a) => [a.leader ?? "", ...a.followers]);
    expect(countBy(held)).toEqual({ "a:1": 4, "b:1": 4, "c:1": 4 });
  });

  it("places fewer followers when there are not enough other nodes", () => {
    const assignments = placeUnassignedShards(freshView(4), nodes("a:1", "b:1"), 3);
    for (const assignment of assignments) {
      expect(assignment.followers).toEqual([assignment.leader === "a:1" ? "b:1" : "a:1"]);
    }
    const single = placeUnassignedShards(freshView(2), nodes("a:1"), 2);
    expect(single).toEqual([
      { shardId: 0, leader: "a:1", followers: [] },
      { shardId: 1, leader: "a:1", followers: [] },
    ]);
  });

  it("keeps placed shards and counts them when placing the rest", () => {
    const view: ClusterView = {
      version: 5,
      shards: [
        { shardId: 0, leader: "a:1", followers: [] },
        { shardId: 1, leader: "a:1", followers: [] },
        { shardId: 2, leader: null, followers: [] },
        { shardId: 3, leader: null, followers: [] },
      ],
      updatedAtMs: 0,
    };
    const assignments = placeUnassignedShards(view, nodes("a:1", "b:1"), 0);
    expect(assignments).toEqual([
      { shardId: 2, leader: "b:1", followers: [] },
      { shardId: 3, leader: "b:1", followers: [] },
    ]);
  });

  it("prefers followers in another zone than the leader's", () => {
    const zoned: PlacementNode[] = [
      { name: "a:1", zone: "z1" },
      { name: "b:1", zone: "z1" },
      { name: "c:1", zone: "z2" },
    ];
    const [first] = placeUnassignedShards(freshView(1), zoned, 1);
    expect(first).toEqual({ shardId: 0, leader: "a:1", followers: ["c:1"] });
  });

  it("places nothing without nodes", () => {
    expect(placeUnassignedShards(freshView(3), [], 1)).toEqual([]);
  });
});
