// Token revocation (RFC 7009) when a connection is logged out or revoked: the refresh token first (at most
// providers that ends the whole grant), then the access token. A failure is a warning for the person, never a
// reason to keep the local state: the caller removes it anyway.
import type { ConnectionRecord, ProviderState } from '../connections/records.js';
import { buildProviderStateId } from '../connections/records.js';
import { isAppError } from '../errors.js';
import type { ProviderRegistry } from '../providers/registry.js';
import type { Vault } from '../vault/vault.js';
import { resolveOAuthEndpoints } from './endpoints.js';
import { cleanText, postToEndpoint, type FetchLike } from './token-client.js';

export interface TokenRevokerDeps {
  vault: Vault;
  registry: ProviderRegistry;
  fetch: FetchLike;
}

/** Revokes the connection's tokens where the definition has a revocation URL; returns warnings (never a token). */
export type RevokeRemotely = (record: ConnectionRecord) => Promise<string[]>;

export function createTokenRevoker(deps: TokenRevokerDeps): RevokeRemotely {
  return async (record) => {
    if (record.auth_type !== 'oauth2') return [];
    const tokens = [
      ...(record.refresh_token ? [{ token: record.refresh_token, hint: 'refresh_token' }] : []),
      ...(record.access_token ? [{ token: record.access_token, hint: 'access_token' }] : []),
    ];
    if (tokens.length === 0) return [];
    let displayName = record.provider;
    try {
      const def = (await deps.registry.get(record.provider)).definition;
      displayName = def.display_name;
      if (!def.oauth?.revocation_url) return [];
      const url = resolveOAuthEndpoints(def, record.base_url).revocation_url!;
      const client = deps.vault.get<ProviderState>(buildProviderStateId(record.provider));
      if (!client?.client_id) return [buildWarning(displayName, 'no OAuth client id is stored')];
      const credentials = {
        client_id: client.client_id,
        ...(client.client_secret ? { client_secret: client.client_secret } : {}),
      };
      const warnings: string[] = [];
      for (const { token, hint } of tokens) {
        const res = await postToEndpoint(
          { fetch: deps.fetch },
          { provider: def.name, displayName, tokenUrl: url },
          credentials,
          { token, token_type_hint: hint },
        );
        // RFC 7009 §2.2: 200 also for a token that was invalid already; anything else means it may still work.
        if (res.status !== 200)
          warnings.push(
            buildWarning(
              displayName,
              `the ${hint.replace('_', ' ')} was answered with HTTP ${res.status}${describeOAuthError(res.text)}`,
            ),
          );
      }
      return warnings;
    } catch (err) {
      return [
        buildWarning(
          displayName,
          isAppError(err)
            ? err.message.replace(/; nothing was stored\.$/, '').replace(/\.$/, '')
            : 'the request failed',
        ),
      ];
    }
  };
}

function buildWarning(displayName: string, reason: string): string {
  return (
    `Could not revoke the tokens at ${displayName} (${reason}); they were deleted from authsome anyway, and ` +
    `may stay valid at ${displayName} until they expire or you revoke the app's access there.`
  );
}

function describeOAuthError(text: string): string {
  try {
    const body = JSON.parse(text) as { error?: unknown };
    return typeof body.error === 'string' ? ` (${cleanText(body.error)})` : '';
  } catch {
    return '';
  }
}
