import type { common } from "@horaedb/proto";
import { describe, expect, it } from "vitest";
import { ClusterMismatchError, InvalidRequestError } from "../../src/index.js";
import {
  checkClusterName,
  checkEngine,
  checkTableOptions,
  defaultSubTableName,
  requestedPartitioning,
  tableSchemaRecord,
} from "../../src/service/request-validation.js";

type Column = common.ColumnSchema__Output;

function column(name: string, dataType: Column["dataType"], extra: Partial<Column> = {}): Column {
  return { name, dataType, isTag: false, isNullable: false, comment: "", ...extra };
}

function schema(overrides: Partial<common.TableSchema__Output> = {}): common.TableSchema__Output {
  return {
    columns: [
      column("ts", "DATA_TYPE_TIMESTAMP"),
      column("host", "DATA_TYPE_STRING", { isTag: true }),
      column("value", "DATA_TYPE_DOUBLE", {
        isNullable: true,
        defaultExpr: "0",
        _defaultExpr: "defaultExpr",
      }),
    ],
    timestampColumn: "ts",
    primaryKeyColumns: [],
    version: 0,
    ...overrides,
  };
}

function invalidField(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof InvalidRequestError) return error.field;
    throw error;
  }
  throw new Error("expected an InvalidRequestError");
}

describe("tableSchemaRecord", () => {
  it("keeps the schema in the proto's object form, without decoder-only fields, version at least 1", () => {
    expect(tableSchemaRecord(schema())).toEqual({
      columns: [
        { name: "ts", dataType: "DATA_TYPE_TIMESTAMP", isTag: false, isNullable: false, comment: "" },
        { name: "host", dataType: "DATA_TYPE_STRING", isTag: true, isNullable: false, comment: "" },
        {
          name: "value",
          dataType: "DATA_TYPE_DOUBLE",
          isTag: false,
          isNullable: true,
          defaultExpr: "0",
          comment: "",
        },
      ],
      timestampColumn: "ts",
      primaryKeyColumns: [],
      version: 1,
    });
  });

  it("names the field of each rule it enforces", () => {
    expect(invalidField(() => tableSchemaRecord(null))).toBe("table_schema");
    expect(invalidField(() => tableSchemaRecord(schema({ columns: [] })))).toBe("table_schema.columns");
    expect(invalidField(() => tableSchemaRecord(schema({ timestampColumn: "" })))).toBe(
      "table_schema.timestamp_column",
    );
    expect(invalidField(() => tableSchemaRecord(schema({ timestampColumn: "host" })))).toBe(
      "table_schema.timestamp_column",
    );
    const duplicate = schema();
    duplicate.columns.push(column("host", "DATA_TYPE_STRING"));
    expect(invalidField(() => tableSchemaRecord(duplicate))).toBe("table_schema.columns[3].name");
    const untyped = schema();
    untyped.columns.push(column("x", "DATA_TYPE_UNSPECIFIED"));
    expect(invalidField(() => tableSchemaRecord(untyped))).toBe("table_schema.columns[3].data_type");
    const numericTag = schema();
    numericTag.columns.push(column("region", "DATA_TYPE_INT64", { isTag: true }));
    expect(invalidField(() => tableSchemaRecord(numericTag))).toBe("table_schema.columns[3].data_type");
    expect(invalidField(() => tableSchemaRecord(schema({ primaryKeyColumns: ["nope"] })))).toBe(
      "table_schema.primary_key_columns[0]",
    );
  });
});

describe("request checks", () => {
  it("accepts the option names of schema.proto in any case and refuses others", () => {
    expect(() => checkTableOptions({ TTL: "7d", update_mode: "APPEND", compression: "ZSTD" })).not.toThrow();
    expect(invalidField(() => checkTableOptions({ ttl: "7d", retention: "1d" }))).toBe("options.retention");
  });

  it("accepts the default and the Analytic engine only", () => {
    expect(() => checkEngine("")).not.toThrow();
    expect(() => checkEngine("Analytic")).not.toThrow();
    expect(invalidField(() => checkEngine("Memory"))).toBe("engine");
  });

  it("refuses another cluster's requests and takes an empty cluster name as this one", () => {
    expect(() => checkClusterName("", "prod")).not.toThrow();
    expect(() => checkClusterName("prod", "prod")).not.toThrow();
    expect(() => checkClusterName("staging", "prod")).toThrow(ClusterMismatchError);
  });
});

describe("requestedPartitioning", () => {
  const info = (overrides: Partial<common.PartitionInfo__Output> = {}): common.PartitionInfo__Output => ({
    keyColumns: ["host"],
    partitionCount: 3,
    subTableNames: [],
    ...overrides,
  });

  it("names the sub-tables as HoraeDB does when the request names none, and keeps given names", () => {
    expect(requestedPartitioning(info(), "cpu", schema())).toEqual({
      keyColumns: ["host"],
      subTableNames: ["__cpu_0", "__cpu_1", "__cpu_2"],
    });
    expect(defaultSubTableName("cpu", 7)).toBe("__cpu_7");
    expect(
      requestedPartitioning(info({ partitionCount: 2, subTableNames: ["a", "b"] }), "cpu", schema())
        .subTableNames,
    ).toEqual(["a", "b"]);
  });

  it("refuses bad partitioning, naming the field", () => {
    const field = (partitionInfo: common.PartitionInfo__Output) =>
      invalidField(() => requestedPartitioning(partitionInfo, "cpu", schema()));
    expect(field(info({ partitionCount: 0 }))).toBe("partition_info.partition_count");
    expect(field(info({ partitionCount: 33 }))).toBe("partition_info.partition_count");
    expect(field(info({ keyColumns: [] }))).toBe("partition_info.key_columns");
    expect(field(info({ keyColumns: ["host", "region"] }))).toBe("partition_info.key_columns[1]");
    expect(field(info({ keyColumns: ["value"] }))).toBe("partition_info.key_columns[0]");
    expect(field(info({ keyColumns: ["host", "host"] }))).toBe("partition_info.key_columns[1]");
    expect(field(info({ subTableNames: ["a", "b"] }))).toBe("partition_info.sub_table_names");
    expect(field(info({ subTableNames: ["a", "b", "a"] }))).toBe("partition_info.sub_table_names[2]");
    expect(field(info({ subTableNames: ["a", "cpu", "c"] }))).toBe("partition_info.sub_table_names[1]");
    expect(field(info({ subTableNames: ["a", "", "c"] }))).toBe("partition_info.sub_table_names[1]");
  });
});
