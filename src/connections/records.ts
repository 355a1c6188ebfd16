// Vault record shapes and ids. Fields marked SECRET never leave the server unless a person asked
// for them (get --show-secret, export, the proxy's injected header).

import type { AuthType } from '../providers/schema.js';

export type ConnectionStatus = 'connected' | 'expired' | 'revoked';

export interface ConnectionRecord {
  provider: string;
  connection: string;
  auth_type: AuthType;
  status: ConnectionStatus;
  /** SECRET */
  api_key?: string;
  /** SECRET */
  access_token?: string;
  /** SECRET */
  refresh_token?: string;
  token_type?: string;
  scopes?: string[];
  expires_at?: string;
  obtained_at: string;
  base_url?: string;
  updated_at: string;
}

export interface ProviderState {
  default_connection?: string;
  client_id?: string;
  /** SECRET */
  client_secret?: string;
  /** For a client authsome registered itself (RFC 7591): registered again when the redirect URI changes. */
  registered_redirect_uri?: string;
}

export const SECRET_FIELDS = ['api_key', 'access_token', 'refresh_token', 'client_secret'] as const;
export const REDACTED = '***REDACTED***';

export const CONNECTION_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const DEFAULT_CONNECTION = 'default';

export function buildConnectionId(provider: string, connection: string): string {
  return `connection:${provider}:${connection}`;
}

export function buildProviderStateId(provider: string): string {
  return `provider-state:${provider}`;
}

export function buildConnectionPrefix(provider: string): string {
  return `connection:${provider}:`;
}

export function redactRecord(record: ConnectionRecord): ConnectionRecord {
  const out = { ...record };
  for (const field of SECRET_FIELDS) {
    if (field in out && (out as Record<string, unknown>)[field] !== undefined)
      (out as Record<string, unknown>)[field] = REDACTED;
  }
  return out;
}
