import { describe, expect, it } from "vitest";
import { grantedNodeLeaseTtlMs, InvalidRequestError } from "../../src/index.js";
import { nodeEndpoint, nodeName, reportedShard, shardInfo } from "../../src/service/proto-mapping.js";

describe("node names and endpoints", () => {
  it("names a node by host:port, bracketing IPv6 hosts, and parses the name back", () => {
    expect(nodeName("info.endpoint", { host: "10.0.0.1", port: 8831 })).toBe("10.0.0.1:8831");
    expect(nodeName("info.endpoint", { host: "::1", port: 8831 })).toBe("[::1]:8831");
    expect(nodeEndpoint("[::1]:8831", null)).toEqual({ host: "::1", port: 8831 });
    expect(nodeEndpoint("10.0.0.1:8831", undefined)).toEqual({ host: "10.0.0.1", port: 8831 });
    expect(nodeEndpoint("10.0.0.1:8831", { host: "node-1", port: 1 })).toEqual({ host: "node-1", port: 1 });
  });

  it("refuses an endpoint without a host or a valid port", () => {
    expect(() => nodeName("info.endpoint", null)).toThrow(InvalidRequestError);
    expect(() => nodeName("info.endpoint", { host: "", port: 1 })).toThrow("info.endpoint.host");
    expect(() => nodeName("info.endpoint", { host: "a", port: 0 })).toThrow("info.endpoint.port");
  });
});

describe("shard infos", () => {
  it("reads a reported shard and refuses one without a role", () => {
    expect(
      reportedShard("s", { id: 3, role: "SHARD_ROLE_FOLLOWER", version: "9", status: "SHARD_STATUS_READY" }),
    ).toEqual({ shardId: 3, role: "follower", version: 9, status: "ready" });
    expect(() =>
      reportedShard("s", {
        id: 3,
        role: "SHARD_ROLE_UNSPECIFIED",
        version: "9",
        status: "SHARD_STATUS_READY",
      }),
    ).toThrow("invalid s.role");
  });

  it("writes a shard's role for a node, unspecified when the node does not hold it", () => {
    expect(shardInfo(2, "leader", 5)).toMatchObject({ id: 2, role: "SHARD_ROLE_LEADER", version: "5" });
    expect(shardInfo(2, null, 5).role).toBe("SHARD_ROLE_UNSPECIFIED");
  });
});

describe("grantedNodeLeaseTtlMs", () => {
  it("grants what the node asks for within etcd's minimum and the cluster's maximum", () => {
    expect(grantedNodeLeaseTtlMs(5_000, 10_000)).toBe(5_000);
    expect(grantedNodeLeaseTtlMs(60_000, 10_000)).toBe(10_000);
    expect(grantedNodeLeaseTtlMs(500, 10_000)).toBe(2_000);
    expect(grantedNodeLeaseTtlMs(0, 10_000)).toBe(10_000);
  });
});
