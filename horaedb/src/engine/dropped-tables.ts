/**
 * Deleting, when the engine opens, the objects of tables that no longer exist.
 *
 * Dropping a table removes its catalog entry first and deletes its objects afterwards, in the
 * background; a crash in between leaves the objects with nothing pointing at them. Creating a
 * table is `allocateId`, write the manifest, add the catalog entry; a crash before the entry
 * leaves a manifest under an id that is never handed out again. In both cases the table id is
 * below the catalog's id high-water mark and the catalog does not list it: such a table can never
 * come back (ids are never reused), so its objects are garbage.
 */
import type { Logger } from "pino";
import { editKey, snapshotKey } from "../manifest/index.js";
import { parseManifestKey } from "../manifest/keys.js";
import type { ObjectStore } from "../object-store/object-store.js";
import type { StorageLayout } from "./layout.js";

/** What the cleanup needs of the catalog: the ids it lists and its id high-water mark. */
export interface TableIdCatalog {
  /** Ids below this have been handed out (to live, dropped or never-finished tables). */
  readonly nextId: number;
  list(): ReadonlyArray<{ readonly id: number }>;
}

export interface DroppedTablesCleanup {
  /** Ids of the tables whose objects were deleted, ascending. */
  readonly tables: readonly number[];
  /** Keys deleted. */
  readonly deleted: readonly string[];
  /**
   * Keys under a dropped table's prefix that are not objects the layout or the manifest names
   * (left alone: something else wrote them).
   */
  readonly unrecognized: readonly string[];
}

/**
 * Deletes the objects of every table id below `catalog.nextId` that the catalog does not list: its
 * SSTs (keys exactly `layout.sstKey(id, fileId)`) and then its manifest objects (exactly the edit
 * and snapshot keys under `layout.manifestPrefix(id)`). Keys outside `layout.tablesPrefix()`, under
 * a prefix that is not exactly `layout.tablePrefix(id)` ("tables/007/"), of ids at or above the
 * high-water mark, or not named as the layout names them, are never touched.
 *
 * Run it at open, after the catalog is loaded and before any table is created: a create in
 * progress holds an id below the high-water mark that the catalog does not list yet.
 * A failure to delete an object propagates; whatever is left is retried at the next open.
 */
export async function removeDroppedTables(
  store: ObjectStore,
  layout: StorageLayout,
  catalog: TableIdCatalog,
  logger?: Logger,
): Promise<DroppedTablesCleanup> {
  const live = new Set(catalog.list().map((t) => t.id));
  const highWater = catalog.nextId;
  const found = new Map<number, { ssts: string[]; manifest: string[]; unrecognized: string[] }>();
  for await (const object of store.list(layout.tablesPrefix())) {
    const id = layout.tableIdOf(object.key);
    if (id === undefined || id >= highWater || live.has(id)) continue;
    let keys = found.get(id);
    if (keys === undefined) {
      keys = { ssts: [], manifest: [], unrecognized: [] };
      found.set(id, keys);
    }
    if (layout.sstFileIdOf(id, object.key) !== undefined) keys.ssts.push(object.key);
    else if (isManifestObject(layout.manifestPrefix(id), object.key)) keys.manifest.push(object.key);
    else keys.unrecognized.push(object.key);
  }

  const tables: number[] = [];
  const deleted: string[] = [];
  const unrecognized: string[] = [];
  for (const id of [...found.keys()].sort((a, b) => a - b)) {
    const keys = found.get(id) as { ssts: string[]; manifest: string[]; unrecognized: string[] };
    unrecognized.push(...keys.unrecognized);
    // Data first, manifest last: a table interrupted half way still shows what it was.
    const owned = [...keys.ssts, ...keys.manifest];
    if (owned.length > 0) {
      tables.push(id);
      for (const key of owned) {
        await store.delete(key);
        deleted.push(key);
      }
      logger?.info(
        { tableId: id, ssts: keys.ssts.length, manifestObjects: keys.manifest.length },
        "deleted the objects of a dropped table",
      );
    }
    if (keys.unrecognized.length > 0) {
      logger?.warn(
        { tableId: id, keys: keys.unrecognized.slice(0, 10), count: keys.unrecognized.length },
        "left objects under a dropped table's prefix that the layout does not name",
      );
    }
  }
  return { tables, deleted, unrecognized };
}

/** An edit or snapshot object named exactly as the manifest names it under `prefix`. */
function isManifestObject(prefix: string, key: string): boolean {
  const name = parseManifestKey(prefix, key);
  if (name === undefined) return false;
  const exact = name.kind === "edit" ? editKey(prefix, name.version) : snapshotKey(prefix, name.version);
  return exact === key;
}
