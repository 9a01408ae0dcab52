import { Etcd3 } from "etcd3";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FENCE_MARGIN_RATIO, LeaderTerm, NotLeaderError } from "../../src/index.js";
import { LeaderFenceError, MetadataStore } from "../../src/metadata/index.js";

const TTL_MS = 5_000;
const MARGIN_MS = TTL_MS * FENCE_MARGIN_RATIO;

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

function newTerm(): LeaderTerm {
  return new LeaderTerm({
    replica: "127.0.0.1:8830",
    leaseId: "42",
    confirmedSentAt: Date.now(),
    leaseTtlMs: TTL_MS,
    clock: () => Date.now(),
  });
}

describe("LeaderTerm", () => {
  it("is active until the lease TTL minus the fence margin has passed since the confirming keepalive", () => {
    const term = newTerm();
    vi.advanceTimersByTime(TTL_MS - MARGIN_MS - 1);
    expect(term.active).toBe(true);
    expect(() => term.assertActive()).not.toThrow();
    vi.advanceTimersByTime(1);
    expect(term.active).toBe(false);
    expect(() => term.assertActive()).toThrow(NotLeaderError);
  });

  it("ends by itself at the fence: its signal aborts without anyone asking", () => {
    const term = newTerm();
    vi.advanceTimersByTime(TTL_MS - MARGIN_MS);
    expect(term.signal.aborted).toBe(true);
    expect(term.endReason).toBe("the leader lease was not renewed in time");
  });

  it("moves the fence with each answered keepalive, counted from its send time", () => {
    const term = newTerm();
    vi.advanceTimersByTime(2_000);
    const sentAt = Date.now();
    vi.advanceTimersByTime(300); // the answer takes 300 ms
    term.extend(sentAt, TTL_MS);
    vi.advanceTimersByTime(TTL_MS - MARGIN_MS - 300 - 1);
    expect(term.active).toBe(true);
    vi.advanceTimersByTime(1);
    expect(term.active).toBe(false);
  });

  it("never moves the fence back", () => {
    const term = newTerm();
    term.extend(Date.now() - 4_000, TTL_MS);
    vi.advanceTimersByTime(TTL_MS - MARGIN_MS - 1);
    expect(term.active).toBe(true);
  });

  it("stays ended once ended, whatever keepalives answer later", () => {
    const term = newTerm();
    term.end("this replica is stopping");
    term.extend(Date.now(), TTL_MS);
    expect(term.active).toBe(false);
    expect(term.remainingMs).toBe(0);
    expect(() => term.assertActive()).toThrow(
      "horaemeta 127.0.0.1:8830 is not the leader: this replica is stopping",
    );
  });

  it("fences the store it writes with by its campaign key, and ends when etcd refuses a write", () => {
    const client = new Etcd3({ hosts: "127.0.0.1:1" });
    try {
      const store = new MetadataStore(client, { clusterName: "test" });
      expect(newTerm().fenced(store)).toBe(store); // made up without a campaign key: nothing to fence by
      const term = new LeaderTerm({
        replica: "127.0.0.1:8830",
        leaseId: "42",
        confirmedSentAt: Date.now(),
        leaseTtlMs: TTL_MS,
        campaignKey: { key: "/horaedb/test/election/meta_leader/42", createRevision: 7 },
        clock: () => Date.now(),
      });
      const fenced = term.fenced(store);
      expect(fenced).not.toBe(store);
      expect(term.fenced(store)).toBe(fenced);
      expect(fenced.fence).toMatchObject({ key: "/horaedb/test/election/meta_leader/42", createRevision: 7 });
      fenced.fence!.onLost!(new LeaderFenceError("put procedure", fenced.fence!.key, 7));
      expect(term.active).toBe(false);
      expect(term.endReason).toContain("etcd refused a write");
    } finally {
      client.close();
    }
  });
});
