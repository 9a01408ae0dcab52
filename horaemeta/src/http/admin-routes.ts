/** horaemeta's HTTP admin API (next to `GET /health`). */
import type { FastifyInstance } from "fastify";

/** What the admin API reports about the election. */
export interface ElectionStatus {
  readonly candidate: string | undefined;
  readonly isLeader: boolean;
  leader(): Promise<string | undefined>;
}

export interface LeaderStatusBody {
  /** This replica's gRPC endpoint (null before it campaigns). */
  readonly self: string | null;
  /** Whether this replica leads (its term is active) right now. */
  readonly isLeader: boolean;
  /** The leader's gRPC endpoint as etcd names it, null when no replica leads. */
  readonly leader: string | null;
  /** Set (with status 503) when etcd could not be asked who leads. */
  readonly error?: string;
}

/**
 * `GET /api/v1/leader`: 200 `{self, isLeader, leader}`; 503 with `error` when this replica does not
 * lead and etcd cannot say who does.
 */
export function registerAdminRoutes(app: FastifyInstance, election: ElectionStatus): void {
  app.get("/api/v1/leader", async (_request, reply) => {
    const self = election.candidate ?? null;
    if (election.isLeader) {
      return reply.code(200).send({ self, isLeader: true, leader: self } satisfies LeaderStatusBody);
    }
    try {
      const leader = (await election.leader()) ?? null;
      return reply.code(200).send({ self, isLeader: false, leader } satisfies LeaderStatusBody);
    } catch (error) {
      const body: LeaderStatusBody = {
        self,
        isLeader: false,
        leader: null,
        error: error instanceof Error ? error.message : String(error),
      };
      return reply.code(503).send(body);
    }
  });
}
