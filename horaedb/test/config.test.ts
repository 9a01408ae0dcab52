import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, listConfigOptions, loadConfig } from "@horaedb/common";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { horaeDBConfigDefinition, resolveHoraeDBConfig } from "../src/index.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "horaedb-config-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("horaedb configuration", () => {
  it("defaults to HoraeDB's ports, loopback, ./data, standalone and info", () => {
    expect(resolveHoraeDBConfig()).toEqual({
      server: { bind_addr: "127.0.0.1", grpc_port: 8831, http_port: 5440, shutdown_timeout_ms: 10_000 },
      data_dir: "./data",
      advertise_host: "",
      mode: "standalone",
      schemas: [],
      engine: {
        memory_budget_bytes: 1024 * 1024 * 1024,
        max_unflushed_age_ms: 300_000,
        sst_encoder_workers: 1,
        compaction_memory_bytes: 1024 * 1024 * 1024,
        read_cache_bytes: 256 * 1024 * 1024,
        prepopulate_decoded_cache: true,
        decoded_cache_bytes: 256 * 1024 * 1024,
        wal_segment_bytes: 64 * 1024 * 1024,
        auto_create_table: true,
        auto_add_columns: true,
        max_request_bytes: 64 * 1024 * 1024,
      },
      query: { timeout_ms: 30_000 },
      log: { level: "info" },
    });
  });

  it("names its environment variables HORAEDB_<SECTION>__<KEY>", () => {
    const env = Object.fromEntries(
      listConfigOptions(horaeDBConfigDefinition).map((option) => [option.key, option.env]),
    );
    expect(env).toEqual({
      "server.bind_addr": "HORAEDB_SERVER__BIND_ADDR",
      "server.grpc_port": "HORAEDB_SERVER__GRPC_PORT",
      "server.http_port": "HORAEDB_SERVER__HTTP_PORT",
      "server.shutdown_timeout_ms": "HORAEDB_SERVER__SHUTDOWN_TIMEOUT_MS",
      data_dir: "HORAEDB_DATA_DIR",
      advertise_host: "HORAEDB_ADVERTISE_HOST",
      mode: "HORAEDB_MODE",
      schemas: "HORAEDB_SCHEMAS",
      "engine.memory_budget_bytes": "HORAEDB_ENGINE__MEMORY_BUDGET_BYTES",
      "engine.max_unflushed_age_ms": "HORAEDB_ENGINE__MAX_UNFLUSHED_AGE_MS",
      "engine.sst_encoder_workers": "HORAEDB_ENGINE__SST_ENCODER_WORKERS",
      "engine.compaction_memory_bytes": "HORAEDB_ENGINE__COMPACTION_MEMORY_BYTES",
      "engine.read_cache_bytes": "HORAEDB_ENGINE__READ_CACHE_BYTES",
      "engine.prepopulate_decoded_cache": "HORAEDB_ENGINE__PREPOPULATE_DECODED_CACHE",
      "engine.decoded_cache_bytes": "HORAEDB_ENGINE__DECODED_CACHE_BYTES",
      "engine.wal_segment_bytes": "HORAEDB_ENGINE__WAL_SEGMENT_BYTES",
      "engine.auto_create_table": "HORAEDB_ENGINE__AUTO_CREATE_TABLE",
      "engine.auto_add_columns": "HORAEDB_ENGINE__AUTO_ADD_COLUMNS",
      "engine.max_request_bytes": "HORAEDB_ENGINE__MAX_REQUEST_BYTES",
      "query.timeout_ms": "HORAEDB_QUERY__TIMEOUT_MS",
      "log.level": "HORAEDB_LOG__LEVEL",
    });
  });

  it("layers a TOML file, environment variables and flags over the defaults", () => {
    const file = join(dir, "horaedb.toml");
    writeFileSync(
      file,
      ['data_dir = "/var/lib/horaedb"', "[server]", "grpc_port = 9831", "http_port = 6440"].join("\n"),
    );
    const { config } = loadConfig(horaeDBConfigDefinition, {
      file,
      env: { HORAEDB_SERVER__HTTP_PORT: "7440", HORAEDB_LOG__LEVEL: "debug" },
      flags: { "log.level": "warn" },
    });
    expect(config.data_dir).toBe("/var/lib/horaedb");
    expect(config.server).toMatchObject({ grpc_port: 9831, http_port: 7440, bind_addr: "127.0.0.1" });
    expect(config.log.level).toBe("warn");
  });

  it("rejects an unknown log level from a file, naming the file and key", () => {
    const file = join(dir, "horaedb.toml");
    writeFileSync(file, '[log]\nlevel = "verbose"\n');
    expect(() => loadConfig(horaeDBConfigDefinition, { file })).toThrow(ConfigError);
    expect(() => loadConfig(horaeDBConfigDefinition, { file })).toThrow(
      `config file ${file}: option log.level`,
    );
  });
});
