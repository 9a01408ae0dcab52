import type { AddressInfo } from "node:net";
import { fastify, LogController, type FastifyBaseLogger, type FastifyInstance } from "fastify";
import { formatHostPort } from "./address.js";
import type { HealthState } from "./health.js";
import { ListenError } from "./listen-error.js";
import type { Logger } from "./logger.js";

export interface HttpServerOptions {
  readonly logger: Logger;
  readonly health: HealthState;
  /** Log every request and response; off by default because it is noisy on a busy server. */
  readonly requestLogging?: boolean;
  /** Extra fields for a healthy `/health` answer, e.g. the server's name and mode. */
  readonly healthDetails?: () => Record<string, unknown>;
}

/**
 * A fastify server with `GET /health`: 200 `{"status":"ok", ...}` while serving, 503 with the
 * state (`starting`, `shutting_down`) otherwise. Add routes before `listenHttp`.
 */
export function createHttpServer(options: HttpServerOptions): FastifyInstance {
  const requestLogging = options.requestLogging === true;
  // Without request logging fastify's own info lines (e.g. its "Server listening at") only repeat
  // what the process logs itself, so it logs warnings and errors only. Typed as fastify's base
  // logger so the instance is the plain FastifyInstance other modules use.
  const loggerInstance: FastifyBaseLogger = requestLogging ? options.logger : atLeastWarn(options.logger);
  const app = fastify({
    loggerInstance,
    logController: new LogController({ disableRequestLogging: !requestLogging }),
    // The health route answers during shutdown itself, with a body that says why.
    return503OnClosing: false,
  });
  app.get("/health", async (_request, reply) => {
    const state = options.health.state;
    if (state === "serving") {
      return reply.code(200).send({ status: "ok", ...options.healthDetails?.() });
    }
    return reply.code(503).send({ status: state });
  });
  return app;
}

function atLeastWarn(logger: Logger): Logger {
  const levels = logger.levels.values;
  const current = levels[logger.level] ?? Number.POSITIVE_INFINITY;
  return (levels.warn ?? 0) > current ? logger.child({}, { level: "warn" }) : logger;
}

/** Starts listening and returns the bound port (useful with port 0). */
export async function listenHttp(app: FastifyInstance, host: string, port: number): Promise<number> {
  try {
    await app.listen({ host, port });
  } catch (error) {
    throw new ListenError("http", formatHostPort(host, port), error);
  }
  return (app.server.address() as AddressInfo).port;
}

/**
 * Stops accepting connections and waits for in-flight requests; connections still open after
 * `timeoutMs` are destroyed. Resolves to whether the close had to be forced.
 */
export async function closeHttpServer(
  app: FastifyInstance,
  timeoutMs: number,
): Promise<"graceful" | "forced"> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<"forced">((resolve) => {
    timer = setTimeout(() => resolve("forced"), timeoutMs);
  });
  const closed = app.close().then(() => "graceful" as const);
  try {
    const outcome = await Promise.race([closed, deadline]);
    if (outcome === "forced") {
      app.server.closeAllConnections();
      await closed;
    }
    return outcome;
  } finally {
    clearTimeout(timer);
  }
}
