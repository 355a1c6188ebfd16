// Browser sessions of the web pages: an opaque id in an HttpOnly SameSite=Strict cookie, and the one CSRF token
// bound to it (SPEC §10). In memory only: a server restart signs every browser out. Never consulted by /api/*.
import { createHash, randomBytes } from 'node:crypto';
import { compareSecrets } from './guards.js';

export interface BrowserSession {
  /** Internal handle (a hash of the cookie value), safe to keep in other records. */
  key: string;
  csrf: string;
  createdAt: number;
  lastSeenAt: number;
  /** A one-line message shown on the next page (after a POST → 303 without JavaScript). */
  flash?: { kind: 'ok' | 'error'; text: string };
}

export interface BrowserSessions {
  /** Starts a session; the returned cookie value is the only copy of the secret. */
  create(): { cookieValue: string; session: BrowserSession };
  lookup(cookieValue: string | undefined): BrowserSession | undefined;
  checkCsrf(session: BrowserSession, presented: string | undefined): boolean;
}

export const DEFAULT_SESSION_IDLE_MS = 12 * 60 * 60_000;
const MAX_SESSIONS = 200;

const digest = (value: string) => createHash('sha256').update(value).digest('base64url');

export function createBrowserSessions(options: { idleMs?: number; now?: () => number } = {}): BrowserSessions {
  const idleMs = options.idleMs ?? DEFAULT_SESSION_IDLE_MS;
  const now = options.now ?? Date.now;
  const sessions = new Map<string, BrowserSession>();

  function sweep(): void {
    const t = now();
    for (const [key, s] of sessions) if (t - s.lastSeenAt > idleMs) sessions.delete(key);
    while (sessions.size >= MAX_SESSIONS) sessions.delete(sessions.keys().next().value!);
  }

  return {
    create() {
      sweep();
      const cookieValue = randomBytes(32).toString('base64url');
      const t = now();
      const session: BrowserSession = { key: digest(cookieValue), csrf: randomBytes(32).toString('base64url'), createdAt: t, lastSeenAt: t };
      sessions.set(session.key, session);
      return { cookieValue, session };
    },
    lookup(cookieValue) {
      if (!cookieValue) return undefined;
      const session = sessions.get(digest(cookieValue));
      if (!session) return undefined;
      if (now() - session.lastSeenAt > idleMs) {
        sessions.delete(session.key);
        return undefined;
      }
      session.lastSeenAt = now();
      return session;
    },
    checkCsrf(session, presented) {
      return typeof presented === 'string' && presented !== '' && compareSecrets(presented, session.csrf);
    },
  };
}
