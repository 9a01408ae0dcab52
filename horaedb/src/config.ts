import {
  configSection,
  logConfigSection,
  parseConfig,
  serverConfigSection,
  z,
  type ConfigDefinition,
} from "@horaedb/common";

export const horaeDBModes = ["standalone", "cluster"] as const;

/** The longest schema name the catalog takes (engine/catalog.ts). */
const MAX_SCHEMA_NAME_LENGTH = 255;
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
    advertise_host: z
      .string()
      .default("")
      .describe(
        "Host clients are told to reach this instance at (Route answers it with the gRPC port). Empty: server.bind_addr, or this machine's host name when bound to every interface (0.0.0.0 or ::).",
      ),
    mode: z
      .enum(horaeDBModes)
      .default("standalone")
      .describe(
        "standalone: one instance serves every table from local storage. cluster: shards are placed by horaemeta (not available yet; startup refuses it).",
      ),
    schemas: z
      .array(z.string().min(1).max(MAX_SCHEMA_NAME_LENGTH))
      .default([])
      .describe(
        "Schemas (databases) besides public that tables may be created in, by CREATE TABLE or a first write. A write or CREATE TABLE naming another schema is refused with NOT_FOUND; the schemas of tables already on disk stay served.",
      ),
    engine: configSection({
      memory_budget_bytes: z
        .int()
        .min(16 * 1024 * 1024)
        .default(1024 * 1024 * 1024)
        .describe(
          "Memtable bytes of the whole instance above which the largest table is flushed; writes are refused (retryably) above 1.5 times this.",
        ),
      max_unflushed_age_ms: z
        .int()
        .min(1000)
        .default(300_000)
        .describe("A memtable older than this is flushed even when small, in milliseconds."),
      sst_encoder_workers: z
        .int()
        .min(0)
        .max(64)
        .default(1)
        .describe("Worker threads encoding SST files; 0 encodes on the main thread."),
      compaction_memory_bytes: z
        .int()
        .min(16 * 1024 * 1024)
        .default(1024 * 1024 * 1024)
        .describe(
          "Estimated memory the compaction jobs running at once may hold, in bytes; a job waits until it fits beside the running ones, and one larger than this is cut down or refused.",
        ),
      read_cache_bytes: z
        .int()
        .min(0)
        .default(256 * 1024 * 1024)
        .describe("Capacity of the in-memory cache of object storage reads, in bytes."),
      prepopulate_decoded_cache: z
        .boolean()
        .default(true)
        .describe(
          "Put the rows of the SSTs that flushes and compactions write in the decoded column cache, as they write them, so that queries over fresh data need no decoding.",
        ),
      decoded_cache_bytes: z
        .int()
        .min(0)
        .default(256 * 1024 * 1024)
        .describe(
          "Capacity of the in-memory cache of decoded SST columns, in bytes: repeated reads of the same data skip fetching, checksumming and decoding it. 0 turns it off.",
        ),
      wal_segment_bytes: z
        .int()
        .min(64 * 1024)
        .default(64 * 1024 * 1024)
        .describe("Size at which a WAL segment file is closed and a new one started, in bytes."),
      auto_create_table: z
        .boolean()
        .default(true)
        .describe("Create a table from the columns of the first write to it."),
      auto_add_columns: z
        .boolean()
        .default(true)
        .describe("Add the columns a write carries that its table does not have yet."),
      max_request_bytes: z
        .int()
        .min(1024)
        .default(64 * 1024 * 1024)
        .describe(
          "Largest gRPC request accepted, in bytes; larger ones are refused with RESOURCE_EXHAUSTED.",
        ),
    }),
    query: configSection({
      timeout_ms: z
        .int()
        .min(1)
        .default(30_000)
        .describe(
          "Timeout of a SQL statement, in milliseconds: every HTTP /sql statement, and gRPC queries whose request leaves timeout_ms at 0. A statement past it is cancelled and answered DEADLINE_EXCEEDED (HTTP 504).",
        ),
    }),
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
