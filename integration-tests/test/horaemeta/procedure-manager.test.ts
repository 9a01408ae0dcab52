import { Etcd3 } from "etcd3";
import { createLogger } from "@horaedb/common";
import {
  FINISHED,
  LeaderTerm,
  MetaEventSender,
  ProcedureManager,
  ROLLED_BACK,
  ShardBusyError,
  type ProcedureDefinition,
} from "@horaedb/horaemeta";
import { MetadataStore, MetadataUnavailableError, ShardNotFoundError } from "@horaedb/horaemeta/metadata";
import { afterAll, afterEach, describe, expect, inject, it } from "vitest";
import { waitFor } from "../support/wait.js";
import { freshRootPath } from "./meta-test-support.js";

// The procedure manager against a real etcd, with procedure kinds made up for the test: how it treats
// a step's failures, and that procedures on one shard run one at a time.

const { etcd } = inject("services");
const raw = new Etcd3({ hosts: etcd.endpoints, dialTimeout: 5_000 });
const roots: string[] = [];
const stores: MetadataStore[] = [];
const terms: LeaderTerm[] = [];
const senders: MetaEventSender[] = [];

afterEach(() => {
  for (const term of terms.splice(0)) term.end("the test is over");
  for (const sender of senders.splice(0)) sender.close();
  for (const store of stores.splice(0)) store.close();
});

afterAll(async () => {
  await Promise.all(roots.map((root) => raw.delete().prefix(`${root}/`)));
  raw.close();
});

function setup(lockWaitMs = 5_000) {
  const root = freshRootPath();
  roots.push(root);
  const store = MetadataStore.connect({ endpoints: etcd.endpoints, rootPath: root, clusterName: "test" });
  stores.push(store);
  const term = new LeaderTerm({
    replica: "127.0.0.1:1",
    leaseId: "1",
    confirmedSentAt: performance.now(),
    leaseTtlMs: 600_000,
  });
  terms.push(term);
  const events = new MetaEventSender();
  senders.push(events);
  const manager = new ProcedureManager({
    store,
    events,
    clusterName: "test",
    logger: createLogger({ name: "test", level: "silent" }),
    lockWaitMs,
    retryInitialMs: 10,
    retryMaxMs: 50,
  });
  return { store, term, manager };
}

type Params = { label: string };
const parseParams = (value: unknown) => value as Params;

describe("procedure manager", () => {
  it("rolls a procedure back on a store error that retrying cannot fix, and answers with it", async () => {
    const { store, term, manager } = setup();
    const definition: ProcedureDefinition<Params> = {
      kind: "test_missing_shard",
      parseParams,
      initialState: "read",
      steps: {
        read: async (context) => {
          await context.store.shards.get(999); // no cluster, no shard: ShardNotFoundError
          return { next: FINISHED };
        },
      },
      rollbackFrom: () => ROLLED_BACK,
    };
    await expect(manager.run(definition, { label: "x" }, [5], term)).rejects.toBeInstanceOf(
      ShardNotFoundError,
    );
    const [stored] = await store.procedures.list();
    expect(stored?.procedure.state).toBe(ROLLED_BACK);
    expect(stored?.procedure.history.at(-1)?.detail).toContain("999");
    expect(await store.procedures.locks()).toEqual([]);
  });

  it("retries a step whose failure is transient until it succeeds", async () => {
    const { store, term, manager } = setup();
    let attempts = 0;
    const definition: ProcedureDefinition<Params> = {
      kind: "test_flaky",
      parseParams,
      initialState: "flaky",
      steps: {
        flaky: () => {
          attempts++;
          if (attempts < 3) return Promise.reject(new MetadataUnavailableError("test", "etcd is away"));
          return Promise.resolve({ next: FINISHED, params: { label: `after ${attempts}` } });
        },
      },
      rollbackFrom: () => ROLLED_BACK,
    };
    const procedure = await manager.run(definition, { label: "x" }, [1], term);
    expect(attempts).toBe(3);
    expect(procedure).toMatchObject({ state: FINISHED, params: { label: "after 3" } });
    expect((await store.procedures.get(procedure.id))?.procedure.state).toBe(FINISHED);
  });

  it("runs procedures on one shard one at a time, and gives up waiting after lock_wait_ms", async () => {
    const { store, term, manager } = setup(300);
    const order: string[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow: ProcedureDefinition<Params> = {
      kind: "test_slow",
      parseParams,
      initialState: "work",
      steps: {
        work: async (context) => {
          order.push(`start ${context.params.label}`);
          if (context.params.label === "first") await gate;
          order.push(`end ${context.params.label}`);
          return { next: FINISHED };
        },
      },
      rollbackFrom: () => ROLLED_BACK,
    };
    const first = manager.run(slow, { label: "first" }, [7], term);
    const second = manager.run(slow, { label: "second" }, [7], term);
    const other = await manager.run(slow, { label: "other" }, [8], term); // another shard: not held up
    expect(other.state).toBe(FINISHED);
    release();
    await Promise.all([first, second]);
    expect(order.filter((entry) => !entry.endsWith("other"))).toEqual([
      "start first",
      "end first",
      "start second",
      "end second",
    ]);

    // Another manager on the same metadata (as a next leader would be) finds the shard locked in
    // etcd while this one's procedure runs, and gives up after its lock wait.
    let hold: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (hold = resolve));
    const holding: ProcedureDefinition<Params> = {
      ...slow,
      kind: "test_hold",
      steps: { work: () => held.then(() => ({ next: FINISHED })) },
    };
    const holder = manager.run(holding, { label: "hold" }, [9], term);
    await waitFor("the lock on shard 9", async () => (await store.procedures.locks()).length === 1, 5_000);
    const rival = new ProcedureManager({
      store,
      events: new MetaEventSender(),
      clusterName: "test",
      logger: createLogger({ name: "test", level: "silent" }),
      lockWaitMs: 300,
      retryInitialMs: 10,
      retryMaxMs: 50,
    });
    await expect(rival.run(slow, { label: "rival" }, [9], term)).rejects.toBeInstanceOf(ShardBusyError);
    hold();
    await holder;
  });
});
