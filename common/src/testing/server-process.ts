import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";

export interface LogLine {
  readonly level: string;
  readonly msg: string;
  readonly [field: string]: unknown;
}

/** A server executable run as a child process, with its stdout parsed as JSON log lines. */
export class ServerProcess {
  readonly child: ChildProcess;
  /** Every stdout line, JSON or not (e.g. `--help` output). */
  readonly stdout: string[] = [];
  /** The stdout lines that are JSON log lines. */
  readonly lines: LogLine[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #waiters: { predicate: (line: LogLine) => boolean; resolve: (line: LogLine) => void }[] = [];

  constructor(script: string, args: readonly string[], env: Record<string, string | undefined> = {}) {
    this.child = spawn(process.execPath, [script, ...args], {
      env: { ...environmentWithout(["HORAEDB_", "HORAEMETA_"]), ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.exited = once(this.child, "exit").then(([code, signal]) => ({
      code: code as number | null,
      signal: signal as NodeJS.Signals | null,
    }));
    createInterface({ input: this.child.stdout! }).on("line", (text) => {
      this.stdout.push(text);
      if (!text.startsWith("{")) return;
      const line = JSON.parse(text) as LogLine;
      this.lines.push(line);
      this.#waiters = this.#waiters.filter((waiter) => {
        if (!waiter.predicate(line)) return true;
        waiter.resolve(line);
        return false;
      });
    });
    createInterface({ input: this.child.stderr! }).on("line", (text) => this.stderr.push(text));
  }

  /** The first log line matching the predicate; rejects if the process exits or time runs out first. */
  waitForLine(predicate: (line: LogLine) => boolean, timeoutMs = 10_000): Promise<LogLine> {
    const seen = this.lines.find(predicate);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no matching log line within ${timeoutMs} ms`)),
        timeoutMs,
      );
      void this.exited.then(({ code }) => {
        clearTimeout(timer);
        reject(
          new Error(
            `process exited with code ${code} before the log line; stdout: ${JSON.stringify(this.lines)}`,
          ),
        );
      });
      this.#waiters.push({
        predicate,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
    });
  }

  /** Resolves to the exit code, or rejects if the process is still running after `timeoutMs`. */
  async exitCode(timeoutMs: number): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`process still running after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return (await Promise.race([this.exited, timeout])).code;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Kills the process if it is still running (test cleanup). */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
  }
}

function environmentWithout(prefixes: readonly string[]): Record<string, string | undefined> {
  return Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !prefixes.some((prefix) => name.startsWith(prefix))),
  );
}
