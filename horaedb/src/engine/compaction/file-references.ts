import type { Logger } from "pino";
import type { SstFileEntry } from "../../manifest/index.js";

export interface SstFileReferencesOptions {
  /** Deletes one SST object (absent objects are not an error). */
  readonly deleteObject: (key: string) => Promise<void>;
  readonly logger: Logger;
}

/**
 * Keeps SST objects alive while something may still read them. A scan pins the files of its view
 * for as long as it runs; a compaction, once its manifest edit removing files is durable, retires
 * them. A retired file is deleted at once if nothing pins it, otherwise when its last pin goes.
 *
 * Retiring right after the edit commits (synchronously, in the same turn of the event loop) is what
 * makes this race-free: a scan takes its view and its pins in one synchronous step, so it either
 * pinned the files before they were retired or never saw them. A file retired but not yet deleted
 * when the process dies is an orphan, removed when the table is next opened (`removeOrphanSsts`).
 */
export class SstFileReferences {
  readonly #deleteObject: (key: string) => Promise<void>;
  readonly #log: Logger;
  /**
   * Pin count per list of files pinned together. A scan pins its view's list, which is the same
   * array for every scan until the table's files change, so a pin costs one map update rather than
   * one per file; whether one file is pinned is asked only when files are retired.
   */
  readonly #pins = new Map<readonly SstFileEntry[], number>();
  /** Removed from the manifest, waiting for the last pin to go: key -> file. */
  readonly #retired = new Map<string, SstFileEntry>();
  readonly #deleting = new Set<Promise<void>>();
  #deleted = 0;
  #deleteFailures = 0;
  #closed = false;

  constructor(options: SstFileReferencesOptions) {
    this.#deleteObject = options.deleteObject;
    this.#log = options.logger;
  }

  /** Pins the files; call the returned function (idempotent) to release them. */
  pin(files: readonly SstFileEntry[]): () => void {
    this.#pins.set(files, (this.#pins.get(files) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#unpin(files);
    };
  }

  /** The files are no longer in the manifest (durably): delete each once nothing pins it. */
  retire(files: readonly SstFileEntry[]): void {
    for (const file of files) {
      if (this.isPinned(file.key)) this.#retired.set(file.key, file);
      else this.#delete(file);
    }
  }

  isPinned(key: string): boolean {
    for (const list of this.#pins.keys()) {
      for (const file of list) if (file.key === key) return true;
    }
    return false;
  }

  /** Retired files that still wait for scans to finish. */
  get waitingForRelease(): number {
    return this.#retired.size;
  }

  /** Objects deleted so far, and deletions that failed (those files stay until the next open). */
  get deletions(): { readonly deleted: number; readonly failed: number } {
    return { deleted: this.#deleted, failed: this.#deleteFailures };
  }

  /** Resolves once every deletion started so far has finished. */
  async settled(): Promise<void> {
    while (this.#deleting.size > 0) await Promise.allSettled([...this.#deleting]);
  }

  /**
   * Stops deleting (the object store is about to close) and waits for deletions under way. Files
   * still pinned, or retired later, stay as orphans for the next open.
   */
  async close(): Promise<void> {
    this.#closed = true;
    await this.settled();
  }

  #unpin(files: readonly SstFileEntry[]): void {
    const count = (this.#pins.get(files) ?? 0) - 1;
    if (count > 0) {
      this.#pins.set(files, count);
      return;
    }
    this.#pins.delete(files);
    if (this.#retired.size === 0) return;
    for (const { key } of files) {
      const retired = this.#retired.get(key);
      if (retired === undefined || this.isPinned(key)) continue;
      this.#retired.delete(key);
      this.#delete(retired);
    }
  }

  #delete(file: SstFileEntry): void {
    if (this.#closed) return;
    const run = this.#deleteObject(file.key).then(
      () => {
        this.#deleted++;
      },
      (error: unknown) => {
        this.#deleteFailures++;
        this.#log.warn(
          { err: error, key: file.key, fileId: file.fileId },
          "could not delete a removed SST; it is removed as an orphan when the table is next opened",
        );
      },
    );
    this.#deleting.add(run);
    void run.finally(() => this.#deleting.delete(run));
  }
}
