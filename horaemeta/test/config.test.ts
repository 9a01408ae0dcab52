import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, loadConfig } from "@horaedb/common";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { horaeMetaConfigDefinition, resolveHoraeMetaConfig } from "../src/index.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "horaemeta-config-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("horaemeta configuration", () => {
  it("defaults to ports 8830/8080, a local etcd, /horaedb, a 5 s leader lease and an 8-shard defaultCluster", () => {
    expect(resolveHoraeMetaConfig()).toEqual({
      server: { bind_addr: "127.0.0.1", grpc_port: 8830, http_port: 8080, shutdown_timeout_ms: 10_000 },
      etcd: { endpoints: ["http://127.0.0.1:2379"], root_path: "/horaedb", call_timeout_ms: 5_000 },
      election: { lease_ttl_s: 5, advertise_host: "", forward_timeout_ms: 5_000 },
      cluster: {
        name: "defaultCluster",
        shard_total: 8,
        followers_per_shard: 0,
        topology: "static",
        min_node_count: 1,
        node_lease_ttl_ms: 10_000,
      },
      scheduler: { interval_ms: 1_000, enable_schedule: true, rebalance_max_moves: 1 },
      procedure: { event_deadline_ms: 10_000, lock_wait_ms: 10_000, keep_ended: 1_000, failpoint: "" },
      log: { level: "info" },
    });
  });

  it("layers a TOML file, HORAEMETA_ environment variables and flags over the defaults", () => {
    const file = join(dir, "horaemeta.toml");
    writeFileSync(
      file,
      [
        "[etcd]",
        'endpoints = ["http://etcd-1:2379", "http://etcd-2:2379"]',
        'root_path = "/prod"',
        "[cluster]",
        'name = "file"',
      ].join("\n"),
    );
    const { config } = loadConfig(horaeMetaConfigDefinition, {
      file,
      env: { HORAEMETA_CLUSTER__NAME: "env", HORAEMETA_SERVER__GRPC_PORT: "9830" },
      flags: { "cluster.name": "flag" },
    });
    expect(config.etcd).toEqual({
      endpoints: ["http://etcd-1:2379", "http://etcd-2:2379"],
      root_path: "/prod",
      call_timeout_ms: 5_000,
    });
    expect(config.server.grpc_port).toBe(9830);
    expect(config.cluster.name).toBe("flag");
  });

  it("rejects an etcd root path without a leading slash, naming the variable", () => {
    const error = configError(() =>
      loadConfig(horaeMetaConfigDefinition, { env: { HORAEMETA_ETCD__ROOT_PATH: "horaedb" } }),
    );
    expect(error.message).toContain("HORAEMETA_ETCD__ROOT_PATH");
    expect(error.key).toBe("etcd.root_path");
    expect(error.problem).toContain("must start with /");
  });

  it("reads the election, cluster and scheduler options from the environment", () => {
    const { config } = loadConfig(horaeMetaConfigDefinition, {
      env: {
        HORAEMETA_ELECTION__LEASE_TTL_S: "3",
        HORAEMETA_ELECTION__ADVERTISE_HOST: "meta-1.internal",
        HORAEMETA_CLUSTER__SHARD_TOTAL: "16",
        HORAEMETA_CLUSTER__FOLLOWERS_PER_SHARD: "1",
        HORAEMETA_CLUSTER__TOPOLOGY: "dynamic",
        HORAEMETA_CLUSTER__MIN_NODE_COUNT: "3",
        HORAEMETA_SCHEDULER__INTERVAL_MS: "250",
      },
    });
    expect(config.election).toEqual({
      lease_ttl_s: 3,
      advertise_host: "meta-1.internal",
      forward_timeout_ms: 5_000,
    });
    expect(config.cluster).toMatchObject({
      shard_total: 16,
      followers_per_shard: 1,
      topology: "dynamic",
      min_node_count: 3,
    });
    expect(config.scheduler.interval_ms).toBe(250);
  });

  it("rejects a leader lease shorter than etcd's 2 s minimum", () => {
    const error = configError(() =>
      loadConfig(horaeMetaConfigDefinition, { env: { HORAEMETA_ELECTION__LEASE_TTL_S: "1" } }),
    );
    expect(error.key).toBe("election.lease_ttl_s");
  });

  it("rejects an unknown topology", () => {
    const error = configError(() =>
      loadConfig(horaeMetaConfigDefinition, { env: { HORAEMETA_CLUSTER__TOPOLOGY: "elastic" } }),
    );
    expect(error.key).toBe("cluster.topology");
  });

  it("rejects an empty etcd endpoint list", () => {
    const error = configError(() =>
      loadConfig(horaeMetaConfigDefinition, { flags: { "etcd.endpoints": "" } }),
    );
    expect(error.source).toEqual({ kind: "flag", flag: "--etcd-endpoints" });
    expect(error.key).toBe("etcd.endpoints");
  });

  it("rejects an unknown key in a JSON file", () => {
    const file = join(dir, "horaemeta.json");
    writeFileSync(file, JSON.stringify({ etcd: { endpoint: ["http://x:2379"] } }));
    const error = configError(() => loadConfig(horaeMetaConfigDefinition, { file }));
    expect(error.key).toBe("etcd.endpoint");
    expect(error.message).toContain("unknown option (did you mean etcd.endpoints?)");
  });
});
