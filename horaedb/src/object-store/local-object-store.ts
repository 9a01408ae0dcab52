import { randomBytes } from "node:crypto";
import type { Stats } from "node:fs";
import { link, lstat, mkdir, open, readdir, readFile, rename, stat, unlink } from "node:fs/promises";
import path from "node:path";
import { clampedRangeLength, validateRangeBounds } from "./byte-range.js";
import {
  InvalidObjectKeyError,
  ObjectExistsError,
  ObjectNotFoundError,
  ObjectStoreError,
  ObjectStoreOperationError,
} from "./errors.js";
import {
  isReservedSegment,
  RESERVED_SEGMENT_PREFIX,
  validateListPrefix,
  validateObjectKey,
} from "./object-key.js";
import type { ObjectMeta, ObjectStore, PutOptions } from "./object-store.js";

export interface LocalObjectStoreOptions {
  /**
   * fsync every written object and the directories naming it before put resolves, and the
   * directory after a delete (default true). Turn off only where losing writes on power failure is
   * acceptable, e.g. throwaway benchmarks.
   */
  readonly fsync?: boolean;
}

/** Files stat'ed concurrently while listing. */
const LIST_STAT_CONCURRENCY = 32;

/**
 * An ObjectStore over a local directory (standalone mode): key `a/b/c` is the file `<root>/a/b/c`.
 *
 * put writes a temporary file (named with RESERVED_SEGMENT_PREFIX) in the object's directory,
 * fsyncs it, then renames it over the object (or, with `ifNotExists`, hard-links it to the object
 * name, which fails if that exists) and fsyncs the directory. A reader therefore sees the old file,
 * nothing, or the complete new file; a crash leaves at most a temporary file, which get and list
 * never see and removeTempFiles deletes.
 *
 * Unlike S3, a file system cannot hold both an object `a/b` and an object `a/b/c`: the second put
 * fails with InvalidObjectKeyError. The engine's key layout never does this.
 */
export class LocalObjectStore implements ObjectStore {
  /** Absolute path of the directory holding the objects. */
  readonly root: string;
  private readonly fsync: boolean;
  /** Directories created and made durable (with all their ancestors) by this instance. */
  private readonly durableDirectories = new Map<string, Promise<void>>();

  private constructor(root: string, fsync: boolean) {
    this.root = root;
    this.fsync = fsync;
  }

  /** Opens (creating it if absent) the store rooted at `root`. */
  static async open(root: string, options: LocalObjectStoreOptions = {}): Promise<LocalObjectStore> {
    const absolute = path.resolve(root);
    const store = new LocalObjectStore(absolute, options.fsync ?? true);
    try {
      await mkdir(absolute, { recursive: true });
      if (store.fsync) await syncDirectory(path.dirname(absolute));
    } catch (error) {
      throw new ObjectStoreOperationError("open", absolute, error);
    }
    store.durableDirectories.set(absolute, Promise.resolve());
    return store;
  }

  async put(key: string, data: Uint8Array, options: PutOptions = {}): Promise<void> {
    validateObjectKey(key);
    const file = this.pathOf(key);
    const directory = path.dirname(file);
    try {
      const temp = await this.writeTempFile(directory, data);
      let tempRemains = true;
      try {
        if (options.ifNotExists === true) {
          // link never replaces an existing name, so two racing creators cannot both succeed.
          await link(temp, file);
        } else {
          await rename(temp, file);
          tempRemains = false;
        }
      } finally {
        // A leftover temporary file is invisible and harmless; the outcome of the put stands.
        if (tempRemains) await unlinkIfPresent(temp).catch(() => false);
      }
      if (this.fsync) await syncDirectory(directory);
    } catch (error) {
      throw await this.putError(key, file, error, options.ifNotExists === true);
    }
  }

  async get(key: string): Promise<Uint8Array> {
    validateObjectKey(key);
    try {
      const buffer = await readFile(this.pathOf(key));
      return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    } catch (error) {
      throw readError("get", key, error);
    }
  }

  async getRange(key: string, start: number, end: number): Promise<Uint8Array> {
    validateObjectKey(key);
    validateRangeBounds(key, start, end);
    try {
      const handle = await open(this.pathOf(key), "r");
      try {
        const info = await handle.stat();
        // Opening a directory for reading succeeds; it is not an object.
        if (!info.isFile()) throw new ObjectNotFoundError(key);
        const bytes = new Uint8Array(clampedRangeLength(key, start, end, info.size));
        let filled = 0;
        while (filled < bytes.length) {
          const { bytesRead } = await handle.read(bytes, filled, bytes.length - filled, start + filled);
          // Files are replaced by rename, never truncated in place, so a short file is corruption.
          if (bytesRead === 0) throw new Error(`unexpected end of file at offset ${start + filled}`);
          filled += bytesRead;
        }
        return bytes;
      } finally {
        await handle.close();
      }
    } catch (error) {
      throw readError("getRange", key, error);
    }
  }

  async head(key: string): Promise<ObjectMeta | undefined> {
    validateObjectKey(key);
    try {
      const info = await stat(this.pathOf(key));
      return info.isFile() ? metaOf(key, info) : undefined;
    } catch (error) {
      if (isAbsentError(error)) return undefined;
      throw new ObjectStoreOperationError("head", key, error);
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectMeta> {
    validateListPrefix(prefix);
    const slash = prefix.lastIndexOf("/");
    const directoryKey = prefix.slice(0, slash + 1);
    const namePrefix = prefix.slice(slash + 1);
    try {
      yield* this.walk(directoryKey, namePrefix);
    } catch (error) {
      if (error instanceof ObjectStoreError) throw error;
      throw new ObjectStoreOperationError("list", prefix, error);
    }
  }

  async delete(key: string): Promise<void> {
    validateObjectKey(key);
    const file = this.pathOf(key);
    try {
      await unlink(file);
    } catch (error) {
      // EISDIR: the key is only a prefix of other objects, so there is no object to delete.
      if (isAbsentError(error) || errorCode(error) === "EISDIR") return;
      throw new ObjectStoreOperationError("delete", key, error);
    }
    try {
      // Without this a deleted object could reappear after a power failure.
      if (this.fsync) await syncDirectory(path.dirname(file));
    } catch (error) {
      throw new ObjectStoreOperationError("delete", key, error);
    }
  }

  /** Holds no open handles; nothing to release. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  /**
   * Deletes the temporary files that puts interrupted by a crash left behind, if they were last
   * modified at least `olderThanMs` ago (0: all of them; only safe while no put is running).
   * Returns how many were deleted.
   */
  async removeTempFiles(olderThanMs = 0): Promise<number> {
    const cutoff = Date.now() - olderThanMs;
    let removed = 0;
    const visit = async (directory: string): Promise<void> => {
      for (const entry of await readdirIfPresent(directory)) {
        const entryPath = path.join(directory, entry.name);
        if (entry.isDirectory()) {
          await visit(entryPath);
        } else if (isReservedSegment(entry.name)) {
          const info = await stat(entryPath).catch(() => undefined);
          if (info !== undefined && info.mtimeMs <= cutoff && (await unlinkIfPresent(entryPath))) removed++;
        }
      }
    };
    try {
      await visit(this.root);
    } catch (error) {
      throw new ObjectStoreOperationError("removeTempFiles", "", error);
    }
    return removed;
  }

  private pathOf(key: string): string {
    return path.join(this.root, key);
  }

  /** Writes and fsyncs `data` to a new temporary file in `directory`; returns its path. */
  private async writeTempFile(directory: string, data: Uint8Array): Promise<string> {
    // A second attempt covers a directory removed by someone else after it was made durable.
    for (let attempt = 1; ; attempt++) {
      await this.ensureDirectory(directory);
      const temp = path.join(directory, `${RESERVED_SEGMENT_PREFIX}${randomBytes(8).toString("hex")}`);
      let handle;
      try {
        handle = await open(temp, "wx", 0o644);
      } catch (error) {
        if (errorCode(error) === "ENOENT" && attempt < 2) {
          this.durableDirectories.delete(directory);
          continue;
        }
        throw error;
      }
      try {
        let written = 0;
        while (written < data.length) {
          const { bytesWritten } = await handle.write(data, written, data.length - written);
          written += bytesWritten;
        }
        if (this.fsync) await handle.sync();
        await handle.close();
      } catch (error) {
        await handle.close().catch(() => undefined);
        await unlinkIfPresent(temp).catch(() => false);
        throw error;
      }
      return temp;
    }
  }

  /**
   * Creates `directory` if needed and fsyncs it and each ancestor up to the root, once per
   * directory; concurrent puts into the same new directory share that work, so none of them
   * resolves before the directory's own name is durable.
   */
  private ensureDirectory(directory: string): Promise<void> {
    let ready = this.durableDirectories.get(directory);
    if (ready === undefined) {
      ready = (async () => {
        await mkdir(directory, { recursive: true });
        if (!this.fsync) return;
        for (let current = directory; ; current = path.dirname(current)) {
          await syncDirectory(current);
          if (current === this.root || current === path.dirname(current)) break;
        }
      })();
      this.durableDirectories.set(directory, ready);
      const attempt = ready;
      // A failed attempt is forgotten so that the next put tries again.
      void attempt.catch(() => {
        if (this.durableDirectories.get(directory) === attempt) this.durableDirectories.delete(directory);
      });
    }
    return ready;
  }

  /** Lists the objects under `<root>/<directoryKey>` whose names start with `namePrefix`. */
  private async *walk(directoryKey: string, namePrefix: string): AsyncGenerator<ObjectMeta> {
    const directory = path.join(this.root, directoryKey);
    const entries = (await readdirIfPresent(directory))
      .filter((entry) => entry.name.startsWith(namePrefix) && !isReservedSegment(entry.name))
      .map((entry) => {
        const isDirectory = entry.isDirectory();
        // Every key under directory `x` starts with `x/`, so it sorts as `x/` among its siblings.
        const sortKey = Buffer.from(isDirectory ? `${entry.name}/` : entry.name, "utf8");
        return { name: entry.name, isDirectory, isFile: entry.isFile(), sortKey };
      })
      .sort((a, b) => Buffer.compare(a.sortKey, b.sortKey));

    for (let i = 0; i < entries.length;) {
      const entry = entries[i]!;
      if (entry.isDirectory) {
        yield* this.walk(`${directoryKey}${entry.name}/`, "");
        i++;
        continue;
      }
      // A run of consecutive files is stat'ed concurrently; anything but a regular file is skipped.
      const run: string[] = [];
      for (; i < entries.length && !entries[i]!.isDirectory && run.length < LIST_STAT_CONCURRENCY; i++) {
        if (entries[i]!.isFile) run.push(`${directoryKey}${entries[i]!.name}`);
      }
      const metas = await Promise.all(run.map((key) => this.statForList(key)));
      for (const meta of metas) if (meta !== undefined) yield meta;
    }
  }

  /** Meta of a listed file, or undefined if it was deleted since the directory was read. */
  private async statForList(key: string): Promise<ObjectMeta | undefined> {
    try {
      const info = await stat(this.pathOf(key));
      return info.isFile() ? metaOf(key, info) : undefined;
    } catch (error) {
      if (isAbsentError(error)) return undefined;
      throw error;
    }
  }

  /** Turns a failure of put into the typed error callers handle. */
  private async putError(key: string, file: string, error: unknown, ifNotExists: boolean): Promise<Error> {
    const code = errorCode(error);
    // mkdir of the object's directory meets a file where a directory should be.
    const fileAtPrefix = code === "ENOTDIR" || (code === "EEXIST" && syscallOf(error) === "mkdir");
    if (fileAtPrefix) {
      return new InvalidObjectKeyError(key, "an object exists at a prefix of this key", { cause: error });
    }
    if (code === "EEXIST" && ifNotExists) {
      const existing = await lstat(file).catch(() => undefined);
      if (existing?.isDirectory() !== true) return new ObjectExistsError(key, { cause: error });
    }
    if (code === "EISDIR" || code === "EEXIST") {
      return new InvalidObjectKeyError(key, "other objects have this key as their prefix", { cause: error });
    }
    if (code === "ENAMETOOLONG") {
      return new InvalidObjectKeyError(key, "the file path is too long", { cause: error });
    }
    return new ObjectStoreOperationError("put", key, error);
  }
}

function metaOf(key: string, info: Stats): ObjectMeta {
  return { key, size: info.size, lastModified: Math.floor(info.mtimeMs) };
}

function errorCode(error: unknown): string | undefined {
  if (error instanceof Error && "code" in error && typeof error.code === "string") return error.code;
  return undefined;
}

function syscallOf(error: unknown): string | undefined {
  if (error instanceof Error && "syscall" in error && typeof error.syscall === "string") return error.syscall;
  return undefined;
}

/** ENOENT: no such file; ENOTDIR: a prefix of the key is a file, so the key cannot exist. */
function isAbsentError(error: unknown): boolean {
  const code = errorCode(error);
  return code === "ENOENT" || code === "ENOTDIR";
}

function readError(operation: string, key: string, error: unknown): Error {
  if (error instanceof ObjectStoreError) return error;
  // EISDIR: the key is only a prefix of other objects.
  if (isAbsentError(error) || errorCode(error) === "EISDIR")
    return new ObjectNotFoundError(key, { cause: error });
  return new ObjectStoreOperationError(operation, key, error);
}

async function readdirIfPresent(directory: string) {
  try {
    return await readdir(directory, { withFileTypes: true });
  } catch (error) {
    if (isAbsentError(error)) return [];
    throw error;
  }
}

/** Returns whether the file existed. */
async function unlinkIfPresent(file: string): Promise<boolean> {
  try {
    await unlink(file);
    return true;
  } catch (error) {
    if (errorCode(error) === "ENOENT") return false;
    throw error;
  }
}

/** fsync a directory so the names created or removed in it survive a power failure. */
async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
