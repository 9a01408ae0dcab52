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
    parentTableId: null,
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

/** `healthy()` plus partitioned table 20 (`p`) with sub-tables 21 on shard 0 and 22 on shard 1. */
function withPartitioned(): MetadataSnapshot {
  const base = healthy();
  const sub = (id: number, index: number, shardId: number): TableRecord => ({
    ...table(id, shardId),
    name: `__p_${index}`,
    parentTableId: 20,
  });
  return {
    ...base,
    shards: [
      { ...base.shards[0]!, tableIds: [10, 21] },
      { ...base.shards[1]!, tableIds: [11, 22] },
    ],
    tables: [
      ...base.tables,
      {
        ...table(20, 0),
        name: "p",
        shardId: null,
        partitionInfo: { keyColumns: ["host"], partitionCount: 2, subTableNames: ["__p_0", "__p_1"] },
      },
      sub(21, 0, 0),
      sub(22, 1, 1),
    ],
  };
}

describe("cluster invariants", () => {
  it("accepts a partitioned table on no shard whose listed sub-tables are each on one shard", () => {
    expect(violations(withPartitioned())).toEqual([]);
  });

  it("names each broken invariant of partitioned tables", () => {
    const base = withPartitioned();
    const tables = base.tables.map((t): TableRecord => {
      if (t.id === 20) {
        // Lists a missing sub-table and a table that is not its own, and claims a shard.
        return {
          ...t,
          shardId: 1,
          partitionInfo: {
            keyColumns: ["host"],
            partitionCount: 3,
            subTableNames: ["__p_0", "t10", "__p_9"],
          },
        };
      }
      return t;
    });
    const orphan: TableRecord = { ...table(30, 0), name: "__q_0", parentTableId: 99 };
    const snapshot: MetadataSnapshot = {
      ...base,
      shards: [{ ...base.shards[0]!, tableIds: [10, 21, 30] }, base.shards[1]!],
      tables: [...tables, orphan, { ...table(40, 0), shardId: null }],
    };
    expect(violations(snapshot)).toEqual([
      "table 20 (p) is in no shard",
      "partitioned table public.p (20) names shard 1",
      "partitioned table public.p (20) lists t10 (10), which is not its sub-table",
      "partitioned table public.p (20) lists sub-table __p_9, which does not exist",
      "sub-table public.__p_1 (22) is not listed by its partitioned table 20",
      "sub-table public.__q_0 (30) names partitioned table 99, which does not exist",
      "table public.t40 (40) is on no shard but is not partitioned",
    ]);
  });

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
