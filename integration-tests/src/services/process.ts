import { spawn, type ChildProcess } from "node:child_process";
import { open, readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { ServiceStopError } from "./errors.js";

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnSpec {
  /** Service name, for messages. */
  name: string;
  command: string;
  args: readonly string[];
  cwd: string;
  /** stdout and stderr are appended here. */
  logFile: string;
  env?: NodeJS.ProcessEnv;
  /** Run in its own session so it outlives this process (`npm run services -- up`). */
  detached?: boolean;
}

/** Time allowed to exit after SIGKILL before we give up on a process. */
const KILL_WAIT_MS = 5_000;

// Children that are not detached die with us: if this process exits without stopping them (a test
// run interrupted with Ctrl-C, an uncaught error), they are killed on the way out.
const attachedChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

function killAttachedChildrenOnExit(child: ChildProcess): void {
  attachedChildren.add(child);
  child.once("exit", () => attachedChildren.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const c of attachedChildren) c.kill("SIGKILL");
  });
}

function describeExit(exit: ProcessExit): string {
  return exit.signal !== null ? `killed by ${exit.signal}` : `exited with code ${String(exit.code)}`;
}

/** A child process whose output goes to a log file and that can be stopped with SIGTERM, then SIGKILL. */
export class SupervisedProcess {
  private exitInfo: ProcessExit | undefined;
  /** Settles when the process has exited, however that happened. */
  readonly exited: Promise<ProcessExit>;

  private constructor(
    readonly name: string,
    readonly pid: number,
    readonly logFile: string,
    private readonly child: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
    });
  }

  static async spawn(spec: SpawnSpec): Promise<SupervisedProcess> {
    const log = await open(spec.logFile, "a");
    try {
      const child = spawn(spec.command, spec.args, {
        cwd: spec.cwd,
        env: spec.env ?? process.env,
        detached: spec.detached ?? false,
        stdio: ["ignore", log.fd, log.fd],
      });
      await new Promise<void>((resolve, reject) => {
        child.once("spawn", resolve);
        child.once("error", reject);
      });
      // The 'spawn' event guarantees a pid.
      const supervised = new SupervisedProcess(spec.name, child.pid!, spec.logFile, child);
      if (spec.detached === true) child.unref();
      else killAttachedChildrenOnExit(child);
      return supervised;
    } finally {
      // The child holds its own descriptor.
      await log.close();
    }
  }

  /** How the process ended, or undefined while it runs. */
  get exit(): ProcessExit | undefined {
    return this.exitInfo;
  }

  describeExit(): string {
    return this.exitInfo === undefined ? "running" : describeExit(this.exitInfo);
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
  async stop(graceMs: number): Promise<void> {
    if (this.exitInfo !== undefined) return;
    this.child.kill("SIGTERM");
    if (await exitsWithin(this.exited, graceMs)) return;
    this.child.kill("SIGKILL");
    if (await exitsWithin(this.exited, KILL_WAIT_MS)) return;
    throw new ServiceStopError(this.name, this.pid);
  }
}

async function exitsWithin(exited: Promise<unknown>, ms: number): Promise<boolean> {
  const timeout = new AbortController();
  try {
    return await Promise.race([exited.then(() => true), sleep(ms, false, { signal: timeout.signal })]);
  } finally {
    timeout.abort();
  }
}

async function readProc(pid: number, file: string): Promise<string | undefined> {
  try {
    return await readFile(`/proc/${pid}/${file}`, "utf8");
  } catch {
    return undefined;
  }
}

/**
 * Whether `pid` is a live process that is still ours: zombies count as dead, and when `marker` is
 * given (a path on the command line) a recycled pid running something else counts as dead too.
 */
export async function isProcessRunning(pid: number, marker?: string): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  // Without /proc (not Linux) the signal probe above is all we know.
  if (process.platform !== "linux") return true;
  // Gone between the signal probe and now when the files are missing.
  const stat = await readProc(pid, "stat");
  if (stat === undefined || /^\S+ \(.*\) [ZX]/s.test(stat)) return false;
  if (marker !== undefined) {
    // Empty while the process is exiting, which also counts as not running.
    const cmdline = await readProc(pid, "cmdline");
    if (cmdline === undefined || !cmdline.includes(marker)) return false;
  }
  return true;
}

async function waitForPidExit(pid: number, marker: string | undefined, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!(await isProcessRunning(pid, marker))) return true;
    await sleep(100);
  }
  return !(await isProcessRunning(pid, marker));
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (error) {
    // Exited in the meantime.
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
  }
}

/**
 * Stops a process that is not our child (started by an earlier `services up`): SIGTERM, then SIGKILL
 * after `graceMs`. Returns false when it was not running (dead pid, or the pid now belongs to another
 * program).
 */
export async function stopProcessById(
  name: string,
  pid: number,
  marker: string,
  graceMs: number,
): Promise<boolean> {
  if (!(await isProcessRunning(pid, marker))) return false;
  signal(pid, "SIGTERM");
  if (await waitForPidExit(pid, marker, graceMs)) return true;
  signal(pid, "SIGKILL");
  if (await waitForPidExit(pid, marker, KILL_WAIT_MS)) return true;
  throw new ServiceStopError(name, pid);
}

/** The last `maxLines` lines of a log file written after byte `fromOffset`, for error messages. */
export async function readLogTail(file: string, maxLines = 40, fromOffset = 0): Promise<string> {
  const maxBytes = 64 * 1024;
  let handle;
  try {
    handle = await open(file, "r");
  } catch {
    return "(no log written)";
  }
  try {
    const { size } = await handle.stat();
    const start = Math.max(fromOffset, size - maxBytes, 0);
    const buffer = Buffer.alloc(Math.max(size - start, 0));
    await handle.read(buffer, 0, buffer.length, start);
    const lines = buffer.toString("utf8").split("\n");
    if (lines.at(-1) === "") lines.pop();
    return lines.slice(-maxLines).join("\n") || "(log is empty)";
  } finally {
    await handle.close();
  }
}
