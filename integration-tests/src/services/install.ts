import { execFile } from "node:child_process";
import { access, constants } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { MissingProgramError, PackageInstallError } from "./errors.js";

const execFileAsync = promisify(execFile);

/** A program a service runs, and the Debian package that provides it. */
export interface SystemProgram {
  command: string;
  debianPackage: string;
}

export const ETCD: SystemProgram = { command: "etcd", debianPackage: "etcd-server" };
export const JAVA: SystemProgram = { command: "java", debianPackage: "openjdk-17-jre-headless" };
export const MAVEN: SystemProgram = { command: "mvn", debianPackage: "maven" };

export async function findOnPath(command: string): Promise<string | undefined> {
  for (const dir of (process.env["PATH"] ?? "").split(path.delimiter)) {
    if (dir === "") continue;
    const candidate = path.join(dir, command);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not in this directory.
    }
  }
  return undefined;
}

// dpkg takes a global lock, so installs run one at a time; the index is refreshed at most once.
let aptQueue: Promise<unknown> = Promise.resolve();
let aptIndexUpdated: Promise<void> | undefined;
const installs = new Map<string, Promise<string>>();

async function apt(args: string[]): Promise<void> {
  // Another process (unattended upgrades, a parallel run) may hold the dpkg lock for a while.
  await execFileAsync("apt-get", ["-o", "DPkg::Lock::Timeout=300", ...args], {
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    maxBuffer: 64 * 1024 * 1024,
  });
}

function outputOf(error: unknown): string {
  const { stdout, stderr, message } = error as { stdout?: string; stderr?: string; message?: string };
  const text = `${stdout ?? ""}${stderr ?? ""}`.trim();
  return (text !== "" ? text : (message ?? String(error))).split("\n").slice(-20).join("\n");
}

async function aptInstall(debianPackage: string): Promise<void> {
  const run = aptQueue.then(async () => {
    try {
      await apt(["install", "-y", "-q", debianPackage]);
    } catch {
      // Usually a stale or missing package index (fresh containers ship none).
      aptIndexUpdated ??= apt(["update", "-q"]);
      await aptIndexUpdated;
      await apt(["install", "-y", "-q", debianPackage]);
    }
  });
  aptQueue = run.catch(() => undefined);
  try {
    await run;
  } catch (error) {
    throw new PackageInstallError(debianPackage, outputOf(error), { cause: error });
  }
}

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/**
 * Returns the path of `program`, installing its Debian package first when it is missing and we run
 * as root. Not root: throws MissingProgramError naming the package.
 */
export function ensureProgram(program: SystemProgram): Promise<string> {
  let install = installs.get(program.command);
  if (install === undefined) {
    install = (async () => {
      const found = await findOnPath(program.command);
      if (found !== undefined) return found;
      if (!isRoot()) throw new MissingProgramError(program.command, program.debianPackage);
      await aptInstall(program.debianPackage);
      const installed = await findOnPath(program.command);
      if (installed === undefined) {
        throw new PackageInstallError(
          program.debianPackage,
          `the package did not provide '${program.command}'`,
        );
      }
      return installed;
    })();
    // A failed attempt is not remembered, so a later call can try again.
    install.catch(() => installs.delete(program.command));
    installs.set(program.command, install);
  }
  return install;
}
