import {
  logConfigSection,
  parseConfig,
  serverConfigSection,
  z,
  type ConfigDefinition,
} from "@horaedb/common";

export const horaeDBModes = ["standalone", "cluster"] as const;
export type HoraeDBMode = (typeof horaeDBModes)[number];

/** Configuration of a horaedb instance; see docs/configuration.md. */
export const horaeDBConfigDefinition = {
  schema: z.strictObject({
    server: serverConfigSection({ grpcPort: 8831, httpPort: 5440 }),
    data_dir: z
      .string()
      .min(1)
      .default("./data")
      .describe("Directory for the instance's local data; created at startup if missing."),
    mode: z
      .enum(horaeDBModes)
      .default("standalone")
      .describe(
        "standalone: one instance serves every table from local storage. cluster: shards are placed by horaemeta (not available yet; startup refuses it).",
      ),
    log: logConfigSection(),
  }),
  envPrefix: "HORAEDB",
  flags: {
    "server.bind_addr": "bind-addr",
    "server.grpc_port": "grpc-port",
    "server.http_port": "http-port",
    data_dir: "data-dir",
    "log.level": "log-level",
  },
} satisfies ConfigDefinition;

export type HoraeDBConfig = z.output<typeof horaeDBConfigDefinition.schema>;
/** A partial configuration: every omitted option takes its default. */
export type HoraeDBConfigInput = z.input<typeof horaeDBConfigDefinition.schema>;

/** Fills defaults into a partial configuration; a bad value throws ConfigError naming the key. */
export function resolveHoraeDBConfig(input: HoraeDBConfigInput = {}): HoraeDBConfig {
  return parseConfig(horaeDBConfigDefinition, input);
}
