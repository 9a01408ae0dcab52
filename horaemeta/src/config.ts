import {
  configSection,
  logConfigSection,
  parseConfig,
  serverConfigSection,
  z,
  type ConfigDefinition,
} from "@horaedb/common";

export const topologyTypes = ["static", "dynamic"] as const;

/** Configuration of a horaemeta server; see docs/configuration.md. */
export const horaeMetaConfigDefinition = {
  schema: z.strictObject({
    server: serverConfigSection({ grpcPort: 8830, httpPort: 8080 }),
    etcd: configSection({
      endpoints: z
        .array(z.string().min(1))
        .min(1)
        .default(["http://127.0.0.1:2379"])
        .describe("etcd endpoints that hold the cluster metadata."),
      root_path: z
        .string()
        .regex(/^\/.*[^/]$/, "must start with / and not end with /")
        .default("/horaedb")
        .describe("Key prefix in etcd; a cluster's keys live under {root_path}/{cluster.name}/."),
      call_timeout_ms: z
        .int()
        .min(100)
        .default(5_000)
        .describe(
          "Deadline of each etcd call, in milliseconds; a call past it fails, and a request that needed it is answered UNAVAILABLE.",
        ),
    }),
    election: configSection({
      lease_ttl_s: z
        .int()
        .min(2)
        .max(3_600)
        .default(5)
        .describe(
          "TTL of the etcd lease the horaemeta leader holds, in seconds (etcd's minimum is 2). Another replica is elected within about this long after the leader dies; a leader that cannot renew its lease stops acting as leader before it ends.",
        ),
      advertise_host: z
        .string()
        .default("")
        .describe(
          "Host the other horaemeta replicas use to reach this one's gRPC server when they forward calls to it as the leader; empty means server.bind_addr.",
        ),
      forward_timeout_ms: z
        .int()
        .min(1)
        .default(5_000)
        .describe(
          "How long a replica that is not the leader waits for the leader to answer a forwarded call, in milliseconds; the caller's own deadline applies when it is shorter.",
        ),
    }),
    cluster: configSection({
      name: z
        .string()
        .regex(/^[A-Za-z0-9_-]+$/, "may contain only letters, digits, _ and -")
        .default("defaultCluster")
        .describe("Name of the cluster this horaemeta manages."),
      shard_total: z
        .int()
        .min(1)
        .max(0xffff_ffff)
        .default(8)
        .describe(
          "Shards the cluster is created with. Like every cluster.* setting below, it is stored when the cluster is first created; later values are ignored.",
        ),
      followers_per_shard: z
        .int()
        .min(0)
        .max(1_000)
        .default(0)
        .describe(
          "Followers placed per shard, each on a node other than the shard's leader; fewer when there are not enough nodes online.",
        ),
      topology: z
        .enum(topologyTypes)
        .default("static")
        .describe(
          "static: shards stay on the nodes they were placed on; dynamic: the scheduler may move them.",
        ),
      min_node_count: z
        .int()
        .min(1)
        .default(1)
        .describe("horaedb nodes that must be online before the shards are placed on them."),
      node_lease_ttl_ms: z
        .int()
        .min(2_000)
        .default(10_000)
        .describe(
          "Longest lease a horaedb node is granted per heartbeat, in milliseconds; a node that asks for less gets what it asked for (at least 2000).",
        ),
    }),
    scheduler: configSection({
      interval_ms: z
        .int()
        .min(10)
        .default(1_000)
        .describe(
          "How often the leader checks the cluster (places unassigned shards, fails over shards of nodes whose lease ended, reopens shards nodes do not report open, rebalances), in milliseconds; a node's first heartbeat and a node's lease ending also trigger a check.",
        ),
      enable_schedule: z
        .boolean()
        .default(true)
        .describe(
          "Whether the schedulers (failover, reopen, rebalance) start procedures; when false only shards never placed are placed. Operators can also pause and resume them at run time.",
        ),
      rebalance_max_moves: z
        .int()
        .min(0)
        .default(1)
        .describe(
          "Leaderships the rebalancer moves per check at most (dynamic topology only); 0 turns rebalancing off.",
        ),
    }),
    procedure: configSection({
      event_deadline_ms: z
        .int()
        .min(100)
        .default(10_000)
        .describe(
          "How long a procedure retries an event (OpenShard, CreateTableOnShard, ...) to an instance that cannot be reached or is busy, in milliseconds; then the procedure rolls back or leaves the instance to the schedulers.",
        ),
      lock_wait_ms: z
        .int()
        .min(0)
        .default(10_000)
        .describe(
          "How long a new procedure (e.g. a table create) waits for another procedure on the same shard to end, in milliseconds; then the request is answered UNAVAILABLE.",
        ),
      keep_ended: z
        .int()
        .min(0)
        .default(1_000)
        .describe(
          "Ended procedures kept in etcd with their history (for the admin API); older ones are deleted.",
        ),
      failpoint: z
        .string()
        .regex(/^$|^[a-z_]+:[a-z_]+(:after)?$/, "must be <kind>:<state>[:after] or empty")
        .default("")
        .describe(
          "For crash tests only: <kind>:<state> makes the leader stop each procedure of that kind it created right after storing that state (with :after, after running that state's step and before storing its outcome), until its leadership ends. Empty in production.",
        ),
    }),
    log: logConfigSection(),
  }),
  envPrefix: "HORAEMETA",
  flags: {
    "server.bind_addr": "bind-addr",
    "server.grpc_port": "grpc-port",
    "server.http_port": "http-port",
    "etcd.endpoints": "etcd-endpoints",
    "etcd.root_path": "etcd-root-path",
    "cluster.name": "cluster-name",
    "log.level": "log-level",
  },
} satisfies ConfigDefinition;

export type HoraeMetaConfig = z.output<typeof horaeMetaConfigDefinition.schema>;
/** A partial configuration: every omitted option takes its default. */
export type HoraeMetaConfigInput = z.input<typeof horaeMetaConfigDefinition.schema>;

/** Fills defaults into a partial configuration; a bad value throws ConfigError naming the key. */
export function resolveHoraeMetaConfig(input: HoraeMetaConfigInput = {}): HoraeMetaConfig {
  return parseConfig(horaeMetaConfigDefinition, input);
}
