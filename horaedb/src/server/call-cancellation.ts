import type { EventEmitter } from "node:events";
import type { CancellationSignal } from "../query/index.js";

/**
 * Whether a gRPC call was cancelled by its client (disconnect, deadline, explicit cancel) while its
 * statement ran: the signal the executor polls.
 *
 * grpc-js emits `cancelled` on every call once its status has gone out, cancelled or not; so the
 * signal only turns once, and only before `settle()`, which the handler calls when it answers. An
 * AbortController per call would also work, but costs more to make than the rest of the call's
 * bookkeeping, and would be aborted (with a new Error) after every answered call.
 */
export class CallCancellation implements CancellationSignal {
  #aborted = false;
  #settled = false;
  #reason: Error | undefined;

  constructor(call: EventEmitter) {
    call.once("cancelled", () => {
      if (this.#settled) return;
      this.#aborted = true;
      this.#reason = new Error("the call was cancelled");
    });
  }

  get aborted(): boolean {
    return this.#aborted;
  }

  get reason(): Error | undefined {
    return this.#reason;
  }

  /** The call has been answered: a later `cancelled` is grpc-js's end-of-call notice, not a cancel. */
  settle(): void {
    this.#settled = true;
  }
}
