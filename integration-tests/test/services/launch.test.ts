import { mkdtemp, readFile, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PortInUseError, ServiceStartError } from "../../src/services/errors.js";
import { launchService, type LaunchPlan } from "../../src/services/launch.js";
import { LOOPBACK } from "../../src/services/ports.js";
import { isProcessRunning, stopProcessById, SupervisedProcess } from "../../src/services/process.js";
import { waitFor } from "../support/wait.js";

// Start, readiness, port retry and shutdown, exercised with small Node programs standing in for
// the real servers.

let dir: string;
const cleanups: Array<() => Promise<void>> = [];

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "horaedb-launch-test-"));
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await rm(dir, { recursive: true, force: true });
});

/** A Node program given as source text. */
function nodeProgram(source: string): Pick<LaunchPlan<unknown>, "command" | "args"> {
  return { command: process.execPath, args: ["-e", source] };
}

const GREETING = "fake-service";

/** Greets every connection on `port`; Node reports a taken port as "address already in use". */
function greetingServer(port: number): Pick<LaunchPlan<unknown>, "command" | "args"> {
  return nodeProgram(
    `require("net").createServer((s) => s.end("${GREETING}")).listen(${port}, "${LOOPBACK}")`,
  );
}

/** Passes only against the greeting server, not against whatever else listens on the port. */
function greets(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let received = "";
    const socket = net.connect(port, LOOPBACK);
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (received += chunk));
    socket.once("end", () =>
      received === GREETING ? resolve() : reject(new Error(`unexpected reply '${received}'`)),
    );
    socket.once("error", reject);
  });
}

/** Takes `port` for another program that accepts connections and closes them without a word. */
function squat(port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((socket) => socket.end());
    server.once("error", reject);
    server.listen(port, LOOPBACK, () => resolve(server));
  });
}

describe("launchService", () => {
  it("retries on fresh ports when a port was taken between picking and binding", async () => {
    const attempts: number[] = [];
    const launched = await launchService({
      name: "fake",
      options: { dir, startTimeoutMs: 10_000 },
      portCount: 1,
      defaultStartTimeoutMs: 10_000,
      stopGraceMs: 1_000,
      prepare: async (ports) => {
        const port = ports[0]!;
        attempts.push(port);
        if (attempts.length === 1) {
          // Someone else grabs the port first.
          const squatter = await squat(port);
          cleanups.push(() => new Promise((resolve) => squatter.close(() => resolve())));
        }
        return {
          ...greetingServer(port),
          endpoint: port,
          address: `${LOOPBACK}:${port}`,
          probe: () => greets(port),
        };
      },
    });
    cleanups.push(() => launched.process.stop(1_000));

    expect(attempts).toHaveLength(2);
    expect(launched.endpoint).toBe(attempts[1]);
    expect(attempts[1]).not.toBe(attempts[0]);
    const log = await readFile(path.join(dir, "fake.log"), "utf8");
    expect(log).toMatch(/address already in use/i);
  });

  it("gives up on a taken port after three attempts", async () => {
    let attempts = 0;
    const started = launchService({
      name: "fake",
      options: { dir },
      portCount: 1,
      defaultStartTimeoutMs: 10_000,
      stopGraceMs: 1_000,
      prepare: async (ports) => {
        attempts++;
        const squatter = await squat(ports[0]!);
        cleanups.push(() => new Promise((resolve) => squatter.close(() => resolve())));
        return { ...greetingServer(ports[0]!), endpoint: 0, address: "", probe: () => greets(ports[0]!) };
      },
    });
    await expect(started).rejects.toBeInstanceOf(PortInUseError);
    expect(attempts).toBe(3);
  });

  it("fails with the log tail when the process exits before it is ready", async () => {
    const started = launchService({
      name: "fake",
      options: { dir },
      portCount: 1,
      defaultStartTimeoutMs: 10_000,
      stopGraceMs: 1_000,
      prepare: () =>
        Promise.resolve({
          ...nodeProgram(`console.error("invalid setting: wal.dir"); process.exit(3)`),
          endpoint: 0,
          address: "",
          probe: () => Promise.reject(new Error("not listening")),
        }),
    });
    const error = await started.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ServiceStartError);
    expect(error).not.toBeInstanceOf(PortInUseError);
    expect((error as ServiceStartError).reason).toContain("exited with code 3");
    expect((error as ServiceStartError).logTail).toContain("invalid setting: wal.dir");
  });

  it("stops the process and reports the last probe error when readiness times out", async () => {
    const pidFile = path.join(dir, "pid");
    const started = launchService({
      name: "fake",
      options: { dir, startTimeoutMs: 1_000 },
      portCount: 1,
      defaultStartTimeoutMs: 60_000,
      stopGraceMs: 1_000,
      prepare: () =>
        Promise.resolve({
          ...nodeProgram(
            `require("fs").writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); setInterval(() => {}, 1000)`,
          ),
          endpoint: 0,
          address: "",
          probe: () => Promise.reject(new Error("still warming up")),
        }),
    });
    const error = await started.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ServiceStartError);
    expect((error as ServiceStartError).reason).toMatch(/not ready after 1 s .*still warming up/);
    const pid = Number(await readFile(pidFile, "utf8"));
    expect(await isProcessRunning(pid)).toBe(false);
  });
});

describe("process supervision", () => {
  it("escalates to SIGKILL when the process ignores SIGTERM", async () => {
    const logFile = path.join(dir, "stubborn.log");
    const child = await SupervisedProcess.spawn({
      name: "stubborn",
      ...nodeProgram(
        `process.on("SIGTERM", () => {}); console.log("ignoring SIGTERM"); setInterval(() => {}, 1000)`,
      ),
      cwd: dir,
      logFile,
    });
    cleanups.push(() => child.stop(100));
    await waitFor(
      "the handler to be installed",
      async () => (await readFile(logFile, "utf8")).includes("ignoring"),
      5_000,
    );

    await child.stop(300);
    expect(child.exit).toEqual({ code: null, signal: "SIGKILL" });
  });

  it("stops a process by pid only while the pid still runs the recorded program", async () => {
    const marker = path.join(dir, "marker-service");
    const child = await SupervisedProcess.spawn({
      name: "detached",
      command: process.execPath,
      args: ["-e", "setInterval(() => {}, 1000)", marker],
      cwd: dir,
      logFile: path.join(dir, "detached.log"),
      detached: true,
    });
    cleanups.push(() => child.stop(100));

    expect(await stopProcessById("detached", child.pid, path.join(dir, "another-service"), 1_000)).toBe(
      false,
    );
    expect(await isProcessRunning(child.pid, marker)).toBe(true);

    expect(await stopProcessById("detached", child.pid, marker, 1_000)).toBe(true);
    expect(await isProcessRunning(child.pid, marker)).toBe(false);
    expect(await stopProcessById("detached", child.pid, marker, 1_000)).toBe(false);
  });
});
