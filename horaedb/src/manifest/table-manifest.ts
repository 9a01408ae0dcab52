import { InvalidObjectKeyError, ObjectExistsError } from "../object-store/errors.js";
import type { ObjectStore } from "../object-store/object-store.js";
import { parseTableOptions, type TableOptions } from "../table/options.js";
import type { TableSchemaJson } from "../table/schema.js";
import { decodeEdit, encodeEdit, encodeSnapshot } from "./codec.js";
import { ManifestOp, type ManifestEdit } from "./edit.js";
import {
  ManifestConflictError,
  ManifestCorruptionError,
  ManifestDataError,
  ManifestEditError,
  ManifestWriteError,
} from "./errors.js";
import { editKey, normalizeManifestPrefix, parseManifestKey, snapshotKey } from "./keys.js";
import { loadManifestState } from "./load.js";
import { applyEdit, type ManifestState } from "./state.js";

export const DEFAULT_SNAPSHOT_EVERY = 20;

export interface TableManifestOptions {
  /** Write a snapshot once this many edits follow the latest one (default 20). */
  readonly snapshotEvery?: number;
  /**
   * Called when writing a snapshot after a commit, or removing what it covers, fails. The commit
   * itself stands; the snapshot is tried again after the next commit. Default: ignore.
   */
  readonly onSnapshotError?: (error: unknown) => void;
}

/** What a new table's manifest starts with (version 1). */
export interface NewTableManifest {
  readonly schema: TableSchemaJson;
  /** Options by HoraeDB name, e.g. `formatTableOptions(options)`; absent names take their defaults. */
  readonly options: Readonly<Record<string, string>>;
  /**
   * Flushed sequence to start from (default -1: nothing flushed). A table created while its shard's
   * WAL is at sequence s has no rows at or below s - 1, so it can start there and not hold back WAL
   * truncation until its first flush.
   */
  readonly flushedSequence?: number;
}

/**
 * The manifest of one table: its SST files, flushed WAL sequence, schema and options, kept in object
 * storage under `<cluster>/tables/<tableId>/manifest/` as a snapshot plus ordered edits, and held in
 * memory. The state can be rebuilt from object storage alone (`load`).
 *
 * One instance is the table's only writer (the shard lease fences others); its commits, snapshots
 * and refreshes run one at a time. A commit is durable once it returns.
 */
export class TableManifest {
  readonly prefix: string;
  readonly #store: ObjectStore;
  readonly #snapshotEvery: number;
  readonly #onSnapshotError: (error: unknown) => void;
  #state: ManifestState;
  #snapshotVersion: number;
  /** Set after a write with an unknown outcome: storage may be ahead of memory. */
  #mustReload = false;
  #tail: Promise<unknown> = Promise.resolve();

  private constructor(
    store: ObjectStore,
    prefix: string,
    state: ManifestState,
    snapshotVersion: number,
    options: TableManifestOptions,
  ) {
    const snapshotEvery = options.snapshotEvery ?? DEFAULT_SNAPSHOT_EVERY;
    if (!Number.isSafeInteger(snapshotEvery) || snapshotEvery < 1) {
      throw new RangeError(`snapshotEvery must be a positive integer, got ${snapshotEvery}`);
    }
    this.#store = store;
    this.prefix = prefix;
    this.#state = state;
    this.#snapshotVersion = snapshotVersion;
    this.#snapshotEvery = snapshotEvery;
    this.#onSnapshotError = options.onSnapshotError ?? (() => {});
  }

  /**
   * Reads the manifest under `prefix` (`<cluster>/tables/<tableId>/manifest/`) from object storage.
   * Returns undefined if there is no manifest object: the table was never created. Throws
   * ManifestCorruptionError naming the key of an unreadable object.
   */
  static async load(
    store: ObjectStore,
    prefix: string,
    options: TableManifestOptions = {},
  ): Promise<TableManifest | undefined> {
    const normalized = normalizeManifestPrefix(prefix);
    const loaded = await loadManifestState(store, normalized);
    if (loaded === undefined) return undefined;
    return new TableManifest(store, normalized, loaded.state, loaded.snapshotVersion, options);
  }

  /**
   * Creates the manifest of a new table by committing version 1 (schema, options, flushed sequence).
   * Throws ManifestConflictError if a manifest already exists under `prefix`.
   */
  static async create(
    store: ObjectStore,
    prefix: string,
    init: NewTableManifest,
    options: TableManifestOptions = {},
  ): Promise<TableManifest> {
    const normalized = normalizeManifestPrefix(prefix);
    for await (const object of store.list(normalized)) {
      if (parseManifestKey(normalized, object.key) !== undefined) {
        throw new ManifestConflictError(normalized, object.key, 1, "the table's manifest already exists");
      }
    }
    const edit: ManifestOp[] = [ManifestOp.alterSchema(init.schema), ManifestOp.alterOptions(init.options)];
    if (init.flushedSequence !== undefined) edit.push(ManifestOp.setFlushedSequence(init.flushedSequence));
    const { bytes, state } = prepareEdit(normalized, undefined, edit);
    await writeEdit(store, normalized, 1, bytes);
    return new TableManifest(store, normalized, state, 0, options);
  }

  /** The committed state. Immutable; each commit replaces it. */
  get state(): ManifestState {
    return this.#state;
  }

  get version(): number {
    return this.#state.version;
  }

  /** The table options parsed from `state.options`, with defaults for absent names. */
  get tableOptions(): TableOptions {
    return parseTableOptions(this.#state.options);
  }

  /**
   * Commits one edit atomically: validates it against the current state (ManifestEditError, nothing
   * written), writes it as the next version's edit object unless that object exists
   * (ManifestConflictError, state unchanged), then applies it in memory and returns the new state.
   * Every `snapshotEvery` edits it then writes a snapshot and removes the objects it covers.
   *
   * Any other error (ManifestWriteError, or an object store error) leaves the state in memory
   * unchanged; after a ManifestWriteError the edit may nevertheless be durable (see there).
   *
   * `onApplied` runs synchronously the moment the new state is installed, before anything else can
   * observe it (a snapshot write may still follow): callers use it to retire what the edit replaces.
   */
  commit(edit: ManifestEdit, onApplied?: (state: ManifestState) => void): Promise<ManifestState> {
    return this.#exclusive(async () => {
      if (this.#mustReload) await this.#reload();
      if (edit.length === 0) {
        throw new ManifestEditError(this.prefix, "ops", "an edit needs at least one operation");
      }
      const version = this.#state.version + 1;
      const { bytes, state } = prepareEdit(this.prefix, this.#state, edit);
      try {
        await writeEdit(this.#store, this.prefix, version, bytes);
      } catch (e) {
        if (e instanceof ManifestWriteError) this.#mustReload = true;
        throw e;
      }
      this.#state = state;
      onApplied?.(state);
      if (state.version - this.#snapshotVersion >= this.#snapshotEvery) {
        try {
          await this.#writeSnapshot();
        } catch (e) {
          this.#onSnapshotError(e);
        }
      }
      return state;
    });
  }

  /** Reserves `count` new file ids and returns the first: the ids are [first, first + count). */
  async allocateFileIds(count: number): Promise<number> {
    const state = await this.commit([ManifestOp.allocateFileIds(count)]);
    return state.nextFileId - count;
  }

  /** Writes a snapshot of the current state now (if none exists at this version) and cleans up. */
  snapshot(): Promise<void> {
    return this.#exclusive(async () => {
      if (this.#mustReload) await this.#reload();
      await this.#writeSnapshot();
    });
  }

  /**
   * Re-reads the state from object storage, e.g. on a follower tailing the leader's commits or after
   * a ManifestConflictError. Returns the new state.
   */
  refresh(): Promise<ManifestState> {
    return this.#exclusive(async () => {
      await this.#reload();
      return this.#state;
    });
  }

  async #reload(): Promise<void> {
    const loaded = await loadManifestState(this.#store, this.prefix);
    const committed = this.#state.version;
    if (loaded === undefined || loaded.state.version < committed) {
      const found = loaded === undefined ? "no manifest" : `version ${loaded.state.version}`;
      throw new ManifestCorruptionError(
        this.prefix,
        editKey(this.prefix, committed),
        `version ${committed} was committed but object storage holds ${found}`,
      );
    }
    this.#state = loaded.state;
    this.#snapshotVersion = loaded.snapshotVersion;
    this.#mustReload = false;
  }

  /**
   * Snapshot protocol, safe to stop after any step: (1) put the snapshot of version v, which is
   * atomic, so it exists only complete; (2) delete the edits up to v, oldest first; (3) delete older
   * snapshots. Until (1) the previous snapshot and all later edits are intact; from (1) on the new
   * snapshot alone reproduces v, and leftovers of an interrupted cleanup go with the next snapshot.
   */
  async #writeSnapshot(): Promise<void> {
    const state = this.#state;
    if (state.version === this.#snapshotVersion) return;
    await this.#store.put(snapshotKey(this.prefix, state.version), encodeSnapshot(state));
    this.#snapshotVersion = state.version;

    const coveredEdits: string[] = [];
    const olderSnapshots: string[] = [];
    for await (const object of this.#store.list(this.prefix)) {
      const name = parseManifestKey(this.prefix, object.key);
      if (name === undefined) continue;
      if (name.kind === "edit" && name.version <= state.version) coveredEdits.push(object.key);
      if (name.kind === "snapshot" && name.version < state.version) olderSnapshots.push(object.key);
    }
    // The listing is in key order, which is version order: oldest first.
    for (const key of coveredEdits) await this.#store.delete(key);
    for (const key of olderSnapshots) await this.#store.delete(key);
  }

  #exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(task);
    this.#tail = run.catch(() => undefined);
    return run;
  }
}

/**
 * Encodes an edit and applies the decoded copy to `base`, so that the state in memory is exactly what
 * a later load rebuilds from the object. Rule violations become ManifestEditError.
 */
function prepareEdit(
  prefix: string,
  base: ManifestState | undefined,
  edit: ManifestEdit,
): { bytes: Uint8Array; state: ManifestState } {
  const version = (base?.version ?? 0) + 1;
  try {
    const bytes = encodeEdit(version, edit);
    return { bytes, state: applyEdit(base, decodeEdit(bytes, version)) };
  } catch (e) {
    if (e instanceof ManifestDataError) throw new ManifestEditError(prefix, e.path, e.reason, { cause: e });
    throw e;
  }
}

/**
 * Writes the edit object of `version` unless it exists. The head() check covers stores that do not
 * enforce conditional puts; `ifNotExists` covers the race between head() and put().
 */
async function writeEdit(
  store: ObjectStore,
  prefix: string,
  version: number,
  bytes: Uint8Array,
): Promise<void> {
  const key = editKey(prefix, version);
  if ((await store.head(key)) !== undefined) {
    throw new ManifestConflictError(prefix, key, version, "another writer committed this version");
  }
  try {
    await store.put(key, bytes, { ifNotExists: true });
  } catch (e) {
    if (e instanceof ObjectExistsError) {
      throw new ManifestConflictError(prefix, key, version, "another writer committed this version");
    }
    // A key the store refuses was certainly not written.
    if (e instanceof InvalidObjectKeyError) throw e;
    throw new ManifestWriteError(prefix, key, version, e);
  }
}
