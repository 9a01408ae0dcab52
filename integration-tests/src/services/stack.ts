import { mkdir } from "node:fs/promises";
import path from "node:path";
import { ServicesStartError } from "./errors.js";
import { startEtcd } from "./etcd.js";
import { startKafka } from "./kafka.js";
import type { RunningService, ServiceName, StartOptions } from "./launch.js";
import { startS3proxy } from "./s3proxy.js";
import type { ServiceEndpoints } from "./types.js";

export interface StartServicesOptions {
  /** Each service gets `<dataDir>/<name>/`; created if absent. */
  dataDir: string;
  /** Run the services in their own sessions so they outlive this process. */
  detached?: boolean;
  /** Receives one progress line per service as it becomes ready. */
  log?: (line: string) => void;
}

/** The three services, running and ready. */
export interface ServiceStack {
  dataDir: string;
  endpoints: ServiceEndpoints;
  services: ReadonlyArray<RunningService<unknown>>;
  /** Stops every service (in parallel) and waits for them to exit. */
  stop(): Promise<void>;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

export function describeReady(service: RunningService<unknown>): string {
  return `${service.name} ready on ${service.address} in ${seconds(service.startMs)} (install ${seconds(service.installMs)})`;
}

function startTimeoutMs(): number | undefined {
  const value = Number(process.env["HORAEDB_SERVICE_START_TIMEOUT_MS"]);
  return Number.isFinite(value) && value > 0 ? value : undefined;
}

async function stopAll(services: ReadonlyArray<RunningService<unknown>>): Promise<void> {
  const results = await Promise.allSettled(services.map((service) => service.stop()));
  const failure = results.find((result) => result.status === "rejected");
  if (failure !== undefined) throw failure.reason;
}

/**
 * Starts etcd, Kafka and s3proxy in parallel under `dataDir`. If any of them fails, the others are
 * stopped before the error (a ServicesStartError listing every failure) is thrown.
 */
export async function startServices(options: StartServicesOptions): Promise<ServiceStack> {
  await mkdir(options.dataDir, { recursive: true });
  const timeout = startTimeoutMs();
  const optionsFor = (name: ServiceName): StartOptions => ({
    dir: path.join(options.dataDir, name),
    ...(options.detached !== undefined && { detached: options.detached }),
    ...(timeout !== undefined && { startTimeoutMs: timeout }),
  });
  const report = <S extends RunningService<unknown>>(service: S): S => {
    options.log?.(describeReady(service));
    return service;
  };
  const results = await Promise.allSettled([
    startEtcd(optionsFor("etcd")).then(report),
    startKafka(optionsFor("kafka")).then(report),
    startS3proxy(optionsFor("s3proxy")).then(report),
  ]);
  const [etcd, kafka, s3proxy] = results;
  if (etcd.status === "fulfilled" && kafka.status === "fulfilled" && s3proxy.status === "fulfilled") {
    const services = [etcd.value, kafka.value, s3proxy.value];
    return {
      dataDir: options.dataDir,
      endpoints: { etcd: etcd.value.endpoint, kafka: kafka.value.endpoint, s3: s3proxy.value.endpoint },
      services,
      stop: () => stopAll(services),
    };
  }
  const failures = results.flatMap((result) =>
    result.status === "rejected"
      ? [result.reason instanceof Error ? result.reason : new Error(String(result.reason))]
      : [],
  );
  const started = results.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
  try {
    await stopAll(started);
  } catch (error) {
    failures.push(error instanceof Error ? error : new Error(String(error)));
  }
  throw new ServicesStartError(failures);
}
