/**
 * Leader election among horaemeta replicas through etcd (etcd3's Election): each replica campaigns
 * with its gRPC endpoint as the value; the candidate whose key was created first leads, for as long
 * as the lease behind its key lives.
 *
 * etcd3's Campaign renews its lease in the background but only reports the loss of the lease after
 * twice its TTL without etcd. So the election keeps a fence of its own (LeaderTerm): when elected it
 * confirms the lease with a keepalive and that its key is the first, then renews the lease itself
 * every third of the TTL and moves the fence with every answer. The term ends when the fence passes,
 * when etcd says the lease is gone, when the campaign fails, or on stop(); the replica then resigns
 * (revoking the lease, so another replica is elected at once if it was still alive) and campaigns
 * again.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Campaign, Election, Etcd3 } from "etcd3";
import type { Logger } from "@horaedb/common";
import { NoLeaderError } from "../errors.js";
import { renewLeaseOnce } from "./lease-keepalive.js";
import { LeaderTerm, monotonicClock, type MonotonicClock } from "./leader-term.js";

/** Name of the election under the cluster's key prefix: `<root>/<cluster>/election/meta_leader/`. */
export const ELECTION_NAME = "meta_leader";

/** Pause before campaigning again after a failure; doubles per failure up to the lease TTL. */
const FIRST_RETRY_DELAY_MS = 250;

export interface LeaderElectionOptions {
  readonly client: Etcd3;
  /** The cluster's key prefix, `<root_path>/<cluster>/`. */
  readonly clusterRoot: string;
  readonly leaseTtlSeconds: number;
  /** Deadline of the election's own etcd calls (keepalives, reads, resign). */
  readonly callTimeoutMs: number;
  readonly logger: Logger;
  readonly clock?: MonotonicClock;
}

type CampaignOutcome =
  | { readonly kind: "elected" }
  | { readonly kind: "failed"; readonly error: Error }
  | { readonly kind: "stopped" };

export class LeaderElection {
  /** Prefix of the candidates' keys: `<clusterRoot>election/<ELECTION_NAME>/<lease id>`. */
  readonly keyPrefix: string;
  readonly #client: Etcd3;
  readonly #election: Election;
  readonly #options: LeaderElectionOptions;
  readonly #clock: MonotonicClock;
  readonly #stop = new AbortController();
  readonly #termListeners: ((term: LeaderTerm) => void)[] = [];
  #candidate: string | undefined;
  #term: LeaderTerm | undefined;
  #running: Promise<void> | undefined;

  constructor(options: LeaderElectionOptions) {
    this.#options = options;
    this.#client = options.client;
    this.#clock = options.clock ?? monotonicClock;
    this.#election = options.client
      .namespace(options.clusterRoot)
      .election(ELECTION_NAME, options.leaseTtlSeconds);
    this.keyPrefix = `${options.clusterRoot}election/${ELECTION_NAME}/`;
  }

  /** The value this replica campaigns with (its gRPC endpoint); set by start(). */
  get candidate(): string | undefined {
    return this.#candidate;
  }

  /** The term this replica leads in, or undefined when it is not (or no longer) the leader. */
  get currentTerm(): LeaderTerm | undefined {
    return this.#term?.active === true ? this.#term : undefined;
  }

  get isLeader(): boolean {
    return this.currentTerm !== undefined;
  }

  /** Calls `listener` with every term this replica begins to lead; the term's signal says when it ends. */
  onTerm(listener: (term: LeaderTerm) => void): void {
    this.#termListeners.push(listener);
  }

  /** Starts campaigning in the background with `candidate` (this replica's `host:port`) as the value. */
  start(candidate: string): void {
    if (this.#running !== undefined) throw new Error("LeaderElection.start() called twice");
    this.#candidate = candidate;
    this.#running = this.#campaignUntilStopped(candidate);
  }

  /** The current leader's value (its `host:port`) as etcd has it now, or undefined when there is none. */
  async leader(): Promise<string | undefined> {
    try {
      return await this.#election.leader();
    } catch (error) {
      throw new NoLeaderError(`reading the election from etcd failed: ${messageOf(error)}`, { cause: error });
    }
  }

  /** Ends the current term, resigns (so another replica takes over at once) and stops campaigning. */
  async stop(): Promise<void> {
    this.#stop.abort();
    this.#term?.end("this replica is stopping");
    await this.#running;
  }

  async #campaignUntilStopped(candidate: string): Promise<void> {
    const logger = this.#options.logger;
    let failures = 0;
    while (!this.#stop.signal.aborted) {
      const campaign = this.#election.campaign(candidate);
      // A listener for the campaign's whole life: an 'error' event without one would crash the process.
      const failed = new Promise<Error>((resolve) => campaign.on("error", resolve));
      const outcome = await this.#untilElectedOrFailed(campaign, failed);
      let led = false;
      if (outcome.kind === "elected") {
        const term = await this.#confirmTerm(campaign, candidate);
        if (term !== undefined) {
          led = true;
          await this.#holdTerm(term, failed);
        }
      } else if (outcome.kind === "failed") {
        logger.warn({ err: outcome.error }, `campaign for horaemeta leader failed: ${outcome.error.message}`);
      }
      await this.#resign(campaign);
      if (this.#stop.signal.aborted) break;
      failures = led ? 0 : failures + 1;
      const delay = Math.min(FIRST_RETRY_DELAY_MS * 2 ** Math.max(0, failures - 1), this.#ttlMs);
      await sleep(delay, undefined, { signal: this.#stop.signal }).catch(() => undefined);
    }
  }

  #untilElectedOrFailed(campaign: Campaign, failed: Promise<Error>): Promise<CampaignOutcome> {
    const stopSignal = this.#stop.signal;
    return new Promise<CampaignOutcome>((resolve) => {
      if (stopSignal.aborted) {
        resolve({ kind: "stopped" });
        return;
      }
      const onStop = () => resolve({ kind: "stopped" });
      stopSignal.addEventListener("abort", onStop, { once: true });
      const settle = (outcome: CampaignOutcome) => {
        stopSignal.removeEventListener("abort", onStop);
        resolve(outcome);
      };
      campaign.once("elected", () => settle({ kind: "elected" }));
      void failed.then((error) => settle({ kind: "failed", error }));
    });
  }

  /**
   * Elected by etcd3's Campaign: check it before acting on it. The lease must still be alive (the
   * keepalive's send time starts the fence) and the campaign key must be the first candidate.
   */
  async #confirmTerm(campaign: Campaign, candidate: string): Promise<LeaderTerm | undefined> {
    const logger = this.#options.logger;
    try {
      const key = await campaign.getCampaignKey();
      const leaseId = key.slice(this.keyPrefix.length);
      const sentAt = this.#clock();
      const ttlSeconds = await renewLeaseOnce(this.#client, leaseId, this.#options.callTimeoutMs);
      if (ttlSeconds <= 0) {
        logger.warn({ leaseId }, "elected with a lease that has expired; campaigning again");
        return undefined;
      }
      const first = (
        await this.#client.getAll().prefix(this.keyPrefix).sort("Create", "Ascend").limit(1).exec()
      ).kvs[0];
      const firstKey = first?.key.toString();
      if (first === undefined || firstKey !== key) {
        logger.warn(
          { key, first: firstKey },
          "elected while another candidate's key comes first; campaigning again",
        );
        return undefined;
      }
      if (this.#stop.signal.aborted) return undefined;
      return new LeaderTerm({
        replica: candidate,
        leaseId,
        confirmedSentAt: sentAt,
        leaseTtlMs: ttlSeconds * 1000,
        // The key's create revision fences the term's writes in etcd (LeaderTerm.fenced).
        campaignKey: { key, createRevision: Number(first.create_revision) },
        clock: this.#clock,
      });
    } catch (error) {
      logger.warn({ err: error }, `confirming the election failed: ${messageOf(error)}; campaigning again`);
      return undefined;
    }
  }

  /** Leads until the term ends: renews the lease every third of its TTL, moving the fence. */
  async #holdTerm(term: LeaderTerm, failed: Promise<Error>): Promise<void> {
    const logger = this.#options.logger;
    this.#term = term;
    void failed.then((error) => term.end(`the campaign failed: ${error.message}`));
    const onStop = () => term.end("this replica is stopping");
    this.#stop.signal.addEventListener("abort", onStop, { once: true });
    term.signal.addEventListener("abort", () => this.#stop.signal.removeEventListener("abort", onStop), {
      once: true,
    });
    if (this.#stop.signal.aborted) onStop();
    logger.info(
      { leaseId: term.leaseId, leaseTtlS: this.#options.leaseTtlSeconds },
      "elected horaemeta leader",
    );
    for (const listener of this.#termListeners) {
      try {
        listener(term);
      } catch (error) {
        logger.error({ err: error }, `a leadership listener failed: ${messageOf(error)}`);
      }
    }
    const renewEveryMs = this.#ttlMs / 3;
    while (!term.signal.aborted) {
      await sleep(renewEveryMs, undefined, { signal: term.signal }).catch(() => undefined);
      if (term.signal.aborted) break;
      const sentAt = this.#clock();
      try {
        const ttlSeconds = await abortable(
          renewLeaseOnce(this.#client, term.leaseId, this.#options.callTimeoutMs),
          term.signal,
        );
        if (ttlSeconds === undefined) break;
        if (ttlSeconds <= 0) term.end("etcd reports the leader lease expired");
        else term.extend(sentAt, ttlSeconds * 1000);
      } catch (error) {
        // The fence ends the term if renewals keep failing; one failure is not a reason to step down.
        logger.warn({ err: error }, `renewing the leader lease failed: ${messageOf(error)}`);
      }
    }
    const ended = { reason: term.endReason, leaseId: term.leaseId };
    if (this.#stop.signal.aborted) logger.info(ended, "no longer horaemeta leader");
    else logger.warn(ended, "no longer horaemeta leader");
  }

  /** Revokes the campaign's lease (bounded by the call timeout; an unreachable etcd expires it instead). */
  async #resign(campaign: Campaign): Promise<void> {
    try {
      await abortable(campaign.resign(), AbortSignal.timeout(this.#options.callTimeoutMs));
    } catch (error) {
      this.#options.logger.debug({ err: error }, `resigning the campaign failed: ${messageOf(error)}`);
    }
  }

  get #ttlMs(): number {
    return this.#options.leaseTtlSeconds * 1000;
  }
}

/** `promise`, or undefined as soon as `signal` aborts (the promise itself keeps running). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.resolve(undefined);
  }
  return new Promise<T | undefined>((resolve, reject) => {
    const onAbort = () => resolve(undefined);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
