import { writeFile } from "node:fs/promises";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { CreateBucketCommand, ListBucketsCommand, S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import { ServiceStartError } from "./errors.js";
import { ensureProgram, JAVA } from "./install.js";
import { launchService, type RunningService, type StartOptions } from "./launch.js";
import { resolveClasspath } from "./maven.js";
import { LOOPBACK } from "./ports.js";
import { readLogTail } from "./process.js";
import { s3ClientConfig } from "./s3-client.js";
import type { ServiceEndpoints } from "./types.js";

export type S3Endpoint = ServiceEndpoints["s3"];

const STOP_GRACE_MS = 5_000;
const REGION = "us-east-1";
const ACCESS_KEY_ID = "horaedb-test";
const SECRET_ACCESS_KEY = "horaedb-test-secret";
const BUCKET = "horaedb-test";

// The s3proxy jar ships no logback config, and logback's default is DEBUG to the console.
const LOGBACK_XML = `<configuration>
  <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>[%d{ISO8601}] %-5level %logger{36} - %msg%n</pattern></encoder>
  </appender>
  <root level="WARN"><appender-ref ref="STDOUT" /></root>
</configuration>
`;

function s3proxyProperties(port: number, dataDir: string): string {
  return `${[
    `s3proxy.endpoint=http://${LOOPBACK}:${port}`,
    "s3proxy.authorization=aws-v2-or-v4",
    `s3proxy.identity=${ACCESS_KEY_ID}`,
    `s3proxy.credential=${SECRET_ACCESS_KEY}`,
    // Without this, s3proxy answers 501 NotImplemented to the flexible-checksum headers
    // (x-amz-checksum-crc32, ...) that current SDKs send, e.g. always on DeleteObjects.
    "s3proxy.ignore-unknown-headers=true",
    // The storage backend takes credentials too, although a directory does not check them.
    "jclouds.provider=filesystem-nio2",
    `jclouds.identity=${ACCESS_KEY_ID}`,
    `jclouds.credential=${SECRET_ACCESS_KEY}`,
    `jclouds.filesystem.basedir=${dataDir}`,
  ].join("\n")}\n`;
}

function withClient<T>(endpoint: S3Endpoint, use: (client: S3Client) => Promise<T>): Promise<T> {
  const client = new S3Client({ ...s3ClientConfig(endpoint), maxAttempts: 1 });
  return use(client).finally(() => client.destroy());
}

/** Passes when the server answers an authenticated ListBuckets. */
export function probeS3(endpoint: S3Endpoint): Promise<void> {
  return withClient(endpoint, async (client) => {
    await client.send(new ListBucketsCommand({}));
  });
}

async function createBucket(endpoint: S3Endpoint): Promise<void> {
  await withClient(endpoint, async (client) => {
    try {
      await client.send(new CreateBucketCommand({ Bucket: endpoint.bucket }));
    } catch (error) {
      if (!(error instanceof S3ServiceException && error.name === "BucketAlreadyOwnedByYou")) throw error;
    }
  });
}

/** Starts s3proxy serving a local directory over the S3 API, and creates the test bucket. */
export async function startS3proxy(options: StartOptions): Promise<RunningService<S3Endpoint>> {
  const installStarted = performance.now();
  const [java, classpath] = await Promise.all([ensureProgram(JAVA), resolveClasspath("s3proxy")]);
  const installMs = performance.now() - installStarted;

  const launched = await launchService<S3Endpoint>({
    name: "s3proxy",
    options,
    portCount: 1,
    defaultStartTimeoutMs: 60_000,
    stopGraceMs: STOP_GRACE_MS,
    prepare: async (ports, { dir, dataDir }) => {
      const [port] = ports as [number];
      const propertiesFile = path.join(dir, "s3proxy.conf");
      const logbackFile = path.join(dir, "logback.xml");
      await writeFile(propertiesFile, s3proxyProperties(port, dataDir));
      await writeFile(logbackFile, LOGBACK_XML);
      const endpoint: S3Endpoint = {
        endpoint: `http://${LOOPBACK}:${port}`,
        region: REGION,
        accessKeyId: ACCESS_KEY_ID,
        secretAccessKey: SECRET_ACCESS_KEY,
        bucket: BUCKET,
        forcePathStyle: true,
      };
      return {
        command: java,
        args: [
          "-Xms64m",
          "-Xmx512m",
          "-XX:+UseSerialGC",
          "-Djava.awt.headless=true",
          `-Dlogback.configurationFile=${logbackFile}`,
          "-cp",
          path.join(classpath.jarDir, "*"),
          "org.gaul.s3proxy.Main",
          "--properties",
          propertiesFile,
        ],
        endpoint,
        address: `${LOOPBACK}:${port}`,
        probe: () => probeS3(endpoint),
      };
    },
  });
  try {
    await createBucket(launched.endpoint);
  } catch (error) {
    await launched.process.stop(STOP_GRACE_MS);
    const logFile = launched.process.logFile;
    const reason = `creating bucket ${BUCKET} failed: ${String(error)}`;
    throw new ServiceStartError("s3proxy", reason, logFile, await readLogTail(logFile), { cause: error });
  }
  return {
    name: "s3proxy",
    dir: options.dir,
    installMs,
    ...launched,
    stopGraceMs: STOP_GRACE_MS,
    stop: () => launched.process.stop(STOP_GRACE_MS),
  };
}
