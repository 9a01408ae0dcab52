import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { Etcd3, type Campaign, type Lease } from "etcd3";
import { afterAll, describe, expect, inject, it } from "vitest";
import { waitFor, within } from "../support/wait.js";

// The etcd features horaemeta relies on (design §5): guarded multi-key transactions, leases,
// prefix watches and leader election.

const CALL_DEADLINE_MS = 5_000;
const { etcd } = inject("services");
const prefix = `contract/etcd/${randomUUID()}/`;

const clients: Etcd3[] = [];
const leases: Lease[] = [];
const campaigns: Campaign[] = [];

function connect(): Etcd3 {
  const client = new Etcd3({
    hosts: etcd.endpoints,
    dialTimeout: CALL_DEADLINE_MS,
    // Streams (watches, keepalives) live as long as they are needed; single calls get a deadline.
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + CALL_DEADLINE_MS }),
  });
  clients.push(client);
  return client;
}

const client = connect();

afterAll(async () => {
  // Etcd3.close() leaves lease keepalives running, so leases and campaigns are ended first.
  await Promise.allSettled(campaigns.map((campaign) => campaign.resign()));
  await Promise.allSettled(leases.map((lease) => (lease.revoked() ? Promise.resolve() : lease.revoke())));
  await client.delete().prefix(prefix);
  for (const c of clients) c.close();
});

describe("etcd contract", () => {
  it("applies a write guarded by the read revision once and rejects the stale retry", async () => {
    const key = `${prefix}cas`;
    await client.put(key).value("initial");
    const read = await client.get(key).exec();
    const readRevision = read.kvs[0]!.mod_revision;

    const guardedWrite = (value: string) =>
      client.if(key, "Mod", "==", readRevision).then(client.put(key).value(value)).commit();

    const first = await guardedWrite("writer-a");
    const stale = await guardedWrite("writer-b");

    expect(first.succeeded).toBe(true);
    expect(stale.succeeded).toBe(false);
    expect(await client.get(key).string()).toBe("writer-a");
  });

  it("keeps a leased key while keepalives run and drops it once they stop", async () => {
    const key = `${prefix}leased`;
    const ttlSeconds = 2; // etcd's minimum TTL with default election timeouts
    const lease = client.lease(ttlSeconds);
    leases.push(lease);
    await lease.put(key).value("held");

    // Outlive the TTL: only the automatic keepalives can be keeping the key.
    await sleep(ttlSeconds * 1000 + 1_500);
    expect(await client.get(key).string()).toBe("held");

    // release() stops the keepalives without revoking, which is what a crashed holder looks like.
    lease.release();
    const releasedAt = Date.now();
    await waitFor(
      "the leased key to expire",
      async () => (await client.get(key).string()) === null,
      10_000,
      100,
    );
    expect(Date.now() - releasedAt).toBeLessThanOrEqual(ttlSeconds * 1000 + 2_000);
  });

  it("delivers puts and deletes under a watched prefix and nothing outside it", async () => {
    const watched = `${prefix}watch/`;
    const events: string[] = [];
    const watcher = await client.watch().prefix(watched).create();
    try {
      watcher.on("put", (kv) => events.push(`put ${kv.key.toString()}=${kv.value.toString()}`));
      watcher.on("delete", (kv) => events.push(`delete ${kv.key.toString()}`));

      await client.put(`${watched}a`).value("1");
      await client.put(`${prefix}watch-sibling`).value("outside"); // shares the prefix minus its '/'
      await client.put(`${prefix}other/a`).value("outside");
      await client.put(`${watched}b`).value("2");
      await client.delete().key(`${watched}a`);
      await client.put(`${watched}end`).value("");

      await waitFor("the watch to deliver the last put", () => events.includes(`put ${watched}end=`), 5_000);
      expect(events).toEqual([
        `put ${watched}a=1`,
        `put ${watched}b=2`,
        `delete ${watched}a`,
        `put ${watched}end=`,
      ]);
    } finally {
      await watcher.cancel();
    }
  });

  it("elects one of two candidates and hands leadership over when the leader resigns", async () => {
    const name = `${prefix}election`;
    const electionA = connect().election(name, 5);
    const electionB = connect().election(name, 5);

    const campaignA = electionA.campaign("candidate-a");
    campaigns.push(campaignA);
    await within("candidate-a to be elected", campaignA.wait(), 10_000);

    const campaignB = electionB.campaign("candidate-b");
    campaigns.push(campaignB);
    let bElected = false;
    const bElection = campaignB.wait().then(() => (bElected = true));
    // Once B's key exists B is a candidate; with A still leading it must wait.
    await campaignB.getCampaignKey();
    expect(await electionA.leader()).toBe("candidate-a");
    expect(await electionB.leader()).toBe("candidate-a");
    expect(bElected).toBe(false);

    await campaignA.resign();
    await within("candidate-b to be elected", bElection, 10_000);
    expect(await electionB.leader()).toBe("candidate-b");
  });
});
