import { alignToSchema, type ColumnBatch } from "../batch/column-batch.js";
import type { Column } from "../batch/column.js";
import { DataType, MAX_TIMESTAMP_MS, MIN_TIMESTAMP_MS } from "../table/data-type.js";
import { SchemaError } from "../table/errors.js";
import { TableSchema, TSID_COLUMN, type ColumnSchemaInput } from "../table/schema.js";
import { computeTsids } from "../table/tsid.js";
import { WriteError } from "./errors.js";

/** Rows of one table as a write request carries them: typed columns plus the role of each. */
export interface WriteRows {
  readonly batch: ColumnBatch;
  /** Columns of the batch that are TAGs (used when creating the table or adding columns). */
  readonly tagNames: ReadonlySet<string>;
  readonly timestampColumn: string;
}

export interface WritePolicy {
  /** Create the table from the first write's columns. */
  readonly autoCreateTable: boolean;
  /** Add columns a write carries that the table does not have. */
  readonly autoAddColumns: boolean;
}

export interface PreparedWrite {
  /** The schema the rows conform to: the table's, or a new version with added columns. */
  readonly schema: TableSchema;
  /** True when `schema` is new (table created or columns added) and must be persisted first. */
  readonly schemaChanged: boolean;
  /** The rows laid out in schema order, defaults and nulls filled, tsid computed. */
  readonly batch: ColumnBatch;
}

/**
 * Checks rows against the table's schema (or infers one for a new table) without changing anything.
 * Every problem is a WriteError naming the table and the column.
 */
export function prepareWrite(
  table: string,
  current: TableSchema | undefined,
  rows: WriteRows,
  policy: WritePolicy,
): PreparedWrite {
  const { batch } = rows;
  const invalid = (message: string, column?: string) =>
    new WriteError("invalid_argument", table, message, column);
  if (batch.numRows === 0) throw invalid("a write must carry at least one row");
  checkDistinctNames(batch, invalid);
  const tsIndex = batch.names.indexOf(rows.timestampColumn);
  if (tsIndex < 0)
    throw invalid(`timestamp column "${rows.timestampColumn}" is missing`, rows.timestampColumn);
  checkTimestamps(batch.columns[tsIndex] as Column, batch.numRows, rows.timestampColumn, invalid);

  let schema = current;
  let schemaChanged = false;
  try {
    if (schema === undefined) {
      if (!policy.autoCreateTable) throw new WriteError("not_found", table, "table does not exist");
      schema = TableSchema.create(
        {
          timestampColumn: rows.timestampColumn,
          columns: batch.names.map((name, i) =>
            inferredColumn(name, batch.columns[i] as Column, rows.tagNames),
          ),
        },
        table,
      );
      schemaChanged = true;
    } else {
      if (rows.timestampColumn !== schema.timestampColumn) {
        throw invalid(
          `timestamp column is "${schema.timestampColumn}", the write names "${rows.timestampColumn}"`,
          rows.timestampColumn,
        );
      }
      const added: ColumnSchemaInput[] = [];
      batch.names.forEach((name, i) => {
        const column = batch.columns[i] as Column;
        const existing = schema?.column(name);
        if (existing === undefined) {
          if (!policy.autoAddColumns) throw invalid(`unknown column "${name}"`, name);
          added.push(inferredColumn(name, column, rows.tagNames));
          return;
        }
        if (name === TSID_COLUMN && schema?.hasTsid === true) {
          throw invalid(`column "${TSID_COLUMN}" is generated and cannot be written`, name);
        }
        if (existing.type !== column.type) {
          throw invalid(`column "${name}" is ${existing.type}, the write has ${column.type}`, name);
        }
        if (rows.tagNames.has(name) !== existing.isTag) {
          throw invalid(
            `column "${name}" is a ${existing.isTag ? "TAG" : "field"}, the write has it as a ${existing.isTag ? "field" : "TAG"}`,
            name,
          );
        }
      });
      if (added.length > 0) {
        schema = schema.withAddedColumns(added, table);
        schemaChanged = true;
      }
    }
  } catch (error) {
    if (error instanceof SchemaError)
      throw invalid(error.message.replace(`table ${table}: `, ""), error.field);
    throw error;
  }

  const aligned = withTsid(fillDefaults(alignToSchema(batch, schema), schema, invalid), schema);
  return { schema, schemaChanged, batch: aligned };
}

function checkDistinctNames(batch: ColumnBatch, invalid: (m: string, c?: string) => WriteError): void {
  const seen = new Set<string>();
  for (const name of batch.names) {
    if (name.length === 0) throw invalid("a column name is empty");
    if (seen.has(name)) throw invalid(`column "${name}" appears twice`, name);
    seen.add(name);
  }
}

function checkTimestamps(
  column: Column,
  numRows: number,
  name: string,
  invalid: (m: string, c?: string) => WriteError,
): void {
  if (column.type !== DataType.Timestamp) {
    throw invalid(`timestamp column "${name}" must be of type timestamp, not ${column.type}`, name);
  }
  const values = column.values as Float64Array;
  for (let i = 0; i < numRows; i++) {
    if (column.validity !== null && column.validity[i] === 0)
      throw invalid(`row ${i}: timestamp is null`, name);
    const ts = values[i] as number;
    if (!Number.isInteger(ts) || ts < MIN_TIMESTAMP_MS || ts > MAX_TIMESTAMP_MS) {
      throw invalid(`row ${i}: timestamp ${ts} is not an integer millisecond within ±2^53`, name);
    }
  }
}

function inferredColumn(name: string, column: Column, tagNames: ReadonlySet<string>): ColumnSchemaInput {
  return { name, type: column.type, isTag: tagNames.has(name), nullable: true };
}

/** Replaces nulls in columns that have a DEFAULT; rejects nulls in NOT NULL columns. */
function fillDefaults(
  batch: ColumnBatch,
  schema: TableSchema,
  invalid: (m: string, c?: string) => WriteError,
): ColumnBatch {
  const columns = batch.columns.map((column, c) => {
    const spec = schema.columns[c];
    if (spec === undefined || column.validity === null || spec.name === TSID_COLUMN) return column;
    const nulls = column.validity.indexOf(0);
    if (nulls < 0) return column;
    if (spec.defaultValue !== null) {
      const values = (Array.isArray(column.values) ? [...column.values] : column.values.slice()) as unknown[];
      const fill = spec.type === DataType.Boolean ? (spec.defaultValue === true ? 1 : 0) : spec.defaultValue;
      for (let i = 0; i < batch.numRows; i++) if (column.validity[i] === 0) values[i] = fill;
      return { type: column.type, values: values as unknown as Column["values"], validity: null };
    }
    if (!spec.nullable)
      throw invalid(`row ${nulls}: column "${spec.name}" is NOT NULL but has no value`, spec.name);
    return column;
  });
  return { names: batch.names, columns, numRows: batch.numRows };
}

function withTsid(batch: ColumnBatch, schema: TableSchema): ColumnBatch {
  if (!schema.hasTsid) return batch;
  const tags = schema.columns
    .map((spec, i) => ({ spec, column: batch.columns[i] as Column }))
    .filter(({ spec }) => spec.isTag)
    .map(({ spec, column }) => ({
      name: spec.name,
      values: column.values as string[],
      validity: column.validity,
    }));
  const tsidIndex = schema.indexOf(TSID_COLUMN) as number;
  const columns = [...batch.columns];
  columns[tsidIndex] = { type: DataType.UInt64, values: computeTsids(batch.numRows, tags), validity: null };
  return { names: batch.names, columns, numRows: batch.numRows };
}
