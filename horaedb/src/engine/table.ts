import type { ColumnBatch } from "../batch/column-batch.js";
import { ManifestOp, type TableManifest } from "../manifest/index.js";
import { MemtableSet, type MemoryTracker } from "../memtable/index.js";
import { parseTableOptions, type TableOptions } from "../table/options.js";
import { TableSchema } from "../table/schema.js";
import { SerialQueue } from "../util/serial.js";

/** What identifies a table to the engine. */
export interface TableIdentity {
  readonly id: number;
  readonly schemaName: string;
  readonly name: string;
  readonly shardId: number;
}

/**
 * A table open on this instance: its manifest (SSTs, flushed sequence, schema, options) and its
 * memtables. Rows reach the memtables strictly in WAL sequence order (see `applyInOrder`), so at any
 * moment the memtables hold exactly the table's rows with sequence > flushedSequence, and a frozen
 * memtable holds every such row up to its maxSequence: that makes the flushed sequence exact.
 */
export class Table {
  readonly identity: TableIdentity;
  readonly manifest: TableManifest;
  readonly memtables: MemtableSet;
  #schema: TableSchema;
  #options: TableOptions;
  #applyTail: Promise<unknown> = Promise.resolve();
  /** Schema and option changes, one at a time. */
  readonly #schemaChanges = new SerialQueue();
  /** Lower bounds of the sequences of writes sent to the WAL but not yet in a memtable. */
  readonly #pendingLowerBounds = new Map<number, number>();
  #nextPendingId = 0;
  /** Set while a flush of this table runs; later flush requests join it. */
  flushing: Promise<void> | undefined;
  dropped = false;

  constructor(identity: TableIdentity, manifest: TableManifest) {
    this.identity = identity;
    this.manifest = manifest;
    this.#schema = TableSchema.fromJSON(manifest.state.schema);
    this.#options = parseTableOptions(manifest.state.options);
    this.memtables = new MemtableSet({
      schema: this.#schema,
      updateMode: this.#options.updateMode,
      table: this.qualifiedName,
    });
  }

  get qualifiedName(): string {
    return `${this.identity.schemaName}.${this.identity.name}`;
  }

  get schema(): TableSchema {
    return this.#schema;
  }

  get options(): TableOptions {
    return this.#options;
  }

  get flushedSequence(): number {
    return this.manifest.state.flushedSequence;
  }

  /**
   * The smallest WAL sequence this table may still need on recovery: its oldest unflushed row, or
   * the lower bound of a write in flight. Undefined when it needs nothing from the WAL.
   */
  get minNeededSequence(): number | undefined {
    let min = this.memtables.minSequence;
    for (const bound of this.#pendingLowerBounds.values())
      min = min === undefined ? bound : Math.min(min, bound);
    return min;
  }

  /** Persists a new schema version in the manifest, then lets the memtables accept it. */
  alterSchema(next: (current: TableSchema) => TableSchema | undefined): Promise<TableSchema> {
    return this.#schemaChanges.run(async () => {
      const schema = next(this.#schema);
      if (schema === undefined || schema.version <= this.#schema.version) return this.#schema;
      await this.manifest.commit([ManifestOp.alterSchema(schema.toJSON())]);
      this.#schema = schema;
      this.memtables.updateSchema(schema);
      return schema;
    });
  }

  /** Persists changed options (`ALTER TABLE ... MODIFY SETTING`). */
  alterOptions(raw: Readonly<Record<string, string>>): Promise<TableOptions> {
    return this.#schemaChanges.run(async () => {
      const options = parseTableOptions(raw, this.#options, this.qualifiedName);
      await this.manifest.commit([ManifestOp.alterOptions(raw)]);
      this.#options = options;
      return options;
    });
  }

  /**
   * Runs a WAL append and applies its rows to the memtables in the order the appends were issued
   * (which is sequence order). `append` must assign the sequence synchronously when called.
   */
  applyInOrder(lowerBound: number, append: () => Promise<number>, batch: ColumnBatch): Promise<number> {
    const pendingId = this.#nextPendingId++;
    this.#pendingLowerBounds.set(pendingId, lowerBound);
    const appended = append();
    const previous = this.#applyTail;
    const applied = (async () => {
      try {
        const sequence = await appended;
        await previous;
        this.memtables.append(batch, sequence);
        return sequence;
      } finally {
        this.#pendingLowerBounds.delete(pendingId);
      }
    })();
    this.#applyTail = applied.catch(() => undefined);
    return applied;
  }

  /** Resolves once every write issued so far has reached the memtables (or failed). */
  settled(): Promise<unknown> {
    return this.#applyTail;
  }

  reportMemory(tracker: MemoryTracker): void {
    if (this.dropped) tracker.remove(this.identity.id);
    else tracker.update(this.identity.id, this.memtables.memoryUsage());
  }
}
