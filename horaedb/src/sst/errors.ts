/**
 * Errors of the SST layer. Each names what it is about: the SST object key for files, the table and
 * column for rejected input.
 */

/** Where an SST input error was found. */
export interface SstInputContext {
  readonly table?: string | undefined;
  readonly column?: string | undefined;
  /** Row index within the (concatenated) input, when one row is at fault. */
  readonly row?: number | undefined;
}

/** The rows handed to the SST writer break its contract: unsorted, null keys, unknown columns... */
export class SstInputError extends Error {
  override readonly name = "SstInputError";
  readonly table: string | undefined;
  readonly column: string | undefined;
  readonly row: number | undefined;

  constructor(message: string, context: SstInputContext = {}) {
    const where = [
      context.table === undefined ? undefined : `table ${context.table}`,
      context.column === undefined ? undefined : `column ${JSON.stringify(context.column)}`,
      context.row === undefined ? undefined : `row ${context.row}`,
    ].filter((part) => part !== undefined);
    super(where.length === 0 ? `SST input: ${message}` : `SST input (${where.join(", ")}): ${message}`);
    this.table = context.table;
    this.column = context.column;
    this.row = context.row;
  }
}

/** A column cannot be converted between a ColumnBatch and Arrow (unsupported type, nulls in a non-null field). */
export class ArrowConversionError extends Error {
  override readonly name = "ArrowConversionError";
  readonly column: string;

  constructor(column: string, message: string) {
    super(`column ${JSON.stringify(column)}: ${message}`);
    this.column = column;
  }
}

/**
 * The bytes of an SST are not a file this layer wrote: truncated, bad footer, checksum mismatch,
 * missing or invalid `horaedb.sst_meta`, or a file that disagrees with the SstMeta it was read with.
 */
export class SstCorruptionError extends Error {
  override readonly name = "SstCorruptionError";
  readonly key: string;
  readonly reason: string;

  constructor(key: string, reason: string, options?: { cause?: unknown }) {
    super(`corrupt SST ${JSON.stringify(key)}: ${reason}`, options);
    this.key = key;
    this.reason = reason;
  }
}

/** The SST object does not exist; `cause` is the store's ObjectNotFoundError. */
export class SstNotFoundError extends Error {
  override readonly name = "SstNotFoundError";
  readonly key: string;

  constructor(key: string, cause: unknown) {
    super(`SST ${JSON.stringify(key)} not found`, { cause });
    this.key = key;
  }
}

/** A scan asked for a column that neither the file nor the schema given to the scan has. */
export class SstColumnNotFoundError extends Error {
  override readonly name = "SstColumnNotFoundError";
  readonly key: string;
  readonly column: string;

  constructor(key: string, column: string) {
    super(`SST ${JSON.stringify(key)}: no column ${JSON.stringify(column)} in the file or the scan schema`);
    this.key = key;
    this.column = column;
  }
}

/** An SstMeta value (from a manifest or a file footer) does not have the expected shape. */
export class SstMetaFormatError extends Error {
  override readonly name = "SstMetaFormatError";
  /** Path of the offending field, e.g. `rowGroups[3].columns.host.min`. */
  readonly path: string;

  constructor(path: string, message: string) {
    super(`invalid SST meta at ${path}: ${message}`);
    this.path = path;
  }
}

/** Encoding rows to Parquet failed inside parquet-wasm or the encoder worker. */
export class SstEncodeError extends Error {
  override readonly name = "SstEncodeError";

  constructor(message: string, options?: { cause?: unknown }) {
    super(`SST encode failed: ${message}`, options);
  }
}

/** Decoding a checksum-verified SST failed inside parquet-wasm. */
export class SstDecodeError extends Error {
  override readonly name = "SstDecodeError";
  readonly key: string;

  constructor(key: string, message: string, options?: { cause?: unknown }) {
    super(`SST ${JSON.stringify(key)}: decode failed: ${message}`, options);
    this.key = key;
  }
}

/** The encoder pool was closed before or while the job ran. */
export class SstEncoderClosedError extends Error {
  override readonly name = "SstEncoderClosedError";

  constructor() {
    super("SST encoder pool is closed");
  }
}

/** The encoder pool already holds its maximum number of waiting jobs. */
export class SstEncoderQueueFullError extends Error {
  override readonly name = "SstEncoderQueueFullError";
  readonly maxQueuedJobs: number;

  constructor(maxQueuedJobs: number) {
    super(`SST encoder queue is full (${maxQueuedJobs} jobs waiting)`);
    this.maxQueuedJobs = maxQueuedJobs;
  }
}
