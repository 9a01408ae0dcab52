/**
 * transfer_leader: moves the leadership of a shard from its leader `from` to node `to`.
 * - When `to` follows the shard, it is a role switch (the "switch role"): `from` is demoted
 *   to follower (SwitchShardRole), the placement swaps the two, `to` is promoted (SwitchShardRole).
 * - Otherwise `from` closes the shard (CloseShard), the placement names `to` leader, and `to` opens
 *   it (OpenShard).
 * The old leader stops writing before the placement changes, so two leaders never write at once.
 * Until the placement changes, a refusal rolls back (the old leader is restored); after it, the new
 * leader is told best effort, and the reopen scheduler covers an instance that missed it.
 */
import { z } from "@horaedb/common";
import { InvalidRequestError } from "../../errors.js";
import { FINISHED, ProcedureAbortError, ROLLED_BACK, type ProcedureDefinition } from "../definition.js";
import {
  eventHeader,
  nodeNameSchema,
  paramsParser,
  readShard,
  sendBestEffort,
  sendOrAbort,
  shardIdSchema,
  shardInfo,
} from "./common.js";

const transferLeaderParams = z.object({
  shardId: shardIdSchema,
  from: nodeNameSchema,
  to: nodeNameSchema,
  /** Decided by the first step: switch when `to` follows the shard, else move. */
  mode: z.enum(["switch", "move"]).optional(),
  /** The shard version when the procedure started. */
  version: z.number().int().positive().optional(),
});
export type TransferLeaderParams = z.infer<typeof transferLeaderParams>;

export const transferLeaderProcedure: ProcedureDefinition<TransferLeaderParams> = {
  kind: "transfer_leader",
  parseParams: paramsParser("transfer_leader", transferLeaderParams),
  initialState: "check",
  steps: {
    check: async (context) => {
      const { shardId, from, to } = context.params;
      const { placement, view } = await readShard(context, shardId);
      if (placement.leader !== from) {
        throw new ProcedureAbortError(
          new InvalidRequestError(
            "from",
            `shard ${shardId} is led by ${placement.leader ?? "no node"}, not ${from}`,
          ),
        );
      }
      if (to === from)
        throw new ProcedureAbortError(new InvalidRequestError("to", `${to} leads shard ${shardId} already`));
      const target = await context.store.nodes.get(to);
      if (target?.state !== "online") {
        throw new ProcedureAbortError(new InvalidRequestError("to", `node ${to} is not online`));
      }
      const mode = placement.followers.includes(to) ? "switch" : "move";
      return { next: "release_old", params: { ...context.params, mode, version: view.version } };
    },
    release_old: async (context) => {
      const { shardId, from, mode, version } = context.params;
      const old = await context.store.nodes.get(from);
      // A node whose lease has ended writes no more; there is nobody to tell.
      if (old?.state !== "online") return { next: "update_placement", detail: `${from} is offline` };
      if (mode === "switch") {
        await sendOrAbort(context, from, "SwitchShardRole", {
          header: eventHeader(context),
          updateShardInfo: {
            prevShardInfo: shardInfo(shardId, "leader", version!),
            currShardInfo: shardInfo(shardId, "follower", version!),
          },
        });
      } else {
        await sendOrAbort(context, from, "CloseShard", {
          header: eventHeader(context),
          shard: shardInfo(shardId, "leader", version!),
        });
      }
      return { next: "update_placement" };
    },
    update_placement: async (context) => {
      const { shardId, from, to, mode } = context.params;
      const { placement } = await readShard(context, shardId);
      if (placement.leader !== to) {
        if (placement.leader !== from) {
          throw new ProcedureAbortError(
            new InvalidRequestError(
              "from",
              `shard ${shardId} is led by ${placement.leader ?? "no node"} now`,
            ),
          );
        }
        const followers = placement.followers.filter((node) => node !== to);
        if (mode === "switch") followers.push(from);
        context.term.assertActive();
        await context.store.cluster.assignShards({ assignments: [{ shardId, leader: to, followers }] });
      }
      return { next: "open_new" };
    },
    open_new: async (context) => {
      const { shardId, to, mode, version } = context.params;
      const { placement, view } = await readShard(context, shardId);
      if (placement.leader !== to)
        return { next: FINISHED, detail: `${to} no longer leads shard ${shardId}` };
      const detail =
        mode === "switch"
          ? await sendBestEffort(context, to, "SwitchShardRole", {
              header: eventHeader(context),
              updateShardInfo: {
                prevShardInfo: shardInfo(shardId, "follower", version!),
                currShardInfo: shardInfo(shardId, "leader", view.version),
              },
            })
          : await sendBestEffort(context, to, "OpenShard", {
              header: eventHeader(context),
              shard: shardInfo(shardId, "leader", view.version),
            });
      return { next: FINISHED, ...(detail === undefined ? {} : { detail }) };
    },
    restore_old: async (context) => {
      const { shardId, from, mode, version } = context.params;
      const { placement } = await readShard(context, shardId);
      if (placement.leader !== from || version === undefined) return { next: ROLLED_BACK };
      const detail =
        mode === "switch"
          ? await sendBestEffort(context, from, "SwitchShardRole", {
              header: eventHeader(context),
              updateShardInfo: {
                prevShardInfo: shardInfo(shardId, "follower", version),
                currShardInfo: shardInfo(shardId, "leader", version),
              },
            })
          : await sendBestEffort(context, from, "OpenShard", {
              header: eventHeader(context),
              shard: shardInfo(shardId, "leader", version),
            });
      return { next: ROLLED_BACK, ...(detail === undefined ? {} : { detail }) };
    },
  },
  rollbackFrom: (state) =>
    state === "check"
      ? ROLLED_BACK
      : state === "release_old" || state === "update_placement"
        ? "restore_old"
        : undefined,
};
