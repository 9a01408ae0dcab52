import type { TableSchemaJson } from "../table/schema.js";

/** One SST file of a table as the manifest records it. */
export interface SstFileEntry {
  /** Allocated with `allocateFileIds`; unique within the table and never reused. */
  readonly fileId: number;
  /** Object key of the file, e.g. `<cluster>/tables/<tableId>/sst/<fileId>.parquet`. */
  readonly key: string;
  /** Size of the object in bytes. */
  readonly size: number;
  readonly rowCount: number;
  /** Smallest and largest timestamp of the rows, both inclusive, in ms. */
  readonly timeRange: { readonly min: number; readonly max: number };
  /** Largest WAL sequence of any row in the file. */
  readonly maxSequence: number;
  /** Version of the table schema the file was written with. */
  readonly schemaVersion: number;
  /**
   * SST-layer metadata (e.g. per-row-group statistics), any JSON value. The manifest stores it as is;
   * values that JSON cannot carry (bigint, undefined, NaN) are not allowed or do not survive.
   */
  readonly meta: unknown;
}

/** Adds an SST; its file id must already be allocated and not be in the manifest. */
export interface AddSstOp {
  readonly type: "addSst";
  readonly sst: SstFileEntry;
}

/** Removes an SST that is in the manifest. */
export interface RemoveSstOp {
  readonly type: "removeSst";
  readonly fileId: number;
}

/** Every row with a WAL sequence <= `sequence` is in an SST; never decreases. */
export interface SetFlushedSequenceOp {
  readonly type: "setFlushedSequence";
  readonly sequence: number;
}

/** Replaces the schema; its version must be higher than the current one. */
export interface AlterSchemaOp {
  readonly type: "alterSchema";
  readonly schema: TableSchemaJson;
}

/** Sets the given options (HoraeDB names, e.g. `ttl`), keeping the others. */
export interface AlterOptionsOp {
  readonly type: "alterOptions";
  readonly options: Readonly<Record<string, string>>;
}

/** Reserves the next `count` file ids: [nextFileId, nextFileId + count). */
export interface AllocateFileIdsOp {
  readonly type: "allocateFileIds";
  readonly count: number;
}

export type ManifestOp =
  AddSstOp | RemoveSstOp | SetFlushedSequenceOp | AlterSchemaOp | AlterOptionsOp | AllocateFileIdsOp;

/**
 * One logical change, committed atomically as one object: readers see all of its operations or none.
 * Operations apply in order, e.g. a compaction is `[addSst(out)..., removeSst(in)...]`.
 */
export type ManifestEdit = readonly ManifestOp[];

/** Constructors of the manifest operations. */
export const ManifestOp = {
  addSst: (sst: SstFileEntry): AddSstOp => ({ type: "addSst", sst }),
  removeSst: (fileId: number): RemoveSstOp => ({ type: "removeSst", fileId }),
  setFlushedSequence: (sequence: number): SetFlushedSequenceOp => ({ type: "setFlushedSequence", sequence }),
  alterSchema: (schema: TableSchemaJson): AlterSchemaOp => ({ type: "alterSchema", schema }),
  alterOptions: (options: Readonly<Record<string, string>>): AlterOptionsOp => ({
    type: "alterOptions",
    options,
  }),
  allocateFileIds: (count: number): AllocateFileIdsOp => ({ type: "allocateFileIds", count }),
} as const;
