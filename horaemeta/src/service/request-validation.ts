/**
 * Checks of MetaService request fields that the metadata store does not make itself. Each failure is
 * an InvalidRequestError naming the field as the proto spells it.
 */
import { common } from "@horaedb/proto";
import { ClusterMismatchError, InvalidRequestError } from "../errors.js";
import { MAX_PARTITIONS, type JsonObject } from "../metadata/index.js";

/** Table option names (common/v1/schema.proto). Their values are checked by the instances. */
export const TABLE_OPTION_NAMES: readonly string[] = [
  "enable_ttl",
  "ttl",
  "segment_duration",
  "update_mode",
  "write_buffer_size",
  "num_rows_per_row_group",
  "compression",
];

/** Table engines horaemeta places tables for; empty means the default. */
const TABLE_ENGINES: readonly string[] = ["", "Analytic"];

/** Refuses a request for another cluster. An empty cluster name means this horaemeta's cluster. */
export function checkClusterName(clusterName: string | undefined, expected: string): void {
  if (clusterName !== undefined && clusterName !== "" && clusterName !== expected) {
    throw new ClusterMismatchError(expected, clusterName);
  }
}

export function requireNonEmpty(field: string, value: string): string {
  if (value === "") throw new InvalidRequestError(field, "must not be empty");
  return value;
}

export function requirePresent<T>(field: string, value: T | null | undefined): T {
  if (value === null || value === undefined) throw new InvalidRequestError(field, "is required");
  return value;
}

export function checkEngine(engine: string): void {
  if (!TABLE_ENGINES.includes(engine)) {
    throw new InvalidRequestError("engine", `unknown engine ${engine}; the engine is Analytic`);
  }
}

/** Refuses unknown option names (case-insensitive, as in SQL `WITH (...)`). */
export function checkTableOptions(options: Readonly<Record<string, string>>): void {
  for (const name of Object.keys(options)) {
    if (!TABLE_OPTION_NAMES.includes(name.toLowerCase())) {
      throw new InvalidRequestError(
        `options.${name}`,
        `unknown table option; known options are ${TABLE_OPTION_NAMES.join(", ")}`,
      );
    }
  }
}

/**
 * Checks a table schema against the rules of common/v1/schema.proto and returns it as the JSON the
 * table record stores: the proto's TableSchema in its camelCase object form, version at least 1.
 */
export function tableSchemaRecord(schema: common.TableSchema__Output | null): JsonObject {
  const tableSchema = requirePresent("table_schema", schema);
  if (tableSchema.columns.length === 0) {
    throw new InvalidRequestError("table_schema.columns", "must hold at least the timestamp column");
  }
  const names = new Set<string>();
  const columns: JsonObject[] = tableSchema.columns.map((column, i) => {
    const field = `table_schema.columns[${i}]`;
    requireNonEmpty(`${field}.name`, column.name);
    if (names.has(column.name))
      throw new InvalidRequestError(`${field}.name`, `${column.name} appears twice`);
    names.add(column.name);
    if (column.dataType === common.DataType.DATA_TYPE_UNSPECIFIED) {
      throw new InvalidRequestError(`${field}.data_type`, "must be set");
    }
    if (column.isTag) {
      if (column.dataType !== common.DataType.DATA_TYPE_STRING) {
        throw new InvalidRequestError(`${field}.data_type`, `tag ${column.name} must be a STRING column`);
      }
      if (column.isNullable) throw new InvalidRequestError(`${field}.is_nullable`, "a tag is never nullable");
    }
    return {
      name: column.name,
      dataType: column.dataType,
      isTag: column.isTag,
      isNullable: column.isNullable,
      ...(column.defaultExpr === undefined ? {} : { defaultExpr: column.defaultExpr }),
      comment: column.comment,
    };
  });

  const timestampColumn = requireNonEmpty("table_schema.timestamp_column", tableSchema.timestampColumn);
  const timestamp = tableSchema.columns.find((column) => column.name === timestampColumn);
  if (timestamp === undefined) {
    throw new InvalidRequestError("table_schema.timestamp_column", `${timestampColumn} is not a column`);
  }
  if (timestamp.dataType !== common.DataType.DATA_TYPE_TIMESTAMP) {
    throw new InvalidRequestError(
      "table_schema.timestamp_column",
      `${timestampColumn} is not a TIMESTAMP column`,
    );
  }
  if (timestamp.isNullable) {
    throw new InvalidRequestError("table_schema.timestamp_column", `${timestampColumn} must not be nullable`);
  }

  const keyColumns = new Set<string>();
  tableSchema.primaryKeyColumns.forEach((name, i) => {
    const field = `table_schema.primary_key_columns[${i}]`;
    if (!names.has(name)) throw new InvalidRequestError(field, `${name} is not a column`);
    if (keyColumns.has(name)) throw new InvalidRequestError(field, `${name} appears twice`);
    keyColumns.add(name);
  });

  return {
    columns,
    timestampColumn,
    primaryKeyColumns: [...tableSchema.primaryKeyColumns],
    version: Math.max(1, tableSchema.version),
  };
}

/**
 * The name horaemeta gives sub-table `index` of a partitioned table when the request names none:
 * `__<table>_<index>`, HoraeDB's own naming (its partition table prefix `__`, then the table name and
 * the partition's index), so that names a HoraeDB client derives match.
 */
export function defaultSubTableName(tableName: string, index: number): string {
  return `__${tableName}_${index}`;
}

/** A partitioned table's partitioning as the request asks for it, checked. */
export interface RequestedPartitioning {
  readonly keyColumns: readonly string[];
  /** One per partition, in order: the names given, or the default ones. */
  readonly subTableNames: readonly string[];
}

/**
 * Checks `partition_info` of a CreateTable request against the table's schema: 1 to MAX_PARTITIONS
 * partitions, key columns that are distinct TAG columns, and sub-table names (optional) that are one
 * per partition, distinct and not the table's own name.
 */
export function requestedPartitioning(
  info: common.PartitionInfo__Output,
  tableName: string,
  tableSchema: common.TableSchema__Output,
): RequestedPartitioning {
  const count = info.partitionCount;
  if (count < 1) throw new InvalidRequestError("partition_info.partition_count", "must be at least 1");
  if (count > MAX_PARTITIONS) {
    throw new InvalidRequestError(
      "partition_info.partition_count",
      `must be at most ${MAX_PARTITIONS}, got ${count}`,
    );
  }
  if (info.keyColumns.length === 0) {
    throw new InvalidRequestError("partition_info.key_columns", "must name at least one TAG column");
  }
  const seen = new Set<string>();
  info.keyColumns.forEach((name, i) => {
    const field = `partition_info.key_columns[${i}]`;
    const column = tableSchema.columns.find((c) => c.name === name);
    if (column === undefined) throw new InvalidRequestError(field, `${name} is not a column`);
    if (!column.isTag) throw new InvalidRequestError(field, `${name} is not a TAG column`);
    if (seen.has(name)) throw new InvalidRequestError(field, `${name} appears twice`);
    seen.add(name);
  });
  const given = info.subTableNames;
  if (given.length !== 0 && given.length !== count) {
    throw new InvalidRequestError(
      "partition_info.sub_table_names",
      `has ${given.length} names for ${count} partitions (give one per partition, or none)`,
    );
  }
  const names = new Set<string>();
  given.forEach((name, i) => {
    const field = `partition_info.sub_table_names[${i}]`;
    requireNonEmpty(field, name);
    if (name === tableName) throw new InvalidRequestError(field, "must differ from the table's name");
    if (names.has(name)) throw new InvalidRequestError(field, `${name} appears twice`);
    names.add(name);
  });
  return {
    keyColumns: [...info.keyColumns],
    subTableNames:
      given.length === 0
        ? Array.from({ length: count }, (_, i) => defaultSubTableName(tableName, i))
        : [...given],
  };
}
