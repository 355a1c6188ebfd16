// What the proxy asks for each intercepted request: the header for one connection, read from the vault at
// that moment (so a re-login or logout takes effect at once), an OAuth token near its expiry refreshed first.
// It hands the header over and keeps nothing.
import type { ConnectionService } from '../connections/service.js';
import { errors } from '../errors.js';
import { buildCredentialHeader, type CredentialHeader } from '../providers/headers.js';
import type { ScopeEntry } from '../providers/routes.js';

export function createCredentialSource(
  connections: ConnectionService,
): (entry: ScopeEntry) => Promise<CredentialHeader> {
  return async (entry) => {
    const record = await connections.loadCredentialForUse(entry.provider, entry.connection);
    if (record.status === 'expired' || record.status === 'revoked') {
      throw errors.credentialExpired(entry.provider, entry.connection);
    }
    const secret = record.auth_type === 'oauth2' ? record.access_token : record.api_key;
    if (!secret) throw errors.credentialMissing(entry.provider, entry.connection);
    return buildCredentialHeader(entry.definition, secret);
  };
}

/**
 * The header for an API key connection at once, read from the vault like the source above (nothing kept), so the
 * proxy can send the request in the same turn; undefined whenever the source has something to wait for or an
 * error to give, and the proxy asks the source.
 */
export function createCredentialPeek(
  connections: ConnectionService,
): (entry: ScopeEntry) => CredentialHeader | undefined {
  return (entry) => {
    if (entry.definition.auth_type !== 'api_key') return undefined;
    const record = connections.loadApiKeyNow(entry.provider, entry.connection);
    return record === undefined ? undefined : buildCredentialHeader(entry.definition, record.api_key!);
  };
}

/**
 * After the upstream answered 401 to a request that carried `rejected`: the OAuth connection's token refreshed (once,
 * single-flight), and the new header, or undefined when there is no newer token to try.
 */
export function createCredentialRefresher(
  connections: ConnectionService,
): (entry: ScopeEntry, rejected: CredentialHeader) => Promise<CredentialHeader | undefined> {
  return async (entry, rejected) => {
    if (entry.definition.auth_type !== 'oauth2') return undefined;
    const record = await connections.loadCredentialAfterRejection(entry.provider, entry.connection, rejected.secret);
    if (record.status !== 'connected' || !record.access_token || record.access_token === rejected.secret)
      return undefined;
    return buildCredentialHeader(entry.definition, record.access_token);
  };
}
