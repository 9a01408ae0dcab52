import { format } from "node:util";
import * as grpc from "@grpc/grpc-js";
import { Command, Option } from "commander";
import type { z } from "zod";
import { ConfigError } from "./config/config-error.js";
import { formatOptionsHelp } from "./config/format.js";
import { loadConfig } from "./config/load.js";
import {
  listConfigOptions,
  type ConfigDefinition,
  type ConfigOption,
  type ConfigSchema,
} from "./config/options.js";
import { exitCodes, runUntilSignal, type ManagedServer } from "./lifecycle.js";
import { componentLogger, createLogger, type LogLevel, type Logger } from "./logger.js";

export interface ServerCommand<S extends ConfigSchema> {
  /** Executable and logger name, e.g. `horaedb`. */
  readonly name: string;
  readonly description: string;
  readonly config: ConfigDefinition<S>;
  /** Environment the configuration reads `<PREFIX>_...` variables from; `process.env` by default. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly logLevel: (config: z.output<S>) => LogLevel;
  readonly createServer: (config: z.output<S>, logger: Logger) => ManagedServer;
}

/**
 * The whole life of a server executable: parse flags, load configuration, run the server until
 * SIGINT/SIGTERM, and exit with 0 (clean stop), 1 (startup or shutdown failure) or 2 (bad flags or
 * configuration). Never returns.
 */
export async function runServerCommand<S extends ConfigSchema>(
  command: ServerCommand<S>,
  argv: readonly string[] = process.argv,
): Promise<never> {
  const options = listConfigOptions(command.config);
  const program = new Command(command.name)
    .description(command.description)
    .option("--config <file>", "configuration file (.toml or .json)")
    .addHelpText("after", configHelp(command.config, options))
    .exitOverride((error) => {
      process.exit(error.exitCode === 0 ? exitCodes.ok : exitCodes.usage);
    });
  const flagAttributes = new Map<string, string>();
  for (const option of options) {
    if (option.flag === undefined) continue;
    const flag = new Option(`${option.flag} <${placeholder(option)}>`, option.description);
    program.addOption(flag);
    flagAttributes.set(option.key, flag.attributeName());
  }
  program.parse([...argv]);
  const parsed = program.opts<Record<string, string | undefined>>();

  let config: z.output<S>;
  let warnings: readonly string[];
  try {
    const flags: Record<string, string | undefined> = {};
    for (const [key, attribute] of flagAttributes) flags[key] = parsed[attribute];
    ({ config, warnings } = loadConfig(command.config, {
      ...(parsed.config === undefined ? {} : { file: parsed.config }),
      env: command.env ?? process.env,
      flags,
    }));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    createLogger({ name: command.name, level: "info" }).fatal({ err: error }, error.message);
    process.exit(exitCodes.usage);
  }

  const logger = createLogger({ name: command.name, level: command.logLevel(config) });
  for (const warning of warnings) logger.warn(warning);
  routeGrpcLibraryLogs(componentLogger(logger, "grpc-js"));
  let server: ManagedServer;
  try {
    server = command.createServer(config, logger);
  } catch (error) {
    logger.fatal({ err: error }, `startup failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(exitCodes.failure);
  }
  process.exit(await runUntilSignal(server, { logger }));
}

function placeholder(option: ConfigOption): string {
  switch (option.valueKind.kind) {
    case "number":
      return "n";
    case "enum":
      return option.valueKind.values.join("|");
    case "boolean":
      return "true|false";
    case "string-list":
      return "a,b,...";
    case "string":
      return option.path[option.path.length - 1] ?? "value";
  }
}

function configHelp(definition: ConfigDefinition, options: readonly ConfigOption[]): string {
  return [
    "",
    "Configuration: schema defaults < --config file < environment variables < flags.",
    `In a file, an option key a.b is key b of table [a]; its environment variable is ${definition.envPrefix}_A__B.`,
    "",
    "Configuration options:",
    formatOptionsHelp(options),
  ].join("\n");
}

/**
 * grpc-js writes its own diagnostics to stderr. Route them into the JSON log at debug level: every
 * failure that matters also surfaces through the API call that hit it (bind errors, call statuses),
 * and is logged there with context.
 */
function routeGrpcLibraryLogs(logger: Logger): void {
  const write = (...args: unknown[]) => logger.debug(format(...args));
  grpc.setLogger({ error: write, info: write, debug: write });
}
