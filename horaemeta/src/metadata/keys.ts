/**
 * Key layout of a cluster's metadata in etcd. Every key lives under `<rootPath>/<cluster>/`
 * (rootPath default `/horaedb`, from `etcd.root_path`; cluster from `cluster.name`):
 *
 *   cluster/settings                        ClusterSettings (written once, by createCluster)
 *   cluster/state                           ClusterStateRecord: Empty | Prepare | Stable
 *   cluster/view                            ClusterView: leader + followers per shard, topology version
 *   cluster/schedule                        ScheduleRecord: whether the schedulers run (absent: they do)
 *   schemas/<schema name>                   SchemaRecord: name -> schema id
 *   tables/by_id/<table id, 20 digits>      TableRecord
 *   tables/by_name/<schema id, 10 digits>/<table name>
 *                                           TableNameRecord: (schema id, table name) -> table id
 *   shards/<shard id, 10 digits>/view       ShardView: table ids + shard version
 *   nodes/<node name>                       NodeRecord: endpoint, zone, last heartbeat, shard infos
 *   node_leases/<node name>                 NodeLeaseRecord, attached to an etcd lease: exists while
 *                                           the node is online
 *   procedures/<procedure id, 20 digits>    ProcedureRecord
 *   shard_locks/<shard id, 10 digits>       ShardLockRecord: the unfinished procedure holding the shard
 *   id_counters/<schema|table|shard|procedure>
 *                                           IdCounterRecord: the first id not yet handed out
 *
 * Ids are zero-padded so that etcd's byte order is numeric order (20 digits hold any uint64, 10 any
 * uint32). Names are percent-encoded (encodeURIComponent), so a name never contains `/` and every
 * key parses back to exactly the name it was built from. Node names are the nodes' `host:port`.
 */
import { InvalidMetadataRequestError } from "./errors.js";

export type IdKind = "schema" | "table" | "shard" | "procedure";
export const ID_KINDS: readonly IdKind[] = ["schema", "table", "shard", "procedure"];

/** Digits of a zero-padded id: uint64 ids (tables, procedures) and uint32 ids (schemas, shards). */
const WIDE_ID_DIGITS = 20;
const NARROW_ID_DIGITS = 10;
export const MAX_NARROW_ID = 0xffff_ffff;

/** Same rules as the `etcd.root_path` and `cluster.name` configuration options. */
const ROOT_PATH_PATTERN = /^\/.*[^/]$/;
const CLUSTER_NAME_PATTERN = /^[A-Za-z0-9_-]+$/;

/** What a key of the layout names; the result of `MetadataKeys.parse`. */
export type ParsedMetadataKey =
  | { readonly type: "clusterSettings" }
  | { readonly type: "clusterState" }
  | { readonly type: "clusterView" }
  | { readonly type: "clusterSchedule" }
  | { readonly type: "schema"; readonly schemaName: string }
  | { readonly type: "tableById"; readonly tableId: number }
  | { readonly type: "tableByName"; readonly schemaId: number; readonly tableName: string }
  | { readonly type: "shardView"; readonly shardId: number }
  | { readonly type: "node"; readonly nodeName: string }
  | { readonly type: "nodeLease"; readonly nodeName: string }
  | { readonly type: "procedure"; readonly procedureId: number }
  | { readonly type: "shardLock"; readonly shardId: number }
  | { readonly type: "idCounter"; readonly kind: IdKind };

/** Builds and parses the keys of one cluster. */
export class MetadataKeys {
  readonly rootPath: string;
  readonly clusterName: string;
  /** `<rootPath>/<cluster>/`: every key of the cluster starts with it. */
  readonly root: string;

  constructor(rootPath: string, clusterName: string) {
    if (!ROOT_PATH_PATTERN.test(rootPath)) {
      throw new InvalidMetadataRequestError("rootPath", `must start with / and not end with /: ${rootPath}`);
    }
    if (!CLUSTER_NAME_PATTERN.test(clusterName)) {
      throw new InvalidMetadataRequestError(
        "clusterName",
        `may contain only letters, digits, _ and -: ${clusterName}`,
      );
    }
    this.rootPath = rootPath;
    this.clusterName = clusterName;
    this.root = `${rootPath}/${clusterName}/`;
  }

  clusterSettings(): string {
    return `${this.root}cluster/settings`;
  }

  clusterState(): string {
    return `${this.root}cluster/state`;
  }

  clusterView(): string {
    return `${this.root}cluster/view`;
  }

  clusterSchedule(): string {
    return `${this.root}cluster/schedule`;
  }

  schema(name: string): string {
    return `${this.schemasPrefix()}${encodeName(name, "schemaName")}`;
  }

  schemasPrefix(): string {
    return `${this.root}schemas/`;
  }

  tableById(tableId: number): string {
    return `${this.tablesByIdPrefix()}${encodeId(tableId, WIDE_ID_DIGITS, "tableId")}`;
  }

  tablesByIdPrefix(): string {
    return `${this.root}tables/by_id/`;
  }

  tableByName(schemaId: number, tableName: string): string {
    return `${this.tablesByNamePrefix(schemaId)}${encodeName(tableName, "tableName")}`;
  }

  /** All name keys of one schema. */
  tablesByNamePrefix(schemaId: number): string {
    return `${this.root}tables/by_name/${encodeId(schemaId, NARROW_ID_DIGITS, "schemaId")}/`;
  }

  shardView(shardId: number): string {
    return `${this.shardsPrefix()}${encodeId(shardId, NARROW_ID_DIGITS, "shardId")}/view`;
  }

  shardsPrefix(): string {
    return `${this.root}shards/`;
  }

  node(name: string): string {
    return `${this.nodesPrefix()}${encodeName(name, "nodeName")}`;
  }

  nodesPrefix(): string {
    return `${this.root}nodes/`;
  }

  nodeLease(name: string): string {
    return `${this.nodeLeasesPrefix()}${encodeName(name, "nodeName")}`;
  }

  nodeLeasesPrefix(): string {
    return `${this.root}node_leases/`;
  }

  procedure(procedureId: number): string {
    return `${this.proceduresPrefix()}${encodeId(procedureId, WIDE_ID_DIGITS, "procedureId")}`;
  }

  proceduresPrefix(): string {
    return `${this.root}procedures/`;
  }

  shardLock(shardId: number): string {
    return `${this.shardLocksPrefix()}${encodeId(shardId, NARROW_ID_DIGITS, "shardId")}`;
  }

  shardLocksPrefix(): string {
    return `${this.root}shard_locks/`;
  }

  idCounter(kind: IdKind): string {
    return `${this.root}id_counters/${kind}`;
  }

  /** What `key` names, or undefined for a key outside this cluster's layout. */
  parse(key: string): ParsedMetadataKey | undefined {
    if (!key.startsWith(this.root)) return undefined;
    const parts = key.slice(this.root.length).split("/");
    const [area, first, second, third] = parts;
    switch (parts.length) {
      case 2:
        if (area === "cluster") {
          if (first === "settings") return { type: "clusterSettings" };
          if (first === "state") return { type: "clusterState" };
          if (first === "view") return { type: "clusterView" };
          if (first === "schedule") return { type: "clusterSchedule" };
          return undefined;
        }
        if (area === "schemas") return parsedName(first, (schemaName) => ({ type: "schema", schemaName }));
        if (area === "nodes") return parsedName(first, (nodeName) => ({ type: "node", nodeName }));
        if (area === "node_leases") {
          return parsedName(first, (nodeName) => ({ type: "nodeLease", nodeName }));
        }
        if (area === "procedures") {
          const procedureId = parseId(first, WIDE_ID_DIGITS);
          return procedureId === undefined ? undefined : { type: "procedure", procedureId };
        }
        if (area === "shard_locks") {
          const shardId = parseId(first, NARROW_ID_DIGITS);
          return shardId === undefined ? undefined : { type: "shardLock", shardId };
        }
        if (area === "id_counters") {
          const kind = ID_KINDS.find((k) => k === first);
          return kind === undefined ? undefined : { type: "idCounter", kind };
        }
        return undefined;
      case 3:
        if (area === "tables" && first === "by_id") {
          const tableId = parseId(second, WIDE_ID_DIGITS);
          return tableId === undefined ? undefined : { type: "tableById", tableId };
        }
        if (area === "shards" && second === "view") {
          const shardId = parseId(first, NARROW_ID_DIGITS);
          return shardId === undefined ? undefined : { type: "shardView", shardId };
        }
        return undefined;
      case 4: {
        if (area !== "tables" || first !== "by_name") return undefined;
        const schemaId = parseId(second, NARROW_ID_DIGITS);
        if (schemaId === undefined) return undefined;
        return parsedName(third, (tableName) => ({ type: "tableByName", schemaId, tableName }));
      }
      default:
        return undefined;
    }
  }
}

/** The exclusive end of the key range holding every key that starts with `prefix`. */
export function prefixRangeEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    const byte = end[i]!;
    if (byte < 0xff) {
      end[i] = byte + 1;
      return end.subarray(0, i + 1);
    }
  }
  // A prefix of only 0xff bytes: the range runs to the end of the keyspace (etcd's "\0").
  return Buffer.from([0]);
}

function encodeName(name: string, field: string): string {
  if (name.length === 0) throw new InvalidMetadataRequestError(field, "must not be empty");
  return encodeURIComponent(name);
}

function parsedName<T>(segment: string | undefined, build: (name: string) => T): T | undefined {
  if (segment === undefined || segment.length === 0) return undefined;
  let name: string;
  try {
    name = decodeURIComponent(segment);
  } catch {
    return undefined;
  }
  // Only the canonical encoding names a key of the layout.
  return encodeURIComponent(name) === segment ? build(name) : undefined;
}

function encodeId(id: number, digits: number, field: string): string {
  const max = digits === NARROW_ID_DIGITS ? MAX_NARROW_ID : Number.MAX_SAFE_INTEGER;
  if (!Number.isSafeInteger(id) || id < 0 || id > max) {
    throw new InvalidMetadataRequestError(field, `must be an integer from 0 to ${max}, got ${id}`);
  }
  return String(id).padStart(digits, "0");
}

function parseId(segment: string | undefined, digits: number): number | undefined {
  if (segment === undefined || segment.length !== digits || !/^\d+$/.test(segment)) return undefined;
  const id = Number(segment);
  return Number.isSafeInteger(id) ? id : undefined;
}
