import { randomBytes } from "node:crypto";
import { mkdtemp, rm, statfs } from "node:fs/promises";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { Etcd3 } from "etcd3";
import { ensureProgram, ETCD } from "./install.js";
import { launchService, type RunningService, type StartOptions } from "./launch.js";
import { LOOPBACK } from "./ports.js";
import type { ServiceEndpoints } from "./types.js";

export type EtcdEndpoint = ServiceEndpoints["etcd"];

const MEMBER_NAME = "horaedb-test";
const STOP_GRACE_MS = 5_000;
/** A memory-backed file system, where present (Linux). */
const SHARED_MEMORY_DIR = "/dev/shm";
/**
 * Free space /dev/shm must have to hold the WAL: etcd preallocates 64 MB segments and prepares the
 * next one ahead. Containers often mount a 64 MiB /dev/shm, too small; the WAL stays on disk there.
 */
const MIN_SHARED_MEMORY_BYTES = 256 * 1024 * 1024;

/**
 * A directory for etcd's write-ahead log in memory, or undefined where there is no /dev/shm with
 * MIN_SHARED_MEMORY_BYTES free.
 * etcd fsyncs its WAL on every write; on a disk shared with Kafka and the S3 server under a full
 * test run, one fsync can take seconds, and every lease renewal waits for it. The tests restart
 * services but never the machine, so a WAL in memory keeps what they rely on.
 */
async function memoryWalRoot(): Promise<string | undefined> {
  try {
    const space = await statfs(SHARED_MEMORY_DIR);
    if (space.bavail * space.bsize < MIN_SHARED_MEMORY_BYTES) return undefined;
    return await mkdtemp(path.join(SHARED_MEMORY_DIR, "horaedb-etcd-wal-"));
  } catch {
    return undefined;
  }
}

/** Passes when etcd serves a linearizable read. */
export async function probeEtcd(endpoint: EtcdEndpoint, timeoutMs = 2_000): Promise<void> {
  const client = new Etcd3({
    hosts: endpoint.endpoints,
    dialTimeout: timeoutMs,
    defaultCallOptions: () => ({ deadline: Date.now() + timeoutMs }),
  });
  try {
    await client.get("horaedb-readiness-probe").string();
  } finally {
    client.close();
  }
}

/**
 * Starts a single-member etcd with client and peer URLs on fresh loopback ports. Unless it is
 * detached (it then outlives this process, which could not remove the directory), its WAL is kept
 * in memory (see memoryWalRoot) and removed when it stops.
 */
export async function startEtcd(options: StartOptions): Promise<RunningService<EtcdEndpoint>> {
  const installStarted = performance.now();
  const etcd = await ensureProgram(ETCD);
  const installMs = performance.now() - installStarted;
  const walRoot = options.detached === true ? undefined : await memoryWalRoot();
  const walDir = walRoot === undefined ? undefined : path.join(walRoot, "wal");
  const removeWal = () =>
    walRoot === undefined ? Promise.resolve() : rm(walRoot, { recursive: true, force: true });

  const launched = await launchService<EtcdEndpoint>({
    name: "etcd",
    options,
    portCount: 2,
    defaultStartTimeoutMs: 30_000,
    stopGraceMs: STOP_GRACE_MS,
    prepare: async (ports, { dataDir }) => {
      const [clientPort, peerPort] = ports as [number, number];
      const clientUrl = `http://${LOOPBACK}:${clientPort}`;
      const peerUrl = `http://${LOOPBACK}:${peerPort}`;
      const endpoint = { endpoints: [clientUrl] };
      // Each launch attempt starts from an empty WAL, as from an empty data directory.
      if (walDir !== undefined) await rm(walDir, { recursive: true, force: true });
      return {
        command: etcd,
        args: [
          `--name=${MEMBER_NAME}`,
          `--data-dir=${dataDir}`,
          ...(walDir === undefined ? [] : [`--wal-dir=${walDir}`]),
          `--listen-client-urls=${clientUrl}`,
          `--advertise-client-urls=${clientUrl}`,
          `--listen-peer-urls=${peerUrl}`,
          `--initial-advertise-peer-urls=${peerUrl}`,
          `--initial-cluster=${MEMBER_NAME}=${peerUrl}`,
          "--initial-cluster-state=new",
          // A fresh token per launch keeps a stray member of another run from joining.
          `--initial-cluster-token=horaedb-test-${randomBytes(6).toString("hex")}`,
          "--logger=zap",
          "--log-outputs=stderr",
        ],
        endpoint,
        address: `${LOOPBACK}:${clientPort}`,
        probe: () => probeEtcd(endpoint),
      };
    },
  }).catch(async (error: unknown) => {
    await removeWal();
    throw error;
  });
  return {
    name: "etcd",
    dir: options.dir,
    installMs,
    ...launched,
    stopGraceMs: STOP_GRACE_MS,
    stop: async () => {
      await launched.process.stop(STOP_GRACE_MS);
      await removeWal();
    },
  };
}
