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

  tablePrefix(tableId: number): string {
    return `${this.cluster}/tables/${tableId}/`;
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
