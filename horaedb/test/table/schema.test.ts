import { describe, expect, it } from "vitest";
import { DataType } from "../../src/table/data-type.js";
import { SchemaError } from "../../src/table/errors.js";
import { DEFAULT_TABLE_OPTIONS, formatTableOptions, parseTableOptions } from "../../src/table/options.js";
import { TableSchema, TSID_COLUMN } from "../../src/table/schema.js";

const cpu = {
  columns: [
    { name: "host", type: DataType.String, isTag: true },
    { name: "ts", type: DataType.Timestamp },
    { name: "usage", type: DataType.Double },
  ],
  timestampColumn: "ts",
};

describe("TableSchema", () => {
  it("defaults the primary key to (tsid, timestamp) with a generated tsid column", () => {
    const schema = TableSchema.create(cpu);
    expect(schema.primaryKey).toEqual([TSID_COLUMN, "ts"]);
    expect(schema.hasTsid).toBe(true);
    expect(schema.column(TSID_COLUMN)?.type).toBe(DataType.UInt64);
    expect(schema.column("ts")?.nullable).toBe(false);
    expect(schema.tagColumns.map((c) => c.name)).toEqual(["host"]);
  });

  it("accepts an explicit primary key that includes the timestamp", () => {
    const schema = TableSchema.create({ ...cpu, primaryKey: ["host", "ts"] });
    expect(schema.hasTsid).toBe(false);
    expect(schema.column(TSID_COLUMN)).toBeUndefined();
    expect(schema.column("host")?.nullable).toBe(false);
  });

  it.each([
    [{ ...cpu, timestampColumn: "nope" }, /timestamp key column "nope" is not a column/],
    [
      { ...cpu, columns: [...cpu.columns, { name: "host", type: DataType.Double }] },
      /duplicate column "host"/,
    ],
    [
      { ...cpu, columns: [{ name: "t", type: DataType.Int64, isTag: true }, ...cpu.columns] },
      /TAG column "t" must be of type string/,
    ],
    [{ ...cpu, primaryKey: ["host"] }, /must include the timestamp key "ts"/],
    [{ ...cpu, primaryKey: ["missing", "ts"] }, /primary key column "missing" is not a column/],
    [{ ...cpu, columns: [...cpu.columns, { name: TSID_COLUMN, type: DataType.Int64 }] }, /reserved/],
    [{ ...cpu, columns: [...cpu.columns, { name: "", type: DataType.Int64 }] }, /column name is empty/],
    [
      { ...cpu, columns: [...cpu.columns, { name: "ts2", type: DataType.Timestamp }] },
      /only the timestamp key/,
    ],
  ])("rejects an invalid schema with an error naming the problem (%#)", (input, message) => {
    expect(() => TableSchema.create(input, "cpu")).toThrow(SchemaError);
    expect(() => TableSchema.create(input, "cpu")).toThrow(message);
  });

  it("adds columns with a new version and survives a JSON round trip", () => {
    const v1 = TableSchema.create(cpu);
    const v2 = v1.withAddedColumns([{ name: "idle", type: DataType.Double }]);
    expect(v2.version).toBe(v1.version + 1);
    expect(v2.column("idle")?.nullable).toBe(true);
    expect(() => v2.withAddedColumns([{ name: "idle", type: DataType.Int64 }])).toThrow(/already exists/);
    expect(() => v2.withAddedColumns([{ name: "x", type: DataType.Int64, nullable: false }])).toThrow(
      /must be nullable or have a default/,
    );
    const restored = TableSchema.fromJSON(
      JSON.parse(JSON.stringify(v2.toJSON())) as ReturnType<TableSchema["toJSON"]>,
    );
    expect(restored.toJSON()).toEqual(v2.toJSON());
    expect(restored.indexOf("idle")).toBe(v2.indexOf("idle"));
  });
});

describe("table options", () => {
  it("parses HoraeDB option names and round-trips through their string form", () => {
    const options = parseTableOptions({
      ttl: "30d",
      enable_ttl: "false",
      segment_duration: "1h",
      write_buffer_size: "8MB",
      update_mode: "append",
      compression: "snappy",
      num_rows_per_row_group: "4096",
    });
    expect(options).toMatchObject({
      ttlMs: 30 * 86_400_000,
      enableTtl: false,
      segmentDurationMs: 3_600_000,
      writeBufferSize: 8 * 1024 * 1024,
      updateMode: "APPEND",
      compression: "SNAPPY",
      numRowsPerRowGroup: 4096,
    });
    expect(parseTableOptions(formatTableOptions(options))).toEqual(options);
    expect(parseTableOptions({})).toEqual(DEFAULT_TABLE_OPTIONS);
  });

  it.each([
    [{ ttl: "forever" }, /option ttl='forever': expected a duration/],
    [{ update_mode: "merge" }, /expected OVERWRITE or APPEND/],
    [{ colour: "blue" }, /option colour='blue': unknown option/],
    [{ num_rows_per_row_group: "0" }, /expected an integer/],
  ])("rejects bad options naming the option and value (%#)", (raw, message) => {
    expect(() => parseTableOptions(raw)).toThrow(message);
  });
});
