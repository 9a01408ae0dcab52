import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  CompactionError,
  CompactionScheduler,
  DEFAULT_COMPACTION_OPTIONS,
  pickCompaction,
  resolveCompactionOptions,
  type CompactionOptions,
} from "../../src/engine/compaction/index.js";
import { estimateJobMemory } from "../../src/engine/compaction/memory.js";
import { flushMemtable } from "../../src/engine/flush.js";
import { StorageLayout } from "../../src/engine/layout.js";
import { TableScan } from "../../src/engine/scan.js";
import { Table } from "../../src/engine/table.js";
import { TableManifest, type SstFileEntry } from "../../src/manifest/index.js";
import { LocalObjectStore } from "../../src/object-store/index.js";
import type { ObjectStore, PutOptions } from "../../src/object-store/object-store.js";
import { SstWriter, type SstMeta, type SstWriteRequest } from "../../src/sst/index.js";
import { DataType } from "../../src/table/data-type.js";
import { formatTableOptions, parseTableOptions } from "../../src/table/options.js";
import { TableSchema } from "../../src/table/schema.js";
import { collectRows, keyedBatch, keyedSchema, type KeyedRow } from "./compaction-fixtures.js";
import { sstEntry } from "../manifest/fixtures.js";
import { silentLogger } from "./engine-fixtures.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** An SstWriter whose writes wait at a gate, counting how many run at once. */
class GatedWriter extends SstWriter {
  active = 0;
  maxActive = 0;
  /** Called as each write starts. */
  onWrite: () => void = () => undefined;
  #open!: () => void;
  #gate = new Promise<void>((resolve) => (this.#open = resolve));

  open(): void {
    this.#open();
  }

  override async write(
    store: ObjectStore,
    key: string,
    request: SstWriteRequest,
    putOptions?: PutOptions,
  ): Promise<SstMeta> {
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    this.onWrite();
    try {
      await this.#gate;
      return await super.write(store, key, request, putOptions);
    } finally {
      this.active--;
    }
  }
}

interface Setup {
  readonly store: LocalObjectStore;
  readonly layout: StorageLayout;
  readonly tables: Table[];
  rows(table: Table): Promise<unknown[]>;
  cleanup(): Promise<void>;
}

/** Tables 1..count in one store, each flushed `files` times with rows of one day (one window). */
async function tablesWithFiles(
  count: number,
  files: number,
  rawOptions: Record<string, string> = {},
): Promise<Setup> {
  const root = await mkdtemp(join(tmpdir(), "horaedb-compaction-memory-"));
  const store = await LocalObjectStore.open(root, { fsync: false });
  const layout = new StorageLayout("test");
  const sstWriter = new SstWriter();
  const tables: Table[] = [];
  for (let id = 1; id <= count; id++) {
    const manifest = await TableManifest.create(store, layout.manifestPrefix(id), {
      schema: keyedSchema().toJSON(),
      options: formatTableOptions(
        parseTableOptions({ segment_duration: "1d", enable_ttl: "false", ...rawOptions }),
      ),
    });
    const table = new Table({ id, schemaName: "public", name: `t${id}`, shardId: 0 }, manifest);
    for (let f = 0; f < files; f++) {
      const rows: KeyedRow[] = [];
      // Every file holds the same keys: a merge keeps the rows of the newest file.
      for (let i = 0; i < 200; i++) rows.push({ host: `h${i % 7}`, ts: i * 60_000, value: f * 1000 + i });
      table.memtables.append(keyedBatch(rows), f + 1);
      const frozen = table.memtables.switchMemtable();
      if (frozen === undefined) throw new Error("nothing to flush");
      await flushMemtable(table, frozen, { store, layout, sstWriter });
    }
    tables.push(table);
  }
  return {
    store,
    layout,
    tables,
    rows: (table) =>
      collectRows(
        new TableScan(
          store,
          {
            schema: table.schema,
            updateMode: table.options.updateMode,
            memtable: table.memtables.snapshot(),
            ssts: [...table.manifest.state.ssts.values()],
            expiredBefore: undefined,
          },
          {},
        ),
      ),
    async cleanup() {
      await store.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

function scheduler(
  setup: Setup,
  writer: SstWriter,
  options: Partial<CompactionOptions>,
): CompactionScheduler {
  return new CompactionScheduler({
    options: resolveCompactionOptions({ paused: true, ...options }),
    tables: () => setup.tables,
    context: {
      store: setup.store,
      layout: setup.layout,
      sstWriter: writer,
      now: () => 30 * DAY,
      retire: (files) => {
        for (const f of files) void setup.store.delete(f.key);
      },
    },
    logger: silentLogger,
  });
}

/** The estimate of the job the picker would choose for the table now. */
function estimateOf(table: Table, options: Partial<CompactionOptions> = {}): number {
  const resolved = { ...DEFAULT_COMPACTION_OPTIONS, ...options };
  const job = pickCompaction(
    { ssts: [...table.manifest.state.ssts.values()], segmentDurationMs: DAY, expiredBefore: undefined },
    resolved,
  );
  if (job === undefined) throw new Error("no job");
  return estimateJobMemory(job, table.schema, resolved);
}

describe("estimateJobMemory", () => {
  const schema = keyedSchema();
  const file = (fileId: number, rowCount: number, size: number) => sstEntry(fileId, { rowCount, size });
  const merge = (files: SstFileEntry[]) => ({ kind: "merge" as const, window: 0, inputs: files });

  it("is nothing for a job that only removes files", () => {
    expect(
      estimateJobMemory({ kind: "expire", inputs: [file(1, 1e6, 1e8)] }, schema, { maxOutputFileRows: 1e6 }),
    ).toBe(0);
  });

  it("covers the input objects and more than one copy of the rows, and grows with both", () => {
    const small = estimateJobMemory(merge([file(1, 50_000, 1e6), file(2, 50_000, 1e6)]), schema, {
      maxOutputFileRows: 1e6,
    });
    // host (a shared string), ts and value: at least 24 bytes per row for each copy.
    expect(small).toBeGreaterThan(2e6 + 2 * 100_000 * 24);
    const moreRows = estimateJobMemory(merge([file(1, 100_000, 1e6), file(2, 100_000, 1e6)]), schema, {
      maxOutputFileRows: 1e6,
    });
    const moreBytes = estimateJobMemory(merge([file(1, 50_000, 3e6), file(2, 50_000, 3e6)]), schema, {
      maxOutputFileRows: 1e6,
    });
    expect(moreRows).toBeGreaterThan(small);
    expect(moreBytes).toBeGreaterThan(small);
    // Plain strings cost more per row than TAG strings, which share their values.
    const withNote = TableSchema.create({
      timestampColumn: "ts",
      primaryKey: ["host", "ts"],
      columns: [...schema.columns.map((c) => ({ ...c })), { name: "note", type: DataType.String }],
    });
    const withTag = TableSchema.create({
      timestampColumn: "ts",
      primaryKey: ["host", "ts"],
      columns: [...schema.columns.map((c) => ({ ...c })), { name: "dc", type: DataType.String, isTag: true }],
    });
    const job = merge([file(1, 50_000, 1e6), file(2, 50_000, 1e6)]);
    expect(estimateJobMemory(job, withNote, { maxOutputFileRows: 1e6 })).toBeGreaterThan(
      estimateJobMemory(job, withTag, { maxOutputFileRows: 1e6 }),
    );
  });

  it("adds the rows copied for the decoded cache, no more than its capacity", () => {
    const job = merge([file(1, 50_000, 1e6), file(2, 50_000, 1e6)]);
    const without = estimateJobMemory(job, schema, { maxOutputFileRows: 1e6 });
    expect(estimateJobMemory(job, schema, { maxOutputFileRows: 1e6, cacheFillBytes: 0 })).toBe(without);
    // A small cache: the copy stops at its capacity.
    expect(estimateJobMemory(job, schema, { maxOutputFileRows: 1e6, cacheFillBytes: 1000 })).toBe(
      without + 1000,
    );
    // A large one: every output row, at least 24 bytes each (host, ts, value).
    const all = estimateJobMemory(job, schema, { maxOutputFileRows: 1e6, cacheFillBytes: 1e12 });
    expect(all - without).toBeGreaterThanOrEqual(100_000 * 24);
    expect(all - without).toBeLessThan(1e12);
  });
});

describe("compaction memory budget", () => {
  let setup: Setup | undefined;
  let running: CompactionScheduler | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
    await setup?.cleanup();
    setup = undefined;
  });

  async function runTwoTables(
    budgetJobs: number,
  ): Promise<{ maxActive: number; peakMemory: number; estimate: number }> {
    setup = await tablesWithFiles(2, 4);
    const [first, second] = setup.tables as [Table, Table];
    const before = [await setup.rows(first), await setup.rows(second)];
    const estimate = estimateOf(first);
    expect(estimateOf(second)).toBe(estimate);
    const writer = new GatedWriter();
    const s = scheduler(setup, writer, {
      maxConcurrentJobs: 2,
      memoryBudgetBytes: Math.floor(budgetJobs * estimate),
    });
    running = s;
    let peakMemory = 0;
    writer.onWrite = () => (peakMemory = Math.max(peakMemory, s.memoryInUseBytes));
    const jobs = [s.compact([first]), s.compact([second])];
    await vi.waitFor(() => expect(writer.active).toBeGreaterThan(0));
    // Give a second job every chance to start.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const waiting = s.stats();
    if (budgetJobs < 2) {
      expect(writer.active).toBe(1);
      expect(waiting).toMatchObject({ running: 1, waitingForMemory: 1, memoryInUseBytes: estimate });
    }
    writer.open();
    const results = await Promise.all(jobs);
    expect(results.map((r) => r.map((j) => [j.kind, j.inputs.length, j.outputs.length]))).toEqual([
      [["merge", 4, 1]],
      [["merge", 4, 1]],
    ]);
    // Nothing lost: every table reads the rows it had.
    expect([await setup.rows(first), await setup.rows(second)]).toEqual(before);
    expect(s.stats()).toMatchObject({ memoryInUseBytes: 0, waitingForMemory: 0, running: 0, mergeJobs: 2 });
    return { maxActive: writer.maxActive, peakMemory, estimate };
  }

  it("starts a job only when it fits beside the running ones, and it runs once they finish", async () => {
    const { maxActive, peakMemory, estimate } = await runTwoTables(1.5);
    expect(maxActive).toBe(1);
    expect(peakMemory).toBe(estimate);
  });

  it("runs the same jobs side by side when the budget holds both", async () => {
    const { maxActive, peakMemory, estimate } = await runTwoTables(2.5);
    expect(maxActive).toBe(2);
    expect(peakMemory).toBe(2 * estimate);
  });

  it("cuts a job larger than the whole budget down to one that fits", async () => {
    setup = await tablesWithFiles(1, 8);
    const table = setup.tables[0] as Table;
    const before = await setup.rows(table);
    const options = { minFilesPerJob: 2 };
    const whole = estimateOf(table, options);
    const budget = Math.floor(whole * 0.6);
    const writer = new GatedWriter();
    writer.open();
    const s = scheduler(setup, writer, { ...options, memoryBudgetBytes: budget });
    running = s;
    const held: number[] = [];
    writer.onWrite = () => held.push(s.memoryInUseBytes);
    const jobs = await s.compact([table]);
    expect(jobs.length).toBeGreaterThan(1);
    expect(jobs[0]?.inputs.length).toBeLessThan(8);
    expect(jobs[0]?.inputs.length).toBeGreaterThanOrEqual(2);
    for (const memory of held) expect(memory).toBeLessThanOrEqual(budget);
    expect(table.manifest.state.ssts.size).toBe(1);
    expect(await setup.rows(table)).toEqual(before);
  });

  it("refuses with a clear error when no job fits the budget, and leaves the files alone", async () => {
    setup = await tablesWithFiles(1, 4);
    const table = setup.tables[0] as Table;
    const files = [...table.manifest.state.ssts.keys()];
    const s = scheduler(setup, new SstWriter(), { memoryBudgetBytes: 1000 });
    running = s;
    const error = await s.compact([table]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CompactionError);
    expect(error).toMatchObject({ kind: "too_large", table: "public.t1" });
    expect((error as Error).message).toMatch(/more than the compaction memory budget of 1000 bytes/);
    expect(s.stats()).toMatchObject({ failedJobs: 1, memoryInUseBytes: 0 });
    expect([...table.manifest.state.ssts.keys()]).toEqual(files);
  });

  it("removes expired files whatever the budget: that holds no memory", async () => {
    setup = await tablesWithFiles(1, 4, { enable_ttl: "true", ttl: "1d" });
    const table = setup.tables[0] as Table;
    const s = scheduler(setup, new SstWriter(), { memoryBudgetBytes: 1 });
    running = s;
    const jobs = await s.compact([table]);
    expect(jobs.map((j) => [j.kind, j.inputs.length])).toEqual([["expire", 4]]);
    expect(table.manifest.state.ssts.size).toBe(0);
  });

  it("checks the budget option", () => {
    expect(() => resolveCompactionOptions({ memoryBudgetBytes: 0 })).toThrow(/memoryBudgetBytes/);
    expect(resolveCompactionOptions().memoryBudgetBytes).toBe(1024 ** 3);
  });
});
