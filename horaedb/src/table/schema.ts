import { DataType, type CellValue } from "./data-type.js";
import { SchemaError } from "./errors.js";

/** Name of the generated series-id column of tables with the default primary key `(tsid, timestamp)`. */
export const TSID_COLUMN = "tsid";
const MAX_NAME_LENGTH = 255;

export interface ColumnSchema {
  readonly name: string;
  readonly type: DataType;
  /** TAG columns are strings; together they name a series and feed the tsid. */
  readonly isTag: boolean;
  readonly nullable: boolean;
  /** Default for rows that omit the column (SQL `DEFAULT`); null means none. */
  readonly defaultValue: CellValue;
  readonly comment: string;
}

export interface ColumnSchemaInput {
  name: string;
  type: DataType;
  isTag?: boolean;
  nullable?: boolean;
  defaultValue?: CellValue;
  comment?: string;
}

export interface TableSchemaInput {
  columns: readonly ColumnSchemaInput[];
  timestampColumn: string;
  /** Explicit primary key; by default `(tsid, <timestampColumn>)` with a generated `tsid` column. */
  primaryKey?: readonly string[];
  version?: number;
}

/** The serialisable form stored in manifests and WAL headers. */
export interface TableSchemaJson {
  version: number;
  timestampColumn: string;
  primaryKey: string[];
  columns: Array<{
    name: string;
    type: DataType;
    isTag: boolean;
    nullable: boolean;
    defaultValue: CellValue;
    comment: string;
  }>;
}

/**
 * An immutable table schema: one TIMESTAMP KEY column, TAG columns, typed fields and a primary key.
 * Every change produces a new schema with a higher version, so readers can tell which layout a WAL
 * record or an SST was written with.
 */
export class TableSchema {
  readonly version: number;
  readonly columns: readonly ColumnSchema[];
  readonly timestampColumn: string;
  readonly primaryKey: readonly string[];
  /** True when the primary key is the default `(tsid, timestamp)` and `tsid` is generated. */
  readonly hasTsid: boolean;
  readonly #indexByName: ReadonlyMap<string, number>;

  private constructor(
    version: number,
    columns: readonly ColumnSchema[],
    timestampColumn: string,
    primaryKey: readonly string[],
  ) {
    this.version = version;
    this.columns = columns;
    this.timestampColumn = timestampColumn;
    this.primaryKey = primaryKey;
    this.hasTsid = primaryKey.length === 2 && primaryKey[0] === TSID_COLUMN;
    this.#indexByName = new Map(columns.map((c, i) => [c.name, i]));
  }

  /** Validates the input and builds a schema; throws SchemaError naming the offending column. */
  static create(input: TableSchemaInput, table?: string): TableSchema {
    const ctx = (field: string) => (table === undefined ? { field } : { table, field });
    const columns: ColumnSchema[] = [];
    const seen = new Set<string>();
    const explicitKey = input.primaryKey !== undefined && input.primaryKey.length > 0;
    if (!explicitKey) {
      if (input.columns.some((c) => c.name === TSID_COLUMN)) {
        throw new SchemaError(
          `column name "${TSID_COLUMN}" is reserved for the generated series id`,
          ctx(TSID_COLUMN),
        );
      }
      columns.push({
        name: TSID_COLUMN,
        type: DataType.UInt64,
        isTag: false,
        nullable: false,
        defaultValue: null,
        comment: "series id: hash of the tag values",
      });
      seen.add(TSID_COLUMN);
    }
    for (const c of input.columns) {
      validateColumnName(c.name, table);
      if (seen.has(c.name)) throw new SchemaError(`duplicate column "${c.name}"`, ctx(c.name));
      seen.add(c.name);
      const isTag = c.isTag ?? false;
      if (isTag && c.type !== DataType.String) {
        throw new SchemaError(`TAG column "${c.name}" must be of type string, not ${c.type}`, ctx(c.name));
      }
      const isTimestamp = c.name === input.timestampColumn;
      columns.push({
        name: c.name,
        type: c.type,
        isTag,
        nullable: isTimestamp ? false : (c.nullable ?? true),
        defaultValue: c.defaultValue ?? null,
        comment: c.comment ?? "",
      });
    }
    const ts = columns.find((c) => c.name === input.timestampColumn);
    if (ts === undefined) {
      throw new SchemaError(
        `timestamp key column "${input.timestampColumn}" is not a column`,
        ctx(input.timestampColumn),
      );
    }
    if (ts.type !== DataType.Timestamp) {
      throw new SchemaError(
        `timestamp key column "${ts.name}" must be of type timestamp, not ${ts.type}`,
        ctx(ts.name),
      );
    }
    if (ts.isTag) throw new SchemaError(`timestamp key column "${ts.name}" cannot be a TAG`, ctx(ts.name));
    const others = columns.filter((c) => c.type === DataType.Timestamp && c.name !== ts.name);
    for (const o of others) {
      throw new SchemaError(
        `only the timestamp key may be of type timestamp; "${o.name}" is not it`,
        ctx(o.name),
      );
    }
    const primaryKey = explicitKey ? [...(input.primaryKey ?? [])] : [TSID_COLUMN, ts.name];
    const keySeen = new Set<string>();
    for (const k of primaryKey) {
      const col = columns.find((c) => c.name === k);
      if (col === undefined) throw new SchemaError(`primary key column "${k}" is not a column`, ctx(k));
      if (keySeen.has(k)) throw new SchemaError(`primary key lists "${k}" twice`, ctx(k));
      keySeen.add(k);
      if (col.type === DataType.Varbinary) {
        throw new SchemaError(`primary key column "${k}" cannot be varbinary`, ctx(k));
      }
    }
    if (!keySeen.has(ts.name)) {
      throw new SchemaError(`primary key must include the timestamp key "${ts.name}"`, ctx(ts.name));
    }
    // Key columns identify a row, so they are never null.
    const finalColumns = columns.map((c) => (keySeen.has(c.name) ? { ...c, nullable: false } : c));
    return new TableSchema(input.version ?? 1, finalColumns, ts.name, primaryKey);
  }

  static fromJSON(json: TableSchemaJson): TableSchema {
    const schema = new TableSchema(json.version, json.columns, json.timestampColumn, json.primaryKey);
    return schema;
  }

  toJSON(): TableSchemaJson {
    return {
      version: this.version,
      timestampColumn: this.timestampColumn,
      primaryKey: [...this.primaryKey],
      columns: this.columns.map((c) => ({ ...c })),
    };
  }

  indexOf(name: string): number | undefined {
    return this.#indexByName.get(name);
  }

  column(name: string): ColumnSchema | undefined {
    const i = this.#indexByName.get(name);
    return i === undefined ? undefined : this.columns[i];
  }

  get tagColumns(): ColumnSchema[] {
    return this.columns.filter((c) => c.isTag);
  }

  /** Returns a schema with the given columns appended and the version bumped. */
  withAddedColumns(added: readonly ColumnSchemaInput[], table?: string): TableSchema {
    const ctx = (field: string) => (table === undefined ? { field } : { table, field });
    const columns = [...this.columns];
    for (const c of added) {
      validateColumnName(c.name, table);
      if (this.#indexByName.has(c.name) || columns.some((x) => x.name === c.name)) {
        throw new SchemaError(`column "${c.name}" already exists`, ctx(c.name));
      }
      if (c.type === DataType.Timestamp) {
        throw new SchemaError(`cannot add a second timestamp column "${c.name}"`, ctx(c.name));
      }
      if (c.isTag === true && c.type !== DataType.String) {
        throw new SchemaError(`TAG column "${c.name}" must be of type string, not ${c.type}`, ctx(c.name));
      }
      // Existing rows have no value for an added column, so it must accept null.
      if (c.nullable === false && (c.defaultValue ?? null) === null) {
        throw new SchemaError(`added column "${c.name}" must be nullable or have a default`, ctx(c.name));
      }
      columns.push({
        name: c.name,
        type: c.type,
        isTag: c.isTag ?? false,
        nullable: c.nullable ?? true,
        defaultValue: c.defaultValue ?? null,
        comment: c.comment ?? "",
      });
    }
    return new TableSchema(this.version + 1, columns, this.timestampColumn, this.primaryKey);
  }
}

function validateColumnName(name: string, table: string | undefined): void {
  const ctx = table === undefined ? { field: name } : { table, field: name };
  if (name.length === 0) throw new SchemaError("column name is empty", ctx);
  if (name.length > MAX_NAME_LENGTH) {
    throw new SchemaError(`column name "${name.slice(0, 32)}..." is longer than ${MAX_NAME_LENGTH}`, ctx);
  }
  // eslint-disable-next-line no-control-regex -- rejecting control characters is the point
  if (/[\u0000-\u001f]/.test(name))
    throw new SchemaError(`column name ${JSON.stringify(name)} has control characters`, ctx);
}
