/**
 * One period during which this replica is the horaemeta leader, fenced by the etcd lease of its
 * campaign, twice:
 *
 * - In time: etcd ends a lease no earlier than its TTL after it processed the last keepalive, and
 *   that was after the keepalive was sent. So `sentAt + TTL` of the last answered keepalive (on this
 *   process's monotonic clock) is a time before which no other replica can have been elected. The
 *   term counts as active only until that time minus a margin (for timer lateness and for a write in
 *   flight to reach etcd), and ends by itself when it passes: every write a leader makes checks
 *   `assertActive()` first.
 * - In etcd: the store of the term (`fenced(store)`) adds to every transaction a compare on the
 *   campaign key's create revision. The key lives as long as the lease, and another replica can be
 *   elected only once it is gone, so a write that reaches etcd after that (however late it was sent)
 *   fails there, with LeaderFenceError, which also ends the term.
 */
import { setMaxListeners } from "node:events";
import { NotLeaderError } from "../errors.js";
import type { LeaderFenceError, MetadataStore, WriteFence } from "../metadata/index.js";

/** Milliseconds on a clock that never jumps (performance.now()), for local deadlines only. */
export type MonotonicClock = () => number;

export const monotonicClock: MonotonicClock = () => performance.now();

/** Share of the lease TTL a term gives up before the lease could end: 1 s of a 5 s lease. */
export const FENCE_MARGIN_RATIO = 0.2;

export interface LeaderTermOptions {
  /** This replica's gRPC endpoint, the value it campaigned with. */
  readonly replica: string;
  /** The etcd lease of the campaign (decimal id). */
  readonly leaseId: string;
  /** When the keepalive that confirmed the lease was sent, on `clock`. */
  readonly confirmedSentAt: number;
  /** The TTL etcd answered that keepalive with, in milliseconds. */
  readonly leaseTtlMs: number;
  /**
   * The campaign key and its create revision, which fence the term's writes in etcd. Without it
   * (tests that make up a term) the term's store is not fenced in etcd.
   */
  readonly campaignKey?: { readonly key: string; readonly createRevision: number };
  readonly clock?: MonotonicClock;
}

export class LeaderTerm {
  readonly replica: string;
  readonly leaseId: string;
  /** Wall-clock time the term began, for logs and admin views. */
  readonly startedAtMs = Date.now();
  /** Aborted when the term ends; its reason is a NotLeaderError saying why. */
  readonly signal: AbortSignal;
  readonly #controller = new AbortController();
  readonly #clock: MonotonicClock;
  readonly #marginMs: number;
  #validUntil: number;
  #expiryTimer: NodeJS.Timeout | undefined;
  /** What fences the term's writes in etcd; undefined when the term was made without a campaign key. */
  readonly fence: WriteFence | undefined;

  constructor(options: LeaderTermOptions) {
    this.replica = options.replica;
    this.leaseId = options.leaseId;
    const campaignKey = options.campaignKey;
    this.fence =
      campaignKey === undefined
        ? undefined
        : {
            key: campaignKey.key,
            createRevision: campaignKey.createRevision,
            onLost: (error: LeaderFenceError) => this.end(`etcd refused a write: ${error.message}`),
          };
    this.signal = this.#controller.signal;
    // Every running procedure and scheduler waits on this one signal; many at once is normal.
    setMaxListeners(0, this.signal);
    this.#clock = options.clock ?? monotonicClock;
    this.#marginMs = options.leaseTtlMs * FENCE_MARGIN_RATIO;
    this.#validUntil = options.confirmedSentAt + options.leaseTtlMs - this.#marginMs;
    this.#scheduleExpiry();
  }

  /** Whether this replica may still act as leader: not ended and the fence not reached. */
  get active(): boolean {
    if (this.signal.aborted) return false;
    if (this.#clock() < this.#validUntil) return true;
    this.end("the leader lease was not renewed in time");
    return false;
  }

  /** Milliseconds left before the fence, 0 once the term ended. */
  get remainingMs(): number {
    return this.active ? this.#validUntil - this.#clock() : 0;
  }

  /** Why the term ended, or undefined while it is active. */
  get endReason(): string | undefined {
    return this.signal.aborted ? (this.signal.reason as NotLeaderError).reason : undefined;
  }

  /**
   * `store` with every write fenced by this term's campaign key (the same store object each time for
   * the same store): what the leader writes with during the term.
   */
  fenced(store: MetadataStore): MetadataStore {
    return this.fence === undefined ? store : store.fencedBy(this.fence);
  }

  /** Throws NotLeaderError unless the term is active. Call before every write made as leader. */
  assertActive(): void {
    if (!this.active) throw this.signal.reason as NotLeaderError;
  }

  /** A keepalive sent at `sentAt` (on the term's clock) was answered with `leaseTtlMs`. */
  extend(sentAt: number, leaseTtlMs: number): void {
    if (this.signal.aborted) return;
    this.#validUntil = Math.max(this.#validUntil, sentAt + leaseTtlMs - this.#marginMs);
    this.#scheduleExpiry();
  }

  /** Ends the term (idempotent): `signal` aborts and every later `assertActive()` throws. */
  end(reason: string): void {
    if (this.signal.aborted) return;
    clearTimeout(this.#expiryTimer);
    this.#controller.abort(new NotLeaderError(this.replica, reason));
  }

  #scheduleExpiry(): void {
    clearTimeout(this.#expiryTimer);
    const delay = Math.max(0, this.#validUntil - this.#clock());
    this.#expiryTimer = setTimeout(() => {
      // `active` ends the term when the fence has passed; an early timer finds time left and re-arms.
      if (this.active) this.#scheduleExpiry();
    }, delay);
  }
}
