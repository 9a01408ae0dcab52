import { createServer, type Server } from "node:net";
import { fileURLToPath } from "node:url";
import { listConfigOptions } from "@horaedb/common";
import { afterEach, describe, expect, it } from "vitest";
import { horaeMetaConfigDefinition } from "../src/index.js";
import { ServerProcess } from "@horaedb/common/testing";

// Tests run the built executable, exactly as `npm run start:meta` does.
const mainScript = fileURLToPath(new URL("../dist/src/main.js", import.meta.url));

const processes: ServerProcess[] = [];
const blockers: Server[] = [];

afterEach(async () => {
  for (const server of processes.splice(0)) server.kill();
  await Promise.all(blockers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
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

describe("horaemeta executable", () => {
  it("serves /health until SIGTERM, then exits 0", async () => {
    const server = run(["--grpc-port", "0", "--http-port", "0", "--cluster-name", "test_cluster"], {
      HORAEMETA_ETCD__ENDPOINTS: "http://127.0.0.1:1,http://127.0.0.1:2",
    });
    const listening = await server.waitForLine((line) => line.msg === "listening");
    expect(listening).toMatchObject({
      level: "info",
      name: "horaemeta",
      cluster: "test_cluster",
      etcdEndpoints: ["http://127.0.0.1:1", "http://127.0.0.1:2"],
      etcdRootPath: "/horaedb",
    });
    expect(listening.grpc).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(listening.http).toMatch(/^127\.0\.0\.1:\d+$/);

    const response = await fetch(`http://${String(listening.http)}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      status: "ok",
      server: "horaemeta",
      cluster: "test_cluster",
      role: "follower",
    });

    server.child.kill("SIGTERM");
    await expect(server.exitCode(5_000)).resolves.toBe(0);
    expect(server.stderr).toEqual([]);
  });

  it("stops cleanly on SIGINT as well", async () => {
    const server = run(["--grpc-port", "0", "--http-port", "0"]);
    await server.waitForLine((line) => line.msg === "listening");
    server.child.kill("SIGINT");
    await expect(server.exitCode(5_000)).resolves.toBe(0);
  });

  it("exits non-zero with one clear line when the gRPC port is in use", async () => {
    const port = await occupiedPort();
    const server = run(["--grpc-port", String(port), "--http-port", "0"]);
    await expect(server.exitCode(5_000)).resolves.toBe(1);
    expect(server.lines).toEqual([
      expect.objectContaining({
        level: "fatal",
        msg: `startup failed: cannot listen for gRPC on 127.0.0.1:${port}: address already in use`,
      }),
    ]);
  });

  it("exits 2 naming the flag when a flag value is invalid", async () => {
    const server = run(["--http-port", "99999"]);
    await expect(server.exitCode(5_000)).resolves.toBe(2);
    expect(server.lines).toEqual([
      expect.objectContaining({
        level: "fatal",
        msg: expect.stringContaining(
          "invalid configuration in command-line flag --http-port: option server.http_port:",
        ) as string,
      }),
    ]);
  });

  it("lists every configuration option in --help", async () => {
    const server = run(["--help"]);
    await expect(server.exitCode(5_000)).resolves.toBe(0);
    const help = server.stdout.join("\n");
    for (const option of listConfigOptions(horaeMetaConfigDefinition)) {
      expect(help).toContain(option.key);
      expect(help).toContain(option.env);
    }
  });
});
