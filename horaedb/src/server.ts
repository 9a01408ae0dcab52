import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import {
  componentLogger,
  createLogger,
  NetworkServers,
  type BoundAddresses,
  type HealthState,
  type Logger,
} from "@horaedb/common";
import { storageServiceDefinition } from "@horaedb/proto";
import type { HoraeDBConfig } from "./config.js";
import { DataDirectoryError, UnsupportedModeError } from "./errors.js";
import { storageServiceHandlers } from "./storage-service.js";

export interface HoraeDBServerOptions {
  /** Logger to use; by default a JSON logger on stdout at `log.level`. */
  readonly logger?: Logger;
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
    });
    this.#servers.grpc.addService(storageServiceDefinition(), storageServiceHandlers());
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
    const addresses = await this.#servers.start();
    componentLogger(this.#logger, "server").info(
      { grpc: addresses.grpc, http: addresses.http, mode: this.config.mode, dataDir: this.dataDir },
      "listening",
    );
    return addresses;
  }

  /** Reports 503 on /health, drains in-flight calls (bounded by `server.shutdown_timeout_ms`), closes. */
  stop(): Promise<void> {
    return this.#servers.stop();
  }
}
