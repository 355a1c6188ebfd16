// In-memory login sessions: one per `authsome login` waiting for the browser form, or per
// "connect another" started from a page. Pending → completed | cancelled | expired, once; waiters are woken on
// every change. Ended sessions are kept a while so a reused link can still name its provider.
import { randomBytes } from 'node:crypto';
import type { AppError } from '../errors.js';
import type { Flow } from '../providers/schema.js';

export type LoginSessionState = 'pending' | 'completed' | 'cancelled' | 'expired' | 'failed';

/** What an OAuth login asked for on the command line (or the page): flow, scopes, base URL. */
export interface OAuthLoginOptions {
  flow: Exclude<Flow, 'api_key'>;
  scopes?: string[];
  baseUrl?: string;
}

export interface LoginSession {
  id: string;
  provider: string;
  connection: string;
  force: boolean;
  /** Who started it: the CLI waits for it; a page-started one sends the person back to the provider page. */
  origin: 'cli' | 'web';
  /**
   * "Replace key" on a provider page: the connection existed when it started, and its old key stays until this one is
   * stored.
   */
  replace: boolean;
  state: LoginSessionState;
  createdAt: number;
  expiresAt: number;
  /** The browser session (its key) that submitted the form: only it is shown the success page. */
  completedBy?: string;
  /** Set for an OAuth provider. */
  oauth?: OAuthLoginOptions;
  /** A device login under way (RFC 8628): what the person types, and where. */
  device?: { user_code: string; verification_uri: string; verification_uri_complete?: string };
  /** Why a `failed` session failed (the catalogue's error, shown by the waiting CLI). */
  error?: AppError;
}

export interface LoginSessions {
  create(input: {
    provider: string;
    connection: string;
    force: boolean;
    origin: LoginSession['origin'];
    replace?: boolean;
    oauth?: OAuthLoginOptions;
  }): LoginSession;
  /** The session, with a pending one past its deadline turned into `expired`. */
  get(id: string): LoginSession | undefined;
  complete(id: string, browserSessionKey: string): void;
  cancel(id: string): LoginSession | undefined;
  /** Ends a pending session with the error that stopped it (an OAuth answer refused, a token endpoint down…). */
  fail(id: string, error: AppError): void;
  /** Resolves when the session leaves `pending`, or after `timeoutMs` (long-poll of the CLI). */
  waitForEnd(id: string, timeoutMs: number): Promise<LoginSession | undefined>;
  close(): void;
}

/** `completedBy` of a session whose key came from the terminal (browser session keys are 43-character hashes). */
export const TERMINAL_SUBMITTER = 'terminal';
/** `completedBy` of a session an OAuth provider's answer completed (the redirect carries no browser session). */
export const OAUTH_SUBMITTER = 'oauth';

/** the CLI waits up to 5 minutes for the form. */
export const DEFAULT_LOGIN_TTL_MS = 5 * 60_000;
const KEEP_ENDED_MS = 30 * 60_000;
const MAX_SESSIONS = 500;

export interface LoginSessionsOptions {
  ttlMs?: number;
  now?: () => number;
  /** Called when a long-poll parks on a pending session: tests wait on this event instead of on time. */
  onParked?: (id: string) => void;
}

export function createLoginSessions(options: LoginSessionsOptions = {}): LoginSessions {
  const ttlMs = options.ttlMs ?? DEFAULT_LOGIN_TTL_MS;
  const now = options.now ?? Date.now;
  const sessions = new Map<string, LoginSession>();
  const waiters = new Map<string, Set<() => void>>();
  const timers = new Map<string, NodeJS.Timeout>();

  function notify(id: string): void {
    for (const wake of waiters.get(id) ?? []) wake();
    waiters.delete(id);
    clearTimeout(timers.get(id));
    timers.delete(id);
  }

  function end(session: LoginSession, state: Exclude<LoginSessionState, 'pending'>): void {
    if (session.state !== 'pending') return;
    session.state = state;
    notify(session.id);
  }

  function refresh(session: LoginSession): LoginSession {
    if (session.state === 'pending' && now() >= session.expiresAt) end(session, 'expired');
    return session;
  }

  function sweep(): void {
    const t = now();
    for (const [id, s] of sessions) {
      refresh(s);
      if (s.state !== 'pending' && t - s.expiresAt > KEEP_ENDED_MS) sessions.delete(id);
    }
    while (sessions.size >= MAX_SESSIONS) {
      const oldest = sessions.values().next().value!;
      end(oldest, 'expired');
      sessions.delete(oldest.id);
    }
  }

  return {
    create({ provider, connection, force, origin, replace = false, oauth }) {
      sweep();
      const t = now();
      const session: LoginSession = {
        id: randomBytes(16).toString('base64url'),
        provider,
        connection,
        force,
        origin,
        replace,
        ...(oauth ? { oauth } : {}),
        state: 'pending',
        createdAt: t,
        expiresAt: t + ttlMs,
      };
      sessions.set(session.id, session);
      // Wakes waiters at the deadline even when nobody looks at the session again.
      const timer = setTimeout(() => refresh(session), ttlMs + 5);
      timer.unref();
      timers.set(session.id, timer);
      return session;
    },
    get(id) {
      const session = sessions.get(id);
      return session ? refresh(session) : undefined;
    },
    complete(id, browserSessionKey) {
      const session = sessions.get(id);
      if (!session || refresh(session).state !== 'pending') return;
      session.completedBy = browserSessionKey;
      end(session, 'completed');
    },
    cancel(id) {
      const session = sessions.get(id);
      if (session) end(refresh(session), 'cancelled');
      return session;
    },
    fail(id, error) {
      const session = sessions.get(id);
      if (!session || refresh(session).state !== 'pending') return;
      session.error = error;
      end(session, 'failed');
    },
    waitForEnd(id, timeoutMs) {
      const session = sessions.get(id);
      if (!session || refresh(session).state !== 'pending') return Promise.resolve(session);
      return new Promise((resolve) => {
        const set = waiters.get(id) ?? new Set<() => void>();
        const wake = () => {
          clearTimeout(timer);
          set.delete(wake);
          resolve(sessions.get(id));
        };
        const timer = setTimeout(wake, Math.max(0, timeoutMs));
        timer.unref();
        set.add(wake);
        waiters.set(id, set);
        options.onParked?.(id);
      });
    },
    close() {
      for (const id of [...waiters.keys()]) notify(id);
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
    },
  };
}
