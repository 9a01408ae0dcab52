/** HTTP calls to the compared databases, with errors that say which one failed and how. */

/** A request to a database's HTTP API failed or was answered with an error status. */
export class PeerRequestError extends Error {
  override readonly name = "PeerRequestError";
  readonly system: string;
  readonly status: number | undefined;

  constructor(
    system: string,
    what: string,
    status: number | undefined,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(
      `${system}: ${what} failed${status === undefined ? "" : ` with HTTP ${status}`}: ${detail}`,
      options,
    );
    this.system = system;
    this.status = status;
  }
}

const DETAIL_CHARS = 500;

/** Sends the request; returns the response body as text, or throws PeerRequestError. */
export async function requestText(
  system: string,
  what: string,
  url: URL,
  init: RequestInit = {},
): Promise<string> {
  let response: Response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    throw new PeerRequestError(system, what, undefined, String(error), { cause: error });
  }
  const body = await response.text();
  if (!response.ok) throw new PeerRequestError(system, what, response.status, body.slice(0, DETAIL_CHARS));
  return body;
}

/** Sends the request and parses the JSON answer. */
export async function requestJson<T>(
  system: string,
  what: string,
  url: URL,
  init: RequestInit = {},
): Promise<T> {
  const body = await requestText(system, what, url, init);
  try {
    return JSON.parse(body) as T;
  } catch (error) {
    throw new PeerRequestError(system, what, undefined, `not JSON: ${body.slice(0, DETAIL_CHARS)}`, {
      cause: error,
    });
  }
}

/** `base` with `path` and the query parameters. */
export function endpointUrl(base: string, path: string, parameters: Record<string, string> = {}): URL {
  const url = new URL(path, base);
  for (const [name, value] of Object.entries(parameters)) url.searchParams.set(name, value);
  return url;
}

/**
 * Runs `send` on every item with at most `concurrency` calls in flight, in order of the items;
 * calls `onDone` after each. The first failure stops sending and is thrown.
 */
export async function forEachConcurrently<T>(
  items: readonly T[],
  concurrency: number,
  send: (item: T) => Promise<void>,
  onDone: (item: T) => void = () => {},
): Promise<void> {
  let next = 0;
  let failed = false;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (!failed && next < items.length) {
        const item = items[next++] as T;
        try {
          await send(item);
        } catch (error) {
          failed = true;
          throw error;
        }
        onDone(item);
      }
    }),
  );
}
