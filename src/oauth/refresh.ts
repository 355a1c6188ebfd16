// Refresh on use: an OAuth access token that expires within 5 minutes is refreshed when it is about to be used
// (proxy, export, get --show-secret), never in the background. One refresh per connection at a time (later callers
// wait for the one in flight); a rotated refresh token is in the vault before the new access token is handed out.
import type { AuditLog } from '../audit.js';
import {
  buildConnectionId,
  buildProviderStateId,
  type ConnectionRecord,
  type ProviderState,
} from '../connections/records.js';
import { errors, isAppError } from '../errors.js';
import type { ProviderRegistry } from '../providers/registry.js';
import type { Vault } from '../vault/vault.js';
import { resolveOAuthEndpoints } from './endpoints.js';
import { refreshAccessToken, type FetchLike, type TokenSet } from './token-client.js';

/** A token that expires within 5 minutes is refreshed before it is used. */
export const REFRESH_WINDOW_MS = 5 * 60_000;
/** After a failed refresh, a token that still works is used without asking the provider again for this long. */
export const RETRY_AFTER_FAILURE_MS = 30_000;
/**
 * A 401 refreshes at most once in this long per connection: the agent picks the requests, and a path that refuses
 * every token would otherwise rotate the grant at the provider (and call its token endpoint) once per request.
 */
export const REFRESH_AFTER_REJECTION_MS = 30_000;

export interface TokenRefresher {
  /** Makes the connection's access token fresh if it needs to be; throws CREDENTIAL_EXPIRED when it cannot be used. */
  refreshIfDue(provider: string, connection: string): Promise<void>;
  /**
   * The provider answered 401 to `rejected`: refresh now, whatever its expiry says, unless the stored token is
   * already another one (a refresh happened meanwhile) or a refresh started less than REFRESH_AFTER_REJECTION_MS ago.
   * One refresh at a time per connection, as above.
   */
  refreshRejected(provider: string, connection: string, rejected: string): Promise<void>;
}

export interface TokenRefresherDeps {
  vault: Vault;
  registry: ProviderRegistry;
  audit: AuditLog;
  fetch: FetchLike;
  now?: () => number;
}

export function createTokenRefresher(deps: TokenRefresherDeps): TokenRefresher {
  const now = deps.now ?? Date.now;
  const inFlight = new Map<string, Promise<void>>();
  /** When a refresh last failed while the token still worked: each request must not send another doomed refresh. */
  const failedAt = new Map<string, number>();
  /** When a refresh last started, whatever its outcome: bounds the refreshes a run of 401s can ask for. */
  const startedAt = new Map<string, number>();

  function isDue(record: ConnectionRecord): boolean {
    if (record.auth_type !== 'oauth2' || record.status === 'revoked' || !record.expires_at) return false;
    return Date.parse(record.expires_at) - now() <= REFRESH_WINDOW_MS;
  }

  async function refresh(record: ConnectionRecord): Promise<void> {
    const { provider, connection } = record;
    const id = buildConnectionId(provider, connection);
    const stillValid = record.expires_at !== undefined && Date.parse(record.expires_at) > now();
    const fail = async (reason: string): Promise<void> => {
      deps.audit.record('refresh_failed', { provider, connection, reason });
      // A token that still works is used as it is; a use after RETRY_AFTER_FAILURE_MS tries the refresh again.
      if (stillValid && record.status === 'connected') {
        failedAt.set(id, now());
        return;
      }
      const current = deps.vault.get<ConnectionRecord>(id);
      if (current && current.status !== 'expired')
        await deps.vault.put(id, { ...current, status: 'expired', updated_at: new Date(now()).toISOString() });
      throw errors.credentialExpired(provider, connection, reason);
    };
    if (!record.refresh_token) return fail('there is no refresh token');
    let tokens: TokenSet;
    try {
      const def = (await deps.registry.get(provider)).definition;
      if (!def.oauth) return fail('the provider no longer uses OAuth 2.0');
      const client = deps.vault.get<ProviderState>(buildProviderStateId(provider));
      if (!client?.client_id) return fail('no OAuth client id is stored');
      const tokenUrl = resolveOAuthEndpoints(def, record.base_url).token_url;
      tokens = await refreshAccessToken(
        { fetch: deps.fetch },
        { provider, displayName: def.display_name, tokenUrl },
        { client_id: client.client_id, ...(client.client_secret ? { client_secret: client.client_secret } : {}) },
        record.refresh_token,
      );
    } catch (err) {
      // Catalogue messages never carry a token; anything else is summed up without its text.
      return fail(isAppError(err) ? err.message : 'the refresh failed');
    }
    const at = new Date(now());
    const next: ConnectionRecord = {
      ...record,
      status: 'connected',
      access_token: tokens.access_token,
      // Rotation (RFC 6749 §6): the new refresh token replaces the old one, which the provider may have revoked.
      ...(tokens.refresh_token ? { refresh_token: tokens.refresh_token } : {}),
      ...(tokens.token_type ? { token_type: tokens.token_type } : {}),
      ...(tokens.scopes ? { scopes: tokens.scopes } : {}),
      updated_at: at.toISOString(),
    };
    if (tokens.expires_in !== undefined)
      next.expires_at = new Date(at.getTime() + tokens.expires_in * 1000).toISOString();
    else delete next.expires_at;
    // Written (and awaited) before anyone is handed the new access token.
    await deps.vault.put(id, next);
    failedAt.delete(id);
    deps.audit.record('refresh', { provider, connection });
  }

  function runOnce(id: string, record: ConnectionRecord): Promise<void> {
    startedAt.set(id, now());
    const job = refresh(record).finally(() => inFlight.delete(id));
    inFlight.set(id, job);
    return job;
  }

  return {
    async refreshRejected(provider, connection, rejected) {
      const id = buildConnectionId(provider, connection);
      const running = inFlight.get(id);
      if (running) return running;
      const record = deps.vault.get<ConnectionRecord>(id);
      if (record?.auth_type !== 'oauth2' || record.access_token !== rejected) return;
      const started = startedAt.get(id);
      if (started !== undefined && now() - started < REFRESH_AFTER_REJECTION_MS) return;
      return runOnce(id, record);
    },
    async refreshIfDue(provider, connection) {
      const id = buildConnectionId(provider, connection);
      const running = inFlight.get(id);
      if (running) return running;
      const record = deps.vault.get<ConnectionRecord>(id);
      if (!record || !isDue(record)) return;
      const failed = failedAt.get(id);
      const stillValid = record.expires_at !== undefined && Date.parse(record.expires_at) > now();
      if (failed !== undefined && stillValid && now() - failed < RETRY_AFTER_FAILURE_MS) return;
      return runOnce(id, record);
    },
  };
}
