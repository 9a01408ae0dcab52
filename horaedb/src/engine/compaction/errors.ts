/** Why a compaction job did not complete. */
export type CompactionErrorKind =
  | "too_large" // the inputs exceed the job's memory budget
  | "aborted" // the engine is closing; nothing was committed
  | "inputs_changed"; // an input left the manifest, or the table was dropped, while the job ran

/** A compaction job stopped before its manifest edit; it names the table and its input files. */
export class CompactionError extends Error {
  override readonly name = "CompactionError";
  readonly kind: CompactionErrorKind;
  readonly table: string;
  readonly inputFileIds: readonly number[];

  constructor(kind: CompactionErrorKind, table: string, inputFileIds: readonly number[], message: string) {
    super(`compaction of table ${table} (files ${inputFileIds.join(", ")}): ${message}`);
    this.kind = kind;
    this.table = table;
    this.inputFileIds = inputFileIds;
  }
}
