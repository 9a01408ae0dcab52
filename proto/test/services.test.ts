import type * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";

import {
  loadMetaEventProto,
  loadMetaProto,
  loadStorageProto,
  metaEventServiceDefinition,
  metaServiceDefinition,
  storageServiceDefinition,
} from "../src/index.js";

type Streaming = { requestStream: boolean; responseStream: boolean };

const UNARY: Streaming = { requestStream: false, responseStream: false };
const CLIENT_STREAM: Streaming = { requestStream: true, responseStream: false };
const SERVER_STREAM: Streaming = { requestStream: false, responseStream: true };

/** Method name -> streaming flags, so one equality covers the method set and every flag. */
function shapeOf(service: grpc.ServiceDefinition): Record<string, Streaming> {
  return Object.fromEntries(
    Object.entries(service).map(([name, method]) => [
      name,
      { requestStream: method.requestStream, responseStream: method.responseStream },
    ]),
  );
}

function pathsOf(service: grpc.ServiceDefinition): string[] {
  return Object.values(service).map((method) => method.path);
}

describe("StorageService", () => {
  it("exposes exactly Route, Write, StreamWrite, SqlQuery and StreamSqlQuery with their streaming flags", () => {
    expect(shapeOf(storageServiceDefinition())).toStrictEqual({
      Route: UNARY,
      Write: UNARY,
      StreamWrite: CLIENT_STREAM,
      SqlQuery: UNARY,
      StreamSqlQuery: SERVER_STREAM,
    });
  });

  it("serves its methods under the versioned package name", () => {
    for (const path of pathsOf(storageServiceDefinition())) {
      expect(path).toMatch(/^\/horaedb\.storage\.v1\.StorageService\/[A-Za-z]+$/);
    }
  });
});

describe("MetaService", () => {
  it("exposes exactly the seven unary instance-to-meta methods", () => {
    expect(shapeOf(metaServiceDefinition())).toStrictEqual({
      NodeHeartbeat: UNARY,
      AllocSchemaId: UNARY,
      CreateTable: UNARY,
      DropTable: UNARY,
      RouteTables: UNARY,
      GetTablesOfShards: UNARY,
      GetNodes: UNARY,
    });
  });

  it("serves its methods under the versioned package name", () => {
    for (const path of pathsOf(metaServiceDefinition())) {
      expect(path).toMatch(/^\/horaedb\.meta\.v1\.MetaService\/[A-Za-z]+$/);
    }
  });
});

describe("MetaEventService", () => {
  it("exposes exactly the nine unary meta-to-instance events", () => {
    expect(shapeOf(metaEventServiceDefinition())).toStrictEqual({
      OpenShard: UNARY,
      CloseShard: UNARY,
      CreateTableOnShard: UNARY,
      DropTableOnShard: UNARY,
      OpenTableOnShard: UNARY,
      CloseTableOnShard: UNARY,
      SwitchShardRole: UNARY,
      SplitShard: UNARY,
      MergeShards: UNARY,
    });
  });

  it("serves its methods under the versioned package name", () => {
    for (const path of pathsOf(metaEventServiceDefinition())) {
      expect(path).toMatch(/^\/horaedb\.meta_event\.v1\.MetaEventService\/[A-Za-z]+$/);
    }
  });
});

describe("package loaders", () => {
  it("load each package together with the shared horaedb.common.v1 types", () => {
    expect(loadStorageProto().horaedb.common.v1.ResponseHeader.format).toBe(
      "Protocol Buffer 3 DescriptorProto",
    );
    expect(loadMetaProto().horaedb.common.v1.TableSchema.format).toBe("Protocol Buffer 3 DescriptorProto");
    expect(loadMetaEventProto().horaedb.common.v1.ShardInfo.format).toBe("Protocol Buffer 3 DescriptorProto");
  });

  it("return the same cached package on every call", () => {
    expect(loadStorageProto()).toBe(loadStorageProto());
    expect(loadMetaProto()).toBe(loadMetaProto());
    expect(loadMetaEventProto()).toBe(loadMetaEventProto());
    expect(storageServiceDefinition()).toBe(loadStorageProto().horaedb.storage.v1.StorageService.service);
  });
});
