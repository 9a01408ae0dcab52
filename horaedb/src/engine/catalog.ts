import { CHECKSUM_FIELD, checkJsonTrailer, sealJson } from "../manifest/checksum.js";
import { ObjectNotFoundError } from "../object-store/errors.js";
import type { ObjectStore } from "../object-store/object-store.js";
import { SerialQueue } from "../util/serial.js";
import type { StorageLayout } from "./layout.js";

/** A table as the catalog knows it: where it lives and what it was created with. */
export interface CatalogTable {
  readonly id: number;
  readonly schemaName: string;
  readonly name: string;
  readonly shardId: number;
  readonly createdAt: number;
}

/** The catalog is unreadable: a table entry or the id counter could not be parsed. */
export class CatalogCorruptionError extends Error {
  override readonly name = "CatalogCorruptionError";
  readonly key: string;

  constructor(key: string, reason: string) {
    super(`catalog object ${key} is corrupt: ${reason}`);
    this.key = key;
  }
}

const MAX_NAME_LENGTH = 255;

/** Checks a schema or table name; returns a message naming the problem, or undefined if valid. */
export function invalidNameReason(kind: "schema" | "table", name: string): string | undefined {
  if (name.length === 0) return `${kind} name is empty`;
  if (name.length > MAX_NAME_LENGTH) return `${kind} name is longer than ${MAX_NAME_LENGTH} characters`;
  // eslint-disable-next-line no-control-regex -- rejecting control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(name))
    return `${kind} name ${JSON.stringify(name)} has control characters`;
  return undefined;
}

/**
 * The standalone table catalog: one JSON object per table in object storage, plus a table id
 * high-water mark so that ids of dropped tables are never reused (their objects may still be being
 * deleted). In a cluster, horaemeta plays this role.
 *
 * Creating a table is: `allocateId()`, create the table's manifest, `add()`. A crash between the
 * steps leaves at most an orphaned manifest under an id that is never handed out again.
 *
 * Every catalog object (table entry and id counter) is sealed with the CRC32C trailer described in
 * `manifest/checksum.ts`: the JSON text with its closing brace replaced by `,"crc32c":"hhhhhhhh"}`,
 * hhhhhhhh being the CRC32C of the bytes before the trailer. Loading verifies it before parsing; a
 * mismatch is a CatalogCorruptionError saying "checksum mismatch". Objects written before
 * checksums (no trailer) are still accepted if they hold only the fields of their kind, so that a
 * damaged trailer cannot make a new object pass for an old one.
 */
export class StandaloneCatalog {
  readonly #store: ObjectStore;
  readonly #layout: StorageLayout;
  readonly #tables = new Map<string, CatalogTable>();
  #nextId = 1;
  readonly #writes = new SerialQueue();

  private constructor(store: ObjectStore, layout: StorageLayout) {
    this.#store = store;
    this.#layout = layout;
  }

  static async load(store: ObjectStore, layout: StorageLayout): Promise<StandaloneCatalog> {
    const catalog = new StandaloneCatalog(store, layout);
    for await (const meta of store.list(layout.catalogTablesPrefix())) {
      const entry = parseEntry(meta.key, await store.get(meta.key));
      catalog.#tables.set(qualified(entry.schemaName, entry.name), entry);
      catalog.#nextId = Math.max(catalog.#nextId, entry.id + 1);
    }
    try {
      const key = layout.catalogTableIdKey();
      const raw = parseChecked(key, await store.get(key), ["nextId"]);
      if (typeof raw.nextId !== "number" || !Number.isSafeInteger(raw.nextId)) {
        throw new CatalogCorruptionError(key, "nextId is not an integer");
      }
      catalog.#nextId = Math.max(catalog.#nextId, raw.nextId);
    } catch (error) {
      if (!(error instanceof ObjectNotFoundError)) throw error;
    }
    return catalog;
  }

  list(): CatalogTable[] {
    return [...this.#tables.values()].sort((a, b) => a.id - b.id);
  }

  get(schemaName: string, name: string): CatalogTable | undefined {
    return this.#tables.get(qualified(schemaName, name));
  }

  /** Hands out a table id that was never used, durably (a crash may waste an id, never reuse one). */
  allocateId(): Promise<number> {
    return this.#writes.run(async () => {
      const id = this.#nextId;
      await this.#store.put(this.#layout.catalogTableIdKey(), json({ nextId: id + 1 }));
      this.#nextId = id + 1;
      return id;
    });
  }

  /** Ids below this were handed out (to live, dropped or never-finished tables). */
  get nextId(): number {
    return this.#nextId;
  }

  /** Records a table; the entry is durable when this resolves. */
  add(entry: Omit<CatalogTable, "createdAt">): Promise<CatalogTable> {
    return this.#writes.run(async () => {
      const existing = this.get(entry.schemaName, entry.name);
      if (existing !== undefined)
        throw new RangeError(`table ${entry.schemaName}.${entry.name} is already in the catalog`);
      const full: CatalogTable = { ...entry, createdAt: Date.now() };
      await this.#store.put(this.#layout.catalogTableKey(entry.schemaName, entry.name), json(full));
      this.#tables.set(qualified(entry.schemaName, entry.name), full);
      return full;
    });
  }

  /** Removes the table from the catalog; its data objects are the caller's to delete. */
  drop(schemaName: string, name: string): Promise<CatalogTable | undefined> {
    return this.#writes.run(async () => {
      const entry = this.get(schemaName, name);
      if (entry === undefined) return undefined;
      await this.#store.delete(this.#layout.catalogTableKey(schemaName, name));
      this.#tables.delete(qualified(schemaName, name));
      return entry;
    });
  }
}

function qualified(schemaName: string, name: string): string {
  return `${schemaName}\u0000${name}`;
}

/** The object's JSON with its checksum trailer. */
function json(value: object): Uint8Array {
  return sealJson(JSON.stringify(value));
}

const ENTRY_FIELDS: readonly string[] = ["id", "schemaName", "name", "shardId", "createdAt"];

/**
 * Verifies the checksum trailer, then parses the object. An object without a trailer was written
 * before checksums and is accepted only if every field is one of `fields`.
 */
function parseChecked(key: string, bytes: Uint8Array, fields: readonly string[]): Record<string, unknown> {
  const trailer = checkJsonTrailer(bytes);
  if (trailer.status === "mismatch") throw new CatalogCorruptionError(key, trailer.reason);
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (error) {
    throw new CatalogCorruptionError(key, error instanceof Error ? error.message : String(error));
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new CatalogCorruptionError(key, "not a JSON object");
  }
  const object = raw as Record<string, unknown>;
  if (trailer.status === "absent") {
    const unknown = Object.keys(object).find((field) => !fields.includes(field));
    if (unknown !== undefined) {
      const reason =
        unknown === CHECKSUM_FIELD
          ? `no well-formed checksum trailer but a ${CHECKSUM_FIELD} field (checksum damaged)`
          : `unknown field ${JSON.stringify(unknown)} and no checksum`;
      throw new CatalogCorruptionError(key, reason);
    }
  }
  return object;
}

function parseEntry(key: string, bytes: Uint8Array): CatalogTable {
  const entry = parseChecked(key, bytes, ENTRY_FIELDS);
  if (
    typeof entry.id !== "number" ||
    typeof entry.schemaName !== "string" ||
    typeof entry.name !== "string" ||
    typeof entry.shardId !== "number" ||
    typeof entry.createdAt !== "number"
  ) {
    throw new CatalogCorruptionError(key, "missing or mistyped fields");
  }
  return {
    id: entry.id,
    schemaName: entry.schemaName,
    name: entry.name,
    shardId: entry.shardId,
    createdAt: entry.createdAt,
  };
}
