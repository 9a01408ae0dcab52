export {
  horaeDBConfigDefinition,
  horaeDBModes,
  resolveHoraeDBConfig,
  type HoraeDBConfig,
  type HoraeDBConfigInput,
  type HoraeDBMode,
} from "./config.js";
export { DataDirectoryError, UnsupportedModeError } from "./errors.js";
export { HoraeDBServer, type HoraeDBServerOptions } from "./server.js";
export { STORAGE_SERVICE_NAME, storageServiceHandlers } from "./storage-service.js";
