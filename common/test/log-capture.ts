import type { DestinationStream } from "pino";

export interface LogLine {
  readonly level: string;
  readonly msg?: string;
  readonly component?: string;
  readonly [field: string]: unknown;
}

/** A pino destination that keeps every JSON line in memory. */
export function captureLogs(): { destination: DestinationStream; lines: LogLine[] } {
  const lines: LogLine[] = [];
  return {
    lines,
    destination: {
      write(line: string) {
        lines.push(JSON.parse(line) as LogLine);
      },
    },
  };
}
