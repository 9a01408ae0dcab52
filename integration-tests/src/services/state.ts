import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { ServicesStateError } from "./errors.js";
import type { ServiceName } from "./launch.js";
import { repoRoot } from "./paths.js";
import type { ServiceEndpoints } from "./types.js";

/** One detached service process started by `npm run services -- up`. */
export interface ServiceProcessState {
  name: ServiceName;
  pid: number;
  /** The service directory; it appears on the process's command line, so a recycled pid is recognised. */
  dir: string;
  logFile: string;
  /** How long `down` waits after SIGTERM before SIGKILL. */
  stopGraceMs: number;
}

/** What `up` leaves in `.services/state.json` for `down` and `status`. */
export interface ServicesState {
  dataDir: string;
  startedAt: string;
  endpoints: ServiceEndpoints;
  processes: ServiceProcessState[];
}

export function servicesDir(): string {
  return path.join(repoRoot(), ".services");
}

export function stateFile(): string {
  return path.join(servicesDir(), "state.json");
}

function isServicesState(value: unknown): value is ServicesState {
  const state = value as Partial<ServicesState> | null;
  return (
    typeof state === "object" &&
    state !== null &&
    typeof state.dataDir === "string" &&
    typeof state.endpoints === "object" &&
    Array.isArray(state.processes) &&
    state.processes.every(
      (p) => typeof p.pid === "number" && typeof p.name === "string" && typeof p.dir === "string",
    )
  );
}

/** The recorded state, or undefined when the services are not up. */
export async function readState(): Promise<ServicesState | undefined> {
  let text: string;
  try {
    text = await readFile(stateFile(), "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ServicesStateError(`${stateFile()} is not valid JSON; remove it`, { cause: error });
  }
  if (!isServicesState(parsed))
    throw new ServicesStateError(`${stateFile()} is not a services state file; remove it`);
  return parsed;
}

/** Writes the state file atomically (temp file, then rename). */
export async function writeState(state: ServicesState): Promise<void> {
  const file = stateFile();
  await mkdir(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(state, null, 2)}\n`);
  await rename(temp, file);
}

export async function removeState(): Promise<void> {
  await rm(stateFile(), { force: true });
}
