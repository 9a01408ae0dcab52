import { alignToSchema } from "../batch/column-batch.js";
import { decodeBatch, encodeBatch } from "../batch/batch-codec.js";
import type { ShardWal } from "../wal/wal.js";
import type { Table } from "./table.js";
import type { PreparedWrite } from "./write-validation.js";

/** WAL replay found a record that the table's manifest cannot explain. */
export class ReplayError extends Error {
  override readonly name = "ReplayError";
  readonly shardId: number;
  readonly sequence: number;

  constructor(shardId: number, sequence: number, message: string, cause?: unknown) {
    super(`shard ${shardId}, WAL sequence ${sequence}: ${message}`, { cause });
    this.shardId = shardId;
    this.sequence = sequence;
  }
}

export interface ReplayStats {
  readonly fromSequence: number;
  readonly records: number;
  readonly applied: number;
  readonly rows: number;
  readonly skippedDroppedTables: number;
}

/**
 * A shard open on this instance: its WAL and its tables. The WAL sequence space is shared by the
 * shard's tables; each table keeps its own flushed sequence.
 */
export class Shard {
  readonly id: number;
  readonly wal: ShardWal;
  /** Version of the shard this instance holds; stamped into every WAL record. */
  version: number;
  readonly #tables = new Map<number, Table>();

  constructor(id: number, wal: ShardWal, version = 0) {
    this.id = id;
    this.wal = wal;
    this.version = version;
  }

  get tables(): readonly Table[] {
    return [...this.#tables.values()];
  }

  addTable(table: Table): void {
    this.#tables.set(table.identity.id, table);
  }

  removeTable(tableId: number): void {
    this.#tables.delete(tableId);
  }

  /** Appends the rows durably, then applies them to the table's memtables; resolves with the sequence. */
  write(table: Table, prepared: PreparedWrite): Promise<number> {
    const payload = encodeBatch(prepared.batch, prepared.schema.version);
    const record = { tableId: table.identity.id, shardVersion: this.version, payload };
    return table.applyInOrder(this.wal.nextSequence(), () => this.wal.append(record), prepared.batch);
  }

  /**
   * Replays the WAL in one sequential pass from the smallest flushed sequence of the shard's tables,
   * giving each table only the records newer than its own flushed sequence.
   */
  async replay(): Promise<ReplayStats> {
    const tables = this.tables;
    const fromSequence =
      tables.length === 0 ? this.wal.nextSequence() : Math.min(...tables.map((t) => t.flushedSequence + 1));
    let records = 0;
    let applied = 0;
    let rows = 0;
    let skippedDroppedTables = 0;
    for await (const record of this.wal.read(Math.max(0, fromSequence))) {
      records++;
      const table = this.#tables.get(record.tableId);
      if (table === undefined) {
        skippedDroppedTables++;
        continue;
      }
      if (record.sequence <= table.flushedSequence) continue;
      let decoded;
      try {
        decoded = decodeBatch(record.payload);
      } catch (error) {
        throw new ReplayError(
          this.id,
          record.sequence,
          `cannot decode the rows of table ${table.qualifiedName}`,
          error,
        );
      }
      if (decoded.schemaVersion > table.schema.version) {
        throw new ReplayError(
          this.id,
          record.sequence,
          `rows of table ${table.qualifiedName} use schema version ${decoded.schemaVersion}, but its manifest has ${table.schema.version}`,
        );
      }
      table.memtables.append(alignToSchema(decoded.batch, table.schema), record.sequence);
      applied++;
      rows += decoded.batch.numRows;
    }
    return { fromSequence, records, applied, rows, skippedDroppedTables };
  }

  /** Discards WAL records that no table of the shard needs any more. */
  async truncateWal(): Promise<number> {
    let below = this.wal.nextSequence();
    for (const table of this.#tables.values()) {
      const needed = table.minNeededSequence;
      if (needed !== undefined) below = Math.min(below, needed);
    }
    await this.wal.truncateBelow(below);
    return below;
  }
}
