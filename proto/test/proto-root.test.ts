import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

import { PROTO_FILES, PROTO_LOADER_OPTIONS, PROTO_ROOT } from "../src/index.js";

const PACKAGE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

describe("PROTO_ROOT", () => {
  it("is the absolute path of the package's protos directory and holds every loaded file", () => {
    expect(PROTO_ROOT).toBe(path.join(PACKAGE_DIR, "protos"));
    for (const file of Object.values(PROTO_FILES)) expect(existsSync(path.join(PROTO_ROOT, file))).toBe(true);
  });

  it("resolves to the same directory from the built module in dist/src", () => {
    const built = path.join(PACKAGE_DIR, "dist", "src", "index.js");
    expect(existsSync(built), `${built} is missing; build with \`npx tsc -b proto\` first`).toBe(true);
    const printed = execFileSync(
      process.execPath,
      ["--input-type=module", "-e", `console.log((await import(${JSON.stringify(built)})).PROTO_ROOT)`],
      { cwd: PACKAGE_DIR, encoding: "utf8" },
    );
    expect(printed.trim()).toBe(path.join(PACKAGE_DIR, "protos"));
  });

  it("is the include directory of the loader options", () => {
    expect(PROTO_LOADER_OPTIONS.includeDirs).toStrictEqual([PROTO_ROOT]);
  });
});
