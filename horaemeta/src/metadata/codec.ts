/**
 * JSON encoding of the stored values. Every value is one JSON object: a format number, the kind of
 * record, and the record itself (nested, so a record field can never collide with the envelope), e.g.
 *
 *   {"format":1,"kind":"shard_view","data":{"shardId":3,"version":7,"tableIds":[12,40],"updatedAtMs":...}}
 *
 * Decoding checks the format, the kind and every field, so a value written under the wrong key, by
 * an incompatible version or by hand is reported as corruption instead of being half-understood.
 * Unknown extra fields are ignored, so a later format may add fields without breaking readers.
 */
import { z } from "@horaedb/common";
import { MetadataCorruptionError } from "./errors.js";
import type {
  ClusterSettings,
  ClusterStateRecord,
  ClusterView,
  IdCounterRecord,
  JsonObject,
  JsonValue,
  NodeLeaseRecord,
  NodeRecord,
  ProcedureRecord,
  ScheduleRecord,
  SchemaRecord,
  ShardLockRecord,
  ShardView,
  TableNameRecord,
  TableRecord,
} from "./records.js";

export const METADATA_FORMAT = 1;

/** The record type stored under each kind. */
export interface MetadataRecordTypes {
  cluster_settings: ClusterSettings;
  cluster_state: ClusterStateRecord;
  cluster_view: ClusterView;
  schedule: ScheduleRecord;
  schema: SchemaRecord;
  table: TableRecord;
  table_name: TableNameRecord;
  shard_view: ShardView;
  node: NodeRecord;
  node_lease: NodeLeaseRecord;
  procedure: ProcedureRecord;
  shard_lock: ShardLockRecord;
  id_counter: IdCounterRecord;
}
export type MetadataRecordKind = keyof MetadataRecordTypes;

const id = z.number().int().nonnegative();
const count = z.number().int().nonnegative();
const timeMs = z.number().int().nonnegative();
const name = z.string().min(1);
const nodeName = z.string().min(1);
const finiteNonNegative = z.number().nonnegative();

export const jsonValueSchema: z.ZodType<JsonValue> = z.json();
export const jsonObjectSchema: z.ZodType<JsonObject> = z.record(z.string(), z.json());

export const partitionInfoSchema = z.object({
  keyColumns: z.array(name),
  partitionCount: z.number().int().positive(),
  subTableNames: z.array(name),
});

const shardRole = z.enum(["leader", "follower"]);
const shardStatus = z.enum(["unspecified", "opening", "ready", "partially_open", "closing", "closed"]);

export const recordSchemas: { [K in MetadataRecordKind]: z.ZodType<MetadataRecordTypes[K]> } = {
  cluster_settings: z.object({
    name,
    shardCount: z.number().int().positive(),
    followersPerShard: count,
    topologyType: z.enum(["static", "dynamic"]),
    minNodeCount: count,
    nodeLeaseTtlMs: z.number().int().positive(),
    metaLeaderLeaseTtlMs: z.number().int().positive(),
    createdAtMs: timeMs,
  }),
  cluster_state: z.object({ state: z.enum(["Empty", "Prepare", "Stable"]), updatedAtMs: timeMs }),
  cluster_view: z.object({
    version: z.number().int().positive(),
    shards: z.array(z.object({ shardId: id, leader: nodeName.nullable(), followers: z.array(nodeName) })),
    updatedAtMs: timeMs,
  }),
  schema: z.object({ id, name, createdAtMs: timeMs }),
  table: z.object({
    id,
    name,
    schemaId: id,
    schemaName: name,
    shardId: id.nullable(),
    partitionInfo: partitionInfoSchema.nullable(),
    // Absent in records written before partitioned tables existed.
    parentTableId: id.nullable().default(null),
    tableSchema: jsonObjectSchema,
    options: z.record(z.string(), z.string()),
    createdAtMs: timeMs,
    createRequestId: z.string(),
  }),
  table_name: z.object({ tableId: id }),
  shard_view: z.object({
    shardId: id,
    version: z.number().int().positive(),
    tableIds: z.array(id),
    updatedAtMs: timeMs,
  }),
  node: z.object({
    name: nodeName,
    endpoint: z.object({ host: z.string(), port: z.number().int().min(0).max(65_535) }),
    zone: z.string(),
    binaryVersion: z.string(),
    lastHeartbeatMs: timeMs,
    leaseTtlMs: z.number().int().positive(),
    leaseDeadlineMs: timeMs,
    etcdLeaseId: z.string().regex(/^\d+$/),
    shards: z.array(z.object({ shardId: id, role: shardRole, version: count, status: shardStatus })),
    load: z
      .object({
        cpuUsage: finiteNonNegative,
        memoryBytes: finiteNonNegative,
        writeRowsPerSecond: finiteNonNegative,
        queriesPerSecond: finiteNonNegative,
      })
      .nullable(),
    shardLoads: z.array(
      z.object({ shardId: id, memtableBytes: finiteNonNegative, writeRowsPerSecond: finiteNonNegative }),
    ),
  }),
  node_lease: z.object({ etcdLeaseId: z.string().regex(/^\d+$/), grantedAtMs: timeMs }),
  procedure: z.object({
    id,
    kind: name,
    state: name,
    shardIds: z.array(id),
    params: jsonValueSchema,
    history: z.array(z.object({ state: name, atMs: timeMs, detail: z.string().optional() })),
    createdAtMs: timeMs,
    updatedAtMs: timeMs,
  }),
  shard_lock: z.object({ procedureId: id, kind: name }),
  schedule: z.object({ enabled: z.boolean(), updatedAtMs: timeMs, reason: z.string() }),
  id_counter: z.object({ next: id }),
};

/** The JSON stored for `record`. */
export function encodeRecord<K extends MetadataRecordKind>(kind: K, record: MetadataRecordTypes[K]): string {
  return JSON.stringify({ format: METADATA_FORMAT, kind, data: record });
}

/** Decodes the value stored at `key`; anything but a valid record of `kind` is corruption. */
export function decodeRecord<K extends MetadataRecordKind>(
  kind: K,
  key: string,
  bytes: Uint8Array,
): MetadataRecordTypes[K] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch (error) {
    throw new MetadataCorruptionError(key, "value is not JSON", { cause: error });
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new MetadataCorruptionError(key, "value is not a JSON object");
  }
  const header = parsed as { format?: unknown; kind?: unknown; data?: unknown };
  if (header.format !== METADATA_FORMAT) {
    throw new MetadataCorruptionError(
      key,
      `unsupported format ${JSON.stringify(header.format)} (this build reads format ${METADATA_FORMAT})`,
    );
  }
  if (header.kind !== kind) {
    throw new MetadataCorruptionError(key, `holds a ${JSON.stringify(header.kind)} record, expected ${kind}`);
  }
  const result = recordSchemas[kind].safeParse(header.data);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue === undefined || issue.path.length === 0 ? "$" : issue.path.join(".");
    throw new MetadataCorruptionError(key, `${where}: ${issue?.message ?? "invalid"}`, {
      cause: result.error,
    });
  }
  return result.data;
}
