/**
 * A simulated horaedb instance for tests and benchmarks of horaemeta: a real gRPC server implementing
 * MetaEventService on a loopback port chosen at run time, keeping the shards and tables the events
 * give it in memory (a shard it opens starts with the tables horaemeta records for it, as
 * GetTablesOfShards answers), and heartbeating them to horaemeta. It can be told to be slow, to refuse events,
 * to answer busy, or to stop heartbeating (so that its lease runs out).
 *
 * Its rules, which a real instance follows too: an event carrying a shard version older than the one
 * it has is refused with VERSION_MISMATCH naming both; every event is idempotent.
 */
import { setTimeout as sleep } from "node:timers/promises";
import * as grpc from "@grpc/grpc-js";
import {
  common,
  loadMetaProto,
  metaEventServiceDefinition,
  StatusCode,
  type meta,
  type metaEvent,
} from "@horaedb/proto";

export type SimulatedRole = "leader" | "follower";

export interface SimulatedShard {
  role: SimulatedRole;
  version: number;
  tables: Set<string>;
}

export interface ReceivedEvent {
  readonly method: string;
  readonly shardId: number;
  readonly atMs: number;
}

export interface SimulatedInstanceOptions {
  /** horaemeta gRPC endpoints (any replica; a non-leader forwards). */
  readonly metaEndpoints: readonly string[];
  readonly clusterName?: string;
  readonly zone?: string;
  readonly heartbeatIntervalMs?: number;
  readonly leaseTtlMs?: number;
  /** Heartbeat every `heartbeatIntervalMs` from start() on (default); false: only when told. */
  readonly autoHeartbeat?: boolean;
}

/** What the instance does with events, changeable while it runs. */
export interface SimulatedBehaviour {
  /** Delay before answering each event. */
  delayMs: number;
  /** Methods answered with INVALID_ARGUMENT. */
  refuse: Set<string>;
  /** Methods answered with UNAVAILABLE (retryable). */
  busy: Set<string>;
}

const ROLE_OF: Record<string, SimulatedRole | undefined> = {
  [common.ShardRole.SHARD_ROLE_LEADER]: "leader",
  [common.ShardRole.SHARD_ROLE_FOLLOWER]: "follower",
};

interface EventOutcome {
  readonly code: StatusCode;
  readonly message: string;
  readonly shardId: number;
}

type Handler<Request> = (request: Request) => EventOutcome | Promise<EventOutcome>;

export class SimulatedInstance {
  readonly shards = new Map<number, SimulatedShard>();
  readonly events: ReceivedEvent[] = [];
  readonly behaviour: SimulatedBehaviour = { delayMs: 0, refuse: new Set(), busy: new Set() };
  readonly #options: SimulatedInstanceOptions;
  readonly #server = new grpc.Server();
  readonly #metaClients: InstanceType<
    ReturnType<typeof loadMetaProto>["horaedb"]["meta"]["v1"]["MetaService"]
  >[] = [];
  #endpoint: string | undefined;
  #heartbeating = false;
  #heartbeatLoop: Promise<void> | undefined;
  #heartbeats = 0;
  #attempts = 0;
  #lastAcceptedSentAtMs = 0;

  constructor(options: SimulatedInstanceOptions) {
    this.#options = options;
    const { MetaService } = loadMetaProto().horaedb.meta.v1;
    for (const endpoint of options.metaEndpoints) {
      this.#metaClients.push(new MetaService(endpoint, grpc.credentials.createInsecure()));
    }
  }

  /** `host:port` of its MetaEventService, the node name horaemeta knows it by. */
  get name(): string {
    if (this.#endpoint === undefined) throw new Error("the simulated instance has not started");
    return this.#endpoint;
  }

  /**
   * When the last heartbeat horaemeta accepted was sent (ms since the epoch). horaemeta received it
   * later, so the lease it granted ends no earlier than this plus the lease TTL.
   */
  get lastAcceptedHeartbeatSentAtMs(): number {
    return this.#lastAcceptedSentAtMs;
  }

  /** Heartbeats horaemeta accepted so far. */
  get heartbeats(): number {
    return this.#heartbeats;
  }

  async start(): Promise<void> {
    this.#server.addService(metaEventServiceDefinition(), this.#handlers());
    const port = await new Promise<number>((resolve, reject) =>
      this.#server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error === null ? resolve(bound) : reject(error),
      ),
    );
    this.#endpoint = `127.0.0.1:${port}`;
    if (this.#options.autoHeartbeat !== false) this.startHeartbeats();
  }

  startHeartbeats(): void {
    if (this.#heartbeating) return;
    this.#heartbeating = true;
    this.#heartbeatLoop = this.#runHeartbeats();
  }

  /** Stops heartbeating (the process "hangs"); its lease runs out and horaemeta fails it over. */
  async stopHeartbeats(): Promise<void> {
    this.#heartbeating = false;
    await this.#heartbeatLoop;
  }

  /** Sends one heartbeat now; resolves with horaemeta's answer. */
  heartbeat(): Promise<meta.NodeHeartbeatResponse__Output> {
    const endpoint = this.name;
    const separator = endpoint.lastIndexOf(":");
    const request: meta.NodeHeartbeatRequest = {
      header: { node: endpoint, clusterName: this.#options.clusterName ?? "" },
      info: {
        endpoint: { host: endpoint.slice(0, separator), port: Number(endpoint.slice(separator + 1)) },
        zone: this.#options.zone ?? "",
        binaryVersion: "simulated",
        leaseTtlMs: String(this.#options.leaseTtlMs ?? 0),
        shardInfos: [...this.shards.entries()].map(([id, shard]) => ({
          id,
          role:
            shard.role === "leader"
              ? common.ShardRole.SHARD_ROLE_LEADER
              : common.ShardRole.SHARD_ROLE_FOLLOWER,
          version: String(shard.version),
          status: common.ShardStatus.SHARD_STATUS_READY,
        })),
      },
    };
    // Round robin over the endpoints by attempt, so a dead replica is skipped on the next one.
    const client = this.#metaClients[this.#attempts++ % this.#metaClients.length]!;
    const sentAt = Date.now();
    return new Promise((resolve, reject) =>
      client.NodeHeartbeat(request, { deadline: Date.now() + 5_000 }, (error, response) => {
        if (error !== null || response === undefined) return reject(error ?? new Error("no response"));
        if (response.header?.code !== StatusCode.STATUS_CODE_OK) {
          return reject(new Error(`heartbeat refused: ${response.header?.code} ${response.header?.message}`));
        }
        this.#heartbeats++;
        this.#lastAcceptedSentAtMs = Math.max(this.#lastAcceptedSentAtMs, sentAt);
        resolve(response);
      }),
    );
  }

  /** Stops serving and heartbeating, at once (like a killed process). */
  async stop(): Promise<void> {
    this.#heartbeating = false;
    this.#server.forceShutdown();
    await this.#heartbeatLoop;
    for (const client of this.#metaClients) client.close();
  }

  /** The shards it holds in `role`, by id. */
  shardIds(role: SimulatedRole): number[] {
    return [...this.shards.entries()]
      .filter(([, shard]) => shard.role === role)
      .map(([id]) => id)
      .sort((a, b) => a - b);
  }

  async #runHeartbeats(): Promise<void> {
    const interval = this.#options.heartbeatIntervalMs ?? 200;
    while (this.#heartbeating) {
      await this.heartbeat().catch(() => undefined);
      if (!this.#heartbeating) break;
      await sleep(interval);
    }
  }

  /** The ids of the tables horaemeta records on `shardId`, asked of each replica in turn. */
  async #tablesOf(shardId: number): Promise<Set<string>> {
    let lastError: Error | undefined;
    for (let i = 0; i < this.#metaClients.length; i++) {
      const client = this.#metaClients[this.#attempts++ % this.#metaClients.length]!;
      const request: meta.GetTablesOfShardsRequest = {
        header: { node: this.name, clusterName: this.#options.clusterName ?? "" },
        shardIds: [shardId],
      };
      try {
        const response = await new Promise<meta.GetTablesOfShardsResponse__Output>((resolve, reject) =>
          client.GetTablesOfShards(request, { deadline: Date.now() + 5_000 }, (error, answer) =>
            error !== null || answer === undefined
              ? reject(error ?? new Error("no response"))
              : resolve(answer),
          ),
        );
        if (response.header?.code !== StatusCode.STATUS_CODE_OK) {
          throw new Error(`GetTablesOfShards refused: ${response.header?.code} ${response.header?.message}`);
        }
        return new Set(
          response.tablesOfShards.flatMap((entry) => entry.tables.map((table) => String(table.id))),
        );
      } catch (error) {
        lastError = error as Error;
      }
    }
    throw lastError ?? new Error("no horaemeta endpoint");
  }

  #handlers(): grpc.UntypedServiceImplementation {
    const unary =
      <Request>(method: string, handle: Handler<Request>): grpc.handleUnaryCall<Request, object> =>
      (call, callback) => {
        void (async () => {
          if (this.behaviour.delayMs > 0) await sleep(this.behaviour.delayMs);
          const header = (code: StatusCode, message: string) => ({
            header: { code, message, retryAfterMs: 0 },
          });
          if (this.behaviour.busy.has(method)) {
            return callback(null, header(StatusCode.STATUS_CODE_UNAVAILABLE, "busy"));
          }
          if (this.behaviour.refuse.has(method)) {
            return callback(
              null,
              header(StatusCode.STATUS_CODE_INVALID_ARGUMENT, `${method} refused by the test`),
            );
          }
          const outcome = await handle(call.request);
          this.events.push({ method, shardId: outcome.shardId, atMs: Date.now() });
          callback(null, header(outcome.code, outcome.message));
        })();
      };
    const ok = (shardId: number) => ({ code: StatusCode.STATUS_CODE_OK, message: "", shardId });
    /** Refuses an event older than what the shard has seen. */
    const stale = (shardId: number, version: number) => {
      const shard = this.shards.get(shardId);
      if (shard === undefined || shard.version <= version) return undefined;
      return {
        code: StatusCode.STATUS_CODE_VERSION_MISMATCH,
        message: `shard ${shardId} is at version ${shard.version}, the event expects ${version}`,
        shardId,
      };
    };
    const update = (
      info: metaEvent.UpdateShardInfo__Output | null,
      apply: (shard: SimulatedShard) => void,
      requireOpen = true,
    ) => {
      const curr = info?.currShardInfo;
      if (curr === null || curr === undefined) {
        return {
          code: StatusCode.STATUS_CODE_INVALID_ARGUMENT,
          message: "update_shard_info is required",
          shardId: -1,
        };
      }
      const version = Number(curr.version);
      const refused = stale(curr.id, version);
      if (refused !== undefined) return refused;
      const shard = this.shards.get(curr.id);
      if (shard === undefined) {
        if (requireOpen) {
          return {
            code: StatusCode.STATUS_CODE_FAILED_PRECONDITION,
            message: `shard ${curr.id} is not open here`,
            shardId: curr.id,
          };
        }
        return ok(curr.id);
      }
      apply(shard);
      shard.version = version;
      return ok(curr.id);
    };
    return {
      OpenShard: unary<metaEvent.OpenShardRequest__Output>("OpenShard", async (request) => {
        const info = request.shard!;
        const version = Number(info.version);
        const role = ROLE_OF[info.role] ?? "leader";
        const refused = stale(info.id, version);
        if (refused !== undefined) return refused;
        const held = this.shards.get(info.id);
        if (held?.version === version && held.role === role) return ok(info.id);
        // Like a real instance, it opens the shard with the tables horaemeta records for it: a node
        // that never saw a shard's CreateTableOnShard (a failover successor) holds its tables all the same.
        let tables: Set<string>;
        try {
          tables = await this.#tablesOf(info.id);
        } catch (error) {
          return {
            code: StatusCode.STATUS_CODE_UNAVAILABLE,
            message: `tables of shard ${info.id} not loaded: ${(error as Error).message}`,
            shardId: info.id,
          };
        }
        // Checked again: a newer event may have arrived while the tables were loading.
        const refusedNow = stale(info.id, version);
        if (refusedNow !== undefined) return refusedNow;
        this.shards.set(info.id, { role, version, tables });
        return ok(info.id);
      }),
      CloseShard: unary<metaEvent.CloseShardRequest__Output>("CloseShard", (request) => {
        this.shards.delete(request.shard!.id);
        return ok(request.shard!.id);
      }),
      CreateTableOnShard: unary<metaEvent.CreateTableOnShardRequest__Output>(
        "CreateTableOnShard",
        (request) => update(request.updateShardInfo, (shard) => shard.tables.add(request.table!.id)),
      ),
      DropTableOnShard: unary<metaEvent.DropTableOnShardRequest__Output>("DropTableOnShard", (request) =>
        update(request.updateShardInfo, (shard) => shard.tables.delete(request.table!.id), false),
      ),
      OpenTableOnShard: unary<metaEvent.OpenTableOnShardRequest__Output>("OpenTableOnShard", (request) =>
        update(request.updateShardInfo, (shard) => shard.tables.add(request.table!.id), false),
      ),
      CloseTableOnShard: unary<metaEvent.CloseTableOnShardRequest__Output>("CloseTableOnShard", (request) =>
        update(request.updateShardInfo, (shard) => shard.tables.delete(request.table!.id), false),
      ),
      SwitchShardRole: unary<metaEvent.SwitchShardRoleRequest__Output>("SwitchShardRole", (request) =>
        update(request.updateShardInfo, (shard) => {
          shard.role = ROLE_OF[request.updateShardInfo!.currShardInfo!.role] ?? shard.role;
        }),
      ),
      SplitShard: unary<metaEvent.SplitShardRequest__Output>("SplitShard", (request) => {
        const outcome = update(request.source, (shard) => {
          const moved = new Set(request.tableIds);
          const info = request.newShardInfo!;
          this.shards.set(info.id, {
            role: shard.role,
            version: Number(info.version),
            tables: new Set([...shard.tables].filter((id) => moved.has(id))),
          });
          for (const id of moved) shard.tables.delete(id);
        });
        return outcome;
      }),
      MergeShards: unary<metaEvent.MergeShardsRequest__Output>("MergeShards", (request) => {
        const target = request.targetShardInfo!;
        const shard = this.shards.get(target.id);
        if (shard === undefined) {
          return {
            code: StatusCode.STATUS_CODE_FAILED_PRECONDITION,
            message: `shard ${target.id} is not open here`,
            shardId: target.id,
          };
        }
        for (const source of request.sourceShardInfos) {
          for (const id of this.shards.get(source.id)?.tables ?? []) shard.tables.add(id);
          this.shards.delete(source.id);
        }
        shard.version = Math.max(shard.version, Number(target.version));
        return ok(target.id);
      }),
    };
  }
}
