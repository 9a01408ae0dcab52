import {
  componentLogger,
  createLogger,
  NetworkServers,
  type BoundAddresses,
  type HealthState,
  type Logger,
} from "@horaedb/common";
import { metaServiceDefinition } from "@horaedb/proto";
import type { HoraeMetaConfig } from "./config.js";
import { metaServiceHandlers } from "./meta-service.js";

export interface HoraeMetaServerOptions {
  /** Logger to use; by default a JSON logger on stdout at `log.level`. */
  readonly logger?: Logger;
}

/**
 * A horaemeta server: gRPC MetaService and the HTTP admin API on the configured ports.
 * `start()` resolves once both servers listen; `stop()` shuts down gracefully.
 */
export class HoraeMetaServer {
  readonly config: HoraeMetaConfig;
  readonly #logger: Logger;
  readonly #servers: NetworkServers;

  constructor(config: HoraeMetaConfig, options: HoraeMetaServerOptions = {}) {
    this.config = config;
    this.#logger = options.logger ?? createLogger({ name: "horaemeta", level: config.log.level });
    this.#servers = new NetworkServers({
      bindAddr: config.server.bind_addr,
      grpcPort: config.server.grpc_port,
      httpPort: config.server.http_port,
      shutdownTimeoutMs: config.server.shutdown_timeout_ms,
      logger: this.#logger,
      healthDetails: () => ({ server: "horaemeta", cluster: config.cluster.name }),
    });
    this.#servers.grpc.addService(metaServiceDefinition(), metaServiceHandlers());
  }

  get health(): HealthState {
    return this.#servers.health;
  }

  /** Listens on the configured ports; resolves to the addresses actually bound. */
  async start(): Promise<BoundAddresses> {
    const addresses = await this.#servers.start();
    componentLogger(this.#logger, "server").info(
      {
        grpc: addresses.grpc,
        http: addresses.http,
        cluster: this.config.cluster.name,
        etcdEndpoints: this.config.etcd.endpoints,
        etcdRootPath: this.config.etcd.root_path,
      },
      "listening",
    );
    return addresses;
  }

  /** Reports 503 on /health, drains in-flight calls (bounded by `server.shutdown_timeout_ms`), closes. */
  stop(): Promise<void> {
    return this.#servers.stop();
  }
}
