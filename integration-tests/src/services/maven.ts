import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { MavenResolveError } from "./errors.js";
import { ensureProgram, MAVEN } from "./install.js";
import { cacheRoot, packageDir } from "./paths.js";
import { isProcessRunning } from "./process.js";

const execFileAsync = promisify(execFile);

/** A Java service whose runtime classpath is described by `services/maven/<name>/pom.xml`. */
export type JavaRuntime = "kafka" | "s3proxy";

export interface ResolvedClasspath {
  /** Directory holding every runtime jar; pass `<jarDir>/*` to `java -cp`. */
  jarDir: string;
  /** True when the jars came from the cache without running Maven. */
  cached: boolean;
}

const LOCK_WAIT_MS = 10 * 60_000;

function pomFileOf(runtime: JavaRuntime): string {
  return path.join(packageDir(), "services", "maven", runtime, "pom.xml");
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs `task` holding `<cache>/m2/<runtime>.lock`, a directory holding the owner's pid. Maven 3.8
 * does not lock its local repository, so each runtime has its own repository (the two resolve in
 * parallel) and one resolution at a time may use it, whichever process runs it.
 */
async function withRepositoryLock<T>(
  cache: string,
  runtime: JavaRuntime,
  pomFile: string,
  task: () => Promise<T>,
): Promise<T> {
  const lockDir = path.join(cache, "m2", `${runtime}.lock`);
  const ownerFile = path.join(lockDir, "pid");
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      await mkdir(lockDir);
      await writeFile(ownerFile, String(process.pid));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const owner = await readLockOwner(ownerFile);
      // A lock whose owner died is broken; one without an owner only after a while, because its
      // owner may be between creating it and writing its pid.
      const stale =
        owner === undefined
          ? Date.now() - (await lockCreatedAt(lockDir)) > 10_000
          : !(await isProcessRunning(owner));
      if (stale) {
        await rm(lockDir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) {
        const reason = `timed out waiting for the Maven repository lock ${lockDir} (held by pid ${String(owner)})`;
        throw new MavenResolveError(runtime, pomFile, reason);
      }
      await sleep(500);
    }
  }
  try {
    return await task();
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}

async function readLockOwner(ownerFile: string): Promise<number | undefined> {
  const pid = Number(await readFile(ownerFile, "utf8").catch(() => ""));
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

async function lockCreatedAt(lockDir: string): Promise<number> {
  try {
    return (await stat(lockDir)).mtimeMs;
  } catch {
    return 0;
  }
}

/** Removes temporary directories left by resolutions that were interrupted. */
async function removeAbandonedTempDirs(jarsRoot: string): Promise<void> {
  for (const entry of await readdir(jarsRoot).catch(() => [] as string[])) {
    const match = /^\.tmp-[a-z0-9]+-(\d+)-/.exec(entry);
    if (match !== null && !(await isProcessRunning(Number(match[1])))) {
      await rm(path.join(jarsRoot, entry), { recursive: true, force: true });
    }
  }
}

/**
 * Resolves the runtime jars of `runtime` into `<cache>/jars/<runtime>-<pom hash>/` (Maven's own
 * repository for it is `<cache>/m2/<runtime>/`). The directory
 * appears by an atomic rename once complete, so it is either absent or whole; a changed pom gets a
 * new directory. Maven runs only when the directory is absent.
 */
export async function resolveClasspath(runtime: JavaRuntime): Promise<ResolvedClasspath> {
  const cache = cacheRoot();
  const pomFile = pomFileOf(runtime);
  const pomHash = createHash("sha256")
    .update(await readFile(pomFile))
    .digest("hex")
    .slice(0, 12);
  const jarsRoot = path.join(cache, "jars");
  const jarDir = path.join(jarsRoot, `${runtime}-${pomHash}`);
  if (await exists(jarDir)) return { jarDir, cached: true };

  const mvn = await ensureProgram(MAVEN);
  await mkdir(jarsRoot, { recursive: true });
  await mkdir(path.join(cache, "m2"), { recursive: true });
  return withRepositoryLock(cache, runtime, pomFile, async () => {
    // Another process may have finished the same resolution while we waited for the lock.
    if (await exists(jarDir)) return { jarDir, cached: true };
    await removeAbandonedTempDirs(jarsRoot);
    const work = await mkdtemp(path.join(jarsRoot, `.tmp-${runtime}-${process.pid}-`));
    try {
      // Maven runs on a copy of the pom so nothing is written into the source tree.
      await copyFile(pomFile, path.join(work, "pom.xml"));
      const outputDir = path.join(work, "jars");
      try {
        await execFileAsync(
          mvn,
          [
            "-q",
            "-B",
            "-Dstyle.color=never",
            `-Dmaven.repo.local=${path.join(cache, "m2", runtime)}`,
            "dependency:copy-dependencies",
            `-DoutputDirectory=${outputDir}`,
            "-DincludeScope=runtime",
          ],
          { cwd: work, maxBuffer: 64 * 1024 * 1024 },
        );
      } catch (error) {
        const { stdout, stderr } = error as { stdout?: string; stderr?: string };
        const output = `${stdout ?? ""}${stderr ?? ""}`.trim().split("\n").slice(-30).join("\n");
        throw new MavenResolveError(runtime, pomFile, output || String(error), { cause: error });
      }
      if ((await readdir(outputDir)).length === 0) {
        throw new MavenResolveError(runtime, pomFile, "Maven succeeded but copied no jars");
      }
      await rename(outputDir, jarDir);
      return { jarDir, cached: false };
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
}
