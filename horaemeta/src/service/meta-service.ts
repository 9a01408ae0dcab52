/**
 * The gRPC MetaService: checks the request header, then either runs the call here (this replica
 * leads) or forwards it to the leader. Every outcome is an OK gRPC status with a ResponseHeader
 * carrying the call's own status (common/v1/common.proto).
 */
import type * as grpc from "@grpc/grpc-js";
import type { Logger } from "@horaedb/common";
import type { common, meta } from "@horaedb/proto";
import type { LeaderTerm } from "../election/leader-term.js";
import type { MetaServiceMethod } from "./leader-forwarder.js";
import type { MetaOperations } from "./meta-operations.js";
import { checkClusterName } from "./request-validation.js";
import { failureHeader, failureStatus } from "./response-status.js";

export const META_SERVICE_NAME = "horaedb.meta.v1.MetaService";

/** Whether this replica leads right now. */
export interface Leadership {
  readonly currentTerm: LeaderTerm | undefined;
}

export interface CallForwarder {
  forward<Response>(
    method: MetaServiceMethod,
    request: unknown,
    call: grpc.ServerUnaryCall<unknown, unknown>,
  ): Promise<Response>;
}

export type MetaServiceOperations = Pick<
  MetaOperations,
  | "nodeHeartbeat"
  | "allocSchemaId"
  | "createTable"
  | "dropTable"
  | "routeTables"
  | "getTablesOfShards"
  | "getNodes"
>;

export interface MetaServiceOptions {
  /** The cluster this horaemeta manages; requests naming another are refused. */
  readonly clusterName: string;
  readonly leadership: Leadership;
  readonly forwarder: CallForwarder;
  readonly operations: MetaServiceOperations;
  readonly logger: Logger;
}

interface HeaderedRequest {
  readonly header: meta.RequestHeader__Output | null;
}

export function metaServiceHandlers(options: MetaServiceOptions): meta.MetaServiceHandlers {
  const { operations } = options;
  return {
    NodeHeartbeat: unaryHandler(options, "NodeHeartbeat", (request, term) =>
      operations.nodeHeartbeat(request, term),
    ),
    AllocSchemaId: unaryHandler(options, "AllocSchemaId", (request, term) =>
      operations.allocSchemaId(request, term),
    ),
    CreateTable: unaryHandler(options, "CreateTable", (request, term) =>
      operations.createTable(request, term),
    ),
    DropTable: unaryHandler(options, "DropTable", (request, term) => operations.dropTable(request, term)),
    RouteTables: unaryHandler(options, "RouteTables", (request) => operations.routeTables(request)),
    GetTablesOfShards: unaryHandler(options, "GetTablesOfShards", (request) =>
      operations.getTablesOfShards(request),
    ),
    GetNodes: unaryHandler(options, "GetNodes", (request) => operations.getNodes(request)),
  };
}

/** Every MetaService response starts with a header; its other fields are optional. */
interface HeaderedResponse {
  readonly header?: common.ResponseHeader | null;
}

function unaryHandler<Request extends HeaderedRequest, Response extends HeaderedResponse>(
  options: MetaServiceOptions,
  method: MetaServiceMethod,
  onLeader: (request: Request, term: LeaderTerm) => Promise<Response>,
): grpc.handleUnaryCall<Request, Response> {
  return (call, callback) => {
    const respond = async () => {
      checkClusterName(call.request.header?.clusterName, options.clusterName);
      const term = options.leadership.currentTerm;
      if (term === undefined) {
        return options.forwarder.forward<Response>(method, call.request, call);
      }
      return onLeader(call.request, term);
    };
    respond().then(
      (response) => callback(null, response),
      (error: unknown) => {
        const status = failureStatus(error);
        if (status.unexpected) {
          options.logger.error({ err: error, method }, `${method} failed: ${status.message}`);
        } else {
          options.logger.debug(
            { method, code: status.code },
            `${method} answered ${status.code}: ${status.message}`,
          );
        }
        // A response of only a header is valid for every method: the other fields are optional.
        callback(null, { header: failureHeader(status) } as Response);
      },
    );
  };
}
