/**
 * The database servers a bench compares, each run as a child process on loopback: spawning,
 * readiness, the last lines of output (for error messages), and stopping with SIGTERM then SIGKILL.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { accessSync, constants } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer } from "node:net";
import { delimiter, isAbsolute, join } from "node:path";
import { createInterface } from "node:readline";

/** A service did not start, or stopped answering. */
export class ServiceError extends Error {
  override readonly name = "ServiceError";
  readonly service: string;

  constructor(service: string, message: string, options?: ErrorOptions) {
    super(`${service}: ${message}`, options);
    this.service = service;
  }
}

const OUTPUT_LINES_KEPT = 40;
const IDLE_SAMPLE_MS = 1000;
/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ: 100 on Linux). */
const CLOCK_TICKS_PER_SECOND = 100;

/** User plus system CPU time of a process, in seconds; undefined where /proc cannot tell. */
async function cpuSeconds(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

export class ChildService {
  readonly name: string;
  readonly child: ChildProcess;
  /** The last lines of stdout and stderr. */
  readonly output: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly #lineListeners = new Set<(line: string) => void>();
  #paused = false;

  constructor(name: string, command: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env) {
    this.name = name;
    this.child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    this.exited = once(this.child, "exit").then(([code, signal]) => ({
      code: code as number | null,
      signal: signal as NodeJS.Signals | null,
    }));
    // A spawn failure (e.g. ENOENT) is reported through `exited` and the readiness wait.
    this.child.on("error", (error) => this.#keep(`spawn failed: ${error.message}`));
    for (const stream of [this.child.stdout, this.child.stderr]) {
      if (stream !== null) createInterface({ input: stream }).on("line", (line) => this.#keep(line));
    }
  }

  /** Calls `listener` with every line of output from now on. */
  onLine(listener: (line: string) => void): void {
    this.#lineListeners.add(listener);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Polls `ready` until it resolves true; fails if the process exits or `timeoutMs` passes. */
  async waitUntil(ready: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      if (!this.running) throw this.failure(`exited before ${what}`);
      try {
        if (await ready()) return;
      } catch {
        // Not listening yet.
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw this.failure(`not ${what} within ${timeoutMs} ms`);
  }

  /** An error naming the service, carrying its last lines of output. */
  failure(message: string): ServiceError {
    const tail = this.output.length === 0 ? "" : `; last output:\n  ${this.output.join("\n  ")}`;
    return new ServiceError(this.name, `${message}${tail}`);
  }

  /**
   * Stops the process where it is (SIGSTOP) until `resume()`: it can do no background work meanwhile,
   * as if another system ran alone on the machine.
   */
  pause(): void {
    if (this.running && !this.#paused) this.#paused = this.child.kill("SIGSTOP");
  }

  /** Lets a paused process run again (SIGCONT). */
  resume(): void {
    if (this.#paused && this.running) this.child.kill("SIGCONT");
    this.#paused = false;
  }

  /** SIGTERM, then SIGKILL if it is still running after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    // A stopped process would not act on SIGTERM until continued.
    this.resume();
    this.child.kill("SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), graceMs);
    });
    const outcome = await Promise.race([this.exited, timedOut]);
    clearTimeout(timer);
    if (outcome === "timeout" && this.running) {
      this.child.kill("SIGKILL");
      await this.exited;
    }
  }

  /**
   * Waits until the process uses less than `maxCpuShare` of one core over a second (background work
   * after ingest: compactions, merges, flushes), so that it does not slow down the next system's
   * phase. Resolves false if it is still busy after `timeoutMs` (or its CPU time cannot be read).
   */
  async waitUntilIdle(timeoutMs: number, maxCpuShare = 0.1): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    let previous = await cpuSeconds(this.child.pid);
    while (previous !== undefined && this.running && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, IDLE_SAMPLE_MS));
      const now = await cpuSeconds(this.child.pid);
      if (now === undefined) return false;
      if (now - previous < (maxCpuShare * IDLE_SAMPLE_MS) / 1000) return true;
      previous = now;
    }
    return false;
  }

  #keep(line: string): void {
    this.output.push(line);
    if (this.output.length > OUTPUT_LINES_KEPT) this.output.shift();
    for (const listener of this.#lineListeners) listener(line);
  }
}

/** A TCP port free on 127.0.0.1 right now (the system's pick for port 0). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  server.close();
  await once(server, "close");
  if (address === null || typeof address === "string") throw new Error("no TCP address for port 0");
  return address.port;
}

/** The path of an executable: `name` itself when it has a slash, else the first match on PATH. */
export function findExecutable(name: string): string | undefined {
  const candidates =
    isAbsolute(name) || name.includes("/") ? [name] : pathDirectories().map((d) => join(d, name));
  return candidates.find((path) => {
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function pathDirectories(): string[] {
  return (process.env.PATH ?? "").split(delimiter).filter((d) => d.length > 0);
}
