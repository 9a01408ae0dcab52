import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { Etcd3 } from "etcd3";
import { ensureProgram, ETCD } from "./install.js";
import { launchService, type RunningService, type StartOptions } from "./launch.js";
import { LOOPBACK } from "./ports.js";
import type { ServiceEndpoints } from "./types.js";

export type EtcdEndpoint = ServiceEndpoints["etcd"];

const MEMBER_NAME = "horaedb-test";
const STOP_GRACE_MS = 5_000;

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

/** Starts a single-member etcd with client and peer URLs on fresh loopback ports. */
export async function startEtcd(options: StartOptions): Promise<RunningService<EtcdEndpoint>> {
  const installStarted = performance.now();
  const etcd = await ensureProgram(ETCD);
  const installMs = performance.now() - installStarted;

  const launched = await launchService<EtcdEndpoint>({
    name: "etcd",
    options,
    portCount: 2,
    defaultStartTimeoutMs: 30_000,
    stopGraceMs: STOP_GRACE_MS,
    prepare: (ports, { dataDir }) => {
      const [clientPort, peerPort] = ports as [number, number];
      const clientUrl = `http://${LOOPBACK}:${clientPort}`;
      const peerUrl = `http://${LOOPBACK}:${peerPort}`;
      const endpoint = { endpoints: [clientUrl] };
      return Promise.resolve({
        command: etcd,
        args: [
          `--name=${MEMBER_NAME}`,
          `--data-dir=${dataDir}`,
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
      });
    },
  });
  return {
    name: "etcd",
    dir: options.dir,
    installMs,
    ...launched,
    stopGraceMs: STOP_GRACE_MS,
    stop: () => launched.process.stop(STOP_GRACE_MS),
  };
}
