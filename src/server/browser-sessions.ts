// Browser sessions of the web pages: an opaque id in an HttpOnly SameSite=Strict cookie, the one CSRF token bound
// to it, and when it last signed in through a one-time URL. A session ends after an idle hour or twelve
// hours in all. In memory only: a server restart signs every browser out. Never consulted by /api/*.
import { randomBytes } from 'node:crypto';
import { compareSecrets, digestSecret as digest } from '../secret-digest.js';

export interface BrowserSession {
  /** Internal handle (a hash of the cookie value), safe to keep in other records. */
  key: string;
  csrf: string;
  createdAt: number;
  lastSeenAt: number;
  /** The last time this browser redeemed a one-time URL (a person at the terminal asked for it). */
  signedInAt: number;
  /** A one-line message shown on the next page (after a POST → 303 without JavaScript). */
  flash?: { kind: 'ok' | 'error'; text: string };
}

export interface BrowserSessions {
  /** Starts a session; the returned cookie value is the only copy of the secret. */
  create(): { cookieValue: string; session: BrowserSession };
  lookup(cookieValue: string | undefined): BrowserSession | undefined;
  checkCsrf(session: BrowserSession, presented: string | undefined): boolean;
  /** A fresh one-time URL redeemed in a browser that already has this session. */
  markSignedIn(session: BrowserSession): void;
  /** Whether the session signed in through a one-time URL within the last `withinMs`. */
  isRecentSignIn(session: BrowserSession, withinMs: number): boolean;
}

export const DEFAULT_SESSION_IDLE_MS = 60 * 60_000;
/** However busy, a session ends this long after it began: a stolen cookie does not live forever. */
export const DEFAULT_SESSION_ABSOLUTE_MS = 12 * 60 * 60_000;
const MAX_SESSIONS = 200;

export function createBrowserSessions(
  options: { idleMs?: number; absoluteMs?: number; now?: () => number } = {},
): BrowserSessions {
  const idleMs = options.idleMs ?? DEFAULT_SESSION_IDLE_MS;
  const absoluteMs = options.absoluteMs ?? DEFAULT_SESSION_ABSOLUTE_MS;
  const now = options.now ?? Date.now;
  const sessions = new Map<string, BrowserSession>();
  const isOver = (s: BrowserSession, t: number) => t - s.lastSeenAt > idleMs || t - s.createdAt >= absoluteMs;

  function sweep(): void {
    const t = now();
    for (const [key, s] of sessions) if (isOver(s, t)) sessions.delete(key);
    while (sessions.size >= MAX_SESSIONS) sessions.delete(sessions.keys().next().value!);
  }

  return {
    create() {
      sweep();
      const cookieValue = randomBytes(32).toString('base64url');
      const t = now();
      const session: BrowserSession = {
        key: digest(cookieValue),
        csrf: randomBytes(32).toString('base64url'),
        createdAt: t,
        lastSeenAt: t,
        signedInAt: t,
      };
      sessions.set(session.key, session);
      return { cookieValue, session };
    },
    lookup(cookieValue) {
      if (!cookieValue) return undefined;
      const session = sessions.get(digest(cookieValue));
      if (!session) return undefined;
      if (isOver(session, now())) {
        sessions.delete(session.key);
        return undefined;
      }
      session.lastSeenAt = now();
      return session;
    },
    checkCsrf(session, presented) {
      return typeof presented === 'string' && presented !== '' && compareSecrets(presented, session.csrf);
    },
    markSignedIn(session) {
      session.signedInAt = now();
    },
    isRecentSignIn(session, withinMs) {
      return now() - session.signedInAt <= withinMs;
    },
  };
}
