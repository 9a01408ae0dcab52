import type { Logger } from "./logger.js";

/** Anything with a start/stop lifecycle that a process runs until it is told to stop. */
export interface ManagedServer {
  start(): Promise<unknown>;
  stop(): Promise<void>;
}

export interface RunUntilSignalOptions {
  readonly logger: Logger;
  /** Signals that begin a graceful shutdown. */
  readonly signals?: readonly NodeJS.Signals[];
}

/** Exit codes of the server processes. */
export const exitCodes = {
  ok: 0,
  /** Startup failed (e.g. a port in use) or shutdown failed. */
  failure: 1,
  /** The command line or the configuration is invalid. */
  usage: 2,
} as const;

/**
 * Starts the server, waits for SIGINT/SIGTERM, then stops it gracefully. Resolves to the process
 * exit code: 0 after a clean stop, 1 when startup or shutdown failed (logged as one line). A second
 * signal during shutdown exits at once.
 */
export async function runUntilSignal(server: ManagedServer, options: RunUntilSignalOptions): Promise<number> {
  const { logger } = options;
  const signals = options.signals ?? ["SIGINT", "SIGTERM"];
  let stopRequested = false;
  let requestStop: (signal: NodeJS.Signals) => void = () => {};
  const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
    requestStop = resolve;
  });
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopRequested) {
      logger.warn({ signal }, "second signal during shutdown; exiting immediately");
      process.exit(exitCodes.failure);
    }
    stopRequested = true;
    requestStop(signal);
  };
  // Installed before start() so a signal that arrives while starting is not lost.
  for (const signal of signals) process.on(signal, onSignal);
  try {
    try {
      await server.start();
    } catch (error) {
      logger.fatal(
        { err: error },
        `startup failed: ${error instanceof Error ? error.message : String(error)}`,
      );
      return exitCodes.failure;
    }
    const signal = await stopSignal;
    logger.info({ signal }, "shutting down");
    try {
      await server.stop();
    } catch (error) {
      logger.error(
        { err: error },
        `shutdown failed: ${error instanceof Error ? error.message : String(error)}`,
      );
      return exitCodes.failure;
    }
    logger.info("stopped");
    return exitCodes.ok;
  } finally {
    for (const signal of signals) process.off(signal, onSignal);
  }
}
