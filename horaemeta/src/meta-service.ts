import type { UntypedServiceImplementation } from "@grpc/grpc-js";
import { unimplementedHandlers } from "@horaedb/common";
import { metaServiceDefinition } from "@horaedb/proto";

export const META_SERVICE_NAME = "horaedb.meta.v1.MetaService";

/** Handlers for MetaService. Every method answers UNIMPLEMENTED until the metadata store lands. */
export function metaServiceHandlers(): UntypedServiceImplementation {
  return unimplementedHandlers(metaServiceDefinition(), META_SERVICE_NAME);
}
