/**
 * horaemeta's HTTP admin API for operators and `horaectl`:
 *
 *   GET  /api/v1/cluster                       settings, state, topology version, schedule
 *   GET  /api/v1/nodes                         nodes: state, lease, shards reported, leading/following
 *   GET  /api/v1/shards                        per shard: leader, followers, version, tables, lock
 *   GET  /api/v1/tables                        tables with their shard and partitioning
 *   GET  /api/v1/procedures[?all=1]            unfinished procedures (all with ?all=1), with history
 *   GET  /api/v1/check                         the invariants of the mapping; 200 or 500 with violations
 *   POST /api/v1/shards/:id/transfer-leader    {"to": "host:port"}
 *   POST /api/v1/shards/:id/split              {"tableIds": [..]}
 *   POST /api/v1/shards/merge                  {"sourceShardIds": [..], "targetShardId": n}
 *   POST /api/v1/schedule                      {"enabled": bool, "reason": "..."}
 *
 * Reads are answered by any replica from etcd. Changes run as procedures on the leader; another
 * replica answers 503 naming the leader's gRPC endpoint (`leader`), so a client tries the next one.
 * Bad input is 400 naming the field; a shard busy with another procedure 503 with `retryAfterMs`.
 */
import type { FastifyInstance, FastifyReply } from "fastify";
import { z } from "@horaedb/common";
import { InvariantChecker } from "../cluster/invariants.js";
import type { LeaderTerm } from "../election/leader-term.js";
import { InvalidRequestError } from "../errors.js";
import { isTerminal } from "../procedure/definition.js";
import {
  mergeShardsProcedure,
  splitShardProcedure,
  transferLeaderProcedure,
} from "../procedure/kinds/index.js";
import type { ProcedureManager } from "../procedure/procedure-manager.js";
import type { MetadataStore, ProcedureRecord } from "../metadata/index.js";
import { failureStatus } from "../service/response-status.js";
import { StatusCode } from "@horaedb/proto";

export interface ClusterAdminOptions {
  readonly store: MetadataStore;
  readonly procedures: ProcedureManager;
  /** The active term while this replica leads. */
  currentTerm(): LeaderTerm | undefined;
  leader(): Promise<string | undefined>;
}

const HTTP_STATUS: Partial<Record<StatusCode, number>> = {
  [StatusCode.STATUS_CODE_INVALID_ARGUMENT]: 400,
  [StatusCode.STATUS_CODE_NOT_FOUND]: 404,
  [StatusCode.STATUS_CODE_ALREADY_EXISTS]: 409,
  [StatusCode.STATUS_CODE_FAILED_PRECONDITION]: 409,
  [StatusCode.STATUS_CODE_UNAVAILABLE]: 503,
  [StatusCode.STATUS_CODE_DEADLINE_EXCEEDED]: 504,
};

const shardIdParam = z.object({ id: z.coerce.number().int().nonnegative() });
const transferBody = z.strictObject({ to: z.string().min(1) });
const splitBody = z.strictObject({ tableIds: z.array(z.number().int().positive()).min(1) });
const mergeBody = z.strictObject({
  sourceShardIds: z.array(z.number().int().nonnegative()).min(1),
  targetShardId: z.number().int().nonnegative(),
});
const scheduleBody = z.strictObject({ enabled: z.boolean(), reason: z.string().default("") });

function parse<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue === undefined || issue.path.length === 0 ? where : issue.path.join(".");
  throw new InvalidRequestError(field, issue?.message ?? "invalid");
}

async function sendFailure(reply: FastifyReply, error: unknown): Promise<FastifyReply> {
  const status = failureStatus(error);
  return reply.code(HTTP_STATUS[status.code] ?? 500).send({
    error: status.message,
    code: status.code,
    ...(status.retryAfterMs > 0 ? { retryAfterMs: status.retryAfterMs } : {}),
  });
}

export function procedureView(procedure: ProcedureRecord) {
  return {
    id: procedure.id,
    kind: procedure.kind,
    state: procedure.state,
    finished: isTerminal(procedure.state),
    shardIds: procedure.shardIds,
    params: procedure.params,
    history: procedure.history,
    createdAtMs: procedure.createdAtMs,
    updatedAtMs: procedure.updatedAtMs,
  };
}

export function registerClusterAdminRoutes(app: FastifyInstance, options: ClusterAdminOptions): void {
  const { store, procedures } = options;

  /** Runs `action` with the leader's term, or answers 503 naming the leader. */
  const onLeader = async (
    reply: FastifyReply,
    action: (term: LeaderTerm) => Promise<ProcedureRecord>,
  ): Promise<FastifyReply> => {
    const term = options.currentTerm();
    if (term === undefined) {
      const leader = (await options.leader().catch(() => undefined)) ?? null;
      return reply.code(503).send({ error: "this replica is not the leader", leader, retryAfterMs: 200 });
    }
    try {
      const procedure = await action(term);
      return reply.code(200).send({ procedure: procedureView(procedure) });
    } catch (error) {
      return sendFailure(reply, error);
    }
  };

  const read =
    <T>(load: () => Promise<T>) =>
    async (_request: unknown, reply: FastifyReply): Promise<FastifyReply> => {
      try {
        return reply.code(200).send(await load());
      } catch (error) {
        return sendFailure(reply, error);
      }
    };

  app.get(
    "/api/v1/cluster",
    read(async () => {
      const [settings, state, view, schedule] = await Promise.all([
        store.cluster.getSettings(),
        store.cluster.getState(),
        store.cluster.getView(),
        store.cluster.getSchedule(),
      ]);
      return {
        settings,
        state: state.state,
        topologyVersion: view.version,
        shardCount: view.shards.length,
        schedule,
      };
    }),
  );

  app.get(
    "/api/v1/nodes",
    read(async () => {
      const [nodes, view] = await Promise.all([store.nodes.list(), store.cluster.getView()]);
      return {
        nodes: nodes.map((node) => ({
          name: node.name,
          state: node.state,
          zone: node.zone,
          lastHeartbeatMs: node.lastHeartbeatMs,
          leaseDeadlineMs: node.leaseDeadlineMs,
          leading: view.shards.filter((shard) => shard.leader === node.name).map((shard) => shard.shardId),
          following: view.shards
            .filter((shard) => shard.followers.includes(node.name))
            .map((shard) => shard.shardId),
          reported: node.shards,
        })),
      };
    }),
  );

  app.get(
    "/api/v1/shards",
    read(async () => {
      const snapshot = await store.snapshots.read();
      const views = new Map(snapshot.shards.map((shard) => [shard.shardId, shard]));
      const names = new Map(snapshot.tables.map((table) => [table.id, `${table.schemaName}.${table.name}`]));
      const locks = new Map(snapshot.locks.map((lock) => [lock.shardId, lock]));
      return {
        topologyVersion: snapshot.view?.version ?? 0,
        shards: (snapshot.view?.shards ?? []).map((placement) => {
          const view = views.get(placement.shardId);
          const lock = locks.get(placement.shardId);
          return {
            id: placement.shardId,
            leader: placement.leader,
            followers: placement.followers,
            version: view?.version ?? 0,
            tables: (view?.tableIds ?? []).map((id) => ({ id, name: names.get(id) ?? null })),
            procedure: lock === undefined ? null : { id: lock.procedureId, kind: lock.kind },
          };
        }),
      };
    }),
  );

  app.get(
    "/api/v1/tables",
    read(async () => ({
      tables: (await store.tables.list()).map((table) => ({
        id: table.id,
        schema: table.schemaName,
        name: table.name,
        // null for a partitioned table: metadata only, its sub-tables are on shards.
        shardId: table.shardId,
        partitionInfo: table.partitionInfo,
        parentTableId: table.parentTableId,
        createdAtMs: table.createdAtMs,
      })),
    })),
  );

  app.get<{ Querystring: { all?: string } }>("/api/v1/procedures", async (request, reply) => {
    try {
      const all = request.query.all === "1" || request.query.all === "true";
      const listed = (await store.procedures.list()).map((stored) => stored.procedure);
      const shown = all ? listed : listed.filter((procedure) => !isTerminal(procedure.state));
      return reply.code(200).send({ procedures: shown.map(procedureView) });
    } catch (error) {
      return sendFailure(reply, error);
    }
  });

  app.get("/api/v1/check", async (_request, reply) => {
    try {
      const found = await new InvariantChecker().check(store);
      return reply.code(found.length === 0 ? 200 : 500).send({ ok: found.length === 0, violations: found });
    } catch (error) {
      return sendFailure(reply, error);
    }
  });

  app.post<{ Params: { id: string } }>("/api/v1/shards/:id/transfer-leader", async (request, reply) => {
    try {
      const { id } = parse(shardIdParam, request.params, "id");
      const { to } = parse(transferBody, request.body, "body");
      return await onLeader(reply, async (term) => {
        const placement = (await store.cluster.getView()).shards.find((shard) => shard.shardId === id);
        if (placement === undefined) throw new InvalidRequestError("id", `shard ${id} does not exist`);
        if (placement.leader === null) throw new InvalidRequestError("id", `shard ${id} has no leader`);
        return procedures.run(
          transferLeaderProcedure,
          { shardId: id, from: placement.leader, to },
          [id],
          term,
        );
      });
    } catch (error) {
      return sendFailure(reply, error);
    }
  });

  app.post<{ Params: { id: string } }>("/api/v1/shards/:id/split", async (request, reply) => {
    try {
      const { id } = parse(shardIdParam, request.params, "id");
      const { tableIds } = parse(splitBody, request.body, "body");
      return await onLeader(reply, (term) =>
        procedures.run(splitShardProcedure, { shardId: id, tableIds }, [id], term),
      );
    } catch (error) {
      return sendFailure(reply, error);
    }
  });

  app.post("/api/v1/shards/merge", async (request, reply) => {
    try {
      const { sourceShardIds, targetShardId } = parse(mergeBody, request.body, "body");
      return await onLeader(reply, (term) =>
        procedures.run(
          mergeShardsProcedure,
          { sourceShardIds, targetShardId },
          [targetShardId, ...sourceShardIds],
          term,
        ),
      );
    } catch (error) {
      return sendFailure(reply, error);
    }
  });

  app.post("/api/v1/schedule", async (request, reply) => {
    try {
      const { enabled, reason } = parse(scheduleBody, request.body, "body");
      const term = options.currentTerm();
      if (term === undefined) {
        const leader = (await options.leader().catch(() => undefined)) ?? null;
        return reply.code(503).send({ error: "this replica is not the leader", leader, retryAfterMs: 200 });
      }
      term.assertActive();
      const schedule = await term.fenced(store).cluster.setSchedule(enabled, reason);
      return reply.code(200).send({ schedule });
    } catch (error) {
      return sendFailure(reply, error);
    }
  });
}
