/** Schemas (databases): name -> id. */
import { decodeRecord, encodeRecord } from "./codec.js";
import { recordAt, type StoreContext } from "./context.js";
import { MetadataCorruptionError } from "./errors.js";
import type { SchemaRecord } from "./records.js";
import { requireName } from "./validation.js";

export interface CreateSchemaResult {
  readonly schema: SchemaRecord;
  /** false: the schema existed (possibly created by a concurrent request) and is returned as is. */
  readonly created: boolean;
}

export class SchemaStore {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  /**
   * Creates the schema unless it exists; idempotent by name: every caller, concurrent or repeated,
   * gets the same id. An id allocated by a request that lost the race is skipped, not reused.
   */
  async create(name: string): Promise<CreateSchemaResult> {
    const { kv, keys, ids, now } = this.#ctx;
    const operation = "create schema";
    requireName("schemaName", name);
    const key = keys.schema(name);
    const existing = recordAt(await kv.read(operation, [key]), "schema", key);
    if (existing !== undefined) return { schema: existing, created: false };

    const schema: SchemaRecord = { id: await ids.next("schema"), name, createdAtMs: now() };
    const outcome = await kv.commit(
      operation,
      [{ key, modRevision: 0 }],
      [{ op: "put", key, value: encodeRecord("schema", schema) }],
      [key],
    );
    if (outcome.succeeded) return { schema, created: true };
    const winner = recordAt(outcome.current, "schema", key);
    // Schemas are never deleted, so a failed "absent" guard means the key exists now.
    if (winner === undefined) throw new MetadataCorruptionError(key, "schema vanished during its creation");
    return { schema: winner, created: false };
  }

  /** The schema of that name, or undefined. */
  async get(name: string): Promise<SchemaRecord | undefined> {
    requireName("schemaName", name);
    const key = this.#ctx.keys.schema(name);
    return recordAt(await this.#ctx.kv.read("get schema", [key]), "schema", key);
  }

  /** Every schema, by name. */
  async list(): Promise<SchemaRecord[]> {
    const { entries } = await this.#ctx.kv.readPrefix("list schemas", this.#ctx.keys.schemasPrefix());
    return entries.map((entry) => decodeRecord("schema", entry.key, entry.value));
  }
}
