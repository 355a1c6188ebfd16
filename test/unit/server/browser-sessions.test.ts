// Browser sessions on an injected clock: the idle timeout, the absolute lifetime however busy the session is, and
// the "recent sign-in" a reveal in a key-file vault needs (refreshed by a fresh one-time URL).
import { describe, expect, it } from 'vitest';
import {
  createBrowserSessions,
  DEFAULT_SESSION_ABSOLUTE_MS,
  DEFAULT_SESSION_IDLE_MS,
} from '../../../src/server/browser-sessions.js';

const MINUTE = 60_000;

describe('browser sessions', () => {
  it('end after an idle hour', () => {
    let t = 1_000_000;
    const sessions = createBrowserSessions({ now: () => t });
    expect(DEFAULT_SESSION_IDLE_MS).toBe(60 * MINUTE);
    const { cookieValue } = sessions.create();
    t += 59 * MINUTE;
    expect(sessions.lookup(cookieValue)).toBeDefined();
    t += 60 * MINUTE + 1;
    expect(sessions.lookup(cookieValue)).toBeUndefined();
    expect(sessions.lookup(cookieValue)).toBeUndefined();
  });

  it('end twelve hours after they began, however busy', () => {
    let t = 1_000_000;
    const sessions = createBrowserSessions({ now: () => t });
    expect(DEFAULT_SESSION_ABSOLUTE_MS).toBe(12 * 60 * MINUTE);
    const { cookieValue, session } = sessions.create();
    while (t + 30 * MINUTE < 1_000_000 + DEFAULT_SESSION_ABSOLUTE_MS) {
      t += 30 * MINUTE;
      expect(sessions.lookup(cookieValue), `at ${(t - 1_000_000) / MINUTE} min`).toBe(session);
    }
    sessions.markSignedIn(session); // a fresh sign-in does not stretch the session's lifetime
    t = 1_000_000 + DEFAULT_SESSION_ABSOLUTE_MS;
    expect(sessions.lookup(cookieValue)).toBeUndefined();
  });

  it('know whether they signed in recently; a fresh sign-in refreshes that', () => {
    let t = 5_000_000;
    const sessions = createBrowserSessions({ now: () => t });
    const { session } = sessions.create();
    expect(sessions.isRecentSignIn(session, 5 * MINUTE)).toBe(true);
    t += 5 * MINUTE;
    expect(sessions.isRecentSignIn(session, 5 * MINUTE)).toBe(true);
    t += 1;
    expect(sessions.isRecentSignIn(session, 5 * MINUTE)).toBe(false);
    sessions.markSignedIn(session);
    expect(sessions.isRecentSignIn(session, 5 * MINUTE)).toBe(true);
  });
});
