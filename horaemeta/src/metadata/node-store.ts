/**
 * horaedb nodes and their liveness.
 *
 * Liveness is an etcd lease, not a stored deadline. Each node has two keys: its record
 * (`nodes/<name>`, what the last heartbeat reported; kept when the node dies, so the scheduler still
 * sees where it was) and its lease key (`node_leases/<name>`, attached to an etcd lease that every
 * heartbeat renews). The node is online while the lease key exists. Why a lease:
 * - etcd times the lease on its own leader's clock, so no horaemeta clock (nor the skew between the
 *   horaemeta replicas after a leader change) decides when a node is dead;
 * - etcd renews it from the moment horaemeta received the heartbeat, which is after the node sent it,
 *   so the key outlives the lease the node counts from its send time: once the key is gone, the node
 *   has certainly stopped writing (design.md section 2), and its shards can be reassigned;
 * - the lease id is stored in the record, so a new horaemeta leader renews the same lease;
 * - an etcd leader change only extends leases, which errs on the safe side.
 * The record also stores `leaseDeadlineMs` on horaemeta's clock, for logs and admin views only.
 *
 * Heartbeats are last-writer-wins (two puts in one transaction, no guard): they report facts of the
 * node, and a guard would only make concurrent heartbeats of one node fail each other.
 */
import { decodeRecord, encodeRecord } from "./codec.js";
import { recordAt, type StoreContext } from "./context.js";
import { EtcdLeaseInvalidError } from "etcd3";
import { MIN_LEASE_TTL_MS } from "./cluster-store.js";
import { MetadataEtcdError } from "./errors.js";
import type { Endpoint, NodeLoad, NodeRecord, NodeStatus, ReportedShard, ShardLoad } from "./records.js";
import { requireInteger, requireName } from "./validation.js";

export interface HeartbeatRequest {
  /** `host:port` of the node's gRPC endpoint. */
  readonly name: string;
  readonly endpoint: Endpoint;
  readonly zone?: string;
  readonly binaryVersion?: string;
  /** The lease to grant, at least 2 s (etcd's minimum); rounded up to whole seconds in etcd. */
  readonly leaseTtlMs: number;
  readonly shards?: readonly ReportedShard[];
  readonly load?: NodeLoad | null;
  readonly shardLoads?: readonly ShardLoad[];
}

export interface HeartbeatResult {
  readonly node: NodeStatus;
  /** The lease granted, counted by the node from when it sent the heartbeat. */
  readonly leaseTtlMs: number;
  /** When that lease ends on this horaemeta's clock. */
  readonly leaseDeadlineMs: number;
  /** false: the node had no live lease (first heartbeat, or it had expired) and got a new one. */
  readonly renewed: boolean;
}

export class NodeStore {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  /** Records a heartbeat and renews the node's lease (or grants one). */
  async heartbeat(request: HeartbeatRequest): Promise<HeartbeatResult> {
    const { kv, keys, now } = this.#ctx;
    const operation = "node heartbeat";
    requireName("name", request.name);
    requireInteger("leaseTtlMs", request.leaseTtlMs, MIN_LEASE_TTL_MS);
    requireInteger("endpoint.port", request.endpoint.port, 0, 65_535);
    const receivedAtMs = now();
    const recordKey = keys.node(request.name);
    const leaseKey = keys.nodeLease(request.name);
    const ttlSeconds = Math.ceil(request.leaseTtlMs / 1000);

    const snapshot = await kv.read(operation, [recordKey, leaseKey]);
    const previous = recordAt(snapshot, "node", recordKey);
    const leaseEntry = snapshot.get(leaseKey);
    let leaseId: string | undefined;
    if (
      previous !== undefined &&
      leaseEntry?.lease === previous.etcdLeaseId &&
      Math.ceil(previous.leaseTtlMs / 1000) === ttlSeconds
    ) {
      const remaining = await kv.keepAliveLease(operation, previous.etcdLeaseId);
      if (remaining > 0) leaseId = previous.etcdLeaseId;
    }
    const renewed = leaseId !== undefined;
    leaseId ??= (await kv.grantLease(operation, ttlSeconds)).id;

    const record = (etcdLeaseId: string): NodeRecord => ({
      name: request.name,
      endpoint: { host: request.endpoint.host, port: request.endpoint.port },
      zone: request.zone ?? "",
      binaryVersion: request.binaryVersion ?? "",
      lastHeartbeatMs: receivedAtMs,
      leaseTtlMs: request.leaseTtlMs,
      leaseDeadlineMs: receivedAtMs + request.leaseTtlMs,
      etcdLeaseId,
      shards: request.shards ?? [],
      load: request.load ?? null,
      shardLoads: request.shardLoads ?? [],
    });
    const write = (etcdLeaseId: string) =>
      kv.commit(
        operation,
        [],
        [
          { op: "put", key: recordKey, value: encodeRecord("node", record(etcdLeaseId)) },
          {
            op: "put",
            key: leaseKey,
            value: encodeRecord("node_lease", { etcdLeaseId, grantedAtMs: receivedAtMs }),
            etcdLeaseId,
          },
        ],
        [],
      );
    try {
      await write(leaseId);
    } catch (error) {
      // The renewed lease expired between the keepalive and the put: start over with a new one.
      if (!(renewed && error instanceof MetadataEtcdError && error.cause instanceof EtcdLeaseInvalidError)) {
        throw error;
      }
      leaseId = (await kv.grantLease(operation, ttlSeconds)).id;
      await write(leaseId);
      return this.#result(record(leaseId), false, request.leaseTtlMs);
    }
    return this.#result(record(leaseId), renewed, request.leaseTtlMs);
  }

  /** The node's last report and whether its lease is alive, or undefined if it never reported. */
  async get(name: string): Promise<NodeStatus | undefined> {
    const { kv, keys } = this.#ctx;
    requireName("name", name);
    const snapshot = await kv.read("get node", [keys.node(name), keys.nodeLease(name)]);
    const record = recordAt(snapshot, "node", keys.node(name));
    if (record === undefined) return undefined;
    return { ...record, state: snapshot.get(keys.nodeLease(name)) === undefined ? "offline" : "online" };
  }

  /** Every node that ever reported (until deleted), with its state, by name. */
  async list(): Promise<NodeStatus[]> {
    const { kv, keys } = this.#ctx;
    const operation = "list nodes";
    const records = await kv.readPrefix(operation, keys.nodesPrefix());
    const leases = await kv.readPrefix(operation, keys.nodeLeasesPrefix(), records.revision);
    const online = new Set<string>();
    for (const entry of leases.entries) {
      const parsed = keys.parse(entry.key);
      if (parsed?.type === "nodeLease") online.add(parsed.nodeName);
    }
    return records.entries.map((entry) => {
      const record = decodeRecord("node", entry.key, entry.value);
      return { ...record, state: online.has(record.name) ? "online" : "offline" };
    });
  }

  /** Forgets a node: deletes both keys and revokes its lease. */
  async delete(name: string): Promise<void> {
    const { kv, keys } = this.#ctx;
    const operation = "delete node";
    requireName("name", name);
    const recordKey = keys.node(name);
    const snapshot = await kv.read(operation, [recordKey]);
    const record = recordAt(snapshot, "node", recordKey);
    await kv.commit(
      operation,
      [],
      [
        { op: "delete", key: recordKey },
        { op: "delete", key: keys.nodeLease(name) },
      ],
      [],
    );
    if (record !== undefined) await kv.revokeLease(operation, record.etcdLeaseId);
  }

  #result(record: NodeRecord, renewed: boolean, leaseTtlMs: number): HeartbeatResult {
    return {
      node: { ...record, state: "online" },
      leaseTtlMs,
      leaseDeadlineMs: record.leaseDeadlineMs,
      renewed,
    };
  }
}
