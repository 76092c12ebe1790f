import { hostname } from 'node:os';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { assertKnownParams, tableFormat, type RawQuery } from '../query-params.js';
import { joinCommands, joinText, safeHost, type JoinFacts } from '../render/join-lines.js';

export interface JoinDeps {
  /** The worker port, the join token (null when --insecure), and the TLS pin if TLS is on. */
  join(): { tcpPort: number; token: string | null; tlsFingerprint: string | null };
  https: boolean;
  /** Resolves when the caller carries the API token; rejects (401/403) when it carries a wrong one. */
  checkApiToken(req: FastifyRequest): Promise<void>;
}

/**
 * GET /join: the one line to paste on each kind of device. The join token is
 * a secret (whoever has it can join devices), so it is filled in only for a
 * caller that sends the API token; anyone else gets a placeholder.
 */
export function registerJoinRoute(app: FastifyInstance, deps: JoinDeps): void {
  app.get<{ Querystring: RawQuery }>('/join', async (req, reply) => {
    assertKnownParams(req.query, ['format']);
    const authorised = req.headers.authorization !== undefined;
    if (authorised) await deps.checkApiToken(req);
    const facts = joinFacts(req, deps, authorised);
    if (tableFormat(req.query, req.headers.accept) === 'json') {
      return reply.send({ master: `${facts.host}:${facts.tcpPort}`, token_included: facts.token !== null, commands: joinCommands(facts) });
    }
    return reply.type('text/plain; charset=utf-8').send(joinText(facts));
  });
}

function joinFacts(req: FastifyRequest, deps: JoinDeps, authorised: boolean): JoinFacts {
  const { tcpPort, token, tlsFingerprint } = deps.join();
  const port = Number(/:(\d+)$/.exec(req.host)?.[1] ?? (req.socket.localPort ?? 0));
  return {
    // A Host header we would not paste into a shell is replaced by the master's own name.
    host: safeHost(req.hostname) ?? hostname(),
    httpPort: port,
    tcpPort,
    https: deps.https,
    token: authorised ? token : null,
    insecure: token === null,
    tlsFingerprint,
  };
}
