// Authorizations sent to a provider and not yet answered, keyed by the digest of their `state` (so the map never
// holds a usable state). Each is taken once: a callback replayed, or hit twice, finds nothing. In memory only.
import { digestSecret } from '../secret-digest.js';
import { createState } from './pkce.js';
import type { ClientCredentials } from './token-client.js';

export interface PendingAuthorization {
  provider: string;
  connection: string;
  force: boolean;
  client: ClientCredentials;
  /** SECRET until the exchange. */
  verifier: string;
  redirectUri: string;
  scopes: string[];
  baseUrl?: string;
  tokenUrl: string;
  /** The login session waiting for this authorization (the CLI, or a page). */
  loginSessionId: string;
  expiresAt: number;
}

export interface PendingAuthorizations {
  /** Stores the authorization under a fresh `state` and returns that state. */
  add(entry: PendingAuthorization): string;
  /** The authorization, removed; undefined when the state is unknown, used or past its deadline. */
  take(state: string): PendingAuthorization | undefined;
  /** Forgets every authorization of a login session (cancelled or expired). */
  dropSession(loginSessionId: string): void;
}

const MAX_PENDING = 500;

export function createPendingAuthorizations(options: { now?: () => number } = {}): PendingAuthorizations {
  const now = options.now ?? Date.now;
  const byDigest = new Map<string, PendingAuthorization>();
  const sweep = () => {
    const t = now();
    for (const [key, entry] of byDigest) if (entry.expiresAt <= t) byDigest.delete(key);
    while (byDigest.size >= MAX_PENDING) byDigest.delete(byDigest.keys().next().value!);
  };
  return {
    add(entry) {
      sweep();
      const state = createState();
      byDigest.set(digestSecret(state), entry);
      return state;
    },
    take(state) {
      const key = digestSecret(state);
      const entry = byDigest.get(key);
      byDigest.delete(key);
      return entry && entry.expiresAt > now() ? entry : undefined;
    },
    dropSession(loginSessionId) {
      for (const [key, entry] of byDigest) if (entry.loginSessionId === loginSessionId) byDigest.delete(key);
    },
  };
}
