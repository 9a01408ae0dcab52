import { z } from "zod";
import { logLevelSchema } from "../logger.js";
import { configSection } from "./options.js";

/** A TCP port; 0 asks the OS for a free one (tests rely on this). */
export const portSchema = z.int().min(0).max(65535);

export interface ServerSectionDefaults {
  readonly grpcPort: number;
  readonly httpPort: number;
}

/** The `[server]` section both servers have: where they listen and how long shutdown may take. */
export function serverConfigSection(defaults: ServerSectionDefaults) {
  return configSection({
    bind_addr: z
      .string()
      .min(1)
      .default("127.0.0.1")
      .describe("Address the gRPC and HTTP servers listen on; 0.0.0.0 listens on all interfaces."),
    grpc_port: portSchema
      .default(defaults.grpcPort)
      .describe("Port of the gRPC server; 0 picks a free port."),
    http_port: portSchema
      .default(defaults.httpPort)
      .describe("Port of the HTTP server; 0 picks a free port."),
    shutdown_timeout_ms: z
      .int()
      .min(0)
      .default(10_000)
      .describe(
        "How long a graceful shutdown waits for in-flight requests before cancelling them, in milliseconds.",
      ),
  });
}

/** The `[log]` section both servers have. */
export function logConfigSection() {
  return configSection({
    level: logLevelSchema.default("info").describe("Lowest level of the JSON log lines written to stdout."),
  });
}
