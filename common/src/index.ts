export { formatHostPort } from "./address.js";
export { runServerCommand, type ServerCommand } from "./cli.js";
export { ConfigError, describeConfigSource, type ConfigSource } from "./config/config-error.js";
export {
  formatConfigValue,
  formatOptionsHelp,
  formatOptionsMarkdownTable,
  markdownTableRows,
} from "./config/format.js";
export { loadConfig, parseConfig, type ConfigSources, type LoadedConfig } from "./config/load.js";
export {
  configSection,
  ConfigSchemaError,
  envVarName,
  listConfigOptions,
  type ConfigDefinition,
  type ConfigOption,
  type ConfigSchema,
  type ConfigValueKind,
} from "./config/options.js";
// Re-exported so server packages define their schemas with the same zod instance the loader inspects.
export { z } from "zod";
export {
  portSchema,
  serverConfigSection,
  logConfigSection,
  type ServerSectionDefaults,
} from "./config/common-sections.js";
export { bindGrpcServer, shutdownGrpcServer, unimplementedHandlers, unimplementedMessage } from "./grpc.js";
export { HealthState, type ServingState } from "./health.js";
export { closeHttpServer, createHttpServer, listenHttp, type HttpServerOptions } from "./http.js";
export { exitCodes, runUntilSignal, type ManagedServer, type RunUntilSignalOptions } from "./lifecycle.js";
export { ListenError } from "./listen-error.js";
export {
  componentLogger,
  createLogger,
  logLevels,
  logLevelSchema,
  type LogLevel,
  type Logger,
  type LoggerOptions,
} from "./logger.js";
export { NetworkServers, type BoundAddresses, type NetworkServersOptions } from "./network-servers.js";
