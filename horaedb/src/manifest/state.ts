import { SchemaError } from "../table/errors.js";
import { parseTableOptions } from "../table/options.js";
import type { TableSchemaJson } from "../table/schema.js";
import type { ManifestEdit, SstFileEntry } from "./edit.js";
import { ManifestDataError } from "./errors.js";

/** Flushed sequence of a table that has flushed nothing: every WAL record is newer. */
export const INITIAL_FLUSHED_SEQUENCE = -1;
/** The first file id a table allocates. */
export const FIRST_FILE_ID = 1;

/** What a table consists of at one manifest version. Immutable: every edit makes a new state. */
export interface ManifestState {
  /** Number of edits committed so far; the table's creation is version 1. */
  readonly version: number;
  readonly schema: TableSchemaJson;
  /** Table options by HoraeDB name (see `formatTableOptions`); absent names take their defaults. */
  readonly options: Readonly<Record<string, string>>;
  /** Every row with a WAL sequence <= this is in an SST of `ssts`. */
  readonly flushedSequence: number;
  readonly ssts: ReadonlyMap<number, SstFileEntry>;
  /** The next file id `allocateFileIds` hands out; every id below it may be in use. */
  readonly nextFileId: number;
}

/**
 * Applies the operations of one edit, in order, to `base` (undefined: the table does not exist yet,
 * so the edit must set the schema). Returns the state at `base.version + 1`; `base` is not changed.
 * Throws ManifestDataError naming the operation if the edit breaks a rule.
 */
export function applyEdit(base: ManifestState | undefined, edit: ManifestEdit): ManifestState {
  let schema = base?.schema;
  let options = base?.options ?? {};
  let flushedSequence = base?.flushedSequence ?? INITIAL_FLUSHED_SEQUENCE;
  let nextFileId = base?.nextFileId ?? FIRST_FILE_ID;
  const baseSsts = base?.ssts ?? new Map<number, SstFileEntry>();
  // Copied on the first SST operation only, so edits that do not touch SSTs stay cheap.
  let ssts: Map<number, SstFileEntry> | undefined;
  const writableSsts = () => (ssts ??= new Map(baseSsts));

  edit.forEach((op, i) => {
    const at = `ops[${i}]`;
    switch (op.type) {
      case "addSst": {
        const { fileId, schemaVersion } = op.sst;
        if (schema === undefined)
          throw new ManifestDataError(at, "the schema must be set before adding SSTs");
        if (fileId >= nextFileId) {
          throw new ManifestDataError(
            `${at}.sst.fileId`,
            `file id ${fileId} is not allocated (next file id is ${nextFileId})`,
          );
        }
        if ((ssts ?? baseSsts).has(fileId)) {
          throw new ManifestDataError(`${at}.sst.fileId`, `file id ${fileId} is already in the manifest`);
        }
        if (schemaVersion > schema.version) {
          throw new ManifestDataError(
            `${at}.sst.schemaVersion`,
            `schema version ${schemaVersion} is newer than the table's ${schema.version}`,
          );
        }
        writableSsts().set(fileId, op.sst);
        break;
      }
      case "removeSst":
        if (!(ssts ?? baseSsts).has(op.fileId)) {
          throw new ManifestDataError(`${at}.fileId`, `file id ${op.fileId} is not in the manifest`);
        }
        writableSsts().delete(op.fileId);
        break;
      case "setFlushedSequence":
        if (op.sequence < flushedSequence) {
          throw new ManifestDataError(
            `${at}.sequence`,
            `flushed sequence cannot go back from ${flushedSequence} to ${op.sequence}`,
          );
        }
        flushedSequence = op.sequence;
        break;
      case "alterSchema":
        if (schema !== undefined && op.schema.version <= schema.version) {
          throw new ManifestDataError(
            `${at}.schema.version`,
            `schema version must increase: ${op.schema.version} is not above ${schema.version}`,
          );
        }
        schema = op.schema;
        break;
      case "alterOptions":
        options = { ...options, ...op.options };
        checkOptions(options, `${at}.options`);
        break;
      case "allocateFileIds":
        nextFileId += op.count;
        if (!Number.isSafeInteger(nextFileId)) {
          throw new ManifestDataError(`${at}.count`, `next file id ${nextFileId} is not a safe integer`);
        }
        break;
    }
  });
  if (schema === undefined) throw new ManifestDataError("ops", "the first edit must set the schema");
  return Object.freeze({
    version: (base?.version ?? 0) + 1,
    schema,
    options: Object.freeze(options),
    flushedSequence,
    ssts: ssts ?? baseSsts,
    nextFileId,
  });
}

/** Checks the invariants every state holds (used on snapshots read back). */
export function checkStateConsistency(state: ManifestState): void {
  for (const [fileId, sst] of state.ssts) {
    const at = `ssts[fileId=${fileId}]`;
    if (sst.fileId !== fileId) throw new ManifestDataError(at, `entry has file id ${sst.fileId}`);
    if (fileId >= state.nextFileId) {
      throw new ManifestDataError(at, `file id is not below next file id ${state.nextFileId}`);
    }
    if (sst.schemaVersion > state.schema.version) {
      throw new ManifestDataError(
        at,
        `schema version ${sst.schemaVersion} is newer than ${state.schema.version}`,
      );
    }
  }
  checkOptions(state.options, "options");
}

function checkOptions(options: Readonly<Record<string, string>>, path: string): void {
  try {
    parseTableOptions(options);
  } catch (e) {
    if (e instanceof SchemaError) throw new ManifestDataError(path, e.message, { cause: e });
    throw e;
  }
}
