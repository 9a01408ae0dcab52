export {
  horaeMetaConfigDefinition,
  resolveHoraeMetaConfig,
  type HoraeMetaConfig,
  type HoraeMetaConfigInput,
} from "./config.js";
export { META_SERVICE_NAME, metaServiceHandlers } from "./meta-service.js";
export { HoraeMetaServer, type HoraeMetaServerOptions } from "./server.js";
export * as metadata from "./metadata/index.js";
