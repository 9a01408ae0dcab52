import { ObjectNotFoundError } from "../object-store/errors.js";
import type { ObjectStore } from "../object-store/object-store.js";
import { decodeEdit, decodeSnapshot } from "./codec.js";
import { ManifestCorruptionError, ManifestDataError } from "./errors.js";
import { editKey, parseManifestKey, snapshotKey } from "./keys.js";
import { applyEdit, checkStateConsistency, type ManifestState } from "./state.js";

/** A manifest read back from object storage. */
export interface LoadedManifest {
  readonly state: ManifestState;
  /** Version of the snapshot the state was built from; 0 when it was built from edits alone. */
  readonly snapshotVersion: number;
}

// A reader racing with the writer's cleanup can find a listed object deleted; it then starts over,
// and the newer snapshot it lists the second time covers what was deleted.
const MAX_LOAD_ATTEMPTS = 5;

/**
 * Rebuilds a table's manifest from the objects under `prefix` (which ends with "/"): the latest
 * snapshot, then the edits after it in version order up to the first missing version. Returns
 * undefined if there is no manifest object at all (the table does not exist).
 *
 * Throws ManifestCorruptionError naming the key if an object cannot be decoded, carries a version
 * other than its key's, or describes an impossible change; an edit that exists beyond a missing
 * version is corruption too, because commits are written strictly in order.
 */
export async function loadManifestState(
  store: ObjectStore,
  prefix: string,
): Promise<LoadedManifest | undefined> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await loadOnce(store, prefix);
    } catch (e) {
      if (!(e instanceof ObjectNotFoundError) || attempt >= MAX_LOAD_ATTEMPTS) throw e;
    }
  }
}

async function loadOnce(store: ObjectStore, prefix: string): Promise<LoadedManifest | undefined> {
  let snapshotVersion = 0;
  const editVersions = new Set<number>();
  for await (const object of store.list(prefix)) {
    const name = parseManifestKey(prefix, object.key);
    if (name === undefined) continue; // not a manifest object (e.g. a store's temporary file)
    if (name.kind === "snapshot") snapshotVersion = Math.max(snapshotVersion, name.version);
    else editVersions.add(name.version);
  }

  let state: ManifestState | undefined;
  if (snapshotVersion > 0) {
    const key = snapshotKey(prefix, snapshotVersion);
    const bytes = await store.get(key);
    state = decodeOrCorrupt(prefix, key, () => {
      const snapshot = decodeSnapshot(bytes, snapshotVersion);
      checkStateConsistency(snapshot);
      return snapshot;
    });
  }

  let next = snapshotVersion + 1;
  while (editVersions.has(next)) {
    const key = editKey(prefix, next);
    const bytes = await store.get(key);
    const base = state;
    const version = next;
    state = decodeOrCorrupt(prefix, key, () => applyEdit(base, decodeEdit(bytes, version)));
    next++;
  }

  const stray = [...editVersions].filter((v) => v > next).sort((a, b) => a - b)[0];
  if (stray !== undefined) {
    throw new ManifestCorruptionError(
      prefix,
      editKey(prefix, stray),
      `edit ${stray} exists but edit ${next} before it is missing`,
    );
  }
  return state === undefined ? undefined : { state, snapshotVersion };
}

function decodeOrCorrupt<T>(prefix: string, key: string, decode: () => T): T {
  try {
    return decode();
  } catch (e) {
    if (e instanceof ManifestDataError)
      throw new ManifestCorruptionError(prefix, key, e.message, { cause: e });
    throw e;
  }
}
