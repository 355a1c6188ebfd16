// The web adapter's own state, shared by the pages and the /api routes that hand out URLs: browser sessions,
// one-time tokens, login sessions, the unlock throttle and the audit revision the activity page polls. Built once per
// app.
import type { ServerDeps } from './deps.js';
import { createBrowserSessions, type BrowserSession, type BrowserSessions } from './browser-sessions.js';
import { buildPageOrigin } from './page-host.js';
import { createLoginSessions, DEFAULT_LOGIN_TTL_MS, type LoginSessions } from './login-sessions.js';
import { createOneTimeTokens, DEFAULT_TOKEN_TTL_MS, type OneTimeTokens } from './one-time-tokens.js';
import { createUnlockThrottle, type UnlockThrottle } from './unlock-throttle.js';

/** Lifetimes (tests shorten them; the defaults are the product's). */
export interface WebOptions {
  /** One-time dashboard URL (`authsome ui`). Default 2 minutes. */
  tokenTtlMs?: number;
  /** A login session and its one-time URL. Default 5 minutes. */
  loginTtlMs?: number;
  /** A browser session without any request. Default 1 hour. */
  sessionIdleMs?: number;
  /** A browser session in all, however busy. Default 12 hours. */
  sessionAbsoluteMs?: number;
  /** The clock of browser sessions and of the pause after wrong passphrases (tests move it instead of waiting). */
  now?: () => number;
  /** Called when the CLI's long-poll on a login session parks (tests wait on it, never on a sleep). */
  onLoginParked?: (id: string) => void;
}

/** Revealing a key in a key-file vault needs a sign-in through a one-time URL this recent ("sudo mode"). */
export const RECENT_SIGN_IN_MS = 5 * 60_000;

export interface WebState {
  sessions: BrowserSessions;
  tokens: OneTimeTokens;
  logins: LoginSessions;
  loginTtlMs: number;
  /** One count of wrong passphrases for the /unlock page and the /api unlock. */
  unlockThrottle: UnlockThrottle;
  /** Per port: two authsome servers on one machine (other homes) never share a cookie. */
  cookieName(): string;
  /** Where the pages are served, http://authsome.localhost:<port> on loopback; one-time URLs point there. */
  pageOrigin(): string;
  /** Grows by one with every audit entry; the activity page asks "anything since N?". */
  auditRevision(): number;
  close(): void;
}

export function createWebState(deps: ServerDeps, options: WebOptions = {}): WebState {
  const loginTtlMs = options.loginTtlMs ?? DEFAULT_LOGIN_TTL_MS;
  const logins = createLoginSessions({ ttlMs: loginTtlMs, now: options.now, onParked: options.onLoginParked });
  let revision = 0;
  const unsubscribe = deps.audit.subscribe(() => {
    revision++;
  });
  return {
    sessions: createBrowserSessions({
      idleMs: options.sessionIdleMs,
      absoluteMs: options.sessionAbsoluteMs,
      now: options.now,
    }),
    tokens: createOneTimeTokens({ ttlMs: options.tokenTtlMs ?? DEFAULT_TOKEN_TTL_MS, now: options.now }),
    logins,
    loginTtlMs,
    unlockThrottle: createUnlockThrottle(options.now),
    cookieName: () => `authsome_session_${deps.info().port}`,
    pageOrigin: () => buildPageOrigin(deps.info().url),
    auditRevision: () => revision,
    close() {
      unsubscribe();
      logins.close();
    },
  };
}

/** Hono environment of the page routes: the browser session, set by the session guard. */
export type WebEnv = { Variables: { session: BrowserSession } };
