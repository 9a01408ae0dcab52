import { pino, type DestinationStream, type Logger } from "pino";
import { z } from "zod";

export type { Logger } from "pino";

export const logLevels = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof logLevels)[number];
export const logLevelSchema = z.enum(logLevels);

export interface LoggerOptions {
  /** Process name recorded on every line, e.g. `horaedb`. */
  readonly name: string;
  readonly level: LogLevel;
  /** Where JSON lines go; stdout when omitted. Tests pass a stream to capture output. */
  readonly destination?: DestinationStream;
}

/** A JSON-lines logger for one process. */
export function createLogger(options: LoggerOptions): Logger {
  // Synchronous stdout so the last lines (e.g. a startup failure) are written before the process exits.
  const destination = options.destination ?? pino.destination({ dest: 1, sync: true });
  return pino(
    {
      name: options.name,
      level: options.level,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

/** A child logger whose lines carry `component`, so one subsystem's lines can be filtered. */
export function componentLogger(parent: Logger, component: string): Logger {
  return parent.child({ component });
}
