/**
 * Persisted procedures, each guarded by its etcd mod revision: a writer states the revision it read
 * (0: the procedure must not exist yet), so two horaemeta leaders for an instant cannot both advance
 * the same procedure.
 */
import { decodeRecord, encodeRecord, jsonValueSchema } from "./codec.js";
import { recordAt, type StoreContext } from "./context.js";
import { InvalidMetadataRequestError, ProcedureConflictError, ProcedureNotFoundError } from "./errors.js";
import type { JsonValue, ProcedureRecord } from "./records.js";
import { requireInteger, requireName } from "./validation.js";

/** A procedure and the mod revision to quote when writing it next. */
export interface StoredProcedure {
  readonly procedure: ProcedureRecord;
  readonly revision: number;
}

export interface CreateProcedureRequest {
  readonly kind: string;
  readonly state: string;
  readonly shardIds: readonly number[];
  readonly params: JsonValue;
}

export class ProcedureStore {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  /** Stores a new procedure under a fresh id, its history starting with its initial state. */
  async create(request: CreateProcedureRequest): Promise<StoredProcedure> {
    const { ids, now } = this.#ctx;
    const at = now();
    const procedure: ProcedureRecord = {
      id: await ids.next("procedure"),
      kind: request.kind,
      state: request.state,
      shardIds: [...request.shardIds],
      params: request.params,
      history: [{ state: request.state, atMs: at }],
      createdAtMs: at,
      updatedAtMs: at,
    };
    return this.put(procedure, 0);
  }

  /**
   * Writes `procedure` if it is still at `expectedRevision` (0: if it does not exist). Fails with
   * ProcedureConflictError, carrying the actual revision, otherwise.
   */
  async put(procedure: ProcedureRecord, expectedRevision: number): Promise<StoredProcedure> {
    const { kv, keys } = this.#ctx;
    validateProcedure(procedure);
    requireInteger("expectedRevision", expectedRevision, 0);
    const key = keys.procedure(procedure.id);
    const outcome = await kv.commit(
      "put procedure",
      [{ key, modRevision: expectedRevision }],
      [{ op: "put", key, value: encodeRecord("procedure", procedure) }],
      [key],
    );
    if (outcome.succeeded) return { procedure, revision: outcome.revision };
    throw new ProcedureConflictError(key, procedure.id, expectedRevision, outcome.current.modRevision(key));
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

  /** Deletes the procedure if it is still at `expectedRevision`. */
  async delete(procedureId: number, expectedRevision: number): Promise<void> {
    const { kv, keys } = this.#ctx;
    requireInteger("procedureId", procedureId, 0);
    requireInteger("expectedRevision", expectedRevision, 1);
    const key = keys.procedure(procedureId);
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
