/**
 * Object keys of the engine's data in object storage (design section 4). Keys never depend on which
 * instance wrote them, so any instance can open any table.
 */
export class StorageLayout {
  readonly cluster: string;

  constructor(cluster: string) {
    if (cluster.length === 0 || cluster.includes("/"))
      throw new RangeError(`invalid cluster name "${cluster}"`);
    this.cluster = cluster;
  }

  /** Prefix of every table's objects: `tablePrefix(id)` is this followed by `<id>/`. */
  tablesPrefix(): string {
    return `${this.cluster}/tables/`;
  }

  tablePrefix(tableId: number): string {
    return `${this.tablesPrefix()}${tableId}/`;
  }

  /**
   * The table id whose prefix `key` is under, when that prefix is exactly as `tablePrefix` builds
   * it ("tables/007/..." is not table 7's); undefined for any other key.
   */
  tableIdOf(key: string): number | undefined {
    const root = this.tablesPrefix();
    if (!key.startsWith(root)) return undefined;
    const end = key.indexOf("/", root.length);
    if (end < 0) return undefined;
    const segment = key.slice(root.length, end);
    if (!/^\d{1,15}$/.test(segment)) return undefined;
    const id = Number(segment);
    return this.tablePrefix(id) === key.slice(0, end + 1) ? id : undefined;
  }

  /** The SST file id of `key` when it is exactly `sstKey(tableId, fileId)`; undefined otherwise. */
  sstFileIdOf(tableId: number, key: string): number | undefined {
    const prefix = `${this.tablePrefix(tableId)}sst/`;
    if (!key.startsWith(prefix)) return undefined;
    const match = /^(\d{1,15})\.parquet$/.exec(key.slice(prefix.length));
    if (match === null) return undefined;
    const fileId = Number(match[1]);
    return this.sstKey(tableId, fileId) === key ? fileId : undefined;
  }

  manifestPrefix(tableId: number): string {
    return `${this.tablePrefix(tableId)}manifest/`;
  }

  sstKey(tableId: number, fileId: number): string {
    return `${this.tablePrefix(tableId)}sst/${fileId}.parquet`;
  }

  /** Standalone catalog: one object per table, named by schema and URI-encoded table name. */
  catalogTablesPrefix(): string {
    return `${this.cluster}/catalog/tables/`;
  }

  catalogTableKey(schemaName: string, tableName: string): string {
    return `${this.catalogTablesPrefix()}${encodeURIComponent(schemaName)}/${encodeURIComponent(tableName)}.json`;
  }

  catalogTableIdKey(): string {
    return `${this.cluster}/catalog/next-table-id.json`;
  }
}
