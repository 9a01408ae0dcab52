/**
 * open_shard: tells a node to open a shard in the role the placement gives it (after placement, or
 * when a node reports not having a shard it should hold). close_shard: tells a node to close a shard
 * the placement does not give it. Both only send an event: nothing to undo, so a refusal or silence
 * ends the procedure rolled back, and the reopen scheduler tries again later.
 */
import { z } from "@horaedb/common";
import { FINISHED, ROLLED_BACK, type ProcedureDefinition } from "../definition.js";
import {
  eventHeader,
  holds,
  holdsAnyRole,
  nodeNameSchema,
  paramsParser,
  readShard,
  sendOrAbort,
  shardIdSchema,
  shardInfo,
} from "./common.js";

const openShardParams = z.object({
  shardId: shardIdSchema,
  node: nodeNameSchema,
  role: z.enum(["leader", "follower"]),
});
export type OpenShardParams = z.infer<typeof openShardParams>;

export const openShardProcedure: ProcedureDefinition<OpenShardParams> = {
  kind: "open_shard",
  parseParams: paramsParser("open_shard", openShardParams),
  initialState: "open",
  steps: {
    open: async (context) => {
      const { shardId, node, role } = context.params;
      const { placement, view } = await readShard(context, shardId);
      if (!holds(placement, node, role)) {
        return { next: FINISHED, detail: `the placement no longer gives ${node} the shard as ${role}` };
      }
      await sendOrAbort(context, node, "OpenShard", {
        header: eventHeader(context),
        shard: shardInfo(shardId, role, view.version),
      });
      return { next: FINISHED };
    },
  },
  rollbackFrom: () => ROLLED_BACK,
};

const closeShardParams = z.object({ shardId: shardIdSchema, node: nodeNameSchema });
export type CloseShardParams = z.infer<typeof closeShardParams>;

export const closeShardProcedure: ProcedureDefinition<CloseShardParams> = {
  kind: "close_shard",
  parseParams: paramsParser("close_shard", closeShardParams),
  initialState: "close",
  steps: {
    close: async (context) => {
      const { shardId, node } = context.params;
      const { placement, view } = await readShard(context, shardId);
      if (holdsAnyRole(placement, node)) {
        return { next: FINISHED, detail: `the placement gives ${node} the shard again; not closed` };
      }
      await sendOrAbort(context, node, "CloseShard", {
        header: eventHeader(context),
        shard: shardInfo(shardId, null, view.version),
      });
      return { next: FINISHED };
    },
  },
  rollbackFrom: () => ROLLED_BACK,
};
