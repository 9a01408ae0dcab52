// Real etcd, Kafka and S3 (s3proxy) servers for tests and development.
export type { ServiceEndpoints } from "./services/types.js";
export { s3ClientConfig } from "./services/s3-client.js";
export { startServices, type ServiceStack, type StartServicesOptions } from "./services/stack.js";
export { startEtcd, probeEtcd, type EtcdEndpoint } from "./services/etcd.js";
export { startKafka, probeKafka, type KafkaEndpoint } from "./services/kafka.js";
export { startS3proxy, probeS3, type S3Endpoint } from "./services/s3proxy.js";
export type { RunningService, ServiceName, StartOptions } from "./services/launch.js";
export { ensureProgram, type SystemProgram } from "./services/install.js";
export {
  MavenResolveError,
  MissingProgramError,
  PackageInstallError,
  PortInUseError,
  ServiceError,
  ServicesStartError,
  ServicesStateError,
  ServiceStartError,
  ServiceStopError,
} from "./services/errors.js";
