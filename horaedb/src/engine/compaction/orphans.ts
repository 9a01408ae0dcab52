import type { ManifestState } from "../../manifest/index.js";
import type { ObjectStore } from "../../object-store/object-store.js";
import type { StorageLayout } from "../layout.js";

/**
 * Deletes the SST objects of a table that its manifest does not list: files a compaction removed
 * but the process died before deleting (or while a scan still read them), and files a flush or a
 * compaction wrote but died before committing. Only file ids below the manifest's `nextFileId` are
 * touched: those were allocated by a committed edit, so whatever wrote them has either committed
 * (and the manifest lists them) or never will. Ids at or above it might belong to a writer that
 * allocated them after `state` was read; objects whose names are not SST names are left alone.
 *
 * Run it when the table is opened, before any flush or compaction of it can start.
 * Returns the keys deleted.
 */
export async function removeOrphanSsts(
  store: ObjectStore,
  layout: StorageLayout,
  tableId: number,
  state: Pick<ManifestState, "ssts" | "nextFileId">,
): Promise<string[]> {
  const prefix = `${layout.tablePrefix(tableId)}sst/`;
  const orphans: string[] = [];
  for await (const object of store.list(prefix)) {
    // Only keys exactly as the layout builds them: "007.parquet" is not file 7's object.
    const fileId = layout.sstFileIdOf(tableId, object.key);
    if (fileId === undefined) continue;
    if (fileId < state.nextFileId && !state.ssts.has(fileId)) orphans.push(object.key);
  }
  for (const key of orphans) await store.delete(key);
  return orphans;
}
