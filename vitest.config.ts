import { defineConfig } from "vitest/config";

// Two projects: `unit` needs nothing but Node; `integration` starts real etcd, Kafka and an
// S3 server in its global setup and stops them when the run ends.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["{common,proto,horaedb,horaemeta,client}/test/**/*.test.ts"],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: "integration",
          include: ["integration-tests/test/**/*.test.ts"],
          globalSetup: ["integration-tests/src/global-setup.ts"],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
