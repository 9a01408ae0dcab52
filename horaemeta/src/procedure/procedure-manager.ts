/**
 * Runs procedures on the horaemeta leader: creates them (with their shard locks), runs their steps,
 * stores every transition (guarded by the procedure's revision, after `term.assertActive()`), and on
 * a new term resumes every unfinished procedure it finds in etcd. Everything a procedure writes goes
 * through the term's fenced store (`term.fenced`), so etcd refuses it once the term's election key is
 * gone. A step that aborts (or fails with a store error that retrying cannot fix) before the
 * procedure's point of no return sends it down its rollback steps; a lost compare-and-swap is retried
 * at once; any other failure (etcd or an instance unavailable) is retried with backoff for as long as
 * the term lasts; a failed fence (LeaderFenceError) ends the term and leaves the procedure to the
 * next leader.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "@horaedb/common";
import type { LeaderTerm } from "../election/leader-term.js";
import { NotLeaderError } from "../errors.js";
import {
  LeaderFenceError,
  MetadataConflictError,
  MetadataError,
  ProcedureConflictError,
  ShardLockedError,
  type JsonObject,
  type MetadataStore,
  type ProcedureRecord,
  type StoredProcedure,
} from "../metadata/index.js";
import {
  FINISHED,
  isTerminal,
  ProcedureAbortError,
  ROLLED_BACK,
  type ProcedureDefinition,
  type StepContext,
} from "./definition.js";
import type { MetaEventSender } from "./event-sender.js";

/** The term this replica ran a procedure in is over: stop, and leave it to the next leader. */
function isEndOfTerm(error: unknown): boolean {
  return error instanceof NotLeaderError || error instanceof LeaderFenceError;
}

/** History entries kept per procedure; older ones are dropped (the first one always stays). */
const MAX_HISTORY = 64;

/** A procedure waiting for a shard held by another one. */
export class ShardBusyError extends Error {
  override readonly name = "ShardBusyError";
  readonly retryable = true;
  readonly shardId: number;
  constructor(shardId: number, waitedMs: number, holder: string) {
    super(`shard ${shardId} is busy with ${holder} (waited ${waitedMs} ms)`);
    this.shardId = shardId;
  }
}

/**
 * Pauses a procedure created by this replica at a given state, so a crash test can kill the leader
 * right there: `before` the step of that state runs (just after the state was stored), or `after` it
 * ran and before its outcome is stored. The replica that takes over does not pause.
 */
export interface ProcedureFailpoint {
  readonly kind: string;
  readonly state: string;
  readonly phase: "before" | "after";
}

export interface ProcedureManagerOptions {
  readonly store: MetadataStore;
  readonly events: MetaEventSender;
  readonly clusterName: string;
  readonly logger: Logger;
  /** How long a new procedure waits for its shards to be free. */
  readonly lockWaitMs: number;
  readonly retryInitialMs: number;
  readonly retryMaxMs: number;
  readonly failpoint?: ProcedureFailpoint;
  /** Ended procedures kept in etcd for their history; older ones are deleted. */
  readonly keepEnded?: number;
}

/** Longest wait before retrying a step that lost a compare-and-swap to a concurrent change. */
const CONFLICT_JITTER_MS = 20;

/** Prune ended procedures after this many more ended here. */
const PRUNE_EVERY = 64;

/** How a procedure ended. */
export interface ProcedureOutcome {
  readonly procedure: ProcedureRecord;
}

export class ProcedureManager {
  readonly #options: ProcedureManagerOptions;
  readonly #definitions = new Map<string, ProcedureDefinition<JsonObject>>();
  /** Procedures this replica runs now, by id. */
  readonly #running = new Map<number, Promise<ProcedureOutcome>>();
  /** Per shard: the end of the last local procedure queued on it, so local submitters queue. */
  readonly #shardQueues = new Map<number, Promise<void>>();
  /** The abort reason of procedures rolled back here, for their submitters. */
  readonly #failures = new Map<number, Error>();
  /** When the last procedure run here on each shard stopped (wall clock, like heartbeat times). */
  readonly #endedAt = new Map<number, number>();
  #endedSincePrune = 0;
  /** Procedures created by this replica (the failpoint applies to those only). */
  readonly #createdHere = new Set<number>();

  constructor(options: ProcedureManagerOptions) {
    this.#options = options;
  }

  register<P extends JsonObject>(definition: ProcedureDefinition<P>): void {
    this.#definitions.set(definition.kind, definition as unknown as ProcedureDefinition<JsonObject>);
  }

  /**
   * When the last procedure this replica ran on the shard stopped (ms since the epoch; 0: none). A
   * node's report older than that may predate what the procedure told it.
   */
  lastEndedAt(shardId: number): number {
    return this.#endedAt.get(shardId) ?? 0;
  }

  /** Whether a procedure of this replica is running or queued on the shard. */
  isShardBusy(shardId: number): boolean {
    return this.#shardQueues.has(shardId);
  }

  /**
   * Creates a procedure and runs it to its end. Resolves with the finished procedure; rejects with
   * the reason of a rollback, NotLeaderError when the term ends first (the next leader goes on with
   * it), or ShardBusyError when its shards stayed locked for `lockWaitMs`.
   */
  async run<P extends JsonObject>(
    definition: ProcedureDefinition<P>,
    params: P,
    shardIds: readonly number[],
    term: LeaderTerm,
  ): Promise<ProcedureRecord> {
    this.register(definition);
    const release = await this.#queueOnShards(shardIds);
    try {
      const stored = await this.#create(definition, params, shardIds, term);
      this.#createdHere.add(stored.procedure.id);
      const { procedure } = await this.#drive(stored, term);
      const failure = this.#failures.get(procedure.id);
      this.#failures.delete(procedure.id);
      if (procedure.state === ROLLED_BACK) {
        throw failure ?? new Error(`procedure ${procedure.id} rolled back`);
      }
      return procedure;
    } finally {
      release();
    }
  }

  /** Resumes every unfinished procedure stored in etcd that this replica is not running already. */
  async resumeAll(term: LeaderTerm): Promise<number> {
    const unfinished = (await this.#options.store.procedures.list()).filter(
      (stored) => !isTerminal(stored.procedure.state) && !this.#running.has(stored.procedure.id),
    );
    for (const stored of unfinished) {
      this.#options.logger.info(
        { procedureId: stored.procedure.id, kind: stored.procedure.kind, state: stored.procedure.state },
        "resuming an unfinished procedure",
      );
      this.#drive(stored, term).catch((error: unknown) => {
        if (!isEndOfTerm(error)) {
          this.#options.logger.warn(
            { err: error, procedureId: stored.procedure.id },
            "resumed procedure stopped",
          );
        }
      });
    }
    return unfinished.length;
  }

  /**
   * Deletes ended procedures beyond the newest `keepEnded` (default 1000), so their history does not
   * grow without bound. Returns how many it deleted.
   */
  async prune(term: LeaderTerm): Promise<number> {
    const keep = this.#options.keepEnded ?? 1_000;
    const ended = (await this.#options.store.procedures.list())
      .filter((stored) => isTerminal(stored.procedure.state))
      .sort((a, b) => b.procedure.id - a.procedure.id);
    let deleted = 0;
    const store = term.fenced(this.#options.store);
    for (const stored of ended.slice(keep)) {
      term.assertActive();
      await store.procedures.delete(stored.procedure.id, stored.revision).catch((error: unknown) => {
        if (error instanceof LeaderFenceError) throw error;
      });
      deleted++;
    }
    return deleted;
  }

  /** Resolves when every procedure running here has stopped (ended, or its term ended). */
  async idle(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running.values()]);
  }

  async #create<P extends JsonObject>(
    definition: ProcedureDefinition<P>,
    params: P,
    shardIds: readonly number[],
    term: LeaderTerm,
  ): Promise<StoredProcedure> {
    const { lockWaitMs, retryInitialMs, retryMaxMs } = this.#options;
    const store = term.fenced(this.#options.store);
    const started = Date.now();
    let backoff = retryInitialMs;
    for (;;) {
      term.assertActive();
      try {
        return await store.procedures.create({
          kind: definition.kind,
          state: definition.initialState,
          shardIds,
          params,
        });
      } catch (error) {
        if (!(error instanceof ShardLockedError)) throw error;
        const waited = Date.now() - started;
        if (waited >= lockWaitMs) {
          throw new ShardBusyError(
            error.shardId,
            waited,
            `${error.holderKind} procedure ${error.holderProcedureId}`,
          );
        }
        await sleep(Math.min(backoff, lockWaitMs - waited), undefined, { signal: term.signal }).catch(
          () => undefined,
        );
        backoff = Math.min(backoff * 2, retryMaxMs);
      }
    }
  }

  #drive(stored: StoredProcedure, term: LeaderTerm): Promise<ProcedureOutcome> {
    const id = stored.procedure.id;
    const existing = this.#running.get(id);
    if (existing !== undefined) return existing;
    const running = this.#loop(stored, term).finally(() => {
      this.#running.delete(id);
      const at = Date.now();
      for (const shardId of stored.procedure.shardIds) this.#endedAt.set(shardId, at);
      if (++this.#endedSincePrune >= PRUNE_EVERY) {
        this.#endedSincePrune = 0;
        this.prune(term).catch((error: unknown) => {
          this.#options.logger.warn({ err: error }, "could not prune ended procedures");
        });
      }
    });
    this.#running.set(id, running);
    return running;
  }

  async #loop(initial: StoredProcedure, term: LeaderTerm): Promise<ProcedureOutcome> {
    const { events, clusterName, logger, retryInitialMs, retryMaxMs } = this.#options;
    const store = term.fenced(this.#options.store);
    const definition = this.#definitions.get(initial.procedure.kind);
    if (definition === undefined) {
      throw new Error(`procedure ${initial.procedure.id} has unknown kind ${initial.procedure.kind}`);
    }
    let current = initial;
    let backoff = retryInitialMs;
    await this.#failpoint(current.procedure, "before", term);
    while (!isTerminal(current.procedure.state)) {
      term.assertActive();
      const { procedure } = current;
      const step = definition.steps[procedure.state];
      if (step === undefined) {
        throw new Error(
          `procedure ${procedure.id} (${procedure.kind}) is in unknown state ${procedure.state}`,
        );
      }
      const context: StepContext<JsonObject> = {
        procedureId: procedure.id,
        params: definition.parseParams(procedure.params),
        store,
        events,
        term,
        clusterName,
        metaNode: term.replica,
        logger,
      };
      let next: { state: string; params: JsonObject; shardIds: readonly number[]; detail?: string };
      try {
        const result = await step(context);
        next = {
          state: result.next,
          params: result.params ?? context.params,
          shardIds: result.shardIds ?? procedure.shardIds,
          ...(result.detail === undefined ? {} : { detail: result.detail }),
        };
        backoff = retryInitialMs;
        await this.#failpoint(procedure, "after", term);
      } catch (error) {
        if (isEndOfTerm(error) || term.signal.aborted) throw term.signal.reason ?? error;
        // A store error that is not retryable (not found, invalid, ...) fails the same way again.
        const aborted =
          error instanceof ProcedureAbortError || (error instanceof MetadataError && !error.retryable);
        const rollback = aborted ? definition.rollbackFrom(procedure.state) : undefined;
        if (rollback === undefined) {
          if (error instanceof MetadataConflictError) {
            // Another procedure changed what this step read (e.g. the cluster view, which every
            // placement change rewrites): the step re-reads, so retry at once, with jitter only.
            await sleep(Math.random() * CONFLICT_JITTER_MS, undefined, { signal: term.signal }).catch(
              () => undefined,
            );
            continue;
          }
          logger.warn(
            { err: error, procedureId: procedure.id, kind: procedure.kind, state: procedure.state },
            `procedure step failed, retrying: ${(error as Error).message}`,
          );
          await sleep(backoff, undefined, { signal: term.signal }).catch(() => undefined);
          backoff = Math.min(backoff * 2, retryMaxMs);
          continue;
        }
        const reason = error instanceof ProcedureAbortError ? error.reason : (error as Error);
        this.#failures.set(procedure.id, reason);
        logger.warn(
          { procedureId: procedure.id, kind: procedure.kind, state: procedure.state, rollback },
          `procedure rolls back: ${reason.message}`,
        );
        next = {
          state: rollback,
          params: context.params,
          shardIds: procedure.shardIds,
          detail: reason.message,
        };
      }
      current = await this.#transition(current, next, term);
      await this.#failpoint(current.procedure, "before", term);
    }
    if (current.procedure.state === FINISHED) {
      logger.info({ procedureId: current.procedure.id, kind: current.procedure.kind }, "procedure finished");
    }
    return { procedure: current.procedure };
  }

  async #transition(
    current: StoredProcedure,
    next: { state: string; params: JsonObject; shardIds: readonly number[]; detail?: string },
    term: LeaderTerm,
  ): Promise<StoredProcedure> {
    const at = Date.now();
    const { procedure } = current;
    const entry = {
      state: next.state,
      atMs: at,
      ...(next.detail === undefined ? {} : { detail: next.detail }),
    };
    const history = [...procedure.history, entry];
    const kept = history.length > MAX_HISTORY ? [history[0]!, ...history.slice(-(MAX_HISTORY - 1))] : history;
    const record: ProcedureRecord = {
      ...procedure,
      state: next.state,
      params: next.params,
      shardIds: [...next.shardIds],
      history: kept,
      updatedAtMs: at,
    };
    term.assertActive();
    try {
      return await term.fenced(this.#options.store).procedures.put(record, current.revision, {
        release: isTerminal(next.state),
        storedShardIds: procedure.shardIds,
      });
    } catch (error) {
      if (error instanceof ProcedureConflictError) {
        // Someone else (a newer leader) advanced it: this replica must not go on with it.
        throw new NotLeaderError(term.replica, `procedure ${procedure.id} was advanced by another leader`);
      }
      throw error;
    }
  }

  async #failpoint(procedure: ProcedureRecord, phase: "before" | "after", term: LeaderTerm): Promise<void> {
    const failpoint = this.#options.failpoint;
    if (failpoint?.kind !== procedure.kind || failpoint.state !== procedure.state) return;
    if (failpoint.phase !== phase || !this.#createdHere.has(procedure.id)) return;
    this.#options.logger.warn(
      { procedureId: procedure.id, kind: procedure.kind, state: procedure.state, phase },
      "procedure failpoint reached; pausing until the term ends",
    );
    await new Promise<void>((resolve) =>
      term.signal.addEventListener("abort", () => resolve(), { once: true }),
    );
    term.assertActive();
  }

  /** Waits until no local procedure holds any of `shardIds`, then holds them until release(). */
  async #queueOnShards(shardIds: readonly number[]): Promise<() => void> {
    const unique = [...new Set(shardIds)];
    const previous = unique.map((shardId) => this.#shardQueues.get(shardId) ?? Promise.resolve());
    let release: () => void = () => undefined;
    const mine = new Promise<void>((resolve) => (release = resolve));
    for (const shardId of unique) this.#shardQueues.set(shardId, mine);
    await Promise.all(previous);
    return () => {
      release();
      for (const shardId of unique) {
        if (this.#shardQueues.get(shardId) === mine) this.#shardQueues.delete(shardId);
      }
    };
  }
}
