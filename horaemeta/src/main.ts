#!/usr/bin/env node
import { runServerCommand } from "@horaedb/common";
import { horaeMetaConfigDefinition } from "./config.js";
import { HoraeMetaServer } from "./server.js";

await runServerCommand({
  name: "horaemeta",
  description: "horaemeta metadata service: serves MetaService over gRPC and the HTTP admin API.",
  config: horaeMetaConfigDefinition,
  logLevel: (config) => config.log.level,
  createServer: (config, logger) => new HoraeMetaServer(config, { logger }),
});
