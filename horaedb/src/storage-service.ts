import type { UntypedServiceImplementation } from "@grpc/grpc-js";
import { unimplementedHandlers } from "@horaedb/common";
import { storageServiceDefinition } from "@horaedb/proto";

export const STORAGE_SERVICE_NAME = "horaedb.storage.v1.StorageService";

/** Handlers for StorageService. Every method answers UNIMPLEMENTED until the storage engine lands. */
export function storageServiceHandlers(): UntypedServiceImplementation {
  return unimplementedHandlers(storageServiceDefinition(), STORAGE_SERVICE_NAME);
}
