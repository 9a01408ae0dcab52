import { randomUUID } from "node:crypto";
import {
  Kafka,
  KafkaJSBrokerNotFound,
  KafkaJSDeleteTopicRecordsError,
  logLevel,
  Partitioners,
  type Admin,
  type Consumer,
  type KafkaJSDeleteTopicRecordsErrorTopic,
  type Producer,
} from "kafkajs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { within } from "../support/wait.js";

// The Kafka features the WAL relies on (design §3): one-partition topics, appends acknowledged by
// all in-sync replicas, replay from an offset, and truncation with DeleteRecords.

const { kafka: endpoint } = inject("services");
const runId = randomUUID().slice(0, 8);

const kafka = new Kafka({
  clientId: `contract-test-${runId}`,
  brokers: endpoint.brokers,
  connectionTimeout: 5_000,
  requestTimeout: 10_000,
  // Failures surface as thrown errors; the log would only add the broker's transient "coordinator
  // not available" answers while the first consumer group is being set up.
  logLevel: logLevel.NOTHING,
});

const admin: Admin = kafka.admin();
const producer: Producer = kafka.producer({
  allowAutoTopicCreation: false,
  createPartitioner: Partitioners.DefaultPartitioner,
});
const consumers: Consumer[] = [];
const createdTopics: string[] = [];

interface ConsumedRecord {
  offset: string;
  key: string;
  value: string;
}

function uniqueTopic(purpose: string): string {
  return `contract-${purpose}-${runId}`;
}

async function createTopic(topic: string): Promise<void> {
  const created = await admin.createTopics({
    topics: [{ topic, numPartitions: 1, replicationFactor: 1 }],
    waitForLeaders: true,
  });
  expect(created).toBe(true);
  createdTopics.push(topic);
}

/** Appends `count` records keyed k<i>/v<i> in one request and returns the base offset. */
async function produce(topic: string, from: number, count: number): Promise<string> {
  const messages = Array.from({ length: count }, (_, i) => ({ key: `k${from + i}`, value: `v${from + i}` }));
  const [result] = await producer.send({ topic, acks: -1, messages });
  expect(result?.errorCode).toBe(0);
  return result!.baseOffset!;
}

/** Reads `count` records of partition 0 starting at `offset` through a fresh consumer group. */
async function consumeFrom(topic: string, offset: string, count: number): Promise<ConsumedRecord[]> {
  const consumer = kafka.consumer({ groupId: `contract-${randomUUID()}`, maxWaitTimeInMs: 100 });
  consumers.push(consumer);
  await consumer.connect();
  // fromBeginning decides where an out-of-range offset is reset to: the earliest record still kept.
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  const records: ConsumedRecord[] = [];
  let done: () => void = () => undefined;
  const received = new Promise<void>((resolve) => (done = resolve));
  // A run whose first group join fails with a retriable error restarts with a new group object,
  // which forgets an earlier seek; seeking on every join covers the first start and any restart.
  consumer.on(consumer.events.GROUP_JOIN, () => consumer.seek({ topic, partition: 0, offset }));
  await consumer.run({
    eachMessage: ({ message }) => {
      // A fetch issued before the seek took effect may still deliver records below the offset.
      if (BigInt(message.offset) < BigInt(offset)) return Promise.resolve();
      records.push({ offset: message.offset, key: String(message.key), value: String(message.value) });
      if (records.length >= count) done();
      return Promise.resolve();
    },
  });
  try {
    await within(`${count} records from ${topic}`, received, 30_000);
  } finally {
    await consumer.disconnect();
  }
  return records;
}

function expected(from: number, to: number): ConsumedRecord[] {
  return Array.from({ length: to - from }, (_, i) => ({
    offset: String(from + i),
    key: `k${from + i}`,
    value: `v${from + i}`,
  }));
}

beforeAll(async () => {
  await admin.connect();
  await producer.connect();
});

afterAll(async () => {
  await Promise.allSettled(consumers.map((consumer) => consumer.disconnect()));
  await producer.disconnect();
  // The broker may outlive this run (HORAEDB_USE_RUNNING_SERVICES), so the topics go.
  try {
    if (createdTopics.length > 0) await admin.deleteTopics({ topics: createdTopics });
  } finally {
    await admin.disconnect();
  }
});

describe("kafka contract", () => {
  it("creates a topic with exactly one partition", async () => {
    const topic = uniqueTopic("create");
    await createTopic(topic);

    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(metadata.topics).toHaveLength(1);
    expect(metadata.topics[0]!.partitions.map((p) => p.partitionId)).toEqual([0]);
  });

  it("assigns consecutive offsets to acks=all appends and replays them in order from a given offset", async () => {
    const topic = uniqueTopic("replay");
    await createTopic(topic);

    expect(await produce(topic, 0, 6)).toBe("0");
    expect(await produce(topic, 6, 4)).toBe("6");
    const [offsets] = await admin.fetchTopicOffsets(topic);
    expect(offsets).toMatchObject({ partition: 0, low: "0", high: "10" });

    expect(await consumeFrom(topic, "3", 7)).toEqual(expected(3, 10));
  });

  it("deletes records below an offset: the low watermark moves and earlier offsets are gone", async () => {
    const topic = uniqueTopic("truncate");
    await createTopic(topic);
    await produce(topic, 0, 10);
    // kafkajs looks the partition leader up in metadata it may not have loaded yet (next test).
    await admin.fetchTopicMetadata({ topics: [topic] });

    await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: "6" }] });

    const [offsets] = await admin.fetchTopicOffsets(topic);
    expect(offsets).toMatchObject({ partition: 0, low: "6", high: "10" });
    // Asking for offset 2 is out of range now; the consumer resets to the earliest kept record.
    expect(await consumeFrom(topic, "2", 4)).toEqual(expected(6, 10));
  });

  it("kafkajs 2.2.4 defect: deleteTopicRecords fails until the admin has loaded the topic's metadata", async () => {
    const topic = uniqueTopic("truncate-cold");
    await createTopic(topic);
    await produce(topic, 0, 3);
    const truncate = () => admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: "2" }] });

    const error = await truncate().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(KafkaJSDeleteTopicRecordsError);
    // The typings omit the per-partition details the error carries at run time.
    const { partitions } = error as KafkaJSDeleteTopicRecordsError & KafkaJSDeleteTopicRecordsErrorTopic;
    expect(partitions[0]?.error).toBeInstanceOf(KafkaJSBrokerNotFound);

    // deleteTopicRecords itself loads the metadata (after the lookup), so a retry succeeds.
    await truncate();
    const [offsets] = await admin.fetchTopicOffsets(topic);
    expect(offsets?.low).toBe("2");
  });
});
