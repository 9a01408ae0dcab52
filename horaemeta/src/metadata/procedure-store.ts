/**
 * Persisted procedures, each guarded by its etcd mod revision: a writer states the revision it read
 * (0: the procedure must not exist yet), so two horaemeta leaders for an instant cannot both advance
 * the same procedure.
 *
 * An unfinished procedure holds a lock (`shard_locks/<shard>`) on each shard it works on: taken in the
 * transaction that creates the procedure (or adds the shard to it), released in the one that ends it.
 * So at most one procedure runs per shard, whichever horaemeta runs it.
 */
import { decodeRecord, encodeRecord, jsonValueSchema } from "./codec.js";
import { recordAt, type StoreContext } from "./context.js";
import type { KvGuard, KvSnapshot, KvWrite } from "./etcd-kv.js";
import {
  InvalidMetadataRequestError,
  ProcedureConflictError,
  ProcedureNotFoundError,
  ShardLockedError,
} from "./errors.js";
import type { JsonValue, ProcedureRecord, ShardLockRecord } from "./records.js";
import { requireInteger, requireName } from "./validation.js";

/** A procedure and the mod revision to quote when writing it next. */
export interface StoredProcedure {
  readonly procedure: ProcedureRecord;
  readonly revision: number;
}

export interface CreateProcedureRequest {
  readonly kind: string;
  readonly state: string;
  /** The shards the procedure locks; creation fails with ShardLockedError if one is held. */
  readonly shardIds: readonly number[];
  readonly params: JsonValue;
}

export interface PutProcedureOptions {
  /** The procedure has ended: release every lock it holds. */
  readonly release?: boolean;
  /**
   * The shards of the stored record at `expectedRevision`, when the caller has that record (it
   * holds their locks: an unfinished procedure always does). Saves reading the record and its
   * locks first; the revision guard makes a wrong claim fail instead of corrupting the locks.
   */
  readonly storedShardIds?: readonly number[];
}

/** A shard lock as stored. */
export interface StoredShardLock extends ShardLockRecord {
  readonly shardId: number;
}

export class ProcedureStore {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  /**
   * Stores a new procedure under a fresh id, its history starting with its initial state, and locks
   * its shards, in one transaction.
   */
  async create(request: CreateProcedureRequest): Promise<StoredProcedure> {
    const { ids, now } = this.#ctx;
    const at = now();
    const procedure: ProcedureRecord = {
      id: await ids.next("procedure"),
      kind: request.kind,
      state: request.state,
      shardIds: [...new Set(request.shardIds)],
      params: request.params,
      history: [{ state: request.state, atMs: at }],
      createdAtMs: at,
      updatedAtMs: at,
    };
    return this.put(procedure, 0);
  }

  /**
   * Writes `procedure` if it is still at `expectedRevision` (0: if it does not exist). The procedure
   * ends up holding the locks of exactly `procedure.shardIds` (none with `release`): shards added
   * since the last write are locked, shards dropped from it released. Fails with ShardLockedError
   * when a shard to lock is held by another procedure, ProcedureConflictError (carrying the actual
   * revision) otherwise; a failed write changes nothing.
   */
  async put(
    procedure: ProcedureRecord,
    expectedRevision: number,
    options: PutProcedureOptions = {},
  ): Promise<StoredProcedure> {
    const { kv, keys } = this.#ctx;
    validateProcedure(procedure);
    requireInteger("expectedRevision", expectedRevision, 0);
    const key = keys.procedure(procedure.id);
    let held: Set<number>;
    let lockRevision: (shardId: number) => number | undefined;
    if (expectedRevision === 0) {
      // A new procedure holds no lock yet: its locks are taken with it (guarded absent), no read needed.
      held = new Set();
      lockRevision = () => undefined;
    } else if (options.storedShardIds !== undefined) {
      held = new Set(options.storedShardIds);
      lockRevision = () => undefined;
    } else {
      const before = await kv.read("put procedure", [key]);
      const storedShardIds = recordAt(before, "procedure", key)?.shardIds ?? [];
      const candidates = [...new Set([...storedShardIds, ...procedure.shardIds])];
      const locks = await kv.read(
        "put procedure",
        candidates.map((shardId) => keys.shardLock(shardId)),
      );
      held = new Set(
        candidates.filter(
          (shardId) => recordAt(locks, "shard_lock", keys.shardLock(shardId))?.procedureId === procedure.id,
        ),
      );
      lockRevision = (shardId) => locks.modRevision(keys.shardLock(shardId));
    }
    const wanted = new Set(options.release === true ? [] : procedure.shardIds);
    const acquire = [...wanted].filter((shardId) => !held.has(shardId));
    const release = [...held].filter((shardId) => !wanted.has(shardId));
    const lock: ShardLockRecord = { procedureId: procedure.id, kind: procedure.kind };
    const guards: KvGuard[] = [
      { key, modRevision: expectedRevision },
      ...acquire.map((shardId) => ({ key: keys.shardLock(shardId), modRevision: 0 })),
      ...release.flatMap((shardId) => {
        const revision = lockRevision(shardId);
        return revision === undefined ? [] : [{ key: keys.shardLock(shardId), modRevision: revision }];
      }),
    ];
    const writes: KvWrite[] = [
      { op: "put", key, value: encodeRecord("procedure", procedure) },
      ...acquire.map((shardId): KvWrite => ({
        op: "put",
        key: keys.shardLock(shardId),
        value: encodeRecord("shard_lock", lock),
      })),
      ...release.map((shardId): KvWrite => ({ op: "delete", key: keys.shardLock(shardId) })),
    ];
    const outcome = await kv.commit(
      "put procedure",
      guards,
      writes,
      guards.map((guard) => guard.key),
    );
    if (outcome.succeeded) return { procedure, revision: outcome.revision };
    const actual = outcome.current.modRevision(key);
    if (actual === expectedRevision) this.#throwIfLocked(outcome.current, acquire);
    throw new ProcedureConflictError(key, procedure.id, expectedRevision, actual);
  }

  async get(procedureId: number): Promise<StoredProcedure | undefined> {
    const { kv, keys } = this.#ctx;
    requireInteger("procedureId", procedureId, 0);
    const key = keys.procedure(procedureId);
    const snapshot = await kv.read("get procedure", [key]);
    const procedure = recordAt(snapshot, "procedure", key);
    return procedure === undefined ? undefined : { procedure, revision: snapshot.modRevision(key) };
  }

  /** Every stored procedure, by id. */
  async list(): Promise<StoredProcedure[]> {
    const { entries } = await this.#ctx.kv.readPrefix("list procedures", this.#ctx.keys.proceduresPrefix());
    return entries.map((entry) => ({
      procedure: decodeRecord("procedure", entry.key, entry.value),
      revision: entry.modRevision,
    }));
  }

  /** Every shard lock, by shard id. */
  async locks(): Promise<StoredShardLock[]> {
    const { kv, keys } = this.#ctx;
    const { entries } = await kv.readPrefix("list shard locks", keys.shardLocksPrefix());
    return entries.flatMap((entry) => {
      const parsed = keys.parse(entry.key);
      if (parsed?.type !== "shardLock") return [];
      return [{ shardId: parsed.shardId, ...decodeRecord("shard_lock", entry.key, entry.value) }];
    });
  }

  /**
   * Deletes an ended procedure (one that holds no shard lock) if it is still at `expectedRevision`,
   * e.g. to prune old history.
   */
  async delete(procedureId: number, expectedRevision: number): Promise<void> {
    const { kv, keys } = this.#ctx;
    requireInteger("procedureId", procedureId, 0);
    requireInteger("expectedRevision", expectedRevision, 1);
    const key = keys.procedure(procedureId);
    const stored = await this.get(procedureId);
    if (stored === undefined) throw new ProcedureNotFoundError(procedureId);
    const lockKeys = stored.procedure.shardIds.map((shardId) => keys.shardLock(shardId));
    const locks = await kv.read("delete procedure", lockKeys);
    const held = stored.procedure.shardIds.filter(
      (shardId) => recordAt(locks, "shard_lock", keys.shardLock(shardId))?.procedureId === procedureId,
    );
    if (held.length > 0) {
      throw new InvalidMetadataRequestError(
        "procedureId",
        `procedure ${procedureId} has not ended: it still locks shards ${held.join(", ")}`,
      );
    }
    const outcome = await kv.commit(
      "delete procedure",
      [{ key, modRevision: expectedRevision }],
      [{ op: "delete", key }],
      [key],
    );
    if (outcome.succeeded) return;
    const actual = outcome.current.modRevision(key);
    if (actual === 0) throw new ProcedureNotFoundError(procedureId);
    throw new ProcedureConflictError(key, procedureId, expectedRevision, actual);
  }

  #throwIfLocked(snapshot: KvSnapshot, shardIds: readonly number[]): void {
    for (const shardId of shardIds) {
      const key = this.#ctx.keys.shardLock(shardId);
      const holder = recordAt(snapshot, "shard_lock", key);
      if (holder !== undefined) throw new ShardLockedError(key, shardId, holder.procedureId, holder.kind);
    }
  }
}

function validateProcedure(procedure: ProcedureRecord): void {
  requireInteger("id", procedure.id, 0);
  requireName("kind", procedure.kind);
  requireName("state", procedure.state);
  procedure.shardIds.forEach((id, i) => requireInteger(`shardIds[${i}]`, id, 0));
  if (!jsonValueSchema.safeParse(procedure.params).success) {
    throw new InvalidMetadataRequestError("params", "must be a JSON value");
  }
}
