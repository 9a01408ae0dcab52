import type { HoraeDBMode } from "./config.js";

/** The data directory could not be created or is not usable. */
export class DataDirectoryError extends Error {
  override readonly name = "DataDirectoryError";
  readonly dataDir: string;

  constructor(dataDir: string, cause: unknown) {
    super(
      `cannot create data directory ${dataDir}: ${cause instanceof Error ? cause.message : String(cause)}`,
      {
        cause,
      },
    );
    this.dataDir = dataDir;
  }
}

/** The configured mode is valid but this build cannot run it yet. */
export class UnsupportedModeError extends Error {
  override readonly name = "UnsupportedModeError";
  readonly mode: HoraeDBMode;

  constructor(mode: HoraeDBMode) {
    super(`mode "${mode}" is not available yet; set mode = "standalone"`);
    this.mode = mode;
  }
}
