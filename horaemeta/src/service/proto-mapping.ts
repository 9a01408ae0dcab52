/** Conversions between the metadata store's records and the MetaService's proto messages. */
import { formatHostPort } from "@horaedb/common";
import { common, type meta } from "@horaedb/proto";
import { InvalidRequestError } from "../errors.js";
import type {
  Endpoint,
  NodeLoad,
  ReportedShard,
  RoutedNode,
  ShardLoad,
  ShardRole,
  ShardStatus,
  TableRecord,
} from "../metadata/index.js";

export function tableInfo(table: TableRecord): common.TableInfo {
  return {
    id: String(table.id),
    name: table.name,
    schemaId: table.schemaId,
    schemaName: table.schemaName,
    partitionInfo:
      table.partitionInfo === null
        ? null
        : {
            keyColumns: [...table.partitionInfo.keyColumns],
            partitionCount: table.partitionInfo.partitionCount,
            subTableNames: [...table.partitionInfo.subTableNames],
          },
  };
}

export function shardInfo(shardId: number, role: ShardRole | null, version: number): common.ShardInfo {
  return {
    id: shardId,
    role:
      role === "leader"
        ? common.ShardRole.SHARD_ROLE_LEADER
        : role === "follower"
          ? common.ShardRole.SHARD_ROLE_FOLLOWER
          : common.ShardRole.SHARD_ROLE_UNSPECIFIED,
    version: String(version),
    status: common.ShardStatus.SHARD_STATUS_UNSPECIFIED,
  };
}

/** The endpoint of a node: the one it reported, else parsed from its `host:port` name. */
export function nodeEndpoint(name: string, reported: Endpoint | null | undefined): common.Endpoint {
  if (reported !== null && reported !== undefined) return { host: reported.host, port: reported.port };
  const separator = name.lastIndexOf(":");
  const host = name.slice(0, separator).replace(/^\[(.*)\]$/, "$1");
  return { host, port: Number(name.slice(separator + 1)) };
}

export function nodeShard(
  node: RoutedNode,
  shardId: number,
  role: ShardRole,
  version: number,
): meta.NodeShard {
  return { endpoint: nodeEndpoint(node.name, node.endpoint), shardInfo: shardInfo(shardId, role, version) };
}

/** The node name (`host:port`) of a reported endpoint; refuses an incomplete endpoint. */
export function nodeName(field: string, endpoint: common.Endpoint__Output | null): string {
  if (endpoint === null) throw new InvalidRequestError(field, "is required");
  if (endpoint.host === "") throw new InvalidRequestError(`${field}.host`, "must not be empty");
  if (endpoint.port < 1 || endpoint.port > 65_535) {
    throw new InvalidRequestError(`${field}.port`, `must be 1 to 65535, got ${endpoint.port}`);
  }
  return formatHostPort(endpoint.host, endpoint.port);
}

const REPORTED_ROLES: Readonly<Record<string, ShardRole>> = {
  [common.ShardRole.SHARD_ROLE_LEADER]: "leader",
  [common.ShardRole.SHARD_ROLE_FOLLOWER]: "follower",
};

const REPORTED_STATUSES: Readonly<Record<string, ShardStatus>> = {
  [common.ShardStatus.SHARD_STATUS_UNSPECIFIED]: "unspecified",
  [common.ShardStatus.SHARD_STATUS_OPENING]: "opening",
  [common.ShardStatus.SHARD_STATUS_READY]: "ready",
  [common.ShardStatus.SHARD_STATUS_PARTIALLY_OPEN]: "partially_open",
  [common.ShardStatus.SHARD_STATUS_CLOSING]: "closing",
  [common.ShardStatus.SHARD_STATUS_CLOSED]: "closed",
};

export function reportedShard(field: string, info: common.ShardInfo__Output): ReportedShard {
  const role = REPORTED_ROLES[info.role];
  if (role === undefined)
    throw new InvalidRequestError(`${field}.role`, `must be leader or follower, got ${info.role}`);
  const status = REPORTED_STATUSES[info.status];
  if (status === undefined) throw new InvalidRequestError(`${field}.status`, `unknown status ${info.status}`);
  return { shardId: info.id, role, version: safeInteger(`${field}.version`, info.version), status };
}

export function reportedNodeLoad(load: meta.NodeLoad__Output | null): NodeLoad | null {
  if (load === null) return null;
  return {
    cpuUsage: load.cpuUsage,
    memoryBytes: safeInteger("info.load.memory_bytes", load.memoryBytes),
    writeRowsPerSecond: load.writeRowsPerSecond,
    queriesPerSecond: load.queriesPerSecond,
  };
}

export function reportedShardLoad(field: string, load: meta.ShardLoad__Output): ShardLoad {
  return {
    shardId: load.shardId,
    memtableBytes: safeInteger(`${field}.memtable_bytes`, load.memtableBytes),
    writeRowsPerSecond: load.writeRowsPerSecond,
  };
}

/** A uint64 field (decoded as a decimal string) as a number; refuses values beyond 2^53. */
export function safeInteger(field: string, value: string): number {
  const number = Number(value);
  if (!Number.isSafeInteger(number)) throw new InvalidRequestError(field, `${value} is too large`);
  return number;
}
