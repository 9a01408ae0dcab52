/**
 * create_partitioned_table: the partitioned table (metadata only, on no shard) and its n sub-tables
 * (ordinary tables, each on the shard chosen for it) in one metadata transaction, then
 * CreateTableOnShard to each sub-table's shard leader and OpenTableOnShard to its followers. The
 * procedure locks every shard it places a sub-table on. Any leader refusing its sub-table (or never
 * answering) rolls the whole create back: DropTableOnShard / CloseTableOnShard for every sub-table on
 * every node of its shard (idempotent, so sub-tables a node never made cost nothing), then the
 * metadata of all of them in one transaction. The create is done once every leader has its sub-table.
 *
 * drop_partitioned_table: check the sub-tables are where the submitter saw them, drop the metadata of
 * the partitioned table and every sub-table in one transaction (the point of no return), then
 * DropTableOnShard / CloseTableOnShard for each sub-table, best effort (a node that misses it learns
 * its shard's table set when it next opens the shard).
 *
 * Each step is idempotent and every metadata change is one transaction, so a leader that dies at any
 * point leaves either nothing or the whole mapping, and the next one carries on from the stored state.
 */
import { z } from "@horaedb/common";
import { ClusterNotReadyError } from "../../errors.js";
import {
  jsonObjectSchema,
  MetadataConflictError,
  SchemaNotFoundError,
  TableNotFoundError,
  type TableRecord,
} from "../../metadata/index.js";
import { tableInfo } from "../../service/proto-mapping.js";
import {
  FINISHED,
  ProcedureAbortError,
  ROLLED_BACK,
  type ProcedureDefinition,
  type StepContext,
} from "../definition.js";
import {
  details,
  eventHeader,
  paramsParser,
  readShard,
  sendBestEffort,
  shardIdSchema,
  shardInfo,
  type ShardState,
} from "./common.js";
import { EventDeadlineError, EventRefusedError } from "../event-sender.js";

/** A sub-table as the params keep it: enough to address it on its shard. */
const subTableSchema = z.object({
  name: z.string().min(1),
  shardId: shardIdSchema,
  /** Set once the metadata exists. */
  tableId: z.number().int().positive().optional(),
});

const createPartitionedParams = z.object({
  schemaName: z.string().min(1),
  tableName: z.string().min(1),
  tableSchema: jsonObjectSchema,
  options: z.record(z.string(), z.string()),
  engine: z.string(),
  keyColumns: z.array(z.string().min(1)).min(1),
  /** In partition order. */
  subTables: z.array(subTableSchema).min(1),
  requestId: z.string().min(1),
  /** The partitioned table's id, set once the metadata exists. */
  tableId: z.number().int().positive().optional(),
});
export type CreatePartitionedTableParams = z.infer<typeof createPartitionedParams>;

/** The partitioned table and its sub-tables as stored now, or undefined once the table is gone. */
async function partitionedTableOf<P>(
  context: StepContext<P>,
  tableId: number | undefined,
): Promise<{ table: TableRecord; subTables: TableRecord[] } | undefined> {
  if (tableId === undefined) return undefined;
  const table = await context.store.tables.getById(tableId);
  if (table === undefined || table.partitionInfo === null) return undefined;
  return { table, subTables: await context.store.tables.subTablesOf(table) };
}

/** The placement and view of each shard, read once per shard. */
async function readShards<P>(
  context: StepContext<P>,
  shardIds: readonly number[],
): Promise<Map<number, ShardState>> {
  const unique = [...new Set(shardIds)];
  const states = await Promise.all(unique.map((shardId) => readShard(context, shardId)));
  return new Map(unique.map((shardId, i) => [shardId, states[i]!]));
}

function updateInfo(shardId: number, role: "leader" | "follower", fromVersion: number, toVersion: number) {
  return {
    prevShardInfo: shardInfo(shardId, role, fromVersion),
    currShardInfo: shardInfo(shardId, role, toVersion),
  };
}

/**
 * Sends DropTableOnShard (leader) / CloseTableOnShard (followers) for each sub-table, best effort,
 * announcing each shard's version after the metadata drop (`versionAfter`).
 */
async function dropOnShards<P>(
  context: StepContext<P>,
  subTables: readonly TableRecord[],
  versionAfter: (state: ShardState) => number,
): Promise<string | undefined> {
  const shards = await readShards(
    context,
    subTables.map((sub) => sub.shardId!),
  );
  const results = await Promise.all(
    subTables.flatMap((sub) => {
      const state = shards.get(sub.shardId!)!;
      const { placement } = state;
      const to = versionAfter(state);
      return [placement.leader, ...placement.followers].flatMap((node) => {
        if (node === null) return [];
        const role = node === placement.leader ? "leader" : "follower";
        return [
          sendBestEffort(context, node, role === "leader" ? "DropTableOnShard" : "CloseTableOnShard", {
            header: eventHeader(context),
            updateShardInfo: updateInfo(sub.shardId!, role, to - 1, to),
            table: tableInfo(sub),
          }),
        ];
      });
    }),
  );
  return details(results);
}

export const createPartitionedTableProcedure: ProcedureDefinition<CreatePartitionedTableParams> = {
  kind: "create_partitioned_table",
  parseParams: paramsParser("create_partitioned_table", createPartitionedParams),
  initialState: "create_metadata",
  steps: {
    create_metadata: async (context) => {
      const p = context.params;
      const request = {
        schemaName: p.schemaName,
        tableName: p.tableName,
        tableSchema: p.tableSchema,
        options: p.options,
        keyColumns: p.keyColumns,
        subTables: p.subTables.map((sub) => ({ name: sub.name, shardId: sub.shardId })),
        // The request id makes a repeat of this step (after a leader change) find the same tables.
        requestId: p.requestId,
      };
      context.term.assertActive();
      const created = await context.store.tables.createPartitioned(request).catch(async (error: unknown) => {
        if (!(error instanceof SchemaNotFoundError)) throw error;
        // Schemas are created on first use; the common case (it exists) costs no extra round trip.
        await context.store.schemas.create(p.schemaName);
        return context.store.tables.createPartitioned(request);
      });
      const ids = new Map(created.subTables.map((sub) => [sub.name, sub.id]));
      return {
        next: "create_on_shards",
        params: {
          ...p,
          tableId: created.table.id,
          subTables: p.subTables.map((sub) => ({ ...sub, tableId: ids.get(sub.name)! })),
        },
      };
    },
    create_on_shards: async (context) => {
      const p = context.params;
      const stored = await partitionedTableOf(context, p.tableId);
      if (stored === undefined) {
        throw new ProcedureAbortError(new TableNotFoundError(`${p.schemaName}.${p.tableName}`));
      }
      const shards = await readShards(
        context,
        stored.subTables.map((sub) => sub.shardId!),
      );
      for (const sub of stored.subTables) {
        if (shards.get(sub.shardId!)!.placement.leader === null) {
          throw new ProcedureAbortError(
            new ClusterNotReadyError(`shard ${sub.shardId} has no leader to create sub-table ${sub.name} on`),
          );
        }
      }
      // Every leader at once; all answers are awaited before deciding, so a rollback never races a
      // create still in flight.
      const created = await Promise.allSettled(
        stored.subTables.map((sub) => {
          const { placement, view } = shards.get(sub.shardId!)!;
          return context.events.send(
            placement.leader!,
            "CreateTableOnShard",
            {
              header: eventHeader(context),
              updateShardInfo: updateInfo(sub.shardId!, "leader", view.version - 1, view.version),
              table: tableInfo(sub),
              tableSchema: p.tableSchema,
              engine: p.engine,
              options: p.options,
              createIfNotExist: true,
            },
            { signal: context.term.signal },
          );
        }),
      );
      const failure = created.find((outcome) => outcome.status === "rejected");
      if (failure !== undefined) {
        const reason: unknown = failure.reason;
        if (reason instanceof EventRefusedError || reason instanceof EventDeadlineError) {
          throw new ProcedureAbortError(reason);
        }
        throw reason;
      }
      const followerDetails = await Promise.all(
        stored.subTables.flatMap((sub) => {
          const { placement, view } = shards.get(sub.shardId!)!;
          return placement.followers.map((follower) =>
            sendBestEffort(context, follower, "OpenTableOnShard", {
              header: eventHeader(context),
              updateShardInfo: updateInfo(sub.shardId!, "follower", view.version - 1, view.version),
              table: tableInfo(sub),
            }),
          );
        }),
      );
      const detail = details(followerDetails);
      return { next: FINISHED, ...(detail === undefined ? {} : { detail }) };
    },
    drop_on_shards: async (context) => {
      const stored = await partitionedTableOf(context, context.params.tableId);
      if (stored === undefined) return { next: "drop_metadata" };
      // The metadata drop below moves each shard one version up.
      const detail = await dropOnShards(context, stored.subTables, (state) => state.view.version + 1);
      return { next: "drop_metadata", ...(detail === undefined ? {} : { detail }) };
    },
    drop_metadata: async (context) => {
      const p = context.params;
      if ((await partitionedTableOf(context, p.tableId)) !== undefined) {
        context.term.assertActive();
        await context.store.tables.dropPartitioned({ schemaName: p.schemaName, tableName: p.tableName });
      }
      return { next: ROLLED_BACK };
    },
  },
  rollbackFrom: (state) =>
    state === "create_metadata" ? ROLLED_BACK : state === "create_on_shards" ? "drop_on_shards" : undefined,
};

const dropPartitionedParams = z.object({
  schemaName: z.string().min(1),
  tableName: z.string().min(1),
  tableId: z.number().int().positive(),
  /** The sub-table records as the submitter read them, for the events once the metadata is gone. */
  subTables: z.array(jsonObjectSchema),
});
export type DropPartitionedTableParams = z.infer<typeof dropPartitionedParams>;

function subTablesOfParams(params: DropPartitionedTableParams): TableRecord[] {
  return params.subTables as unknown as TableRecord[];
}

export const dropPartitionedTableProcedure: ProcedureDefinition<DropPartitionedTableParams> = {
  kind: "drop_partitioned_table",
  parseParams: paramsParser("drop_partitioned_table", dropPartitionedParams),
  initialState: "check",
  steps: {
    // Separate from the drop: once past it, a table found missing was dropped by this procedure.
    check: async (context) => {
      const p = context.params;
      const stored = await partitionedTableOf(context, p.tableId);
      if (stored === undefined || stored.table.name !== p.tableName) {
        throw new ProcedureAbortError(new TableNotFoundError(`${p.schemaName}.${p.tableName}`));
      }
      const expected = new Map(subTablesOfParams(p).map((sub) => [sub.id, sub.shardId]));
      const moved = stored.subTables.find((sub) => expected.get(sub.id) !== sub.shardId);
      if (moved !== undefined || stored.subTables.length !== expected.size) {
        // A split or merge moved a sub-table while the drop waited for the shards: the caller retries
        // (and locks the shards the sub-tables are on now).
        throw new ProcedureAbortError(
          new MetadataConflictError(
            context.store.keys.tableById(moved?.id ?? p.tableId),
            `a sub-table of ${p.schemaName}.${p.tableName} moved while the drop waited; retry`,
          ),
        );
      }
      return { next: "drop_metadata" };
    },
    drop_metadata: async (context) => {
      const p = context.params;
      if ((await partitionedTableOf(context, p.tableId)) !== undefined) {
        context.term.assertActive();
        await context.store.tables.dropPartitioned({ schemaName: p.schemaName, tableName: p.tableName });
      }
      return { next: "drop_on_shards" };
    },
    drop_on_shards: async (context) => {
      // The metadata drop moved each shard one version up, to the version read now.
      const detail = await dropOnShards(
        context,
        subTablesOfParams(context.params),
        (state) => state.view.version,
      );
      return { next: FINISHED, ...(detail === undefined ? {} : { detail }) };
    },
  },
  rollbackFrom: (state) => (state === "check" ? ROLLED_BACK : undefined),
};
