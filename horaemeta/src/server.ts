import { Etcd3 } from "etcd3";
import {
  componentLogger,
  createLogger,
  formatHostPort,
  NetworkServers,
  type BoundAddresses,
  type HealthState,
  type Logger,
} from "@horaedb/common";
import { metaServiceDefinition } from "@horaedb/proto";
import { clusterSettingsFromConfig } from "./cluster/cluster-settings.js";
import { ClusterScheduler } from "./cluster/cluster-scheduler.js";
import type { HoraeMetaConfig } from "./config.js";
import { LeaderElection } from "./election/leader-election.js";
import type { LeaderTerm } from "./election/leader-term.js";
import { registerAdminRoutes } from "./http/admin-routes.js";
import { MetadataStore } from "./metadata/index.js";
import { LeaderForwarder } from "./service/leader-forwarder.js";
import { MetaOperations } from "./service/meta-operations.js";
import { metaServiceHandlers } from "./service/meta-service.js";

/** Addresses that mean "every interface" when bound, and no particular host when dialled. */
const UNSPECIFIED_HOSTS: readonly string[] = ["0.0.0.0", "::", "[::]"];

export interface HoraeMetaServerOptions {
  /** Logger to use; by default a JSON logger on stdout at `log.level`. */
  readonly logger?: Logger;
}

/**
 * A horaemeta replica: gRPC MetaService and the HTTP admin API on the configured ports, a candidate
 * in the election of the horaemeta leader, and while it leads, the cluster scheduler.
 * `start()` resolves once both servers listen (the election goes on in the background, so a replica
 * starts even while etcd is unreachable); `stop()` resigns, then shuts down gracefully.
 */
export class HoraeMetaServer {
  readonly config: HoraeMetaConfig;
  readonly #logger: Logger;
  readonly #servers: NetworkServers;
  readonly #etcd: Etcd3;
  readonly #election: LeaderElection;
  readonly #scheduler: ClusterScheduler;
  readonly #forwarder: LeaderForwarder;
  readonly #leaderDuties = new Set<Promise<void>>();
  #stopping: Promise<void> | undefined;

  constructor(config: HoraeMetaConfig, options: HoraeMetaServerOptions = {}) {
    this.config = config;
    this.#logger = options.logger ?? createLogger({ name: "horaemeta", level: config.log.level });
    const callTimeoutMs = config.etcd.call_timeout_ms;
    // One etcd client for the store and the election. The store sets a deadline on each of its calls;
    // the election's single calls (campaign, leader lookup, resign) get this one. Streams (watches,
    // keepalives) live as long as they are needed.
    this.#etcd = new Etcd3({
      hosts: [...config.etcd.endpoints],
      dialTimeout: callTimeoutMs,
      defaultCallOptions: (context) =>
        context.isStream ? {} : { deadline: new Date(Date.now() + callTimeoutMs) },
    });
    const store = new MetadataStore(this.#etcd, {
      rootPath: config.etcd.root_path,
      clusterName: config.cluster.name,
      callTimeoutMs,
    });
    this.#election = new LeaderElection({
      client: this.#etcd,
      clusterRoot: store.keys.root,
      leaseTtlSeconds: config.election.lease_ttl_s,
      callTimeoutMs,
      logger: componentLogger(this.#logger, "election"),
    });
    this.#scheduler = new ClusterScheduler({
      store,
      settings: clusterSettingsFromConfig(config),
      intervalMs: config.scheduler.interval_ms,
      logger: componentLogger(this.#logger, "scheduler"),
    });
    this.#forwarder = new LeaderForwarder({
      locator: this.#election,
      timeoutMs: config.election.forward_timeout_ms,
    });
    this.#election.onTerm((term) => this.#runLeaderDuties(term));

    this.#servers = new NetworkServers({
      bindAddr: config.server.bind_addr,
      grpcPort: config.server.grpc_port,
      httpPort: config.server.http_port,
      shutdownTimeoutMs: config.server.shutdown_timeout_ms,
      logger: this.#logger,
      healthDetails: () => ({
        server: "horaemeta",
        cluster: config.cluster.name,
        role: this.#election.isLeader ? "leader" : "follower",
      }),
    });
    this.#servers.grpc.addService(
      metaServiceDefinition(),
      metaServiceHandlers({
        clusterName: config.cluster.name,
        leadership: this.#election,
        forwarder: this.#forwarder,
        operations: new MetaOperations({ store, onNodeJoined: () => this.#scheduler.wake() }),
        logger: componentLogger(this.#logger, "meta-service"),
      }),
    );
    registerAdminRoutes(this.#servers.http, this.#election);
  }

  get health(): HealthState {
    return this.#servers.health;
  }

  /** Whether this replica is the horaemeta leader right now. */
  get isLeader(): boolean {
    return this.#election.isLeader;
  }

  /** The gRPC endpoint this replica campaigns with (and leaders are reached at); set by start(). */
  get advertisedEndpoint(): string | undefined {
    return this.#election.candidate;
  }

  /** Listens on the configured ports and joins the election; resolves to the addresses bound. */
  async start(): Promise<BoundAddresses> {
    const addresses = await this.#servers.start();
    const advertiseHost = this.config.election.advertise_host || this.config.server.bind_addr;
    const advertised = formatHostPort(advertiseHost, addresses.grpcPort);
    this.#election.start(advertised);
    const logger = componentLogger(this.#logger, "server");
    if (UNSPECIFIED_HOSTS.includes(advertiseHost)) {
      logger.warn(
        { advertised },
        "other replicas reach this one at an unspecified address, which works on this host only; set election.advertise_host",
      );
    }
    logger.info(
      {
        grpc: addresses.grpc,
        http: addresses.http,
        advertised,
        cluster: this.config.cluster.name,
        etcdEndpoints: this.config.etcd.endpoints,
        etcdRootPath: this.config.etcd.root_path,
      },
      "listening",
    );
    return addresses;
  }

  /**
   * Reports 503 on /health at once, resigns the leadership (so another replica takes over while this
   * one drains), drains in-flight calls (bounded by `server.shutdown_timeout_ms`), then closes.
   * Safe to call more than once.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#shutdown();
    return this.#stopping;
  }

  async #shutdown(): Promise<void> {
    this.#servers.health.beginShutdown();
    await this.#election.stop();
    await Promise.all(this.#leaderDuties);
    await this.#servers.stop();
    this.#forwarder.close();
    this.#etcd.close();
  }

  #runLeaderDuties(term: LeaderTerm): void {
    const duty = this.#scheduler.run(term).catch((error: unknown) => {
      this.#logger.error({ err: error }, "the cluster scheduler stopped unexpectedly");
    });
    this.#leaderDuties.add(duty);
    void duty.finally(() => this.#leaderDuties.delete(duty));
  }
}
