/**
 * Tables and their shard membership. A table is three facts kept equal by every transaction: its
 * record (by id), its name key (schema id + name -> id), and its id in exactly one shard view, the
 * one its record names. Each change below writes all of them at once, guarded by the mod revisions it
 * read, and moves every shard view it touches up one version.
 *
 * A partitioned table is a record and a name key on no shard; its sub-tables are ordinary tables (on
 * shards) whose records name it. It is created and dropped with all its sub-tables in one
 * transaction, so no sub-table is ever without its parent nor a parent without a sub-table it lists.
 */
import { randomUUID } from "node:crypto";
import { decodeRecord, encodeRecord, jsonObjectSchema } from "./codec.js";
import { recordAt, type StoreContext } from "./context.js";
import { MAX_TXN_GUARDS, type KvGuard, type KvSnapshot, type KvWrite } from "./etcd-kv.js";
import {
  InvalidMetadataRequestError,
  MetadataConflictError,
  MetadataCorruptionError,
  SchemaNotFoundError,
  ShardNotFoundError,
  ShardVersionConflictError,
  SubTableNameTakenError,
  TableAlreadyExistsError,
  TableConflictError,
  TableNotFoundError,
  TableNotInShardError,
} from "./errors.js";
import type { JsonObject, SchemaRecord, ShardView, TableRecord } from "./records.js";
import { requireDistinct, requireInteger, requireName } from "./validation.js";

/** Tables per moveTables call: each moved record is one guard and one write of the transaction. */
export const MAX_TABLES_PER_MOVE = MAX_TXN_GUARDS - 2;

/**
 * Sub-tables of one partitioned table at most. Its create is one transaction guarding each name and
 * id key and each shard view: 2 + 2 * 32 + 32 guards, within etcd's default limit.
 */
export const MAX_PARTITIONS = 32;

export interface CreateTableRequest {
  readonly schemaName: string;
  readonly tableName: string;
  /** The shard to place the table on. */
  readonly shardId: number;
  /** The table schema in the proto's TableSchema shape; any JSON object is stored as given. */
  readonly tableSchema: JsonObject;
  readonly options?: Readonly<Record<string, string>>;
  /** Refuse with ShardVersionConflictError unless the shard is at this version. */
  readonly expectedShardVersion?: number;
  /**
   * Identifies this create across retries (e.g. the id of the procedure running it). A repeated
   * request with the same id, after the first one succeeded, is answered with the table it created.
   * Default: a fresh UUID, which still covers the etcd client's own retries of this call.
   */
  readonly requestId?: string;
}

export interface CreateTableResult {
  readonly table: TableRecord;
  /** The table's shard version after the create (for a repeated request: the current version). */
  readonly shardVersion: number;
  /** false only when the request is a repeat of the one that created the table. */
  readonly created: boolean;
}

export interface CreatePartitionedTableRequest {
  readonly schemaName: string;
  readonly tableName: string;
  /** Shared by the partitioned table and its sub-tables. */
  readonly tableSchema: JsonObject;
  readonly options?: Readonly<Record<string, string>>;
  /** The columns rows are hashed on, in order. */
  readonly keyColumns: readonly string[];
  /** One per partition, in partition order: the sub-table's name and the shard it goes to. */
  readonly subTables: readonly { readonly name: string; readonly shardId: number }[];
  /** As in CreateTableRequest: a repeat of the request that created it is answered with it. */
  readonly requestId?: string;
}

export interface CreatePartitionedTableResult {
  /** The partitioned table (on no shard), its `partitionInfo` naming the sub-tables. */
  readonly table: TableRecord;
  /** In partition order. */
  readonly subTables: readonly TableRecord[];
  /** false only when the request is a repeat of the one that created the table. */
  readonly created: boolean;
}

export interface DropPartitionedTableResult {
  readonly table: TableRecord;
  /** The sub-tables dropped with it, in partition order. */
  readonly subTables: readonly TableRecord[];
}

export interface DropTableRequest {
  readonly schemaName: string;
  readonly tableName: string;
  /** Refuse with ShardVersionConflictError unless the table's shard is at this version. */
  readonly expectedShardVersion?: number;
}

export interface DropTableResult {
  readonly table: TableRecord;
  /** The version of the table's former shard after the drop. */
  readonly shardVersion: number;
}

export interface MoveTablesRequest {
  readonly tableIds: readonly number[];
  readonly fromShardId: number;
  readonly toShardId: number;
  readonly expectedFromVersion?: number;
  readonly expectedToVersion?: number;
}

export interface MoveTablesResult {
  readonly from: ShardView;
  readonly to: ShardView;
  /** The moved tables, now naming `toShardId`. */
  readonly tables: readonly TableRecord[];
}

export interface TablesOfShard {
  readonly shard: ShardView;
  /** In the order of the shard view. */
  readonly tables: readonly TableRecord[];
}

export class TableStore {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  /**
   * Creates a table on a shard: the record, the name key and the shard view with the id appended
   * (version + 1), in one transaction guarded by the shard view's revision and the name's absence.
   * A name that exists fails with TableAlreadyExistsError, unless this is a repeat of the request
   * that created it (same `requestId`), which is answered with that table.
   */
  async create(request: CreateTableRequest): Promise<CreateTableResult> {
    const { kv, keys, ids, now } = this.#ctx;
    const operation = "create table";
    validateCreate(request);
    const requestId = request.requestId ?? randomUUID();
    const schema = await this.#requireSchema(operation, request.schemaName);
    const nameKey = keys.tableByName(schema.id, request.tableName);
    const shardKey = keys.shardView(request.shardId);
    const snapshot = await kv.read(operation, [nameKey, shardKey]);
    if (snapshot.get(nameKey) !== undefined) {
      return this.#existingTable(operation, snapshot, nameKey, requestId);
    }
    const shard = recordAt(snapshot, "shard_view", shardKey);
    if (shard === undefined) throw new ShardNotFoundError(request.shardId);
    checkShardVersion(shardKey, shard, request.expectedShardVersion);

    const table: TableRecord = {
      id: await ids.next("table"),
      name: request.tableName,
      schemaId: schema.id,
      schemaName: schema.name,
      shardId: shard.shardId,
      partitionInfo: null,
      parentTableId: null,
      tableSchema: request.tableSchema,
      options: request.options ?? {},
      createdAtMs: now(),
      createRequestId: requestId,
    };
    const nextShard: ShardView = {
      ...shard,
      version: shard.version + 1,
      tableIds: [...shard.tableIds, table.id],
      updatedAtMs: table.createdAtMs,
    };
    const idKey = keys.tableById(table.id);
    const outcome = await kv.commit(
      operation,
      [
        { key: nameKey, modRevision: 0 },
        { key: idKey, modRevision: 0 },
        { key: shardKey, modRevision: snapshot.modRevision(shardKey) },
      ],
      [
        { op: "put", key: idKey, value: encodeRecord("table", table) },
        { op: "put", key: nameKey, value: encodeRecord("table_name", { tableId: table.id }) },
        { op: "put", key: shardKey, value: encodeRecord("shard_view", nextShard) },
      ],
      [nameKey, shardKey],
    );
    if (outcome.succeeded) return { table, shardVersion: nextShard.version, created: true };
    // A name taken meanwhile, possibly by this very request if the etcd client retried the commit.
    if (outcome.current.get(nameKey) !== undefined) {
      return this.#existingTable(operation, outcome.current, nameKey, requestId);
    }
    const current = recordAt(outcome.current, "shard_view", shardKey);
    if (current === undefined) throw new ShardNotFoundError(request.shardId);
    throw new ShardVersionConflictError(shardKey, shard.shardId, shard.version, current.version);
  }

  /**
   * Drops a table: deletes its record and name key and removes it from its shard view (version + 1),
   * in one transaction guarded by all three.
   */
  async drop(request: DropTableRequest): Promise<DropTableResult> {
    const { kv, keys, now } = this.#ctx;
    const operation = "drop table";
    requireName("schemaName", request.schemaName);
    requireName("tableName", request.tableName);
    const located = await this.#locate(operation, request.schemaName, request.tableName);
    if (located === undefined) throw new TableNotFoundError(`${request.schemaName}.${request.tableName}`);
    const { table, snapshot, nameKey, idKey } = located;
    if (table.shardId === null || table.parentTableId !== null) {
      throw new InvalidMetadataRequestError(
        "tableName",
        table.shardId === null
          ? `${table.schemaName}.${table.name} is a partitioned table: drop it with dropPartitioned`
          : `${table.schemaName}.${table.name} is a sub-table of partitioned table ${table.parentTableId}: ` +
              "it is dropped with that table",
      );
    }
    const shardKey = keys.shardView(table.shardId);
    const shard = recordAt(snapshot, "shard_view", shardKey);
    if (shard === undefined || !shard.tableIds.includes(table.id)) {
      throw new MetadataCorruptionError(
        idKey,
        `table ${table.id} names shard ${table.shardId}, which lacks it`,
      );
    }
    checkShardVersion(shardKey, shard, request.expectedShardVersion);
    const nextShard: ShardView = {
      ...shard,
      version: shard.version + 1,
      tableIds: shard.tableIds.filter((id) => id !== table.id),
      updatedAtMs: now(),
    };
    const outcome = await kv.commit(
      operation,
      [nameKey, idKey, shardKey].map((key) => ({ key, modRevision: snapshot.modRevision(key) })),
      [
        { op: "delete", key: idKey },
        { op: "delete", key: nameKey },
        { op: "put", key: shardKey, value: encodeRecord("shard_view", nextShard) },
      ],
      [nameKey, idKey, shardKey],
    );
    if (outcome.succeeded) return { table, shardVersion: nextShard.version };
    if (outcome.current.get(nameKey) === undefined) {
      throw new TableNotFoundError(`${request.schemaName}.${request.tableName}`);
    }
    const current = recordAt(outcome.current, "shard_view", shardKey);
    if (outcome.current.modRevision(shardKey) !== snapshot.modRevision(shardKey)) {
      throw new ShardVersionConflictError(shardKey, shard.shardId, shard.version, current?.version ?? 0);
    }
    throw new TableConflictError(idKey, table.id, "changed while it was being dropped");
  }

  /**
   * Moves tables from one shard to another (split and merge are made of these): both shard views
   * (versions + 1) and the moved records, in one transaction guarded by all of them. At most
   * MAX_TABLES_PER_MOVE tables per call.
   */
  async move(request: MoveTablesRequest): Promise<MoveTablesResult> {
    const { kv, keys, now } = this.#ctx;
    const operation = "move tables";
    validateMove(request);
    const fromKey = keys.shardView(request.fromShardId);
    const toKey = keys.shardView(request.toShardId);
    const idKeys = request.tableIds.map((id) => keys.tableById(id));
    const snapshot = await kv.read(operation, [fromKey, toKey, ...idKeys]);
    const from = recordAt(snapshot, "shard_view", fromKey);
    if (from === undefined) throw new ShardNotFoundError(request.fromShardId);
    const to = recordAt(snapshot, "shard_view", toKey);
    if (to === undefined) throw new ShardNotFoundError(request.toShardId);
    checkShardVersion(fromKey, from, request.expectedFromVersion);
    checkShardVersion(toKey, to, request.expectedToVersion);

    const fromIds = new Set(from.tableIds);
    const tables = request.tableIds.map((tableId, i) => {
      const table = recordAt(snapshot, "table", idKeys[i]!);
      if (table === undefined) throw new TableNotFoundError(`id ${tableId}`);
      if (table.shardId !== from.shardId || !fromIds.has(tableId)) {
        throw new TableNotInShardError(tableId, from.shardId);
      }
      return { ...table, shardId: to.shardId };
    });
    const at = now();
    const moved = new Set(request.tableIds);
    const nextFrom: ShardView = {
      ...from,
      version: from.version + 1,
      tableIds: from.tableIds.filter((id) => !moved.has(id)),
      updatedAtMs: at,
    };
    const nextTo: ShardView = {
      ...to,
      version: to.version + 1,
      tableIds: [...to.tableIds, ...request.tableIds],
      updatedAtMs: at,
    };
    const guardedKeys = [fromKey, toKey, ...idKeys];
    const writes: KvWrite[] = [
      { op: "put", key: fromKey, value: encodeRecord("shard_view", nextFrom) },
      { op: "put", key: toKey, value: encodeRecord("shard_view", nextTo) },
      ...tables.map((table, i): KvWrite => ({
        op: "put",
        key: idKeys[i]!,
        value: encodeRecord("table", table),
      })),
    ];
    const guards: KvGuard[] = guardedKeys.map((key) => ({ key, modRevision: snapshot.modRevision(key) }));
    const outcome = await kv.commit(operation, guards, writes, [fromKey, toKey]);
    if (outcome.succeeded) return { from: nextFrom, to: nextTo, tables };
    for (const [key, before] of [
      [fromKey, from],
      [toKey, to],
    ] as const) {
      if (outcome.current.modRevision(key) !== snapshot.modRevision(key)) {
        const current = recordAt(outcome.current, "shard_view", key);
        throw new ShardVersionConflictError(key, before.shardId, before.version, current?.version ?? 0);
      }
    }
    // Both shards unchanged, so a moved table's record changed: re-read to name it.
    const recheck = await kv.read(operation, idKeys);
    const changed = request.tableIds.find(
      (_, i) => recheck.modRevision(idKeys[i]!) !== snapshot.modRevision(idKeys[i]!),
    );
    if (changed === undefined) {
      throw new MetadataConflictError(fromKey, "a guard of the move failed; read again");
    }
    throw new TableConflictError(keys.tableById(changed), changed, "changed while it was being moved");
  }

  /** The table of that name, or undefined. */
  async get(schemaName: string, tableName: string): Promise<TableRecord | undefined> {
    requireName("schemaName", schemaName);
    requireName("tableName", tableName);
    return (await this.#resolve("get table", schemaName, tableName))?.table;
  }

  /**
   * The sub-tables of a partitioned table, in partition order, read at one revision. A name that is
   * missing or names a table of another parent is left out (the invariant checker reports those).
   */
  async subTablesOf(table: TableRecord): Promise<TableRecord[]> {
    const { kv, keys } = this.#ctx;
    const operation = "get sub-tables";
    const names = table.partitionInfo?.subTableNames ?? [];
    if (names.length === 0) return [];
    const nameKeys = names.map((name) => keys.tableByName(table.schemaId, name));
    const nameSnapshot = await kv.read(operation, nameKeys);
    const idKeys = nameKeys.flatMap((key) => {
      const name = recordAt(nameSnapshot, "table_name", key);
      return name === undefined ? [] : [keys.tableById(name.tableId)];
    });
    const records = await kv.read(operation, idKeys, nameSnapshot.revision);
    return idKeys.flatMap((key) => {
      const record = recordAt(records, "table", key);
      return record?.parentTableId === table.id ? [record] : [];
    });
  }

  /**
   * Creates a partitioned table and its sub-tables in one transaction: the partitioned table's record
   * and name key (on no shard), and each sub-table's record and name key, appended to its shard's view
   * (each view touched goes up one version). Guarded by the absence of every name and id and by the
   * shard views read. The partitioned table's name taken: TableAlreadyExistsError, unless this is a
   * repeat of the request that created it (same `requestId`), answered with what it created; a
   * sub-table's name taken: SubTableNameTakenError.
   */
  async createPartitioned(request: CreatePartitionedTableRequest): Promise<CreatePartitionedTableResult> {
    const { kv, keys, ids, now } = this.#ctx;
    const operation = "create partitioned table";
    validateCreatePartitioned(request);
    const requestId = request.requestId ?? randomUUID();
    const schema = await this.#requireSchema(operation, request.schemaName);
    const qualified = `${request.schemaName}.${request.tableName}`;
    const nameKey = keys.tableByName(schema.id, request.tableName);
    const subNameKeys = request.subTables.map((sub) => keys.tableByName(schema.id, sub.name));
    const shardIds = [...new Set(request.subTables.map((sub) => sub.shardId))];
    const shardKeys = shardIds.map((id) => keys.shardView(id));
    const snapshot = await kv.read(operation, [nameKey, ...subNameKeys, ...shardKeys]);
    if (snapshot.get(nameKey) !== undefined) {
      return this.#existingPartitioned(operation, snapshot, nameKey, requestId);
    }
    await this.#throwIfSubNameTaken(operation, snapshot, subNameKeys, qualified);
    const shards = shardIds.map((shardId, i) => {
      const shard = recordAt(snapshot, "shard_view", shardKeys[i]!);
      if (shard === undefined) throw new ShardNotFoundError(shardId);
      return shard;
    });

    const at = now();
    const tableId = await ids.next("table");
    const subIds: number[] = [];
    for (let i = 0; i < request.subTables.length; i++) subIds.push(await ids.next("table"));
    const common = {
      schemaId: schema.id,
      schemaName: schema.name,
      tableSchema: request.tableSchema,
      options: request.options ?? {},
      createdAtMs: at,
      createRequestId: requestId,
    };
    const table: TableRecord = {
      ...common,
      id: tableId,
      name: request.tableName,
      shardId: null,
      partitionInfo: {
        keyColumns: [...request.keyColumns],
        partitionCount: request.subTables.length,
        subTableNames: request.subTables.map((sub) => sub.name),
      },
      parentTableId: null,
    };
    const subTables = request.subTables.map((sub, i): TableRecord => ({
      ...common,
      id: subIds[i]!,
      name: sub.name,
      shardId: sub.shardId,
      partitionInfo: null,
      parentTableId: tableId,
    }));
    const nextShards = shards.map((shard): ShardView => ({
      ...shard,
      version: shard.version + 1,
      tableIds: [
        ...shard.tableIds,
        ...subTables.filter((sub) => sub.shardId === shard.shardId).map((sub) => sub.id),
      ],
      updatedAtMs: at,
    }));
    const created = [table, ...subTables];
    const idKeys = created.map((record) => keys.tableById(record.id));
    const allNameKeys = [nameKey, ...subNameKeys];
    const outcome = await kv.commit(
      operation,
      [
        ...[...allNameKeys, ...idKeys].map((key) => ({ key, modRevision: 0 })),
        ...shardKeys.map((key) => ({ key, modRevision: snapshot.modRevision(key) })),
      ],
      [
        ...created.flatMap((record, i): KvWrite[] => [
          { op: "put", key: idKeys[i]!, value: encodeRecord("table", record) },
          { op: "put", key: allNameKeys[i]!, value: encodeRecord("table_name", { tableId: record.id }) },
        ]),
        ...nextShards.map((shard, i): KvWrite => ({
          op: "put",
          key: shardKeys[i]!,
          value: encodeRecord("shard_view", shard),
        })),
      ],
      [...allNameKeys, ...shardKeys],
    );
    if (outcome.succeeded) return { table, subTables, created: true };
    // Taken meanwhile, possibly by this very request if the etcd client retried the commit.
    if (outcome.current.get(nameKey) !== undefined) {
      return this.#existingPartitioned(operation, outcome.current, nameKey, requestId);
    }
    await this.#throwIfSubNameTaken(operation, outcome.current, subNameKeys, qualified);
    for (const [i, shard] of shards.entries()) {
      const key = shardKeys[i]!;
      if (outcome.current.modRevision(key) !== snapshot.modRevision(key)) {
        const current = recordAt(outcome.current, "shard_view", key);
        if (current === undefined) throw new ShardNotFoundError(shard.shardId);
        throw new ShardVersionConflictError(key, shard.shardId, shard.version, current.version);
      }
    }
    throw new MetadataConflictError(nameKey, "a guard of the create failed; read again");
  }

  /**
   * Drops a partitioned table and its sub-tables in one transaction: every record and name key, and
   * each sub-table's id from its shard view (each view touched goes up one version), guarded by all of
   * them.
   */
  async dropPartitioned(request: DropTableRequest): Promise<DropPartitionedTableResult> {
    const { kv, keys, now } = this.#ctx;
    const operation = "drop partitioned table";
    requireName("schemaName", request.schemaName);
    requireName("tableName", request.tableName);
    const qualified = `${request.schemaName}.${request.tableName}`;
    const resolved = await this.#resolve(operation, request.schemaName, request.tableName);
    if (resolved === undefined) throw new TableNotFoundError(qualified);
    const { table, revision } = resolved;
    if (table.partitionInfo === null) {
      throw new InvalidMetadataRequestError("tableName", `${qualified} is not a partitioned table`);
    }
    const nameKey = keys.tableByName(table.schemaId, table.name);
    const idKey = keys.tableById(table.id);
    const subNameKeys = table.partitionInfo.subTableNames.map((name) =>
      keys.tableByName(table.schemaId, name),
    );
    const names = await kv.read(operation, subNameKeys, revision);
    const subIdKeys = subNameKeys.flatMap((key) => {
      const name = recordAt(names, "table_name", key);
      return name === undefined ? [] : [keys.tableById(name.tableId)];
    });
    const records = await kv.read(operation, subIdKeys, revision);
    const subTables = subIdKeys.flatMap((key) => {
      const record = recordAt(records, "table", key);
      return record?.parentTableId === table.id && record.shardId !== null ? [record] : [];
    });
    const shardIds = [...new Set(subTables.map((sub) => sub.shardId!))];
    const shardKeys = shardIds.map((id) => keys.shardView(id));
    const snapshot = await kv.read(
      operation,
      [
        nameKey,
        idKey,
        ...subTables.flatMap((sub) => [keys.tableByName(sub.schemaId, sub.name), keys.tableById(sub.id)]),
        ...shardKeys,
      ],
      revision,
    );
    const dropped = new Set(subTables.map((sub) => sub.id));
    const at = now();
    const nextShards = shardIds.map((shardId, i): ShardView => {
      const shard = recordAt(snapshot, "shard_view", shardKeys[i]!);
      const missing = subTables.find((sub) => sub.shardId === shardId && !shard?.tableIds.includes(sub.id));
      if (shard === undefined || missing !== undefined) {
        throw new MetadataCorruptionError(
          keys.tableById(missing?.id ?? table.id),
          `sub-table ${missing?.id ?? "?"} names shard ${shardId}, which lacks it`,
        );
      }
      return {
        ...shard,
        version: shard.version + 1,
        tableIds: shard.tableIds.filter((id) => !dropped.has(id)),
        updatedAtMs: at,
      };
    });
    const recordKeys = [
      nameKey,
      idKey,
      ...subTables.flatMap((sub) => [keys.tableByName(sub.schemaId, sub.name), keys.tableById(sub.id)]),
    ];
    const outcome = await kv.commit(
      operation,
      [...recordKeys, ...shardKeys].map((key) => ({ key, modRevision: snapshot.modRevision(key) })),
      [
        ...recordKeys.map((key): KvWrite => ({ op: "delete", key })),
        ...nextShards.map((shard, i): KvWrite => ({
          op: "put",
          key: shardKeys[i]!,
          value: encodeRecord("shard_view", shard),
        })),
      ],
      [nameKey, ...shardKeys],
    );
    if (outcome.succeeded) return { table, subTables };
    if (outcome.current.get(nameKey) === undefined) throw new TableNotFoundError(qualified);
    for (const [i, shard] of nextShards.entries()) {
      const key = shardKeys[i]!;
      if (outcome.current.modRevision(key) !== snapshot.modRevision(key)) {
        const current = recordAt(outcome.current, "shard_view", key);
        throw new ShardVersionConflictError(key, shard.shardId, shard.version - 1, current?.version ?? 0);
      }
    }
    throw new TableConflictError(idKey, table.id, "it or a sub-table changed while it was being dropped");
  }

  async getById(tableId: number): Promise<TableRecord | undefined> {
    requireInteger("tableId", tableId, 0);
    const key = this.#ctx.keys.tableById(tableId);
    return recordAt(await this.#ctx.kv.read("get table", [key]), "table", key);
  }

  /** Every table record, by id. */
  async list(): Promise<TableRecord[]> {
    const { entries } = await this.#ctx.kv.readPrefix("list tables", this.#ctx.keys.tablesByIdPrefix());
    return entries.map((entry) => decodeRecord("table", entry.key, entry.value));
  }

  /** The tables of each shard, in request order, read at one revision. */
  async tablesOfShards(shardIds: readonly number[]): Promise<TablesOfShard[]> {
    const { kv, keys } = this.#ctx;
    const operation = "get tables of shards";
    shardIds.forEach((id, i) => requireInteger(`shardIds[${i}]`, id, 0));
    const shardKeys = shardIds.map((id) => keys.shardView(id));
    const views = await kv.read(operation, shardKeys);
    const shards = shardIds.map((shardId, i) => {
      const shard = recordAt(views, "shard_view", shardKeys[i]!);
      if (shard === undefined) throw new ShardNotFoundError(shardId);
      return shard;
    });
    const idKeys = shards.flatMap((shard) => shard.tableIds.map((id) => keys.tableById(id)));
    const records = await kv.read(operation, idKeys, views.revision);
    return shards.map((shard) => ({
      shard,
      tables: shard.tableIds.map((id) => {
        const key = keys.tableById(id);
        const table = recordAt(records, "table", key);
        if (table === undefined) {
          throw new MetadataCorruptionError(
            keys.shardView(shard.shardId),
            `lists table ${id}, which has no record`,
          );
        }
        return table;
      }),
    }));
  }

  async #requireSchema(operation: string, schemaName: string): Promise<SchemaRecord> {
    const key = this.#ctx.keys.schema(schemaName);
    const schema = recordAt(await this.#ctx.kv.read(operation, [key]), "schema", key);
    if (schema === undefined) throw new SchemaNotFoundError(schemaName);
    return schema;
  }

  /** Resolves schema name + table name to the table record, reading at one revision (returned). */
  async #resolve(
    operation: string,
    schemaName: string,
    tableName: string,
  ): Promise<{ table: TableRecord; revision: number } | undefined> {
    const { kv, keys } = this.#ctx;
    const schemaKey = keys.schema(schemaName);
    const first = await kv.read(operation, [schemaKey]);
    const schema = recordAt(first, "schema", schemaKey);
    if (schema === undefined) return undefined;
    const nameKey = keys.tableByName(schema.id, tableName);
    const names = await kv.read(operation, [nameKey], first.revision);
    const name = recordAt(names, "table_name", nameKey);
    if (name === undefined) return undefined;
    const idKey = keys.tableById(name.tableId);
    const records = await kv.read(operation, [idKey], first.revision);
    const table = recordAt(records, "table", idKey);
    if (table === undefined) {
      throw new MetadataCorruptionError(nameKey, `names table ${name.tableId}, which has no record`);
    }
    return { table, revision: first.revision };
  }

  /** As #resolve, plus the name, id and shard view keys read at that revision, to guard a change. */
  async #locate(
    operation: string,
    schemaName: string,
    tableName: string,
  ): Promise<{ table: TableRecord; snapshot: KvSnapshot; nameKey: string; idKey: string } | undefined> {
    const { kv, keys } = this.#ctx;
    const resolved = await this.#resolve(operation, schemaName, tableName);
    if (resolved === undefined) return undefined;
    const { table, revision } = resolved;
    const nameKey = keys.tableByName(table.schemaId, table.name);
    const idKey = keys.tableById(table.id);
    const shardKeys = table.shardId === null ? [] : [keys.shardView(table.shardId)];
    const snapshot = await kv.read(operation, [nameKey, idKey, ...shardKeys], revision);
    return { table, snapshot, nameKey, idKey };
  }

  /** Answers a partitioned create whose name exists: what this request created, else the conflict. */
  async #existingPartitioned(
    operation: string,
    snapshot: KvSnapshot,
    nameKey: string,
    requestId: string,
  ): Promise<CreatePartitionedTableResult> {
    const table = await this.#recordNamedBy(operation, snapshot, nameKey);
    if (table.createRequestId !== requestId) throw new TableAlreadyExistsError(table);
    return { table, subTables: await this.subTablesOf(table), created: false };
  }

  /** Throws SubTableNameTakenError for the first of `nameKeys` present in `snapshot`. */
  async #throwIfSubNameTaken(
    operation: string,
    snapshot: KvSnapshot,
    nameKeys: readonly string[],
    partitionedTable: string,
  ): Promise<void> {
    const taken = nameKeys.find((key) => snapshot.get(key) !== undefined);
    if (taken === undefined) return;
    throw new SubTableNameTakenError(partitionedTable, await this.#recordNamedBy(operation, snapshot, taken));
  }

  /** The record a name key present in `snapshot` points to, read at the snapshot's revision. */
  async #recordNamedBy(operation: string, snapshot: KvSnapshot, nameKey: string): Promise<TableRecord> {
    const { kv, keys } = this.#ctx;
    const name = recordAt(snapshot, "table_name", nameKey);
    if (name === undefined) throw new MetadataCorruptionError(nameKey, "name key vanished");
    const idKey = keys.tableById(name.tableId);
    const table = recordAt(await kv.read(operation, [idKey], snapshot.revision), "table", idKey);
    if (table === undefined) {
      throw new MetadataCorruptionError(nameKey, `names table ${name.tableId}, which has no record`);
    }
    return table;
  }

  /** Answers a create whose name exists: the table if this request created it, else the conflict. */
  async #existingTable(
    operation: string,
    snapshot: KvSnapshot,
    nameKey: string,
    requestId: string,
  ): Promise<CreateTableResult> {
    const { kv, keys } = this.#ctx;
    const table = await this.#recordNamedBy(operation, snapshot, nameKey);
    if (table.createRequestId !== requestId || table.shardId === null)
      throw new TableAlreadyExistsError(table);
    const shardKey = keys.shardView(table.shardId);
    const shard = recordAt(await kv.read(operation, [shardKey]), "shard_view", shardKey);
    return { table, shardVersion: shard?.version ?? 0, created: false };
  }
}

function checkShardVersion(key: string, shard: ShardView, expected: number | undefined): void {
  if (expected !== undefined && expected !== shard.version) {
    throw new ShardVersionConflictError(key, shard.shardId, expected, shard.version);
  }
}

function validateCreate(request: CreateTableRequest): void {
  requireName("schemaName", request.schemaName);
  requireName("tableName", request.tableName);
  requireInteger("shardId", request.shardId, 0);
  if (request.requestId !== undefined) requireName("requestId", request.requestId);
  if (!jsonObjectSchema.safeParse(request.tableSchema).success) {
    throw new InvalidMetadataRequestError("tableSchema", "must be a JSON object");
  }
  if (request.options !== undefined) {
    for (const [key, value] of Object.entries(request.options)) {
      if (typeof value !== "string") {
        throw new InvalidMetadataRequestError(`options.${key}`, "must be a string");
      }
    }
  }
}

function validateCreatePartitioned(request: CreatePartitionedTableRequest): void {
  requireName("schemaName", request.schemaName);
  requireName("tableName", request.tableName);
  if (request.requestId !== undefined) requireName("requestId", request.requestId);
  if (!jsonObjectSchema.safeParse(request.tableSchema).success) {
    throw new InvalidMetadataRequestError("tableSchema", "must be a JSON object");
  }
  if (request.keyColumns.length === 0) {
    throw new InvalidMetadataRequestError("keyColumns", "must name at least one column");
  }
  request.keyColumns.forEach((column, i) => requireName(`keyColumns[${i}]`, column));
  if (request.subTables.length === 0 || request.subTables.length > MAX_PARTITIONS) {
    throw new InvalidMetadataRequestError("subTables", `must hold 1 to ${MAX_PARTITIONS} sub-tables`);
  }
  request.subTables.forEach((sub, i) => {
    requireName(`subTables[${i}].name`, sub.name);
    requireInteger(`subTables[${i}].shardId`, sub.shardId, 0);
    if (sub.name === request.tableName) {
      throw new InvalidMetadataRequestError(`subTables[${i}].name`, "must differ from the table's name");
    }
  });
  requireDistinct(
    "subTables",
    request.subTables.map((sub) => sub.name),
    (name) => `sub-table ${name}`,
  );
}

function validateMove(request: MoveTablesRequest): void {
  requireInteger("fromShardId", request.fromShardId, 0);
  requireInteger("toShardId", request.toShardId, 0);
  if (request.fromShardId === request.toShardId) {
    throw new InvalidMetadataRequestError("toShardId", "must differ from fromShardId");
  }
  if (request.tableIds.length === 0 || request.tableIds.length > MAX_TABLES_PER_MOVE) {
    throw new InvalidMetadataRequestError("tableIds", `must hold 1 to ${MAX_TABLES_PER_MOVE} ids`);
  }
  request.tableIds.forEach((id, i) => requireInteger(`tableIds[${i}]`, id, 0));
  requireDistinct("tableIds", request.tableIds, (id) => `table ${id}`);
}
