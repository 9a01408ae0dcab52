import { describe, expect, it } from "vitest";
import { InvariantChecker, violations, type MetadataSnapshot } from "../../src/cluster/invariants.js";
import type { TableRecord } from "../../src/metadata/index.js";

function table(id: number, shardId: number): TableRecord {
  return {
    id,
    name: `t${id}`,
    schemaId: 1,
    schemaName: "public",
    shardId,
    partitionInfo: null,
    tableSchema: {},
    options: {},
    createdAtMs: 1,
    createRequestId: `r${id}`,
  };
}

/** Two shards on two nodes with one table each and nothing running: every invariant holds. */
function healthy(): MetadataSnapshot {
  return {
    view: {
      version: 3,
      updatedAtMs: 1,
      shards: [
        { shardId: 0, leader: "a:1", followers: ["b:1"] },
        { shardId: 1, leader: "b:1", followers: ["a:1"] },
      ],
    },
    shards: [
      { shardId: 0, version: 2, tableIds: [10], updatedAtMs: 1 },
      { shardId: 1, version: 2, tableIds: [11], updatedAtMs: 1 },
    ],
    tables: [table(10, 0), table(11, 1)],
    procedures: [],
    locks: [],
    stable: true,
  };
}

describe("cluster invariants", () => {
  it("finds nothing wrong with a consistent mapping", () => {
    expect(violations(healthy())).toEqual([]);
  });

  it("names each broken invariant", () => {
    const broken = healthy();
    const snapshot: MetadataSnapshot = {
      ...broken,
      view: {
        ...broken.view,
        shards: [
          { shardId: 0, leader: "a:1", followers: ["a:1"] },
          { shardId: 1, leader: null, followers: [] },
        ],
      },
      shards: [
        { shardId: 0, version: 2, tableIds: [10, 11], updatedAtMs: 1 },
        { shardId: 1, version: 2, tableIds: [11], updatedAtMs: 1 },
      ],
      tables: [table(10, 0), table(11, 1), table(12, 1)],
      procedures: [
        {
          revision: 5,
          procedure: {
            id: 7,
            kind: "open_shard",
            state: "open",
            shardIds: [1],
            params: {},
            history: [],
            createdAtMs: 1,
            updatedAtMs: 1,
          },
        },
      ],
      locks: [{ shardId: 0, procedureId: 8, kind: "failover" }],
    };
    expect(violations(snapshot)).toEqual([
      "shard 0 has a follower on its leader's node a:1",
      "shard 1 has no leader",
      "table 11 is in shards 0, 1",
      "table 12 (t12) is in no shard",
      "shard 0 is locked by procedure 8, which is not running",
      "unfinished procedure 7 (open_shard) does not hold shard 1",
    ]);
  });

  it("remembers versions between checks and reports one that went down", () => {
    const checker = new InvariantChecker();
    expect(checker.checkSnapshot(healthy())).toEqual([]);
    const older = healthy();
    expect(
      checker.checkSnapshot({
        ...older,
        view: { ...older.view, version: 2 },
        shards: [{ ...older.shards[0]!, version: 1 }, older.shards[1]!],
      }),
    ).toEqual(["the cluster version went down from 3 to 2", "shard 0's version went down from 2 to 1"]);
  });
});
