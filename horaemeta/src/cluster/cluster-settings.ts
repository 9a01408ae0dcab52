import type { HoraeMetaConfig } from "../config.js";
import type { ClusterSettings, CreateClusterRequest } from "../metadata/index.js";

/** The settings a cluster is created with, from the `cluster.*` and `election.*` options. */
export function clusterSettingsFromConfig(config: HoraeMetaConfig): CreateClusterRequest {
  return {
    shardCount: config.cluster.shard_total,
    followersPerShard: config.cluster.followers_per_shard,
    topologyType: config.cluster.topology,
    minNodeCount: config.cluster.min_node_count,
    nodeLeaseTtlMs: config.cluster.node_lease_ttl_ms,
    metaLeaderLeaseTtlMs: config.election.lease_ttl_s * 1000,
  };
}

/** The settings where the stored cluster differs from what the configuration asks for. */
export function settingsDifferences(
  stored: ClusterSettings,
  requested: CreateClusterRequest,
): Record<string, { stored: unknown; configured: unknown }> {
  const differences: Record<string, { stored: unknown; configured: unknown }> = {};
  for (const [field, configured] of Object.entries(requested)) {
    const value = stored[field as keyof ClusterSettings];
    if (configured !== undefined && value !== configured) differences[field] = { stored: value, configured };
  }
  return differences;
}
