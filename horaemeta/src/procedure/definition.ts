/**
 * What a kind of procedure is: a state machine whose states are the names of its steps. Each step is
 * idempotent (a leader may die after a step acted and before its new state was stored; the next one
 * runs the step again), checks the versions it acts on, and returns the next state. The runner stores
 * every transition before running the next step.
 */
import type { Logger } from "@horaedb/common";
import type { LeaderTerm } from "../election/leader-term.js";
import type { JsonObject, JsonValue, MetadataStore } from "../metadata/index.js";
import type { MetaEventSender } from "./event-sender.js";

/** The procedure did all it set out to do. */
export const FINISHED = "finished";
/** The procedure undid what it had done; its error says why it stopped. */
export const ROLLED_BACK = "rolled_back";
export const TERMINAL_STATES: readonly string[] = [FINISHED, ROLLED_BACK];

export function isTerminal(state: string): boolean {
  return TERMINAL_STATES.includes(state);
}

/** What a step runs with. */
export interface StepContext<P> {
  readonly procedureId: number;
  readonly params: P;
  /** The term's fenced store (`term.fenced`): etcd refuses its writes once the term is over. */
  readonly store: MetadataStore;
  readonly events: MetaEventSender;
  /** The leader's term: call `assertActive()` before each metadata write. */
  readonly term: LeaderTerm;
  readonly clusterName: string;
  /** This horaemeta's endpoint, sent in event headers. */
  readonly metaNode: string;
  readonly logger: Logger;
}

export interface StepResult<P> {
  /** The state to go to: another step, FINISHED or ROLLED_BACK. */
  readonly next: string;
  /** The params from now on (default: unchanged); how a step hands what it decided to later steps. */
  readonly params?: P;
  /** The shards the procedure locks from now on (default: unchanged). */
  readonly shardIds?: readonly number[];
  /** Recorded in the history entry of the transition. */
  readonly detail?: string;
}

export type Step<P> = (context: StepContext<P>) => Promise<StepResult<P>>;

/**
 * A step cannot succeed (the instance refused, a precondition does not hold, ...). Before the
 * procedure's point of no return the runner rolls it back; after it, it retries the step.
 */
export class ProcedureAbortError extends Error {
  override readonly name = "ProcedureAbortError";
  /** The error to answer the procedure's submitter with. */
  readonly reason: Error;

  constructor(reason: Error) {
    super(reason.message, { cause: reason });
    this.reason = reason;
  }
}

export interface ProcedureDefinition<P extends JsonObject> {
  readonly kind: string;
  /** Checks stored params; throws when they do not fit the kind. */
  parseParams(value: JsonValue): P;
  readonly initialState: string;
  readonly steps: Readonly<Record<string, Step<P>>>;
  /**
   * Where a step that aborted at `state` continues: a rollback step, ROLLED_BACK when nothing needs
   * undoing, or undefined when the step is past the point of no return and must be retried.
   */
  rollbackFrom(state: string): string | undefined;
}
