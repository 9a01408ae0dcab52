/** One keepalive of an etcd lease, on a stream of its own with a deadline. */
import { castGrpcError, type Etcd3 } from "etcd3";

/**
 * Renews `leaseId` once; resolves to the TTL etcd answered in seconds (0: the lease has expired).
 * Rejects when etcd does not answer within `timeoutMs`.
 */
export async function renewLeaseOnce(client: Etcd3, leaseId: string, timeoutMs: number): Promise<number> {
  const stream = await client.leaseClient.leaseKeepAlive({ deadline: new Date(Date.now() + timeoutMs) });
  return new Promise<number>((resolve, reject) => {
    stream.on("data", (response) => {
      resolve(Number(response.TTL));
      stream.end();
    });
    stream.on("error", (error: Error) => reject(castGrpcError(error)));
    stream.on("end", () => reject(new Error("the keepalive stream ended without an answer")));
    stream.write({ ID: leaseId });
  });
}
