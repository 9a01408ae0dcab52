import type { Point } from "./point.js";

/**
 * One table request ready to send: the unit the server applies whole or not at all, and so the
 * unit the SDK retries.
 */
export interface TableWrite {
  readonly table: string;
  /** The encoded `WriteTableRequest` message. */
  readonly encoded: Buffer;
  /** Rows in the request. */
  readonly rows: number;
  /** Encoded size, used to pack requests under the size limit. */
  readonly bytes: number;
  /** The points the rows came from (series form only), so a writer can hand back failed points. */
  readonly points?: readonly Point[];
}
