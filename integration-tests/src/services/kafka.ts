import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { Kafka, logLevel } from "kafkajs";
import { ServiceStartError } from "./errors.js";
import { ensureProgram, JAVA } from "./install.js";
import { launchService, type RunningService, type StartOptions } from "./launch.js";
import { resolveClasspath } from "./maven.js";
import { LOOPBACK } from "./ports.js";
import { readLogTail, SupervisedProcess } from "./process.js";
import type { ServiceEndpoints } from "./types.js";

export type KafkaEndpoint = ServiceEndpoints["kafka"];

const STOP_GRACE_MS = 15_000;
// A small heap and the serial collector: a test broker holds little data, and the machine is shared.
const JVM_OPTIONS = ["-Xms128m", "-Xmx512m", "-XX:+UseSerialGC", "-Djava.awt.headless=true"];
// The storage formatter runs for under a second, so the optimising compiler would only cost time.
const SHORT_RUN_JVM_OPTIONS = ["-XX:TieredStopAtLevel=1"];

/** A KRaft cluster id: 16 random bytes in URL-safe base64 without padding, as `kafka-storage random-uuid`. */
function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString("base64url");
    // Kafka never generates ids starting with '-' because they read as command-line flags.
    if (!id.startsWith("-")) return id;
  }
}

/** One combined broker+controller node tuned for tests: no replication, no rebalance delay. */
function serverProperties(brokerPort: number, controllerPort: number, dataDir: string): string {
  return `${[
    "process.roles=broker,controller",
    "node.id=1",
    `controller.quorum.voters=1@${LOOPBACK}:${controllerPort}`,
    `listeners=PLAINTEXT://${LOOPBACK}:${brokerPort},CONTROLLER://${LOOPBACK}:${controllerPort}`,
    `advertised.listeners=PLAINTEXT://${LOOPBACK}:${brokerPort}`,
    "controller.listener.names=CONTROLLER",
    "inter.broker.listener.name=PLAINTEXT",
    "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
    `log.dirs=${dataDir}`,
    "num.partitions=1",
    "default.replication.factor=1",
    "min.insync.replicas=1",
    "offsets.topic.replication.factor=1",
    "offsets.topic.num.partitions=1",
    "transaction.state.log.replication.factor=1",
    "transaction.state.log.min.isr=1",
    "transaction.state.log.num.partitions=1",
    "group.initial.rebalance.delay.ms=0",
    // Our WAL creates its topics explicitly; auto-creation would hide a missing create.
    "auto.create.topics.enable=false",
    "num.network.threads=2",
    "num.io.threads=4",
    "num.recovery.threads.per.data.dir=1",
  ].join("\n")}\n`;
}

const LOG4J_PROPERTIES = `# Warnings and errors only, to stdout, which goes to kafka.log.
log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
# One line when the server is up, which makes the log readable on its own.
log4j.logger.kafka.server.KafkaRaftServer=INFO
`;

/** Passes when the broker answers a metadata request listing at least one broker. */
export async function probeKafka(endpoint: KafkaEndpoint, timeoutMs = 3_000): Promise<void> {
  const kafka = new Kafka({
    clientId: "horaedb-readiness-probe",
    brokers: endpoint.brokers,
    connectionTimeout: timeoutMs,
    requestTimeout: timeoutMs,
    retry: { retries: 0 },
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    if (cluster.brokers.length === 0) throw new Error("the cluster has no brokers yet");
  } finally {
    await admin.disconnect();
  }
}

/** Starts a single-node KRaft Kafka (broker and controller in one JVM) on fresh loopback ports. */
export async function startKafka(options: StartOptions): Promise<RunningService<KafkaEndpoint>> {
  const installStarted = performance.now();
  const [java, classpath] = await Promise.all([ensureProgram(JAVA), resolveClasspath("kafka")]);
  const installMs = performance.now() - installStarted;
  const javaClasspath = path.join(classpath.jarDir, "*");

  const launched = await launchService<KafkaEndpoint>({
    name: "kafka",
    options,
    portCount: 2,
    defaultStartTimeoutMs: 90_000,
    stopGraceMs: STOP_GRACE_MS,
    prepare: async (ports, { dir, dataDir, logFile }) => {
      const [brokerPort, controllerPort] = ports as [number, number];
      const propertiesFile = path.join(dir, "server.properties");
      const log4jFile = path.join(dir, "log4j.properties");
      await writeFile(propertiesFile, serverProperties(brokerPort, controllerPort, dataDir));
      await writeFile(log4jFile, LOG4J_PROPERTIES);
      const jvmArgs = [`-Dlog4j.configuration=file:${log4jFile}`, "-cp", javaClasspath];

      // KRaft log directories must be formatted with a cluster id before the first start.
      const format = await SupervisedProcess.spawn({
        name: "kafka-storage",
        command: java,
        args: [
          ...JVM_OPTIONS,
          ...SHORT_RUN_JVM_OPTIONS,
          ...jvmArgs,
          "kafka.tools.StorageTool",
          "format",
          "-t",
          newClusterId(),
          "-c",
          propertiesFile,
        ],
        cwd: dir,
        logFile,
      });
      const exit = await format.exited;
      if (exit.code !== 0) {
        const reason = `formatting the storage ${format.describeExit()}`;
        throw new ServiceStartError("kafka", reason, logFile, await readLogTail(logFile));
      }

      const endpoint = { brokers: [`${LOOPBACK}:${brokerPort}`] };
      return {
        command: java,
        args: [...JVM_OPTIONS, ...jvmArgs, "kafka.Kafka", propertiesFile],
        endpoint,
        address: `${LOOPBACK}:${brokerPort}`,
        probe: () => probeKafka(endpoint),
      };
    },
  });
  return {
    name: "kafka",
    dir: options.dir,
    installMs,
    ...launched,
    stopGraceMs: STOP_GRACE_MS,
    stop: () => launched.process.stop(STOP_GRACE_MS),
  };
}
