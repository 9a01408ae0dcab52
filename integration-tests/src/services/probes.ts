import { probeEtcd } from "./etcd.js";
import { probeKafka } from "./kafka.js";
import type { ServiceName } from "./launch.js";
import { probeS3 } from "./s3proxy.js";
import type { ServiceEndpoints } from "./types.js";

/** Runs the readiness check of one service against recorded endpoints; rejects when it is not ready. */
export function probeService(name: ServiceName, endpoints: ServiceEndpoints): Promise<void> {
  switch (name) {
    case "etcd":
      return probeEtcd(endpoints.etcd);
    case "kafka":
      return probeKafka(endpoints.kafka);
    case "s3proxy":
      return probeS3(endpoints.s3);
  }
}
