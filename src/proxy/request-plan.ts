// What one request head the agent sent through an intercepted tunnel becomes, decided before a byte goes upstream:
// refused with a proxy answer, relayed without a credential, refused by the run's rules, or sent with the matched
// route's credential. Pure: no I/O, no audit, no counting, no secret (the credential is fetched by the caller).
import { errors, type AppError } from '../errors.js';
import { buildAmbiguityReason, matchRoute, type ScopeEntry } from '../providers/routes.js';
import type { AuditPlan } from './forward.js';
import { parseRequestHead, type RequestHead } from './http1-framing.js';
import type { ProxyAnswer } from './proxy-answers.js';
import { buildProxyAuthError } from './proxy-errors.js';
import type { RunSession } from './run-sessions.js';
import { resolveTunnelTarget, type TunnelTarget } from './upstream-head.js';

/** The CONNECT authority the tunnel is bound to. */
export interface TunnelAuthority {
  host: string;
  port: number;
}

export type RequestPlan =
  /** Answered by the proxy and the connection closed; nothing is sent. */
  | { kind: 'refuse'; answer: ProxyAnswer; error: AppError }
  /** The run's rules refuse a request a credential would have been added to; audited as denied. */
  | { kind: 'deny'; head: RequestHead; path: string; entry: ScopeEntry; reason: string; error: AppError }
  /** Sent as it is: no route in scope claims it, or more than one does (a tie injects nothing). */
  | { kind: 'relay'; head: RequestHead; path: string; audit: AuditPlan }
  /** Sent with `entry`'s credential. */
  | { kind: 'inject'; head: RequestHead; path: string; entry: ScopeEntry; audit: AuditPlan };

/** Methods a retry cannot make happen twice (RFC 9110 §9.2.2); with no body, the head alone is the request. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/**
 * Plans the request whose head is `text` (the bytes before the blank line) on a tunnel to `tunnel` for `session`;
 * `live` says whether the run is still going (a connection outlives nothing: once its run ended, it is refused).
 */
export function planRequest(text: string, tunnel: TunnelAuthority, session: RunSession, live: boolean): RequestPlan {
  let head: RequestHead;
  try {
    head = parseRequestHead(text);
  } catch (err) {
    return refuse(`The request could not be parsed (${(err as Error).message}).`);
  }
  if (!live) return { kind: 'refuse', answer: 'proxyAuthRequired', error: buildProxyAuthError() };
  let resolved: TunnelTarget;
  try {
    resolved = resolveTunnelTarget(head, tunnel.host, tunnel.port);
  } catch (err) {
    return refuse(`The request was refused: ${(err as Error).message}.`);
  }
  const { path } = resolved;
  const match = matchRoute(session.routes, tunnel.host, tunnel.port, path);
  // A server that decodes %2F, treats '\\' as '/' or drops ';' parameters may read another path than the one
  // matched: the credential goes only where both readings agree.
  if (
    match.kind === 'inject' &&
    resolved.lenientPath !== path &&
    matchRoute(session.routes, tunnel.host, tunnel.port, resolved.lenientPath) !== match
  ) {
    return refuse(
      'The request was refused: its path reads differently once encoded slashes or dot segments are decoded.',
    );
  }
  const run = session.id;
  if (match.kind === 'ambiguous') {
    return {
      kind: 'relay',
      head,
      path,
      audit: { event: 'ambiguous', run, reason: buildAmbiguityReason(match.candidates) },
    };
  }
  if (match.kind === 'none')
    return { kind: 'relay', head, path, audit: { event: 'no_match', run, reason: match.reason } };
  const { entry } = match;
  // The run's rules come before the credential: a request they refuse is answered here and never sent.
  const decision = session.policy?.check(entry.provider, head.method, path);
  if (decision !== undefined && !decision.allowed) {
    const reason = `${decision.rule}: ${decision.reason}`;
    return { kind: 'deny', head, path, entry, reason, error: errors.requestDenied(decision.reason) };
  }
  return {
    kind: 'inject',
    head,
    path,
    entry,
    audit: { event: 'inject', run, provider: entry.provider, connection: entry.connection },
  };
}

/** A request that may be sent again as it is: idempotent, no body, no upgrade (its head alone is the request). */
export function isReplayable(head: RequestHead): boolean {
  return head.framing.kind === 'none' && !head.upgrade && IDEMPOTENT.has(head.method);
}

/** An OAuth token the provider refuses (revoked, rotated early) gets one refresh and one more try, if replayable. */
export function isRetryableAfterRefresh(head: RequestHead, entry: ScopeEntry | undefined): entry is ScopeEntry {
  return entry !== undefined && entry.definition.auth_type === 'oauth2' && isReplayable(head);
}

function refuse(message: string): RequestPlan {
  return { kind: 'refuse', answer: 'badRequest', error: errors.invalidInput(message) };
}
