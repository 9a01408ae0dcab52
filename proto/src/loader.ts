import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

import type { ProtoGrpcType as MetaEventProtoGrpcType } from "./generated/meta_event.js";
import type { ProtoGrpcType as MetaProtoGrpcType } from "./generated/meta_service.js";
import type { ProtoGrpcType as StorageProtoGrpcType } from "./generated/storage.js";
import type { MetaEventServiceDefinition } from "./generated/horaedb/meta_event/v1/MetaEventService.js";
import type { MetaServiceDefinition } from "./generated/horaedb/meta/v1/MetaService.js";
import type { StorageServiceDefinition } from "./generated/horaedb/storage/v1/StorageService.js";
import { PROTO_ROOT } from "./proto-root.js";

export type { MetaEventProtoGrpcType, MetaProtoGrpcType, StorageProtoGrpcType };

/**
 * Options for `@grpc/proto-loader`. The conversion options are the ones `scripts/gen.mjs` passes to
 * `proto-loader-gen-types`, so decoded messages have exactly the generated `__Output` shapes:
 * camelCase fields, 64-bit integers as decimal strings, enums as their value names, scalar defaults
 * filled in (absent messages are `null`), and each oneof's set member named by a virtual field.
 */
export const PROTO_LOADER_OPTIONS: Readonly<protoLoader.Options> = Object.freeze({
  keepCase: false,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_ROOT],
});

/** Proto files loaded by the loaders below, relative to PROTO_ROOT. */
export const PROTO_FILES = Object.freeze({
  storage: "horaedb/storage/v1/storage.proto",
  meta: "horaedb/meta/v1/meta_service.proto",
  metaEvent: "horaedb/meta_event/v1/meta_event.proto",
});

/** Thrown when a .proto file cannot be read or parsed. */
export class ProtoLoadError extends Error {
  override readonly name = "ProtoLoadError";

  constructor(
    readonly file: string,
    readonly protoRoot: string,
    cause: unknown,
  ) {
    super(
      `cannot load ${file} from ${protoRoot}: ${cause instanceof Error ? cause.message : String(cause)}`,
      {
        cause,
      },
    );
  }
}

function loadProto<T>(file: string): T {
  let definition: protoLoader.PackageDefinition;
  try {
    definition = protoLoader.loadSync(file, PROTO_LOADER_OPTIONS);
  } catch (cause) {
    throw new ProtoLoadError(file, PROTO_ROOT, cause);
  }
  // loadPackageDefinition returns an untyped GrpcObject; the generated ProtoGrpcType describes what it
  // holds for this file, given the shared options above.
  return grpc.loadPackageDefinition(definition) as unknown as T;
}

let storageProto: StorageProtoGrpcType | undefined;
let metaProto: MetaProtoGrpcType | undefined;
let metaEventProto: MetaEventProtoGrpcType | undefined;

/** The `horaedb.storage.v1` package (with `horaedb.common.v1`), loaded once and cached. */
export function loadStorageProto(): StorageProtoGrpcType {
  return (storageProto ??= loadProto<StorageProtoGrpcType>(PROTO_FILES.storage));
}

/** The `horaedb.meta.v1` package (with `horaedb.common.v1`), loaded once and cached. */
export function loadMetaProto(): MetaProtoGrpcType {
  return (metaProto ??= loadProto<MetaProtoGrpcType>(PROTO_FILES.meta));
}

/** The `horaedb.meta_event.v1` package (with `horaedb.common.v1`), loaded once and cached. */
export function loadMetaEventProto(): MetaEventProtoGrpcType {
  return (metaEventProto ??= loadProto<MetaEventProtoGrpcType>(PROTO_FILES.metaEvent));
}

// The service definitions are functions rather than constants so that importing this package never
// parses .proto files; the first call loads and caches the package.

/** `StorageService` definition, for `server.addService(storageServiceDefinition(), handlers)`. */
export function storageServiceDefinition(): StorageServiceDefinition {
  return loadStorageProto().horaedb.storage.v1.StorageService.service;
}

/** `MetaService` definition, for `server.addService(metaServiceDefinition(), handlers)`. */
export function metaServiceDefinition(): MetaServiceDefinition {
  return loadMetaProto().horaedb.meta.v1.MetaService.service;
}

/** `MetaEventService` definition, for `server.addService(metaEventServiceDefinition(), handlers)`. */
export function metaEventServiceDefinition(): MetaEventServiceDefinition {
  return loadMetaEventProto().horaedb.meta_event.v1.MetaEventService.service;
}
