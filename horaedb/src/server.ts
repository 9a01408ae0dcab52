import { mkdir } from "node:fs/promises";
import { hostname } from "node:os";
import { resolve } from "node:path";
import {
  componentLogger,
  createLogger,
  NetworkServers,
  type BoundAddresses,
  type HealthState,
  type Logger,
} from "@horaedb/common";
import { loadZstd } from "@horaedb/proto";
import type { HoraeDBConfig } from "./config.js";
import { DataDirectoryError, UnsupportedModeError } from "./errors.js";
import { openStandaloneEngine, type StorageEngine } from "./engine/index.js";
import { registerSqlRoute } from "./server/http-sql.js";
import { registerMetricsRoute, ServerMetrics } from "./server/metrics.js";
import {
  DEFAULT_DATABASE,
  storageServiceHandlers,
  storageServiceServerDefinition,
} from "./storage-service.js";

export interface HoraeDBServerOptions {
  /** Logger to use; by default a JSON logger on stdout at `log.level`. */
  readonly logger?: Logger;
}

/** Bind addresses that mean "every interface": no client can dial them. */
const UNSPECIFIED_HOSTS: readonly string[] = ["0.0.0.0", "::", "[::]"];

/**
 * The host Route hands out for this instance: the configured advertise host, else the bind address,
 * else (bound to every interface) this machine's host name.
 */
export function advertisedHost(
  bindAddr: string,
  advertiseHost: string,
  hostName: () => string = hostname,
): string {
  if (advertiseHost !== "") return advertiseHost;
  return UNSPECIFIED_HOSTS.includes(bindAddr) ? hostName() : bindAddr;
}

/**
 * A horaedb instance: gRPC StorageService and the HTTP API on the configured ports, data under
 * `data_dir`. `start()` resolves once both servers listen; `stop()` shuts down gracefully.
 */
export class HoraeDBServer {
  readonly config: HoraeDBConfig;
  /** Absolute data directory. */
  readonly dataDir: string;
  readonly #logger: Logger;
  readonly #servers: NetworkServers;
  /** Prometheus metrics of this instance, served at `GET /metrics`. */
  readonly metrics: ServerMetrics;
  #engine: StorageEngine | undefined;
  #grpcAddress = { host: "127.0.0.1", port: 0 };

  constructor(config: HoraeDBConfig, options: HoraeDBServerOptions = {}) {
    this.config = config;
    this.dataDir = resolve(config.data_dir);
    this.#logger = options.logger ?? createLogger({ name: "horaedb", level: config.log.level });
    this.#servers = new NetworkServers({
      bindAddr: config.server.bind_addr,
      grpcPort: config.server.grpc_port,
      httpPort: config.server.http_port,
      shutdownTimeoutMs: config.server.shutdown_timeout_ms,
      logger: this.#logger,
      healthDetails: () => ({ server: "horaedb", mode: config.mode }),
      grpcOptions: { "grpc.max_receive_message_length": config.engine.max_request_bytes },
    });
    this.metrics = new ServerMetrics({ engine: () => this.#engine });
    this.#servers.grpc.addService(
      storageServiceServerDefinition(),
      storageServiceHandlers({
        engine: () => this.engine,
        endpoint: () => this.#grpcAddress,
        logger: componentLogger(this.#logger, "storage-service"),
        metrics: this.metrics,
        defaultQueryTimeoutMs: config.query.timeout_ms,
        maxPayloadBytes: config.engine.max_request_bytes,
        encodedSqlResponses: true,
      }),
    );
    registerSqlRoute(this.#servers.http, {
      engine: () => this.engine,
      database: DEFAULT_DATABASE,
      logger: componentLogger(this.#logger, "http-sql"),
      metrics: this.metrics,
      timeoutMs: config.query.timeout_ms,
    });
    registerMetricsRoute(this.#servers.http, this.metrics);
  }

  /** The storage engine; available once `start()` resolved. */
  get engine(): StorageEngine {
    if (this.#engine === undefined)
      throw new Error("the storage engine is not open (the server is not started)");
    return this.#engine;
  }

  get health(): HealthState {
    return this.#servers.health;
  }

  /** Creates the data directory, then listens; resolves to the addresses actually bound. */
  async start(): Promise<BoundAddresses> {
    if (this.config.mode !== "standalone") throw new UnsupportedModeError(this.config.mode);
    try {
      await mkdir(this.dataDir, { recursive: true });
    } catch (error) {
      throw new DataDirectoryError(this.dataDir, error);
    }
    // ZSTD payloads (writes and query results) need the WebAssembly codec before the first request.
    await loadZstd();
    const engineConfig = this.config.engine;
    this.#engine = await openStandaloneEngine({
      dataDir: this.dataDir,
      logger: componentLogger(this.#logger, "engine"),
      memoryBudgetBytes: engineConfig.memory_budget_bytes,
      maxUnflushedAgeMs: engineConfig.max_unflushed_age_ms,
      encoderWorkers: engineConfig.sst_encoder_workers,
      readCacheBytes: engineConfig.read_cache_bytes,
      compaction: { memoryBudgetBytes: engineConfig.compaction_memory_bytes },
      decodedCacheBytes: engineConfig.decoded_cache_bytes,
      prepopulateDecodedCache: engineConfig.prepopulate_decoded_cache,
      walSegmentBytes: engineConfig.wal_segment_bytes,
      autoCreateTable: engineConfig.auto_create_table,
      autoAddColumns: engineConfig.auto_add_columns,
      schemas: [DEFAULT_DATABASE, ...this.config.schemas],
    });
    this.#engine.onFlush((event) => this.metrics.observeFlush(event));
    this.#engine.onCompaction((result) => this.metrics.observeCompaction(result));
    let addresses: BoundAddresses;
    try {
      addresses = await this.#servers.start();
    } catch (error) {
      await this.#engine.close();
      this.#engine = undefined;
      throw error;
    }
    this.#grpcAddress = {
      host: advertisedHost(this.config.server.bind_addr, this.config.advertise_host),
      port: addresses.grpcPort,
    };
    componentLogger(this.#logger, "server").info(
      { grpc: addresses.grpc, http: addresses.http, mode: this.config.mode, dataDir: this.dataDir },
      "listening",
    );
    return addresses;
  }

  /**
   * Reports 503 on /health, drains in-flight calls (bounded by `server.shutdown_timeout_ms`), closes,
   * then closes the engine: unflushed rows stay in the WAL and are replayed at the next start.
   */
  async stop(): Promise<void> {
    try {
      await this.#servers.stop();
    } finally {
      await this.#engine?.close();
      this.#engine = undefined;
    }
  }
}
