// One-time URL tokens: the only way a browser gets in. Each token is random, bound to the one path it
// opens, short-lived, and gone the moment it is redeemed, so a URL left in a terminal or history opens nothing.
import { randomBytes } from 'node:crypto';
import { digestSecret as digest } from '../secret-digest.js';

export interface OneTimeGrant {
  /** The clean path the token opens (the browser is redirected there, without the token). */
  path: string;
  /** Set for the login form's URL: the login session it belongs to. */
  loginSessionId?: string;
  expiresAt: number;
}

export interface OneTimeTokens {
  issue(grant: { path: string; loginSessionId?: string; ttlMs?: number }): { token: string; expiresAt: number };
  /** Consumes the token when it is valid for `path`; a second call with the same token returns undefined. */
  redeem(token: string, path: string): OneTimeGrant | undefined;
}

export const DEFAULT_TOKEN_TTL_MS = 2 * 60_000;
const MAX_OUTSTANDING = 1_000;

export function createOneTimeTokens(options: { ttlMs?: number; now?: () => number } = {}): OneTimeTokens {
  const defaultTtl = options.ttlMs ?? DEFAULT_TOKEN_TTL_MS;
  const now = options.now ?? Date.now;
  const grants = new Map<string, OneTimeGrant>();

  function sweep(): void {
    const t = now();
    for (const [key, grant] of grants) if (grant.expiresAt <= t) grants.delete(key);
    // A runaway client cannot grow the map without bound: the oldest grants go first.
    while (grants.size >= MAX_OUTSTANDING) grants.delete(grants.keys().next().value!);
  }

  return {
    issue({ path, loginSessionId, ttlMs }) {
      sweep();
      const token = randomBytes(32).toString('base64url');
      const expiresAt = now() + (ttlMs ?? defaultTtl);
      grants.set(digest(token), { path, ...(loginSessionId ? { loginSessionId } : {}), expiresAt });
      return { token, expiresAt };
    },
    redeem(token, path) {
      const key = digest(token);
      const grant = grants.get(key);
      if (!grant || grant.path !== path) return undefined;
      grants.delete(key);
      return grant.expiresAt > now() ? grant : undefined;
    },
  };
}
