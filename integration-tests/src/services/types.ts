// Loads vitest's declarations so the augmentation below has a module to extend.
import type {} from "vitest";

/** Where the test services listen; handed to tests by the global setup through `inject("services")`. */
export interface ServiceEndpoints {
  etcd: { endpoints: string[] };
  kafka: { brokers: string[] };
  s3: {
    endpoint: string;
    region: string;
    accessKeyId: string;
    secretAccessKey: string;
    /** Created when the server became ready. */
    bucket: string;
    forcePathStyle: true;
  };
}

declare module "vitest" {
  export interface ProvidedContext {
    services: ServiceEndpoints;
  }
}
