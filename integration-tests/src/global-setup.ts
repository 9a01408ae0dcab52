import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import type { TestProject } from "vitest/node";
import { ServicesStateError } from "./services/errors.js";
import { probeService } from "./services/probes.js";
import { startServices } from "./services/stack.js";
import { readState, stateFile } from "./services/state.js";
import type { ServiceEndpoints } from "./services/types.js";

// Node 20 is this project's runtime; the SDK's notice about its future releases is noise in test output.
process.env["AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED"] ??= "true";

/** With HORAEDB_USE_RUNNING_SERVICES=1, tests use the services of `npm run services -- up`. */
async function runningServiceEndpoints(): Promise<ServiceEndpoints> {
  const state = await readState();
  if (state === undefined) {
    throw new ServicesStateError(
      `HORAEDB_USE_RUNNING_SERVICES=1 but ${stateFile()} does not exist; run 'npm run services -- up'`,
    );
  }
  await Promise.all(
    state.processes.map((p) =>
      probeService(p.name, state.endpoints).catch((error: unknown) => {
        throw new ServicesStateError(`${p.name} from ${stateFile()} is not ready (see ${p.logFile})`, {
          cause: error,
        });
      }),
    ),
  );
  return state.endpoints;
}

/**
 * Starts etcd, Kafka and s3proxy in a fresh temporary directory for the integration project and
 * hands their endpoints to tests (`inject("services")`). The returned teardown stops them and
 * deletes the directory unless HORAEDB_KEEP_SERVICE_DATA=1.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (process.env["HORAEDB_USE_RUNNING_SERVICES"] === "1") {
    project.provide("services", await runningServiceEndpoints());
    return () => Promise.resolve();
  }

  const dataDir = await mkdtemp(path.join(os.tmpdir(), "horaedb-services-"));
  const removeData = async (): Promise<void> => {
    if (process.env["HORAEDB_KEEP_SERVICE_DATA"] === "1") console.log(`service data kept in ${dataDir}`);
    else await rm(dataDir, { recursive: true, force: true });
  };

  // startServices stops whatever it started when one of the services fails.
  const stack = await startServices({ dataDir, log: (line) => console.log(line) }).catch(
    async (error: unknown) => {
      await removeData();
      throw error;
    },
  );
  project.provide("services", stack.endpoints);
  return async () => {
    const stopping = performance.now();
    try {
      await stack.stop();
      console.log(`services stopped in ${((performance.now() - stopping) / 1000).toFixed(1)} s`);
    } finally {
      await removeData();
    }
  };
}
