import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const PACKAGE_NAME = "@horaedb/integration-tests";

function readPackageJson(dir: string): { name?: unknown; workspaces?: unknown } | undefined {
  try {
    return JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as {
      name?: unknown;
      workspaces?: unknown;
    };
  } catch {
    return undefined;
  }
}

// Located from this module, not the cwd, so it works from src/ (vitest) and dist/src/ (node) alike.
function findUp(predicate: (dir: string) => boolean): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (predicate(dir)) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no matching package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/** The `integration-tests` package directory. */
export function packageDir(): string {
  return findUp((dir) => readPackageJson(dir)?.name === PACKAGE_NAME);
}

/** The repository root: the npm workspace root above this package. */
export function repoRoot(): string {
  return findUp((dir) => readPackageJson(dir)?.workspaces !== undefined);
}

/** `${XDG_CACHE_HOME:-~/.cache}/horaedb-ts`: downloaded service runtimes shared by all checkouts. */
export function cacheRoot(): string {
  const xdg = process.env["XDG_CACHE_HOME"];
  const base = xdg !== undefined && xdg !== "" ? xdg : path.join(os.homedir(), ".cache");
  return path.join(base, "horaedb-ts");
}
