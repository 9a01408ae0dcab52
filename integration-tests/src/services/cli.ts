import { rm, rmdir } from "node:fs/promises";
import path from "node:path";
import { Command } from "commander";
import { ServiceError, ServicesStateError } from "./errors.js";
import { SERVICE_NAMES } from "./launch.js";
import { isProcessRunning, stopProcessById } from "./process.js";
import { probeService } from "./probes.js";
import { startServices } from "./stack.js";
import { readState, removeState, servicesDir, stateFile, writeState, type ServicesState } from "./state.js";

// Node 20 is this project's runtime; the SDK's notice about its future releases is noise here.
process.env["AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED"] ??= "true";

function keepDataRequested(flag: boolean | undefined): boolean {
  return flag === true || process.env["HORAEDB_KEEP_SERVICE_DATA"] === "1";
}

/**
 * Deletes what the services keep under `dataDir` (one directory each), and `dataDir` itself once
 * empty. Only those: `--data-dir` may name a directory that holds other things too.
 */
async function removeServiceDirs(dataDir: string): Promise<void> {
  await Promise.all(
    SERVICE_NAMES.map((name) => rm(path.join(dataDir, name), { recursive: true, force: true })),
  );
  await rmdir(dataDir).catch(() => undefined);
}

async function runningProcesses(state: ServicesState): Promise<ServicesState["processes"]> {
  const alive = await Promise.all(state.processes.map((p) => isProcessRunning(p.pid, p.dir)));
  return state.processes.filter((_, i) => alive[i]);
}

async function up(options: { dataDir: string }): Promise<void> {
  const previous = await readState();
  if (previous !== undefined) {
    const running = await runningProcesses(previous);
    if (running.length > 0) {
      const pids = running.map((p) => `${p.name} pid ${p.pid}`).join(", ");
      throw new ServicesStateError(`services are already up (${pids}); run 'npm run services -- down' first`);
    }
    console.log(`removing the state of an earlier run whose processes are gone (${stateFile()})`);
    await removeState();
  }
  const dataDir = path.resolve(options.dataDir);
  // Every `up` starts from empty stores: old data would not match the new ports and cluster ids.
  await removeServiceDirs(dataDir);
  const stack = await startServices({ dataDir, detached: true, log: (line) => console.log(line) });
  await writeState({
    dataDir,
    startedAt: new Date().toISOString(),
    endpoints: stack.endpoints,
    processes: stack.services.map((service) => ({
      name: service.name,
      pid: service.process.pid,
      dir: service.dir,
      logFile: service.process.logFile,
      stopGraceMs: service.stopGraceMs,
    })),
  });
  console.log(`state: ${stateFile()}`);
  console.log(JSON.stringify(stack.endpoints, null, 2));
}

async function down(options: { keepData?: boolean }): Promise<void> {
  const state = await readState();
  if (state === undefined) {
    console.log("services are not up");
    return;
  }
  await Promise.all(
    state.processes.map(async (p) => {
      const wasRunning = await stopProcessById(p.name, p.pid, p.dir, p.stopGraceMs);
      console.log(`${p.name} (pid ${p.pid}) ${wasRunning ? "stopped" : "was not running"}`);
    }),
  );
  if (keepDataRequested(options.keepData)) {
    console.log(`data kept in ${state.dataDir}`);
  } else {
    await removeServiceDirs(state.dataDir);
  }
  await removeState();
}

async function status(options: { json?: boolean }): Promise<void> {
  const state = await readState();
  if (state === undefined) {
    if (options.json === true) console.log(JSON.stringify({ up: false }));
    else console.log("services are not up");
    process.exitCode = 1;
    return;
  }
  const report = await Promise.all(
    state.processes.map(async (p) => {
      const running = await isProcessRunning(p.pid, p.dir);
      const ready = running
        ? await probeService(p.name, state.endpoints).then(
            () => true,
            () => false,
          )
        : false;
      return { name: p.name, pid: p.pid, running, ready, logFile: p.logFile };
    }),
  );
  const healthy = report.every((r) => r.running && r.ready);
  if (options.json === true) {
    console.log(JSON.stringify({ up: healthy, services: report, endpoints: state.endpoints }, null, 2));
  } else {
    for (const r of report) {
      const condition = !r.running ? "not running" : r.ready ? "ready" : "running, not ready";
      console.log(
        `${r.name.padEnd(8)} pid ${String(r.pid).padEnd(8)} ${condition.padEnd(19)} log ${r.logFile}`,
      );
    }
    console.log(JSON.stringify(state.endpoints, null, 2));
  }
  if (!healthy) process.exitCode = 1;
}

const program = new Command("services")
  .description("Real etcd, Kafka and S3 (s3proxy) servers on 127.0.0.1 for development and tests")
  .showHelpAfterError();

program
  .command("up")
  .description("start all three in the background and record them in .services/state.json")
  .option(
    "--data-dir <dir>",
    "where the services keep data and logs (emptied first)",
    path.join(servicesDir(), "data"),
  )
  .action(up);

program
  .command("down")
  .description("stop the services recorded in .services/state.json and delete their data")
  .option("--keep-data", "keep the data directory (also HORAEDB_KEEP_SERVICE_DATA=1)")
  .action(down);

program
  .command("status")
  .description("whether each recorded service runs and passes its readiness check (exit code 1 if not)")
  .option("--json", "print machine-readable JSON")
  .action(status);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  // Our own errors carry all the context in their message; anything else is a bug, so show the stack.
  console.error(error instanceof ServiceError ? `${error.name}: ${error.message}` : error);
  process.exitCode = 1;
}
