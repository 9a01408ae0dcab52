import { Etcd3 } from "etcd3";
import { createLogger } from "@horaedb/common";
import {
  FINISHED,
  LeaderElection,
  LeaderTerm,
  MetaEventSender,
  ProcedureManager,
  ROLLED_BACK,
  type ProcedureDefinition,
} from "@horaedb/horaemeta";
import { LeaderFenceError, MetadataStore } from "@horaedb/horaemeta/metadata";
import { afterAll, afterEach, describe, expect, inject, it } from "vitest";
import { waitFor } from "../support/wait.js";
import { freshRootPath } from "./meta-test-support.js";

// The leader fence in etcd: every write a leader makes through its term's store also compares the
// create revision of the key its election created for the term, so once that key is gone (the lease
// expired or was revoked, and another replica can lead) etcd refuses the write itself, even while the
// deposed leader still believes its term is active.

const { etcd } = inject("services");
const logger = createLogger({ name: "test", level: "silent" });
const raw = new Etcd3({ hosts: etcd.endpoints, dialTimeout: 5_000 });
const roots: string[] = [];
const cleanups: (() => unknown)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await Promise.all(roots.map((root) => raw.delete().prefix(`${root}/`)));
  raw.close();
});

function newStore(): MetadataStore {
  const root = freshRootPath();
  roots.push(root);
  const store = MetadataStore.connect({ endpoints: etcd.endpoints, rootPath: root, clusterName: "test" });
  cleanups.push(() => store.close());
  return store;
}

/** A replica's election on a client of its own; a long lease, so its own renewals notice nothing soon. */
function newElection(store: MetadataStore): LeaderElection {
  const client = new Etcd3({ hosts: etcd.endpoints, dialTimeout: 5_000 });
  const election = new LeaderElection({
    client,
    clusterRoot: store.keys.root,
    leaseTtlSeconds: 30,
    callTimeoutMs: 2_000,
    logger,
  });
  cleanups.push(async () => {
    await election.stop();
    client.close();
  });
  return election;
}

async function termOf(election: LeaderElection): Promise<LeaderTerm> {
  await waitFor("the election", () => election.currentTerm !== undefined, 15_000, 20);
  return election.currentTerm!;
}

/** A key on a lease of its own, standing for a term's election key; resolves to its create revision. */
async function campaignKey(key: string): Promise<{ createRevision: number; leaseId: string }> {
  const lease = raw.lease(60, { autoKeepAlive: false });
  cleanups.push(() => lease.revoke().catch(() => undefined));
  await lease.put(key).value("127.0.0.1:1");
  const stored = await raw.get(key).exec();
  return { createRevision: Number(stored.kvs[0]!.create_revision), leaseId: await lease.grant() };
}

describe("leader fence", () => {
  it("lets a term's store write until its election key is gone, then etcd refuses the same writes", async () => {
    const store = newStore();
    const first = newElection(store);
    first.start("127.0.0.1:1");
    const termA = await termOf(first);
    expect(termA.fence?.key).toBe(`${first.keyPrefix}${termA.leaseId}`);
    const storeA = termA.fenced(store);
    expect(storeA).not.toBe(store);
    expect(termA.fenced(store)).toBe(storeA);

    await storeA.cluster.createCluster({ shardCount: 2 });
    await storeA.schemas.create("public");
    const table = (name: string) => ({
      schemaName: "public",
      tableName: name,
      shardId: 0,
      tableSchema: { timestampColumn: "ts" },
    });
    await storeA.tables.create(table("a"));
    await storeA.cluster.setSchedule(false, "by A");

    const second = newElection(store);
    second.start("127.0.0.1:2");
    // A's lease ends (as when it expires): the key goes, and the other replica is elected at once,
    // while A, renewing every 10 s, still holds its term active by its own clock.
    await raw.leaseClient.leaseRevoke({ ID: termA.leaseId });
    const termB = await termOf(second);
    expect(termA.active).toBe(true);

    const shardBefore = await store.shards.get(0);
    await expect(storeA.cluster.setSchedule(true, "by A again")).rejects.toBeInstanceOf(LeaderFenceError);
    await expect(storeA.tables.create(table("b"))).rejects.toBeInstanceOf(LeaderFenceError);
    expect(await store.cluster.getSchedule()).toMatchObject({ enabled: false, reason: "by A" });
    expect(await store.tables.get("public", "b")).toBeUndefined();
    expect(await store.shards.get(0)).toEqual(shardBefore);
    // The refusal ended A's term.
    expect(termA.active).toBe(false);
    expect(termA.endReason).toContain("etcd refused");

    // The new leader's writes go through.
    await termB.fenced(store).cluster.setSchedule(true, "by B");
    await termB.fenced(store).tables.create(table("b"));
    expect(await store.cluster.getSchedule()).toMatchObject({ enabled: true, reason: "by B" });
  });

  it("refuses writes once the key is re-created: the fence is the key's create revision", async () => {
    const store = newStore();
    const key = `${store.keys.root}election/meta_leader/fence-test`;
    const { createRevision } = await campaignKey(key);
    const fenced = store.fencedBy({ key, createRevision });
    expect(store.fencedBy(fenced.fence!)).toBe(fenced);
    await fenced.schemas.create("before");
    await raw.delete().key(key);
    await raw.put(key).value("someone else");
    await expect(fenced.schemas.create("after")).rejects.toMatchObject({
      name: "LeaderFenceError",
      key,
      createRevision,
    });
    expect(await store.schemas.get("after")).toBeUndefined();
    expect((await store.schemas.get("before"))?.name).toBe("before");
  });

  it("stops a procedure whose write is refused by the fence: no rollback, left to the next leader", async () => {
    const store = newStore();
    const key = `${store.keys.root}election/meta_leader/procedure-test`;
    const { createRevision, leaseId } = await campaignKey(key);
    const term = new LeaderTerm({
      replica: "127.0.0.1:1",
      leaseId,
      confirmedSentAt: performance.now(),
      leaseTtlMs: 600_000,
      campaignKey: { key, createRevision },
    });
    cleanups.push(() => term.end("the test is over"));
    const events = new MetaEventSender();
    cleanups.push(() => events.close());
    const manager = new ProcedureManager({
      store,
      events,
      clusterName: "test",
      logger,
      lockWaitMs: 1_000,
      retryInitialMs: 10,
      retryMaxMs: 50,
    });
    let release: () => void = () => undefined;
    const revoked = new Promise<void>((resolve) => (release = resolve));
    const definition: ProcedureDefinition<{ label: string }> = {
      kind: "test_fenced_write",
      parseParams: (value) => value as { label: string },
      initialState: "wait",
      steps: {
        wait: async () => {
          await revoked;
          return { next: "write" };
        },
        write: async (context) => {
          await context.store.schemas.create(context.params.label);
          return { next: FINISHED };
        },
        undo: () => Promise.resolve({ next: ROLLED_BACK }),
      },
      rollbackFrom: () => "undo",
    };
    const running = manager.run(definition, { label: "fenced" }, [0], term);
    await waitFor("the procedure to start", async () => (await store.procedures.list()).length === 1, 5_000);
    await raw.delete().key(key);
    release();
    // The transition to "write" is the first write after the key went: refused, term over.
    await expect(running).rejects.toBeInstanceOf(LeaderFenceError);
    expect(term.active).toBe(false);
    const [stored] = await store.procedures.list();
    expect(stored?.procedure.state).toBe("wait");
    expect(await store.procedures.locks()).toEqual([
      { shardId: 0, procedureId: stored!.procedure.id, kind: "test_fenced_write" },
    ]);
    expect(await store.schemas.get("fenced")).toBeUndefined();
  });
});
