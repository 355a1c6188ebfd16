// The live `authsome run` sessions: who may use the proxy, with which scope. It owns the per-run
// proxy secrets in memory only; it must never log a token or compare one in variable time.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { buildRouteTable, type RouteTable, type ScopeEntry } from '../providers/routes.js';
import { sha256 } from '../secret-digest.js';

export interface RunSession {
  id: string;
  /** SECRET: the password of the proxy URL handed to the child. */
  token: string;
  pid?: number;
  scope: ScopeEntry[];
  routes: RouteTable;
  createdAt: number;
  /** The program's name for the audit log (never its arguments). */
  program?: string;
  /** What the run allows (absent: everything in scope); the proxy asks it before a credential is added. */
  policy?: RequestPolicy;
  /** Per provider: requests injected, denied by the policy, responses with the secret scrubbed (`run --summary`). */
  stats: Map<string, RunProviderStats>;
}

export interface RunProviderStats {
  injected: number;
  denied: number;
  scrubbed: number;
}

/** The proxy's view of a run's allow-list (built by the run service). */
export interface RequestPolicy {
  check(
    provider: string,
    method: string,
    path: string,
  ): { allowed: true } | { allowed: false; rule: string; reason: string };
}

/** Adds one to a provider's counter of a run. */
export function countRunEvent(session: RunSession, provider: string, what: keyof RunProviderStats): void {
  let stats = session.stats.get(provider);
  if (stats === undefined) session.stats.set(provider, (stats = { injected: 0, denied: 0, scrubbed: 0 }));
  stats[what]++;
}

export type RunSessionEndReason = 'ended' | 'pid_gone';

export interface RunSessionRegistryOptions {
  isPidAlive?(pid: number): boolean;
  reapIntervalMs?: number;
  onEnd?(session: RunSession, reason: RunSessionEndReason): void;
}

export interface RunSessionRegistry {
  create(input: { pid?: number; scope: ScopeEntry[]; program?: string; policy?: RequestPolicy }): RunSession;
  get(id: string): RunSession | undefined;
  end(id: string): boolean;
  /** The session whose token is in `Proxy-Authorization: Basic base64(authsome:<token>)`, if any. */
  authenticate(proxyAuthorization: string | undefined): RunSession | undefined;
  list(): RunSession[];
  close(): void;
}

interface SessionRecord {
  session: RunSession;
  digest: Buffer;
}

const DEFAULT_REAP_INTERVAL_MS = 2000;

export function createRunSessionRegistry(opts: RunSessionRegistryOptions = {}): RunSessionRegistry {
  const isPidAlive = opts.isPidAlive ?? checkPidAlive;
  const byId = new Map<string, SessionRecord>();
  // Keyed by the SHA-256 of the token: the lookup never branches on the secret itself, and the final
  // comparison is constant-time over equal-length digests.
  const byDigest = new Map<string, SessionRecord>();
  let timer: NodeJS.Timeout | undefined;

  function remove(id: string, reason: RunSessionEndReason): boolean {
    const record = byId.get(id);
    if (record === undefined) return false;
    byId.delete(id);
    byDigest.delete(record.digest.toString('hex'));
    if (byId.size === 0 && timer !== undefined) {
      clearInterval(timer);
      timer = undefined;
    }
    opts.onEnd?.(record.session, reason);
    return true;
  }

  function reap(): void {
    for (const { session } of [...byId.values()]) {
      if (session.pid !== undefined && !isPidAlive(session.pid)) remove(session.id, 'pid_gone');
    }
  }

  function ensureReaper(): void {
    if (timer !== undefined) return;
    timer = setInterval(reap, opts.reapIntervalMs ?? DEFAULT_REAP_INTERVAL_MS);
    timer.unref();
  }

  return {
    create({ pid, scope, program, policy }) {
      const token = randomBytes(32).toString('base64url');
      const session: RunSession = {
        id: randomBytes(8).toString('hex'),
        token,
        ...(pid !== undefined ? { pid } : {}),
        scope,
        routes: buildRouteTable(scope),
        createdAt: Date.now(),
        ...(program !== undefined ? { program } : {}),
        ...(policy !== undefined ? { policy } : {}),
        stats: new Map(),
      };
      const record = { session, digest: digestToken(token) };
      byId.set(session.id, record);
      byDigest.set(record.digest.toString('hex'), record);
      if (pid !== undefined) ensureReaper();
      return session;
    },
    get(id) {
      return byId.get(id)?.session;
    },
    end(id) {
      return remove(id, 'ended');
    },
    authenticate(proxyAuthorization) {
      const token = parseProxyToken(proxyAuthorization);
      if (token === undefined) return undefined;
      const digest = digestToken(token);
      const record = byDigest.get(digest.toString('hex'));
      if (record === undefined || !timingSafeEqual(record.digest, digest)) return undefined;
      return record.session;
    },
    list() {
      return [...byId.values()].map((r) => r.session);
    },
    close() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
    },
  };
}

function digestToken(token: string): Buffer {
  return sha256(token);
}

/** `Basic base64(<user>:<token>)`; the user name is not a secret and is not checked. */
function parseProxyToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const trimmed = header.trim();
  const space = trimmed.indexOf(' ');
  if (space === -1 || trimmed.slice(0, space).toLowerCase() !== 'basic') return undefined;
  const decoded = Buffer.from(trimmed.slice(space + 1).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1) return undefined;
  const token = decoded.slice(colon + 1);
  return token === '' ? undefined : token;
}

/** Signal 0 checks existence; EPERM means the process exists but belongs to someone else. */
function checkPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
