import { mkdir, rm, stat } from "node:fs/promises";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { PortInUseError, ServiceStartError } from "./errors.js";
import { pickFreePorts } from "./ports.js";
import { readLogTail, SupervisedProcess } from "./process.js";

export const SERVICE_NAMES = ["etcd", "kafka", "s3proxy"] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** Options every service's start function takes. */
export interface StartOptions {
  /** Directory owned by the service: its config, `data/` and `<name>.log`. Created if absent. */
  dir: string;
  /** Run the process in its own session so it outlives this one (`npm run services -- up`). */
  detached?: boolean;
  /** How long the process may take from launch to passing its readiness check. */
  startTimeoutMs?: number;
}

/** A started service that passed its readiness check. */
export interface RunningService<E> {
  name: ServiceName;
  process: SupervisedProcess;
  /** The service directory; it appears on the process's command line, which identifies the pid later. */
  dir: string;
  endpoint: E;
  /** `host:port` of the main listener, for messages. */
  address: string;
  /** Time spent making sure the programs and jars are present. */
  installMs: number;
  /** Time from the first launch attempt to readiness. */
  startMs: number;
  /** How long the service may take to exit after SIGTERM before it gets SIGKILL. */
  stopGraceMs: number;
  /** SIGTERM, then SIGKILL after `stopGraceMs`; resolves once the process has exited. */
  stop(): Promise<void>;
}

/** One way to run the service on the given ports, prepared by the service module. */
export interface LaunchPlan<E> {
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  endpoint: E;
  /** `host:port` of the main listener, for messages. */
  address: string;
  /** Resolves when the service answers a real request; rejects otherwise. */
  probe: () => Promise<void>;
}

export interface LaunchSpec<E> {
  name: string;
  options: StartOptions;
  portCount: number;
  defaultStartTimeoutMs: number;
  stopGraceMs: number;
  /**
   * Writes config into `dir` (data goes to `dataDir`, emptied before each attempt) and says how to
   * run on `ports`, which holds exactly `portCount` distinct free ports.
   */
  prepare: (
    ports: readonly number[],
    dirs: { dir: string; dataDir: string; logFile: string },
  ) => Promise<LaunchPlan<E>>;
}

const MAX_ATTEMPTS = 3;
const PROBE_INTERVAL_MS = 200;
const PROBE_TIMEOUT_MS = 5_000;
const PORT_TAKEN = /address already in use|BindException|failed to bind/i;

export function logFileOf(dir: string, name: string): string {
  return path.join(dir, `${name}.log`);
}

async function fileSize(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch {
    return 0;
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  const timer = new AbortController();
  try {
    return await Promise.race([
      promise,
      sleep(ms, undefined, { signal: timer.signal }).then(() => {
        throw new Error(`${what} did not answer within ${ms} ms`);
      }),
    ]);
  } finally {
    timer.abort();
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function waitUntilReady<E>(
  name: string,
  child: SupervisedProcess,
  plan: LaunchPlan<E>,
  timeoutMs: number,
  logOffset: number,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let lastProbeError: unknown;
  for (;;) {
    if (child.exit !== undefined) {
      const tail = await readLogTail(child.logFile, 40, logOffset);
      const ErrorClass = PORT_TAKEN.test(tail) ? PortInUseError : ServiceStartError;
      throw new ErrorClass(
        name,
        `the process ${child.describeExit()} before it was ready`,
        child.logFile,
        tail,
      );
    }
    try {
      await withTimeout(plan.probe(), PROBE_TIMEOUT_MS, `${name} readiness probe`);
      return;
    } catch (error) {
      lastProbeError = error;
    }
    if (performance.now() > deadline) {
      const reason = `not ready after ${timeoutMs / 1000} s (last check: ${messageOf(lastProbeError)})`;
      throw new ServiceStartError(
        name,
        reason,
        child.logFile,
        await readLogTail(child.logFile, 40, logOffset),
      );
    }
    await Promise.race([sleep(PROBE_INTERVAL_MS), child.exited]);
  }
}

/**
 * Launches a service on fresh loopback ports and waits until its probe passes. When the process dies
 * because a port was taken between picking and binding, it retries with new ports and an empty data
 * directory. On any failure the process is stopped before the error is thrown.
 */
export async function launchService<E>(
  spec: LaunchSpec<E>,
): Promise<{ process: SupervisedProcess; endpoint: E; address: string; startMs: number }> {
  const { dir } = spec.options;
  const dataDir = path.join(dir, "data");
  const logFile = logFileOf(dir, spec.name);
  const timeoutMs = spec.options.startTimeoutMs ?? spec.defaultStartTimeoutMs;
  const started = performance.now();
  await mkdir(dir, { recursive: true });
  for (let attempt = 1; ; attempt++) {
    await rm(dataDir, { recursive: true, force: true });
    await mkdir(dataDir, { recursive: true });
    const ports = await pickFreePorts(spec.portCount);
    const plan = await spec.prepare(ports, { dir, dataDir, logFile });
    const logOffset = await fileSize(logFile);
    let child: SupervisedProcess;
    try {
      child = await SupervisedProcess.spawn({
        name: spec.name,
        command: plan.command,
        args: plan.args,
        cwd: dir,
        logFile,
        ...(plan.env !== undefined && { env: plan.env }),
        ...(spec.options.detached !== undefined && { detached: spec.options.detached }),
      });
    } catch (error) {
      throw new ServiceStartError(
        spec.name,
        `could not run ${plan.command}: ${messageOf(error)}`,
        logFile,
        "",
        {
          cause: error,
        },
      );
    }
    try {
      await waitUntilReady(spec.name, child, plan, timeoutMs, logOffset);
      return {
        process: child,
        endpoint: plan.endpoint,
        address: plan.address,
        startMs: performance.now() - started,
      };
    } catch (error) {
      await child.stop(spec.stopGraceMs);
      if (error instanceof PortInUseError && attempt < MAX_ATTEMPTS) continue;
      throw error;
    }
  }
}
