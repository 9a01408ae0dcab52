import type { Column } from "../batch/column.js";
import { alignToSchema, type ColumnBatch } from "../batch/column-batch.js";
import { concatColumns } from "../sst/column-concat.js";
import { DecodedColumnCache, estimatedDecodedBytes } from "../sst/decoded-cache.js";
import { decodedRowGroups } from "../sst/decoded-form.js";
import type { SstMeta } from "../sst/sst-meta.js";
import type { EventLoopTurns } from "../sst/writer.js";
import type { SstFileEntry } from "../manifest/index.js";
import type { TableSchema } from "../table/schema.js";

/**
 * Puts the rows of SSTs a flush or a compaction writes in the decoded column cache, cut into the
 * files' row groups and laid out as a read decodes them (sst/decoded-form.ts): queries over fresh
 * data then decode nothing, and nothing decodes the new files to fill the cache. Like RocksDB's
 * `prepopulate_block_cache`, but for decoded columns, and without reading the files back.
 *
 * The writer hands each file's rows over before the encoder may take its arrays (`addColumn` or
 * `addBatches`, which copy them), and the whole lot goes in once the files are committed
 * (`commit`): a file that never makes it into the manifest takes no room in the cache. Only the
 * newest files go in, as many as the cache can hold by the estimate of their decoded size: recent
 * data is the most read, and a large write does not push everything else out only to push out its
 * own first files.
 */
export class DecodedCacheFill {
  readonly #cache: DecodedColumnCache;
  readonly #rowsPerGroup: number;
  readonly #firstCached: number;
  /** Per file index: its row groups' columns, by name. */
  readonly #files = new Map<number, Array<Map<string, Column>>>();

  /**
   * `fileRows`: the row count of every file to be written, oldest data first; `columns`: how many
   * columns each has; `rowsPerGroup`: the files' row group size.
   */
  constructor(cache: DecodedColumnCache, fileRows: readonly number[], columns: number, rowsPerGroup: number) {
    this.#cache = cache;
    this.#rowsPerGroup = rowsPerGroup;
    this.#firstCached = firstFitting(fileRows, columns, cache.capacityBytes);
  }

  /** Whether file `index` goes in the cache (the add methods ignore the rows of any other). */
  wants(index: number): boolean {
    return index >= this.#firstCached;
  }

  /** Copies one column of file `index`'s rows (all of them, in file order), if the file goes in. */
  addColumn(index: number, name: string, column: Column, numRows: number): void {
    if (!this.wants(index)) return;
    let groups = this.#files.get(index);
    if (groups === undefined) this.#files.set(index, (groups = []));
    const fileGroups = groups;
    decodedRowGroups(column, numRows, this.#rowsPerGroup).forEach((group, g) => {
      let byName = fileGroups[g];
      if (byName === undefined) fileGroups[g] = byName = new Map<string, Column>();
      byName.set(name, group);
    });
  }

  /**
   * Copies file `index`'s rows, given as batches in file order, if the file goes in. Like the SST
   * writer, takes the schema's columns, a column a batch lacks being nulls.
   */
  async addBatches(
    index: number,
    schema: TableSchema,
    batches: readonly ColumnBatch[],
    turns: EventLoopTurns,
  ): Promise<void> {
    if (!this.wants(index)) return;
    const aligned = batches.filter((b) => b.numRows > 0).map((b) => alignToSchema(b, schema));
    const numRows = aligned.reduce((sum, b) => sum + b.numRows, 0);
    for (const [c, declared] of schema.columns.entries()) {
      const parts = aligned.map((b) => b.columns[c] as Column);
      const column = parts.length === 1 ? (parts[0] as Column) : concatColumns(declared.type, parts);
      this.addColumn(index, declared.name, column, numRows);
      // A large file takes a while to copy; let writes and queries run in between.
      await turns.maybe();
    }
  }

  /**
   * Puts the rows added in the cache, under the files as committed (`files[i]` is file index i).
   * A file whose row groups are not the ones the rows were cut into is left out.
   */
  commit(files: readonly SstFileEntry[]): void {
    for (const [index, groups] of this.#files) {
      const file = files[index];
      if (file === undefined) continue;
      const meta = file.meta as SstMeta;
      if (!sameRowGroups(groups, meta)) continue;
      const fileId = DecodedColumnCache.fileId(file.key, meta.crc32c);
      groups.forEach((columns, g) => this.#cache.putColumns(fileId, g, columns));
    }
    this.#files.clear();
  }
}

/** Whether every group holds every column of the file, with as many rows as the file's group. */
function sameRowGroups(groups: ReadonlyArray<ReadonlyMap<string, Column>>, meta: SstMeta): boolean {
  if (groups.length !== meta.rowGroups.length) return false;
  return meta.rowGroups.every((group, g) => {
    const columns = groups[g];
    if (columns === undefined || columns.size !== meta.columns.length) return false;
    for (const column of columns.values()) if (column.values.length !== group.numRows) return false;
    return true;
  });
}

/** The first of the files (oldest first) from which on all of them fit in `capacityBytes`. */
function firstFitting(fileRows: readonly number[], columns: number, capacityBytes: number): number {
  let bytes = 0;
  for (let i = fileRows.length - 1; i >= 0; i--) {
    bytes += estimatedDecodedBytes(fileRows[i] as number, columns);
    if (bytes > capacityBytes) return i + 1;
  }
  return 0;
}
