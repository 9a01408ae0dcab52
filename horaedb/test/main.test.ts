import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { listConfigOptions } from "@horaedb/common";
import { horaeDBConfigDefinition, SERVER_NODE_FLAGS } from "../src/index.js";
import { ServerProcess } from "@horaedb/common/testing";

// Tests run the built executable, exactly as `npm start` does.
const mainScript = fileURLToPath(new URL("../dist/src/main.js", import.meta.url));

let dataRoot: string;
const processes: ServerProcess[] = [];
const blockers: Server[] = [];

beforeEach(() => {
  dataRoot = mkdtempSync(join(tmpdir(), "horaedb-main-"));
});
afterEach(async () => {
  for (const server of processes.splice(0)) server.kill();
  await Promise.all(blockers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
  rmSync(dataRoot, { recursive: true, force: true });
});

function run(args: readonly string[], env: Record<string, string> = {}) {
  const server = new ServerProcess(mainScript, args, env);
  processes.push(server);
  return server;
}

/** Holds a loopback port open so the server under test cannot bind it. */
async function occupiedPort(): Promise<number> {
  const blocker = createServer();
  blockers.push(blocker);
  await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
  const address = blocker.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

describe("horaedb executable", () => {
  it("serves /health until SIGTERM, then exits 0", async () => {
    const dataDir = join(dataRoot, "data");
    const server = run(["--grpc-port", "0", "--http-port", "0", "--data-dir", dataDir]);
    const listening = await server.waitForLine((line) => line.msg === "listening");
    expect(listening).toMatchObject({ level: "info", name: "horaedb", mode: "standalone", dataDir });
    expect(listening.grpc).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(listening.http).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(listening.grpc).not.toBe("127.0.0.1:0");

    const response = await fetch(`http://${String(listening.http)}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: "ok" });

    server.child.kill("SIGTERM");
    await expect(server.exitCode(5_000)).resolves.toBe(0);
    expect(server.lines.map((line) => line.msg)).toEqual(
      expect.arrayContaining(["shutting down", "stopped"]),
    );
    expect(server.stderr).toEqual([]);
  });

  it("reads options from HORAEDB_ environment variables", async () => {
    const dataDir = join(dataRoot, "from-env");
    const server = run(["--grpc-port", "0"], { HORAEDB_SERVER__HTTP_PORT: "0", HORAEDB_DATA_DIR: dataDir });
    const listening = await server.waitForLine((line) => line.msg === "listening");
    expect(listening.dataDir).toBe(dataDir);
    expect(listening.http).not.toBe("127.0.0.1:5440");
    server.child.kill("SIGTERM");
    await expect(server.exitCode(5_000)).resolves.toBe(0);
  });

  it("reads a --config file, environment variables and flags overriding it", async () => {
    const config = join(dataRoot, "horaedb.toml");
    const fromFile = join(dataRoot, "from-file");
    writeFileSync(
      config,
      [`data_dir = ${JSON.stringify(fromFile)}`, "[server]", "grpc_port = 0", "http_port = 0"].join("\n"),
    );
    const cases: [string[], Record<string, string>, string][] = [
      [["--config", config], {}, fromFile],
      [["--config", config], { HORAEDB_DATA_DIR: join(dataRoot, "env") }, join(dataRoot, "env")],
      [
        ["--config", config, "--data-dir", join(dataRoot, "flag")],
        { HORAEDB_DATA_DIR: join(dataRoot, "env") },
        join(dataRoot, "flag"),
      ],
    ];
    for (const [args, env, dataDir] of cases) {
      const server = run(args, env);
      const listening = await server.waitForLine((line) => line.msg === "listening");
      expect(listening.dataDir).toBe(dataDir);
      // The ports of the file, chosen at run time, not the defaults 8831 and 5440.
      expect(listening.grpc).not.toMatch(/:8831$/);
      expect(listening.http).not.toMatch(/:5440$/);
      server.child.kill("SIGTERM");
      await expect(server.exitCode(5_000)).resolves.toBe(0);
    }
  });

  it("exits non-zero with one clear line when the HTTP port is in use", async () => {
    const port = await occupiedPort();
    const server = run([
      "--grpc-port",
      "0",
      "--http-port",
      String(port),
      "--data-dir",
      join(dataRoot, "data"),
    ]);
    await expect(server.exitCode(5_000)).resolves.toBe(1);
    // Informational lines (the engine opening) may come first; the failure is one clear line.
    expect(server.lines.filter((line) => line["level"] === "fatal" || line["level"] === "error")).toEqual([
      expect.objectContaining({
        level: "fatal",
        msg: `startup failed: cannot listen for HTTP on 127.0.0.1:${port}: address already in use`,
      }),
    ]);
  });

  it("exits non-zero with one clear line when the gRPC port is in use", async () => {
    const port = await occupiedPort();
    const server = run([
      "--grpc-port",
      String(port),
      "--http-port",
      "0",
      "--data-dir",
      join(dataRoot, "data"),
    ]);
    await expect(server.exitCode(5_000)).resolves.toBe(1);
    // Informational lines (the engine opening) may come first; the failure is one clear line.
    expect(server.lines.filter((line) => line["level"] === "fatal" || line["level"] === "error")).toEqual([
      expect.objectContaining({
        level: "fatal",
        msg: `startup failed: cannot listen for gRPC on 127.0.0.1:${port}: address already in use`,
      }),
    ]);
  });

  it("exits 2 naming the variable when an environment value is invalid", async () => {
    const server = run(["--data-dir", join(dataRoot, "data")], { HORAEDB_SERVER__GRPC_PORT: "not-a-port" });
    await expect(server.exitCode(5_000)).resolves.toBe(2);
    // Informational lines (the engine opening) may come first; the failure is one clear line.
    expect(server.lines.filter((line) => line["level"] === "fatal" || line["level"] === "error")).toEqual([
      expect.objectContaining({
        level: "fatal",
        msg: 'invalid configuration in environment variable HORAEDB_SERVER__GRPC_PORT: option server.grpc_port: expected an integer (got "not-a-port")',
      }),
    ]);
  });

  it("lists every configuration option in --help", async () => {
    const server = run(["--help"]);
    await expect(server.exitCode(5_000)).resolves.toBe(0);
    const help = server.stdout.join("\n");
    for (const option of listConfigOptions(horaeDBConfigDefinition)) {
      expect(help).toContain(option.key);
      expect(help).toContain(option.env);
    }
    for (const flag of [
      "--config",
      "--bind-addr",
      "--grpc-port",
      "--http-port",
      "--data-dir",
      "--log-level",
    ]) {
      expect(help).toContain(flag);
    }
  });

  it("is started with SERVER_NODE_FLAGS by its shebang and by npm start", () => {
    const shebang = readFileSync(mainScript, "utf8").split("\n", 1)[0];
    expect(shebang).toBe(`#!/usr/bin/env -S node ${SERVER_NODE_FLAGS.join(" ")}`);
    const packageFile = (path: string) =>
      JSON.parse(readFileSync(fileURLToPath(new URL(path, import.meta.url)), "utf8")) as {
        scripts: Record<string, string>;
      };
    for (const start of [
      packageFile("../../package.json").scripts["start"],
      packageFile("../package.json").scripts["start"],
    ]) {
      expect(start).toContain(`node ${SERVER_NODE_FLAGS.join(" ")} `);
    }
  });
});
