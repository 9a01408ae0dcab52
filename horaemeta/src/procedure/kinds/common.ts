/** Pieces the procedure kinds share: params parsing, placement reads, event headers and shard infos. */
import { z } from "@horaedb/common";
import { common, type metaEvent } from "@horaedb/proto";
import type { JsonObject, JsonValue, ShardAssignment, ShardRole, ShardView } from "../../metadata/index.js";
import { ShardNotFoundError } from "../../metadata/index.js";
import { shardInfo as protoShardInfo } from "../../service/proto-mapping.js";
import { ProcedureAbortError, type StepContext } from "../definition.js";
import { EventDeadlineError, EventRefusedError } from "../event-sender.js";

/** Parses stored params with `schema`; a mismatch means the stored procedure is corrupt. */
export function paramsParser<P extends JsonObject>(
  kind: string,
  schema: z.ZodType<P>,
): (value: JsonValue) => P {
  return (value) => {
    const result = schema.safeParse(value);
    if (!result.success) {
      throw new Error(`${kind} procedure params are invalid: ${result.error.issues[0]?.message ?? "?"}`);
    }
    return result.data;
  };
}

export const nodeNameSchema = z.string().min(1);
export const shardIdSchema = z.number().int().nonnegative();

/** A shard's placement and view, read together. */
export interface ShardState {
  readonly placement: ShardAssignment;
  readonly view: ShardView;
  readonly clusterVersion: number;
}

export async function readShard<P>(context: StepContext<P>, shardId: number): Promise<ShardState> {
  const [clusterView, view] = await Promise.all([
    context.store.cluster.getView(),
    context.store.shards.get(shardId),
  ]);
  const placement = clusterView.shards.find((entry) => entry.shardId === shardId);
  if (placement === undefined) throw new ShardNotFoundError(shardId);
  return { placement, view, clusterVersion: clusterView.version };
}

/** Whether `node` holds the shard in `role` according to the placement. */
export function holds(placement: ShardAssignment, node: string, role: ShardRole): boolean {
  return role === "leader" ? placement.leader === node : placement.followers.includes(node);
}

/** Whether `node` leads or follows the shard according to the placement. */
export function holdsAnyRole(placement: ShardAssignment, node: string): boolean {
  return holds(placement, node, "leader") || holds(placement, node, "follower");
}

export function eventHeader<P>(context: StepContext<P>): metaEvent.EventHeader {
  return {
    clusterName: context.clusterName,
    metaNode: context.metaNode,
    procedureId: String(context.procedureId),
  };
}

/** A shard info for an event (status ready); role null when the event is not about a role (closing). */
export function shardInfo(shardId: number, role: ShardRole | null, version: number): common.ShardInfo {
  return { ...protoShardInfo(shardId, role, version), status: common.ShardStatus.SHARD_STATUS_READY };
}

/** Whether an event failed because of the instance (refused, or never answered), not because of us. */
export function isEventFailure(error: unknown): error is EventRefusedError | EventDeadlineError {
  return error instanceof EventRefusedError || error instanceof EventDeadlineError;
}

/** Sends an event; an instance's refusal or silence aborts the step (see ProcedureAbortError). */
export async function sendOrAbort<P>(
  context: StepContext<P>,
  node: string,
  method: Parameters<StepContext<P>["events"]["send"]>[1],
  request: object,
): Promise<void> {
  try {
    await context.events.send(node, method, request, { signal: context.term.signal });
  } catch (error) {
    if (isEventFailure(error)) throw new ProcedureAbortError(error);
    throw error;
  }
}

/**
 * Sends an event past a procedure's point of no return: an instance that refuses or does not answer
 * is left to the schedulers (reopen, failover); the returned text says so for the history.
 */
export async function sendBestEffort<P>(
  context: StepContext<P>,
  node: string,
  method: Parameters<StepContext<P>["events"]["send"]>[1],
  request: object,
): Promise<string | undefined> {
  try {
    await context.events.send(node, method, request, { signal: context.term.signal });
    return undefined;
  } catch (error) {
    if (!isEventFailure(error)) throw error;
    context.logger.warn(
      { err: error, procedureId: context.procedureId },
      "event not accepted; left to the schedulers",
    );
    return `${error.message}; left to the schedulers`;
  }
}

/** Joins the details of several best-effort sends. */
export function details(parts: readonly (string | undefined)[]): string | undefined {
  const present = parts.filter((part): part is string => part !== undefined);
  return present.length === 0 ? undefined : present.join("; ");
}
