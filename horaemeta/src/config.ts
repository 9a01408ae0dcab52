import {
  configSection,
  logConfigSection,
  parseConfig,
  serverConfigSection,
  z,
  type ConfigDefinition,
} from "@horaedb/common";

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
    }),
    cluster: configSection({
      name: z
        .string()
        .regex(/^[A-Za-z0-9_-]+$/, "may contain only letters, digits, _ and -")
        .default("defaultCluster")
        .describe("Name of the cluster this horaemeta manages."),
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
