import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cellAt, type Column } from "../../src/batch/column.js";
import type { ColumnBatch } from "../../src/batch/column-batch.js";
import {
  DEFAULT_EXECUTOR_OPTIONS,
  runCompactionJob,
  type CompactionContext,
  type CompactionJob,
  type CompactionJobResult,
} from "../../src/engine/compaction/index.js";
import { flushMemtable } from "../../src/engine/flush.js";
import { StorageLayout } from "../../src/engine/layout.js";
import { TableScan } from "../../src/engine/scan.js";
import { Table } from "../../src/engine/table.js";
import { expiredBefore } from "../../src/engine/compaction/ttl.js";
import { TableManifest, type SstFileEntry } from "../../src/manifest/index.js";
import { LocalObjectStore } from "../../src/object-store/index.js";
import { SstWriter } from "../../src/sst/index.js";
import { DataType, type CellValue } from "../../src/table/data-type.js";
import { formatTableOptions, parseTableOptions } from "../../src/table/options.js";
import { TableSchema } from "../../src/table/schema.js";

/** A table keyed by (host, ts) with one double field: small rows whose keys tests choose. */
export function keyedSchema(): TableSchema {
  return TableSchema.create({
    timestampColumn: "ts",
    primaryKey: ["host", "ts"],
    columns: [
      { name: "host", type: DataType.String, isTag: true },
      { name: "ts", type: DataType.Timestamp },
      { name: "value", type: DataType.Double },
    ],
  });
}

export interface KeyedRow {
  host: string;
  ts: number;
  value: number;
}

export function keyedBatch(rows: readonly KeyedRow[]): ColumnBatch {
  return {
    names: ["host", "ts", "value"],
    columns: [
      { type: DataType.String, values: rows.map((r) => r.host), validity: null },
      { type: DataType.Timestamp, values: Float64Array.from(rows, (r) => r.ts), validity: null },
      { type: DataType.Double, values: Float64Array.from(rows, (r) => r.value), validity: null },
    ],
    numRows: rows.length,
  };
}

/**
 * One table driven without the engine: rows go straight into its memtables at increasing sequences
 * and each `flush` writes them as SSTs through the engine's flush; jobs run through the executor.
 * Lets tests build exact SST layouts and run jobs the picker would refuse.
 */
export interface TableHarness {
  readonly table: Table;
  readonly store: LocalObjectStore;
  readonly layout: StorageLayout;
  readonly root: string;
  now: number;
  /** Writes the rows as one flush (one SST per time segment); returns the files it added. */
  flush(batches: ColumnBatch | readonly ColumnBatch[]): Promise<SstFileEntry[]>;
  files(): SstFileEntry[];
  run(job: CompactionJob, context?: Partial<CompactionContext>): Promise<CompactionJobResult>;
  /** Every row a scan returns, as plain objects, sorted. */
  rows(): Promise<Record<string, CellValue>[]>;
  /** File names under the table's sst/ directory. */
  sstObjects(): Promise<string[]>;
  cleanup(): Promise<void>;
}

export async function tableHarness(
  schema: TableSchema,
  rawOptions: Readonly<Record<string, string>> = {},
): Promise<TableHarness> {
  const root = await mkdtemp(join(tmpdir(), "horaedb-compaction-"));
  const store = await LocalObjectStore.open(root, { fsync: false });
  const layout = new StorageLayout("test");
  const tableId = 1;
  const manifest = await TableManifest.create(store, layout.manifestPrefix(tableId), {
    schema: schema.toJSON(),
    options: formatTableOptions(parseTableOptions(rawOptions)),
  });
  const table = new Table({ id: tableId, schemaName: "public", name: "t", shardId: 0 }, manifest);
  const sstWriter = new SstWriter();
  let sequence = 0;
  const harness: TableHarness = {
    table,
    store,
    layout,
    root,
    now: 24 * 3_600_000,
    async flush(batches) {
      const before = new Set(table.manifest.state.ssts.keys());
      for (const batch of Array.isArray(batches) ? batches : [batches]) {
        table.memtables.append(batch as ColumnBatch, ++sequence);
      }
      const frozen = table.memtables.switchMemtable();
      if (frozen === undefined) throw new Error("nothing to flush");
      await flushMemtable(table, frozen, { store, layout, sstWriter });
      return harness.files().filter((f) => !before.has(f.fileId));
    },
    files: () => [...table.manifest.state.ssts.values()].sort((a, b) => a.fileId - b.fileId),
    run: (job, context = {}) =>
      runCompactionJob(table, job, {
        store,
        layout,
        sstWriter,
        options: DEFAULT_EXECUTOR_OPTIONS,
        now: () => harness.now,
        retire: (files) => {
          for (const f of files) void store.delete(f.key);
        },
        ...context,
      }),
    async rows() {
      const scan = new TableScan(
        store,
        {
          schema: table.schema,
          updateMode: table.options.updateMode,
          memtable: table.memtables.snapshot(),
          ssts: harness.files(),
          expiredBefore: expiredBefore(table.options, harness.now),
        },
        {},
      );
      return collectRows(scan);
    },
    async sstObjects() {
      try {
        return (await readdir(join(root, layout.tablePrefix(tableId), "sst"))).sort();
      } catch {
        return [];
      }
    },
    async cleanup() {
      await store.close();
      await rm(root, { recursive: true, force: true });
    },
  };
  return harness;
}

/** The rows of a scan as plain objects, sorted for comparison. */
export async function collectRows(batches: AsyncIterable<ColumnBatch>): Promise<Record<string, CellValue>[]> {
  const out: Record<string, CellValue>[] = [];
  for await (const batch of batches) {
    for (let r = 0; r < batch.numRows; r++) {
      const row: Record<string, CellValue> = {};
      batch.names.forEach((name, c) => (row[name] = cellAt(batch.columns[c] as Column, r)));
      out.push(row);
    }
  }
  const key = (row: Record<string, CellValue>) =>
    JSON.stringify(row, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
  return out.sort((a, b) => key(a).localeCompare(key(b)));
}
