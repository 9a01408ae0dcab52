import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  ConfigError,
  configSection,
  loadConfig,
  parseConfig,
  serverConfigSection,
  type ConfigDefinition,
} from "../src/index.js";

const definition = {
  schema: z.strictObject({
    server: serverConfigSection({ grpcPort: 8831, httpPort: 5440 }),
    data_dir: z.string().default("./data").describe("Data directory."),
    mode: z.enum(["standalone", "cluster"]).default("standalone").describe("Deployment mode."),
    etcd: configSection({
      endpoints: z.array(z.string()).default(["http://127.0.0.1:2379"]).describe("etcd endpoints."),
      tls: z.boolean().default(false).describe("Use TLS."),
    }),
  }),
  envPrefix: "TESTDB",
  flags: { "server.http_port": "http-port", data_dir: "data-dir" },
} satisfies ConfigDefinition;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "config-test-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function writeConfig(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function loadError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("loadConfig precedence", () => {
  it("uses schema defaults when no source sets anything", () => {
    const { config, warnings } = loadConfig(definition, {});
    expect(config).toEqual({
      server: { bind_addr: "127.0.0.1", grpc_port: 8831, http_port: 5440, shutdown_timeout_ms: 10_000 },
      data_dir: "./data",
      mode: "standalone",
      etcd: { endpoints: ["http://127.0.0.1:2379"], tls: false },
    });
    expect(warnings).toEqual([]);
  });

  it("layers defaults < file < environment < flags", () => {
    const file = writeConfig(
      "config.toml",
      [
        'data_dir = "/from/file"',
        'mode = "cluster"',
        "[server]",
        "http_port = 1000",
        "grpc_port = 2000",
      ].join("\n"),
    );
    const { config } = loadConfig(definition, {
      file,
      env: { TESTDB_SERVER__HTTP_PORT: "1001", TESTDB_DATA_DIR: "/from/env" },
      flags: { data_dir: "/from/flag" },
    });
    expect(config.server.grpc_port).toBe(2000); // file only
    expect(config.server.http_port).toBe(1001); // env beats file
    expect(config.data_dir).toBe("/from/flag"); // flag beats env and file
    expect(config.mode).toBe("cluster"); // file beats default
    expect(config.server.bind_addr).toBe("127.0.0.1"); // default in a section the file only partly sets
  });

  it("reads JSON files with the same keys", () => {
    const file = writeConfig(
      "config.json",
      JSON.stringify({ server: { grpc_port: 0 }, etcd: { tls: true } }),
    );
    const { config } = loadConfig(definition, { file });
    expect(config.server.grpc_port).toBe(0);
    expect(config.etcd.tls).toBe(true);
  });

  it("parses environment values by the option's type", () => {
    const { config } = loadConfig(definition, {
      env: { TESTDB_ETCD__ENDPOINTS: "http://a:2379, http://b:2379", TESTDB_ETCD__TLS: "true" },
    });
    expect(config.etcd.endpoints).toEqual(["http://a:2379", "http://b:2379"]);
    expect(config.etcd.tls).toBe(true);
    const json = loadConfig(definition, { env: { TESTDB_ETCD__ENDPOINTS: '["http://c:2379"]' } });
    expect(json.config.etcd.endpoints).toEqual(["http://c:2379"]);
  });

  it("warns about, but does not apply, an environment variable that names no option", () => {
    const { config, warnings } = loadConfig(definition, {
      env: { TESTDB_SERVER__HTTP_PROT: "1", OTHER_VAR: "x" },
    });
    expect(config.server.http_port).toBe(5440);
    expect(warnings).toEqual([expect.stringContaining("TESTDB_SERVER__HTTP_PROT")]);
  });
});

describe("loadConfig errors", () => {
  it("names the file and key for a value of the wrong type", () => {
    const file = writeConfig("bad-type.toml", '[server]\nhttp_port = "abc"\n');
    const error = loadError(() => loadConfig(definition, { file }));
    expect(error.source).toEqual({ kind: "file", path: file });
    expect(error.key).toBe("server.http_port");
    expect(error.message).toContain(file);
    expect(error.message).toContain("server.http_port");
    expect(error.message).toContain("expected number");
  });

  it("names the file and key for an out-of-range value", () => {
    const file = writeConfig("range.json", JSON.stringify({ server: { grpc_port: 70000 } }));
    const error = loadError(() => loadConfig(definition, { file }));
    expect(error.key).toBe("server.grpc_port");
    expect(error.message).toMatch(/<=\s*65535/);
  });

  it("names the environment variable and key for a bad env value", () => {
    const error = loadError(() => loadConfig(definition, { env: { TESTDB_SERVER__HTTP_PORT: "eighty" } }));
    expect(error.source).toEqual({ kind: "env", variable: "TESTDB_SERVER__HTTP_PORT" });
    expect(error.key).toBe("server.http_port");
    expect(error.message).toContain("TESTDB_SERVER__HTTP_PORT");
    expect(error.message).toContain('expected an integer (got "eighty")');
  });

  it("names the environment variable for a value outside an enum", () => {
    const error = loadError(() => loadConfig(definition, { env: { TESTDB_MODE: "distributed" } }));
    expect(error.message).toContain("TESTDB_MODE");
    expect(error.message).toContain('"standalone"|"cluster"');
  });

  it("names the environment variable for a value that is not a boolean", () => {
    const error = loadError(() => loadConfig(definition, { env: { TESTDB_ETCD__TLS: "maybe" } }));
    expect(error.key).toBe("etcd.tls");
    expect(error.message).toContain(
      'TESTDB_ETCD__TLS: option etcd.tls: expected true or false (got "maybe")',
    );
  });

  it("names the flag and key for a bad flag value", () => {
    const error = loadError(() => loadConfig(definition, { flags: { "server.http_port": "1.5" } }));
    expect(error.source).toEqual({ kind: "flag", flag: "--http-port" });
    expect(error.key).toBe("server.http_port");
    expect(error.message).toContain("--http-port");
    expect(error.message).toContain("expected int");
  });

  it("rejects an unknown key in a file and suggests the option it resembles", () => {
    const file = writeConfig("typo.toml", "[server]\nhttp_prot = 5440\n");
    const error = loadError(() => loadConfig(definition, { file }));
    expect(error.key).toBe("server.http_prot");
    expect(error.message).toContain("unknown option (did you mean server.http_port?)");
  });

  it("rejects an unknown top-level table in a file", () => {
    const file = writeConfig("table.toml", "[storage]\nfoo = 1\n");
    const error = loadError(() => loadConfig(definition, { file }));
    expect(error.key).toBe("storage");
    expect(error.problem).toMatch(/^unknown option/);
  });

  it("rejects a scalar where a table of options is expected", () => {
    const file = writeConfig("scalar.toml", "server = 5\n");
    const error = loadError(() => loadConfig(definition, { file }));
    expect(error.key).toBe("server");
    expect(error.problem).toContain("expected a table of options");
  });

  it("reports unparsable TOML with the file and position", () => {
    const file = writeConfig("broken.toml", "[server]\nhttp_port = = 5\n");
    const error = loadError(() => loadConfig(definition, { file }));
    expect(error.source).toEqual({ kind: "file", path: file });
    expect(error.key).toBeUndefined();
    expect(error.message).toContain(file);
    expect(error.message).toContain("not valid TOML at line 2");
  });

  it("reports unparsable JSON with the file", () => {
    const file = writeConfig("broken.json", '{"server": }');
    const error = loadError(() => loadConfig(definition, { file }));
    expect(error.message).toContain(file);
    expect(error.problem).toMatch(/^not valid JSON/);
  });

  it("reports a missing file and an unsupported extension", () => {
    const missing = loadError(() => loadConfig(definition, { file: join(dir, "absent.toml") }));
    expect(missing.problem).toContain("cannot read the file");
    expect(missing.problem).toContain("ENOENT");
    const yaml = writeConfig("config.yaml", "server: {}\n");
    expect(loadError(() => loadConfig(definition, { file: yaml })).problem).toContain(
      'unsupported file type ".yaml"',
    );
  });
});

describe("parseConfig", () => {
  it("fills defaults into a partial object", () => {
    const config = parseConfig(definition, { server: { http_port: 0 } });
    expect(config.server.http_port).toBe(0);
    expect(config.server.grpc_port).toBe(8831);
  });

  it("throws a ConfigError naming the key of a bad value", () => {
    const error = loadError(() => parseConfig(definition, { server: { grpc_port: -1 } }));
    expect(error.source).toEqual({ kind: "object" });
    expect(error.key).toBe("server.grpc_port");
  });
});
