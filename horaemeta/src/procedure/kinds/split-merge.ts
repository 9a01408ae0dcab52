/**
 * split_shard: moves a set of tables of a shard to a new shard, placed on the same nodes (so no data
 * moves between instances; a later transfer_leader spreads the load). Steps: take a shard id (and
 * lock it), create the empty shard, move the tables' metadata (the point of no return), then
 * SplitShard on the leader and the followers. Before the move a refusal deletes the new shard.
 *
 * merge_shards: moves every table of the source shards into the target shard and deletes the emptied
 * sources. The shards must share a leader (transfer leaders first), so again no data moves. Steps:
 * check, move the tables (the point of no return), MergeShards on the nodes, delete the sources.
 */
import { z } from "@horaedb/common";
import { InvalidRequestError } from "../../errors.js";
import { MAX_TABLES_PER_MOVE, ShardNotFoundError } from "../../metadata/index.js";
import { FINISHED, ProcedureAbortError, ROLLED_BACK, type ProcedureDefinition } from "../definition.js";
import {
  details,
  eventHeader,
  paramsParser,
  readShard,
  sendBestEffort,
  shardIdSchema,
  shardInfo,
} from "./common.js";

const splitShardParams = z.object({
  shardId: shardIdSchema,
  tableIds: z.array(z.number().int().positive()).min(1),
  newShardId: shardIdSchema.optional(),
  /** Source shard version before the move. */
  sourceVersion: z.number().int().positive().optional(),
});
export type SplitShardParams = z.infer<typeof splitShardParams>;

export const splitShardProcedure: ProcedureDefinition<SplitShardParams> = {
  kind: "split_shard",
  parseParams: paramsParser("split_shard", splitShardParams),
  initialState: "check",
  steps: {
    check: async (context) => {
      const { shardId, tableIds } = context.params;
      const { placement, view } = await readShard(context, shardId);
      const missing = tableIds.filter((tableId) => !view.tableIds.includes(tableId));
      if (missing.length > 0) {
        throw new ProcedureAbortError(
          new InvalidRequestError("table_ids", `tables ${missing.join(", ")} are not in shard ${shardId}`),
        );
      }
      if (placement.leader === null) {
        throw new ProcedureAbortError(new InvalidRequestError("shard_id", `shard ${shardId} has no leader`));
      }
      if (tableIds.length > MAX_TABLES_PER_MOVE) {
        throw new ProcedureAbortError(
          new InvalidRequestError("table_ids", `at most ${MAX_TABLES_PER_MOVE} tables move in one split`),
        );
      }
      // The id is taken and locked before the shard exists, so a repeat creates the same shard.
      const newShardId = await context.store.ids.next("shard");
      return {
        next: "create_shard",
        params: { ...context.params, newShardId, sourceVersion: view.version },
        shardIds: [shardId, newShardId],
      };
    },
    create_shard: async (context) => {
      const { shardId, newShardId } = context.params;
      const { placement } = await readShard(context, shardId);
      context.term.assertActive();
      await context.store.shards.create({
        shardId: newShardId!,
        placement: { leader: placement.leader, followers: placement.followers },
      });
      return { next: "move_tables" };
    },
    move_tables: async (context) => {
      const { shardId, newShardId, tableIds } = context.params;
      const target = await context.store.shards.get(newShardId!);
      const toMove = tableIds.filter((tableId) => !target.tableIds.includes(tableId));
      if (toMove.length > 0) {
        context.term.assertActive();
        await context.store.tables.move({ tableIds: toMove, fromShardId: shardId, toShardId: newShardId! });
      }
      return { next: "split_on_nodes" };
    },
    split_on_nodes: async (context) => {
      const { shardId, newShardId, tableIds, sourceVersion } = context.params;
      const [source, target] = await Promise.all([
        readShard(context, shardId),
        readShard(context, newShardId!),
      ]);
      const nodes = [source.placement.leader, ...source.placement.followers].filter(
        (n): n is string => n !== null,
      );
      const results = await Promise.all(
        nodes.map((node) => {
          const role = node === source.placement.leader ? "leader" : "follower";
          return sendBestEffort(context, node, "SplitShard", {
            header: eventHeader(context),
            source: {
              prevShardInfo: shardInfo(shardId, role, sourceVersion!),
              currShardInfo: shardInfo(shardId, role, source.view.version),
            },
            newShardInfo: shardInfo(newShardId!, role, target.view.version),
            tableIds: tableIds.map(String),
          });
        }),
      );
      const detail = details(results);
      return { next: FINISHED, ...(detail === undefined ? {} : { detail }) };
    },
    delete_new_shard: async (context) => {
      const { newShardId } = context.params;
      if (newShardId !== undefined) {
        context.term.assertActive();
        await context.store.shards.delete(newShardId).catch((error: unknown) => {
          if (!(error instanceof ShardNotFoundError)) throw error;
        });
      }
      return { next: ROLLED_BACK };
    },
  },
  rollbackFrom: (state) =>
    state === "check"
      ? ROLLED_BACK
      : state === "create_shard" || state === "move_tables"
        ? "delete_new_shard"
        : undefined,
};

const mergeShardsParams = z.object({
  sourceShardIds: z.array(shardIdSchema).min(1),
  targetShardId: shardIdSchema,
  /** Versions before the merge, by shard id (as strings, JSON object keys). */
  versions: z.record(z.string(), z.number().int().positive()).optional(),
});
export type MergeShardsParams = z.infer<typeof mergeShardsParams>;

export const mergeShardsProcedure: ProcedureDefinition<MergeShardsParams> = {
  kind: "merge_shards",
  parseParams: paramsParser("merge_shards", mergeShardsParams),
  initialState: "check",
  steps: {
    check: async (context) => {
      const { sourceShardIds, targetShardId } = context.params;
      if (sourceShardIds.includes(targetShardId) || new Set(sourceShardIds).size !== sourceShardIds.length) {
        throw new ProcedureAbortError(
          new InvalidRequestError("source_shard_ids", "must be distinct and must not contain the target"),
        );
      }
      const states = await Promise.all(
        [targetShardId, ...sourceShardIds].map((id) => readShard(context, id)),
      );
      const leader = states[0]!.placement.leader;
      if (leader === null) {
        throw new ProcedureAbortError(
          new InvalidRequestError("target_shard_id", `shard ${targetShardId} has no leader`),
        );
      }
      const other = states.find((state) => state.placement.leader !== leader);
      if (other !== undefined) {
        throw new ProcedureAbortError(
          new InvalidRequestError(
            "source_shard_ids",
            `shard ${other.view.shardId} is led by ${other.placement.leader ?? "no node"}, shard ${targetShardId} by ${leader}; transfer the leaders first`,
          ),
        );
      }
      const versions = Object.fromEntries(
        states.map((state) => [String(state.view.shardId), state.view.version]),
      );
      return { next: "move_tables", params: { ...context.params, versions } };
    },
    move_tables: async (context) => {
      const { sourceShardIds, targetShardId } = context.params;
      for (const sourceId of sourceShardIds) {
        for (;;) {
          const source = await context.store.shards.get(sourceId).catch((error: unknown) => {
            if (error instanceof ShardNotFoundError) return undefined;
            throw error;
          });
          if (source === undefined || source.tableIds.length === 0) break;
          context.term.assertActive();
          await context.store.tables.move({
            tableIds: source.tableIds.slice(0, MAX_TABLES_PER_MOVE),
            fromShardId: sourceId,
            toShardId: targetShardId,
          });
        }
      }
      return { next: "merge_on_nodes" };
    },
    merge_on_nodes: async (context) => {
      const { sourceShardIds, targetShardId, versions } = context.params;
      const target = await readShard(context, targetShardId);
      const nodes = [target.placement.leader, ...target.placement.followers].filter(
        (n): n is string => n !== null,
      );
      const results = await Promise.all(
        nodes.map((node) => {
          const role = node === target.placement.leader ? "leader" : "follower";
          return sendBestEffort(context, node, "MergeShards", {
            header: eventHeader(context),
            sourceShardInfos: sourceShardIds.map((id) => shardInfo(id, role, versions?.[String(id)] ?? 0)),
            targetShardInfo: shardInfo(targetShardId, role, target.view.version),
          });
        }),
      );
      const detail = details(results);
      return { next: "delete_sources", ...(detail === undefined ? {} : { detail }) };
    },
    delete_sources: async (context) => {
      for (const sourceId of context.params.sourceShardIds) {
        context.term.assertActive();
        await context.store.shards.delete(sourceId).catch((error: unknown) => {
          if (!(error instanceof ShardNotFoundError)) throw error;
        });
      }
      return { next: FINISHED };
    },
  },
  rollbackFrom: (state) => (state === "check" ? ROLLED_BACK : undefined),
};
