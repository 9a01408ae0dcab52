/**
 * The etcd client horaemeta uses, with fault handling suited to a metadata service that holds a
 * leader lease.
 *
 * The etcd3 library's default guards each host with a circuit breaker that opens for 5 s after three
 * consecutive "recoverable" failures, and those include deadline-exceeded and cancelled calls. With
 * one etcd endpoint, or with all of them slow for a moment, three slow calls then block every call
 * (lease renewals, the election, procedure steps) for 5 s, longer than a short leader lease: a
 * replica that lost its lease in a stall could not campaign again until the breaker half-opened.
 * Here the breaker counts only UNAVAILABLE (no connection, or an etcd member without a leader),
 * exists only when there is another host to send calls to, and lets a call through again after a
 * second; an UNAVAILABLE call is retried at once on a new connection, as the library's default also
 * does (so a write may have been applied, which the store's guarded transactions allow for).
 * Timeouts are left to the callers, which set their own deadlines and retry with backoff.
 */
import { circuitBreaker, ConsecutiveBreaker, handleType, noop, retry } from "cockatiel";
import { Etcd3, GRPCUnavailableError, type IOptions } from "etcd3";

/** Consecutive UNAVAILABLE calls after which a host is skipped while others remain. */
const HOST_FAILURES_BEFORE_SKIP = 3;
/** How long a failed host is skipped before one call is let through to probe it. */
const HOST_SKIP_MS = 1_000;

export interface EtcdClientOptions {
  readonly endpoints: readonly string[];
  /** Deadline of each single call and of connecting; streams (watches, keepalives) have none. */
  readonly callTimeoutMs: number;
}

/** The etcd fault-handling policies for `hostCount` endpoints (see the module comment). */
export function etcdFaultHandling(hostCount: number): NonNullable<IOptions["faultHandling"]> {
  const unavailable = handleType(GRPCUnavailableError);
  return {
    host: () =>
      hostCount > 1
        ? circuitBreaker(unavailable, {
            halfOpenAfter: HOST_SKIP_MS,
            breaker: new ConsecutiveBreaker(HOST_FAILURES_BEFORE_SKIP),
          })
        : noop,
    // An UNAVAILABLE call (no connection, or no etcd leader) is retried at once, as many times as
    // there are hosts (`maxAttempts` counts retries): each retry goes to the next host, on a new
    // connection (the etcd client drops a failed one), so even with one host a connection that
    // broke while etcd stalled does not fail the first call after etcd answers again.
    global: retry(unavailable, { maxAttempts: hostCount }),
  };
}

/** An etcd client over `endpoints`; every single call gets a deadline of `callTimeoutMs`. */
export function connectEtcd(options: EtcdClientOptions): Etcd3 {
  const { callTimeoutMs } = options;
  return new Etcd3({
    hosts: [...options.endpoints],
    dialTimeout: callTimeoutMs,
    faultHandling: etcdFaultHandling(options.endpoints.length),
    defaultCallOptions: (context) =>
      context.isStream ? {} : { deadline: new Date(Date.now() + callTimeoutMs) },
  });
}
