/**
 * failover: takes a shard away from a node whose lease has ended (it writes no more: design.md §2).
 * - The node led the shard: a follower that is online and caught up (it reports the shard ready at
 *   the current version) is promoted (SwitchShardRole); without one, the least busy online node opens
 *   the shard as leader (OpenShard), replaying its WAL.
 * - The node followed the shard: it is dropped from the followers and, when an online node is free
 *   for it, replaced by one (OpenShard as follower).
 * The placement change is the point of no return; the events after it are best effort (the reopen
 * scheduler covers a node that missed one). With no online node to take over, the procedure rolls
 * back and the failover scheduler tries again on its next pass.
 */
import { z } from "@horaedb/common";
import { ClusterNotReadyError } from "../../errors.js";
import type { NodeStatus } from "../../metadata/index.js";
import { FINISHED, ProcedureAbortError, ROLLED_BACK, type ProcedureDefinition } from "../definition.js";
import {
  eventHeader,
  nodeNameSchema,
  paramsParser,
  readShard,
  sendBestEffort,
  shardIdSchema,
  shardInfo,
} from "./common.js";

const failoverParams = z.object({
  shardId: shardIdSchema,
  /** The node whose lease ended. */
  node: nodeNameSchema,
  role: z.enum(["leader", "follower"]).optional(),
  /** The node that takes over (leader or follower), if any; decided by the first step. */
  successor: z.string().nullable().optional(),
  /** Leader case: whether the successor was a caught-up follower. */
  promote: z.boolean().optional(),
});
export type FailoverParams = z.infer<typeof failoverParams>;

/** Shards each node holds in the view, to pick the least busy. */
function heldCounts(
  shards: readonly { leader: string | null; followers: readonly string[] }[],
): Map<string, number> {
  const counts = new Map<string, number>();
  for (const shard of shards) {
    for (const node of [shard.leader, ...shard.followers]) {
      if (node !== null) counts.set(node, (counts.get(node) ?? 0) + 1);
    }
  }
  return counts;
}

function leastBusy(candidates: readonly NodeStatus[], counts: Map<string, number>): NodeStatus | undefined {
  return [...candidates].sort(
    (a, b) => (counts.get(a.name) ?? 0) - (counts.get(b.name) ?? 0) || a.name.localeCompare(b.name),
  )[0];
}

export const failoverProcedure: ProcedureDefinition<FailoverParams> = {
  kind: "failover",
  parseParams: paramsParser("failover", failoverParams),
  initialState: "choose",
  steps: {
    choose: async (context) => {
      const { shardId, node } = context.params;
      const [{ placement, view }, nodes, clusterView] = await Promise.all([
        readShard(context, shardId),
        context.store.nodes.list(),
        context.store.cluster.getView(),
      ]);
      const dead = nodes.find((candidate) => candidate.name === node);
      if (dead?.state === "online") return { next: FINISHED, detail: `${node} is online again` };
      const role =
        placement.leader === node ? "leader" : placement.followers.includes(node) ? "follower" : undefined;
      if (role === undefined) return { next: FINISHED, detail: `${node} no longer holds shard ${shardId}` };
      const online = nodes.filter((candidate) => candidate.state === "online" && candidate.name !== node);
      const counts = heldCounts(clusterView.shards);
      if (role === "follower") {
        const free = online.filter(
          (candidate) => candidate.name !== placement.leader && !placement.followers.includes(candidate.name),
        );
        const successor = leastBusy(free, counts)?.name ?? null;
        return { next: "update_placement", params: { ...context.params, role, successor } };
      }
      const caughtUp = online.filter(
        (candidate) =>
          placement.followers.includes(candidate.name) &&
          candidate.shards.some(
            (shard) =>
              shard.shardId === shardId &&
              shard.role === "follower" &&
              shard.status === "ready" &&
              shard.version === view.version,
          ),
      );
      const promoted = leastBusy(caughtUp, counts);
      const successor = promoted ?? leastBusy(online, counts);
      if (successor === undefined) {
        throw new ProcedureAbortError(
          new ClusterNotReadyError(`no online node can take over shard ${shardId} from ${node}`),
        );
      }
      return {
        next: "update_placement",
        params: { ...context.params, role, successor: successor.name, promote: promoted !== undefined },
      };
    },
    update_placement: async (context) => {
      const { shardId, node, role, successor } = context.params;
      const { placement } = await readShard(context, shardId);
      let leader = placement.leader;
      let followers = placement.followers.filter((follower) => follower !== node);
      if (role === "leader") {
        if (placement.leader === node) {
          leader = successor!;
          followers = followers.filter((follower) => follower !== successor);
        }
      } else if (
        successor !== null &&
        successor !== undefined &&
        successor !== leader &&
        !followers.includes(successor)
      ) {
        if (placement.followers.includes(node)) followers.push(successor);
      }
      if (leader !== placement.leader || followers.join() !== placement.followers.join()) {
        context.term.assertActive();
        await context.store.cluster.assignShards({ assignments: [{ shardId, leader, followers }] });
      }
      return { next: "open_successor" };
    },
    open_successor: async (context) => {
      const { shardId, role, successor, promote } = context.params;
      if (successor === null || successor === undefined)
        return { next: FINISHED, detail: "no node free to follow" };
      const { placement, view } = await readShard(context, shardId);
      const successorRole =
        placement.leader === successor
          ? "leader"
          : placement.followers.includes(successor)
            ? "follower"
            : undefined;
      if (successorRole === undefined)
        return { next: FINISHED, detail: `${successor} no longer holds shard ${shardId}` };
      const detail =
        role === "leader" && promote === true
          ? await sendBestEffort(context, successor, "SwitchShardRole", {
              header: eventHeader(context),
              updateShardInfo: {
                prevShardInfo: shardInfo(shardId, "follower", view.version - 1),
                currShardInfo: shardInfo(shardId, "leader", view.version),
              },
            })
          : await sendBestEffort(context, successor, "OpenShard", {
              header: eventHeader(context),
              shard: shardInfo(shardId, successorRole, view.version),
            });
      return { next: FINISHED, ...(detail === undefined ? {} : { detail }) };
    },
  },
  rollbackFrom: (state) => (state === "choose" ? ROLLED_BACK : undefined),
};
