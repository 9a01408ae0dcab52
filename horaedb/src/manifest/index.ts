export { MANIFEST_FORMAT, MANIFEST_FORMAT_UNCHECKED } from "./codec.js";
export {
  ManifestOp,
  type AddSstOp,
  type AllocateFileIdsOp,
  type AlterOptionsOp,
  type AlterSchemaOp,
  type ManifestEdit,
  type RemoveSstOp,
  type SetFlushedSequenceOp,
  type SstFileEntry,
} from "./edit.js";
export {
  ManifestConflictError,
  ManifestCorruptionError,
  ManifestEditError,
  ManifestWriteError,
} from "./errors.js";
export { editKey, snapshotKey } from "./keys.js";
export { loadManifestState, type LoadedManifest } from "./load.js";
export { FIRST_FILE_ID, INITIAL_FLUSHED_SEQUENCE, type ManifestState } from "./state.js";
export {
  DEFAULT_SNAPSHOT_EVERY,
  TableManifest,
  type NewTableManifest,
  type TableManifestOptions,
} from "./table-manifest.js";
