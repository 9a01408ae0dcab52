import * as grpc from "@grpc/grpc-js";
import type { FastifyInstance } from "fastify";
import { formatHostPort } from "./address.js";
import { bindGrpcServer, shutdownGrpcServer } from "./grpc.js";
import { HealthState } from "./health.js";
import { closeHttpServer, createHttpServer, listenHttp } from "./http.js";
import { componentLogger, type Logger } from "./logger.js";

export interface NetworkServersOptions {
  /** Address both servers listen on, e.g. `127.0.0.1` or `0.0.0.0`. */
  readonly bindAddr: string;
  /** 0 picks a free port; `start()` reports the real one. */
  readonly grpcPort: number;
  readonly httpPort: number;
  /** How long shutdown waits for in-flight gRPC calls and HTTP requests before cancelling them. */
  readonly shutdownTimeoutMs: number;
  readonly logger: Logger;
  readonly requestLogging?: boolean;
  readonly healthDetails?: () => Record<string, unknown>;
  readonly grpcOptions?: grpc.ServerOptions;
}

/** The addresses a process actually listens on. */
export interface BoundAddresses {
  /** `host:port` of the gRPC server. */
  readonly grpc: string;
  /** `host:port` of the HTTP server. */
  readonly http: string;
  readonly grpcPort: number;
  readonly httpPort: number;
}

/**
 * A process's gRPC server and HTTP server under one lifecycle. Register gRPC services on `grpc` and
 * routes on `http` before `start()`. `stop()` turns `/health` to 503, drains gRPC calls, then closes
 * HTTP, each bounded by the shutdown timeout.
 */
export class NetworkServers {
  readonly health = new HealthState();
  readonly grpc: grpc.Server;
  readonly http: FastifyInstance;
  readonly #options: NetworkServersOptions;
  readonly #logger: Logger;
  #started = false;
  #stopping: Promise<void> | undefined;

  constructor(options: NetworkServersOptions) {
    this.#options = options;
    this.#logger = options.logger;
    // Channelz (gRPC's introspection service) is not served, so its per-call bookkeeping is skipped.
    this.grpc = new grpc.Server({ "grpc.enable_channelz": 0, ...options.grpcOptions });
    this.http = createHttpServer({
      logger: componentLogger(options.logger, "http"),
      health: this.health,
      requestLogging: options.requestLogging ?? false,
      ...(options.healthDetails ? { healthDetails: options.healthDetails } : {}),
    });
  }

  /**
   * Binds gRPC, then HTTP, then reports healthy. On failure nothing is left listening and the
   * ListenError says which server could not bind where.
   */
  async start(): Promise<BoundAddresses> {
    if (this.#started) throw new Error("NetworkServers.start() called twice");
    this.#started = true;
    const { bindAddr } = this.#options;
    const grpcPort = await bindGrpcServer(this.grpc, bindAddr, this.#options.grpcPort);
    let httpPort: number;
    try {
      httpPort = await listenHttp(this.http, bindAddr, this.#options.httpPort);
    } catch (error) {
      this.grpc.forceShutdown();
      await this.http.close();
      throw error;
    }
    this.health.markServing();
    return {
      grpc: formatHostPort(bindAddr, grpcPort),
      http: formatHostPort(bindAddr, httpPort),
      grpcPort,
      httpPort,
    };
  }

  /** Graceful shutdown; safe to call more than once (later calls wait for the first). */
  stop(): Promise<void> {
    this.#stopping ??= this.#shutdown();
    return this.#stopping;
  }

  async #shutdown(): Promise<void> {
    this.health.beginShutdown();
    const deadline = Date.now() + this.#options.shutdownTimeoutMs;
    // gRPC drains first while HTTP still answers /health with 503, so probes see the shutdown.
    const grpcOutcome = await shutdownGrpcServer(this.grpc, this.#options.shutdownTimeoutMs);
    const httpOutcome = await closeHttpServer(this.http, Math.max(0, deadline - Date.now()));
    if (grpcOutcome === "forced" || httpOutcome === "forced") {
      this.#logger.warn(
        { grpc: grpcOutcome, http: httpOutcome, shutdownTimeoutMs: this.#options.shutdownTimeoutMs },
        "shutdown timeout reached; cancelled in-flight requests",
      );
    }
  }
}
