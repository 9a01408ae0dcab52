/**
 * create_table: the table's metadata on the chosen shard (its shard version + 1), then
 * CreateTableOnShard on the shard's leader and OpenTableOnShard on its followers. An instance that
 * refuses the table (or is unreachable) rolls the create back: the instance drops whatever it made,
 * then the metadata goes, so a failed create leaves nothing behind.
 *
 * drop_table: the metadata first (the point of no return: the table is gone for routing), then
 * DropTableOnShard on the leader and CloseTableOnShard on the followers, best effort: an instance that
 * misses it learns the shard's table set when it next opens the shard.
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
  sendOrAbort,
  shardIdSchema,
  shardInfo,
} from "./common.js";

const createTableParams = z.object({
  schemaName: z.string().min(1),
  tableName: z.string().min(1),
  shardId: shardIdSchema,
  tableSchema: jsonObjectSchema,
  options: z.record(z.string(), z.string()),
  engine: z.string(),
  requestId: z.string().min(1),
  /** Set once the metadata exists. */
  tableId: z.number().int().positive().optional(),
  shardVersion: z.number().int().positive().optional(),
});
export type CreateTableParams = z.infer<typeof createTableParams>;

/** The table if it still exists under that name (one read: a record exists only with its name key). */
async function tableOf<P>(context: StepContext<P>, schemaName: string, tableName: string, tableId: number) {
  const table = await context.store.tables.getById(tableId);
  return table?.schemaName === schemaName && table.name === tableName ? table : undefined;
}

function updateInfo(shardId: number, role: "leader" | "follower", fromVersion: number, toVersion: number) {
  return {
    prevShardInfo: shardInfo(shardId, role, fromVersion),
    currShardInfo: shardInfo(shardId, role, toVersion),
  };
}

export const createTableProcedure: ProcedureDefinition<CreateTableParams> = {
  kind: "create_table",
  parseParams: paramsParser("create_table", createTableParams),
  initialState: "create_metadata",
  steps: {
    create_metadata: async (context) => {
      const p = context.params;
      const request = {
        schemaName: p.schemaName,
        tableName: p.tableName,
        shardId: p.shardId,
        tableSchema: p.tableSchema,
        options: p.options,
        // The request id makes a repeat of this step (after a leader change) find the same table.
        requestId: p.requestId,
      };
      context.term.assertActive();
      const { table, shardVersion } = await context.store.tables
        .create(request)
        .catch(async (error: unknown) => {
          if (!(error instanceof SchemaNotFoundError)) throw error;
          // Schemas are created on first use; the common case (it exists) costs no extra round trip.
          await context.store.schemas.create(p.schemaName);
          return context.store.tables.create(request);
        });
      return { next: "create_on_shard", params: { ...p, tableId: table.id, shardVersion } };
    },
    create_on_shard: async (context) => {
      const p = context.params;
      const table = await tableOf(context, p.schemaName, p.tableName, p.tableId!);
      if (table === undefined)
        throw new ProcedureAbortError(new TableNotFoundError(`${p.schemaName}.${p.tableName}`));
      const { placement, view } = await readShard(context, p.shardId);
      if (placement.leader === null) {
        throw new ProcedureAbortError(
          new ClusterNotReadyError(`shard ${p.shardId} has no leader to create the table on`),
        );
      }
      const version = view.version;
      await sendOrAbort(context, placement.leader, "CreateTableOnShard", {
        header: eventHeader(context),
        updateShardInfo: updateInfo(p.shardId, "leader", version - 1, version),
        table: tableInfo(table),
        tableSchema: p.tableSchema,
        engine: p.engine,
        options: p.options,
        createIfNotExist: true,
      });
      const followerDetails = await Promise.all(
        placement.followers.map((follower) =>
          sendBestEffort(context, follower, "OpenTableOnShard", {
            header: eventHeader(context),
            updateShardInfo: updateInfo(p.shardId, "follower", version - 1, version),
            table: tableInfo(table),
          }),
        ),
      );
      const detail = details(followerDetails);
      return { next: FINISHED, ...(detail === undefined ? {} : { detail }) };
    },
    drop_on_shard: async (context) => {
      const p = context.params;
      const table =
        p.tableId === undefined ? undefined : await tableOf(context, p.schemaName, p.tableName, p.tableId);
      if (table === undefined) return { next: "drop_metadata" };
      const { placement, view } = await readShard(context, p.shardId);
      const nodes = [placement.leader, ...placement.followers].filter(
        (node): node is string => node !== null,
      );
      const results = await Promise.all(
        nodes.map((node) =>
          sendBestEffort(
            context,
            node,
            node === placement.leader ? "DropTableOnShard" : "CloseTableOnShard",
            {
              header: eventHeader(context),
              updateShardInfo: updateInfo(
                p.shardId,
                node === placement.leader ? "leader" : "follower",
                view.version,
                view.version + 1,
              ),
              table: tableInfo(table),
            },
          ),
        ),
      );
      const detail = details(results);
      return { next: "drop_metadata", ...(detail === undefined ? {} : { detail }) };
    },
    drop_metadata: async (context) => {
      const p = context.params;
      const table =
        p.tableId === undefined ? undefined : await tableOf(context, p.schemaName, p.tableName, p.tableId);
      if (table !== undefined) {
        context.term.assertActive();
        await context.store.tables.drop({ schemaName: p.schemaName, tableName: p.tableName });
      }
      return { next: ROLLED_BACK };
    },
  },
  rollbackFrom: (state) =>
    state === "create_metadata" ? ROLLED_BACK : state === "create_on_shard" ? "drop_on_shard" : undefined,
};

const dropTableParams = z.object({
  schemaName: z.string().min(1),
  tableName: z.string().min(1),
  tableId: z.number().int().positive(),
  shardId: shardIdSchema,
  /** The table record as the submitter read it, for the events once the metadata is gone. */
  table: jsonObjectSchema,
});
export type DropTableParams = z.infer<typeof dropTableParams>;

export const dropTableProcedure: ProcedureDefinition<DropTableParams> = {
  kind: "drop_table",
  parseParams: paramsParser("drop_table", dropTableParams),
  initialState: "check",
  steps: {
    // Separate from the drop: once past it, a table found missing was dropped by this procedure.
    check: async (context) => {
      const p = context.params;
      const table = await tableOf(context, p.schemaName, p.tableName, p.tableId);
      if (table === undefined) {
        throw new ProcedureAbortError(new TableNotFoundError(`${p.schemaName}.${p.tableName}`));
      }
      if (table.shardId !== p.shardId) {
        // Moved (split or merge) while the drop waited for the shard: the caller retries on the new one.
        throw new ProcedureAbortError(
          new MetadataConflictError(
            context.store.keys.tableById(table.id),
            `table moved from shard ${p.shardId} to ${table.shardId} while the drop waited; retry`,
          ),
        );
      }
      return { next: "drop_metadata" };
    },
    drop_metadata: async (context) => {
      const p = context.params;
      if ((await tableOf(context, p.schemaName, p.tableName, p.tableId)) !== undefined) {
        context.term.assertActive();
        await context.store.tables.drop({ schemaName: p.schemaName, tableName: p.tableName });
      }
      return { next: "drop_on_shard" };
    },
    drop_on_shard: async (context) => {
      const p = context.params;
      const table = p.table as unknown as TableRecord;
      const { placement, view } = await readShard(context, p.shardId);
      const nodes = [placement.leader, ...placement.followers].filter(
        (node): node is string => node !== null,
      );
      const results = await Promise.all(
        nodes.map((node) => {
          const role = node === placement.leader ? "leader" : "follower";
          return sendBestEffort(context, node, role === "leader" ? "DropTableOnShard" : "CloseTableOnShard", {
            header: eventHeader(context),
            updateShardInfo: updateInfo(p.shardId, role, view.version - 1, view.version),
            table: tableInfo(table),
          });
        }),
      );
      const detail = details(results);
      return { next: FINISHED, ...(detail === undefined ? {} : { detail }) };
    },
  },
  rollbackFrom: (state) => (state === "check" ? ROLLED_BACK : undefined),
};

/** A table record as a JSON object, to keep in procedure params. */
export function tableAsJson(table: TableRecord) {
  return JSON.parse(JSON.stringify(table)) as z.infer<typeof jsonObjectSchema>;
}
