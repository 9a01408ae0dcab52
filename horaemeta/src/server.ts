import type { Etcd3 } from "etcd3";
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
import { registerClusterAdminRoutes } from "./http/cluster-admin-routes.js";
import { connectEtcd } from "./metadata/etcd-client.js";
import { MetadataStore } from "./metadata/index.js";
import { ShardScheduler } from "./cluster/shard-scheduler.js";
import { MetaEventSender } from "./procedure/event-sender.js";
import { registerProcedureKinds } from "./procedure/kinds/index.js";
import { ProcedureManager, type ProcedureFailpoint } from "./procedure/procedure-manager.js";
import { LeaderForwarder } from "./service/leader-forwarder.js";
import { MetaOperations } from "./service/meta-operations.js";
import { metaServiceHandlers } from "./service/meta-service.js";

/** `<kind>:<state>` from the configuration, as the procedure manager takes it. */
function failpointOption(text: string): { failpoint?: ProcedureFailpoint } {
  if (text === "") return {};
  const [kind = "", state = "", phase] = text.split(":");
  return { failpoint: { kind, state, phase: phase === "after" ? "after" : "before" } };
}

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
  readonly #events: MetaEventSender;
  readonly #procedures: ProcedureManager;
  readonly #store: MetadataStore;
  readonly #leaderDuties = new Set<Promise<void>>();
  #stopping: Promise<void> | undefined;

  constructor(config: HoraeMetaConfig, options: HoraeMetaServerOptions = {}) {
    this.config = config;
    this.#logger = options.logger ?? createLogger({ name: "horaemeta", level: config.log.level });
    const callTimeoutMs = config.etcd.call_timeout_ms;
    // One etcd client for the store and the election. The store sets a deadline on each of its calls;
    // the election's single calls (campaign, leader lookup, resign) get this one. Streams (watches,
    // keepalives) live as long as they are needed.
    this.#etcd = connectEtcd({ endpoints: config.etcd.endpoints, callTimeoutMs });
    const store = new MetadataStore(this.#etcd, {
      rootPath: config.etcd.root_path,
      clusterName: config.cluster.name,
      callTimeoutMs,
    });
    this.#store = store;
    this.#events = new MetaEventSender({ deadlineMs: config.procedure.event_deadline_ms });
    this.#procedures = new ProcedureManager({
      store,
      events: this.#events,
      clusterName: config.cluster.name,
      logger: componentLogger(this.#logger, "procedure"),
      lockWaitMs: config.procedure.lock_wait_ms,
      retryInitialMs: 100,
      retryMaxMs: 2_000,
      keepEnded: config.procedure.keep_ended,
      ...failpointOption(config.procedure.failpoint),
    });
    registerProcedureKinds(this.#procedures);
    const shardScheduler = new ShardScheduler({
      store,
      procedures: this.#procedures,
      logger: componentLogger(this.#logger, "scheduler"),
      maxRebalanceMoves: config.scheduler.rebalance_max_moves,
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
      afterPass: async (term, settings) => {
        if (!config.scheduler.enable_schedule) return;
        if (!(await store.cluster.getSchedule()).enabled) return;
        await shardScheduler.schedule(term, settings.topologyType);
      },
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
        operations: new MetaOperations({
          store,
          procedures: this.#procedures,
          onNodeJoined: () => this.#scheduler.wake(),
        }),
        logger: componentLogger(this.#logger, "meta-service"),
      }),
    );
    registerAdminRoutes(this.#servers.http, this.#election);
    registerClusterAdminRoutes(this.#servers.http, {
      store,
      procedures: this.#procedures,
      currentTerm: () => this.#election.currentTerm,
      leader: () => this.#election.leader(),
    });
  }

  /**
   * Wakes the scheduler when a node's lease key goes (etcd deleted it when the lease expired), so its
   * shards fail over at once rather than at the next pass. Returns how to stop watching; without
   * the watch (etcd unreachable now) the passes still find expired nodes.
   */
  async #wakeOnLeaseExpiry(term: LeaderTerm): Promise<() => Promise<void>> {
    try {
      const creating = this.#etcd.watch().prefix(this.#store.keys.nodeLeasesPrefix()).create();
      const timeout = new Promise<undefined>((resolve) =>
        setTimeout(resolve, this.config.etcd.call_timeout_ms, undefined).unref(),
      );
      const watcher = await Promise.race([creating, timeout]);
      if (watcher === undefined) {
        void creating.then((late) => late.cancel()).catch(() => undefined);
        throw new Error(`no watch within ${this.config.etcd.call_timeout_ms} ms`);
      }
      watcher.on("delete", () => this.#scheduler.wake());
      watcher.on("error", () => undefined);
      return () => watcher.cancel().catch(() => undefined);
    } catch (error) {
      if (term.active)
        this.#logger.warn({ err: error }, "could not watch node leases; relying on scheduler passes");
      return () => Promise.resolve();
    }
  }

  /** Resumes the procedures a previous leader left unfinished; retried until it works or the term ends. */
  async #resumeProcedures(term: LeaderTerm): Promise<void> {
    while (term.active) {
      try {
        await this.#procedures.resumeAll(term);
        return;
      } catch (error) {
        this.#logger.warn({ err: error }, "could not load unfinished procedures; retrying");
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  /** The metadata store this replica uses (for the admin API and tests). */
  get store(): MetadataStore {
    return this.#store;
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
    await this.#procedures.idle();
    await this.#servers.stop();
    this.#forwarder.close();
    this.#events.close();
    this.#etcd.close();
  }

  #runLeaderDuties(term: LeaderTerm): void {
    const duty = (async () => {
      const unwatch = await this.#wakeOnLeaseExpiry(term);
      try {
        await this.#resumeProcedures(term);
        await this.#scheduler.run(term);
      } finally {
        await unwatch();
      }
    })().catch((error: unknown) => {
      this.#logger.error({ err: error }, "the cluster scheduler stopped unexpectedly");
    });
    this.#leaderDuties.add(duty);
    void duty.finally(() => this.#leaderDuties.delete(duty));
  }
}
