#!/usr/bin/env -S node --max-semi-space-size=32
import { runServerCommand } from "@horaedb/common";
import { horaeDBConfigDefinition } from "./config.js";
import { HoraeDBServer } from "./server.js";

await runServerCommand({
  name: "horaedb",
  description: "horaedb data instance: serves StorageService over gRPC and the HTTP API.",
  config: horaeDBConfigDefinition,
  logLevel: (config) => config.log.level,
  createServer: (config, logger) => new HoraeDBServer(config, { logger }),
});
