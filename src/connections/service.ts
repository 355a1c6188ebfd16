// Connections over the vault and the provider registry: login, logout, revoke, remove, get, export, list and
// defaults. No HTTP, no printing; every user-facing failure is an AppError from the catalogue.
import { errors, isAppError } from '../errors.js';
import type { AuditLog } from '../audit.js';
import type { Vault, VaultChange } from '../vault/vault.js';
import type { ProviderEntry, ProviderRegistry, RegistryWarning } from '../providers/registry.js';
import type { ExportSource, ProviderDefinition } from '../providers/schema.js';
import { buildEnvPrefix } from '../providers/schema.js';
import {
  buildConnectionId,
  buildConnectionPrefix,
  buildProviderStateId,
  CONNECTION_NAME_RE,
  DEFAULT_CONNECTION,
  redactRecord,
  SECRET_FIELDS,
  type ConnectionRecord,
  type ProviderState,
} from './records.js';
import { digestSecretValue } from './secret-digests.js';

export interface LoginResult {
  provider: string;
  connection: string;
  display_name: string;
  /** false when the connection existed and `force` was not given: nothing was changed. */
  stored: boolean;
}

export interface ConnectionSummary {
  connection: string;
  status: ConnectionRecord['status'];
  is_default: boolean;
  obtained_at: string;
  expires_at?: string;
  /** OAuth: the scopes granted (not secret). */
  scopes?: string[];
}

export interface ProviderRow {
  name: string;
  display_name: string;
  source: ProviderEntry['source'];
  auth_type: ProviderDefinition['auth_type'];
  flow: ProviderDefinition['flow'];
  connections: ConnectionSummary[];
}

export interface ExportVariable {
  name: string;
  /** SECRET */
  value: string;
  provider: string;
  connection: string;
}

/** Tokens from a finished OAuth flow, already validated (oauth/token-client.ts). */
export interface OAuthTokens {
  /** SECRET */
  access_token: string;
  /** SECRET */
  refresh_token?: string;
  token_type?: string;
  expires_in?: number;
  scopes?: string[];
}

export interface OAuthClient {
  client_id: string;
  /** SECRET */
  client_secret?: string;
  /** Set for a client authsome registered itself (dcr_pkce): the redirect URI it was registered with. */
  registered_redirect_uri?: string;
}

export interface ConnectionService {
  resolveConnectionName(provider: string, connection?: string): string;
  validateApiKey(definition: ProviderDefinition, input: string): string;
  loginWithApiKey(input: {
    provider: string;
    connection?: string;
    apiKey: string;
    force?: boolean;
  }): Promise<LoginResult>;
  /** Whether the connection already exists (the CLI asks before prompting for a key). */
  describeLogin(
    provider: string,
    connection?: string,
  ): Promise<{ entry: ProviderEntry; connection: string; exists: boolean }>;
  /** Stores the tokens of a finished OAuth login as the connection (replacing it only with `force`). */
  loginWithTokens(input: {
    provider: string;
    connection: string;
    force: boolean;
    tokens: OAuthTokens;
    requestedScopes: string[];
    baseUrl?: string;
    flow: string;
  }): Promise<LoginResult>;
  /** The OAuth client a person entered (or registered) once for the provider; every later login reuses it. */
  loadOAuthClient(provider: string): OAuthClient | undefined;
  saveOAuthClient(provider: string, client: OAuthClient): Promise<void>;
  /** `warnings`: what remote revocation could not do (the local state is removed all the same). */
  logout(provider: string, connection?: string): Promise<{ provider: string; connection: string; warnings: string[] }>;
  revoke(provider: string): Promise<{ provider: string; removed: string[]; warnings: string[] }>;
  remove(
    provider: string,
  ): Promise<{ provider: string; removed: string[]; definitionDeleted: boolean; warnings: string[] }>;
  get(provider: string, connection: string | undefined, options: { reveal: boolean }): Promise<ConnectionRecord>;
  exportVariables(input: { provider?: string; connection?: string }): Promise<ExportVariable[]>;
  list(): Promise<{ rows: ProviderRow[]; warnings: RegistryWarning[] }>;
  setDefault(provider: string, connection: string): Promise<void>;
  connectionsOf(provider: string): ConnectionSummary[];
  /** The credential a connection holds (for the proxy): api_key or access_token. */
  loadCredential(provider: string, connection: string): ConnectionRecord;
  /** The same, about to be used: an OAuth token near its expiry is refreshed first. */
  loadCredentialForUse(provider: string, connection: string): Promise<ConnectionRecord>;
  /**
   * The same without waiting, when nothing has to happen first: a connected API key in an unlocked vault. Undefined
   * otherwise (an OAuth token may be due for a refresh, a damaged vault may have been restored, a locked vault or a
   * missing record has its error to give), and loadCredentialForUse decides.
   */
  loadApiKeyNow(provider: string, connection: string): Readonly<ConnectionRecord> | undefined;
  /** After the provider refused `rejected` (401): the connection as it is once a refresh was tried. */
  loadCredentialAfterRejection(provider: string, connection: string, rejected: string): Promise<ConnectionRecord>;
  /** Keyed digests of every stored secret (all providers, all connections), for `run` to scrub its environment. */
  digestStoredSecrets(salt: string): string[];
}

export interface ConnectionServiceDeps {
  vault: Vault;
  registry: ProviderRegistry;
  audit: AuditLog;
  now?: () => Date;
  /**
   * Refreshes an OAuth token that is about to be used (oauth/refresh.ts, wired by the composition root); throws
   * CREDENTIAL_EXPIRED when the token can no longer be used. Without it tokens are handed out as stored.
   */
  refreshBeforeUse?: (provider: string, connection: string) => Promise<void>;
  /** The provider refused `rejected` (a 401): refresh it if it is still the stored token. */
  refreshRejected?: (provider: string, connection: string, rejected: string) => Promise<void>;
  /**
   * Revokes an OAuth connection's tokens at the provider before it is deleted (oauth/revoke.ts); returns warnings.
   * A failure never keeps the local state.
   */
  revokeRemotely?: (record: ConnectionRecord) => Promise<string[]>;
}

export function createConnectionService(deps: ConnectionServiceDeps): ConnectionService {
  const { vault, registry, audit } = deps;
  const now = deps.now ?? (() => new Date());
  const refreshBeforeUse = deps.refreshBeforeUse ?? (async () => {});
  const refreshRejected = deps.refreshRejected ?? (async () => {});
  const revokeRemotely = deps.revokeRemotely ?? (async () => []);

  /** Remote revocation of the given connections, one after the other; the warnings of all of them. */
  async function revokeAll(provider: string, names: string[]): Promise<string[]> {
    const warnings: string[] = [];
    for (const name of names) {
      const record = vault.get<ConnectionRecord>(buildConnectionId(provider, name));
      if (record) warnings.push(...(await revokeRemotely(record)));
    }
    return warnings;
  }

  function loadState(provider: string): ProviderState {
    return vault.get<ProviderState>(buildProviderStateId(provider)) ?? {};
  }

  function loadRecords(provider: string): ConnectionRecord[] {
    return vault
      .list(buildConnectionPrefix(provider))
      .map((id) => vault.get<ConnectionRecord>(id))
      .filter((r): r is ConnectionRecord => r !== undefined);
  }

  function checkConnectionName(connection: string): string {
    if (!CONNECTION_NAME_RE.test(connection)) throw errors.invalidName('connection', connection);
    return connection;
  }

  function resolveConnectionName(provider: string, connection?: string): string {
    if (connection !== undefined && connection !== '') return checkConnectionName(connection);
    const state = loadState(provider);
    if (state.default_connection && vault.get(buildConnectionId(provider, state.default_connection))) {
      return state.default_connection;
    }
    const records = loadRecords(provider);
    return records.length > 0 ? pickOldest(records).connection : DEFAULT_CONNECTION;
  }

  function summarize(provider: string): ConnectionSummary[] {
    const records = loadRecords(provider);
    const def = records.length > 0 ? resolveConnectionName(provider) : undefined;
    return records
      .map((r) => ({
        connection: r.connection,
        status: r.status,
        is_default: r.connection === def,
        obtained_at: r.obtained_at,
        ...(r.expires_at ? { expires_at: r.expires_at } : {}),
        ...(r.scopes ? { scopes: r.scopes } : {}),
      }))
      .sort((a, b) => Number(b.is_default) - Number(a.is_default) || compareText(a.connection, b.connection));
  }

  function requireRecord(provider: string, connection: string): ConnectionRecord {
    const record = vault.get<ConnectionRecord>(buildConnectionId(provider, connection));
    if (!record)
      throw loadRecords(provider).length === 0
        ? errors.noConnection(provider)
        : errors.connectionNotFound(provider, connection);
    return record;
  }

  /** Deleting connections: the default moves to the oldest remaining one, or is cleared. */
  function buildRemoval(provider: string, names: string[]): VaultChange[] {
    const changes: VaultChange[] = names.map((c) => ({ id: buildConnectionId(provider, c), delete: true as const }));
    const remaining = loadRecords(provider).filter((r) => !names.includes(r.connection));
    const state = loadState(provider);
    if (state.default_connection && names.includes(state.default_connection)) {
      const next = { ...state };
      if (remaining.length > 0) next.default_connection = pickOldest(remaining).connection;
      else delete next.default_connection;
      // An empty state is no state: revoke and remove then leave the same vault for API-key providers.
      if (Object.keys(next).length === 0) changes.push({ id: buildProviderStateId(provider), delete: true });
      else changes.push({ id: buildProviderStateId(provider), value: next });
    }
    return changes;
  }

  const service: ConnectionService = {
    resolveConnectionName,

    validateApiKey(definition, input) {
      // Leading/trailing whitespace is pasted by accident; inner whitespace never belongs to a key.
      const key = input.trim();
      const spec = definition.api_key;
      if (key === '') throw errors.emptyKey(definition.display_name, definition.docs_url);
      if (definition.keyPattern && !definition.keyPattern.test(key)) {
        throw errors.invalidKey(definition.display_name, spec?.key_pattern_hint, spec?.key_pattern);
      }
      if (/[\s\u0000-\u001f\u007f]/.test(key)) {
        throw errors.invalidKey(
          definition.display_name,
          spec?.key_pattern_hint ?? 'An API key never contains spaces, tabs or line breaks: paste the key alone.',
          undefined,
        );
      }
      return key;
    },

    async describeLogin(provider, connection) {
      const entry = await registry.get(provider);
      const name = resolveConnectionName(provider, connection);
      return { entry, connection: name, exists: vault.get(buildConnectionId(provider, name)) !== undefined };
    },

    async loginWithApiKey({ provider, connection, apiKey, force }) {
      const entry = await registry.get(provider);
      const def = entry.definition;
      if (def.auth_type !== 'api_key') {
        throw errors.invalidInput(
          `${def.display_name} uses OAuth 2.0, not an API key.`,
          `Run 'authsome login ${provider}' without --stdin to sign in through the browser.`,
        );
      }
      const name = resolveConnectionName(provider, connection);
      const id = buildConnectionId(provider, name);
      const existing = vault.get<ConnectionRecord>(id);
      if (existing && !force) return { provider, connection: name, display_name: def.display_name, stored: false };
      const key = service.validateApiKey(def, apiKey);
      const at = now().toISOString();
      const record: ConnectionRecord = {
        provider,
        connection: name,
        auth_type: 'api_key',
        status: 'connected',
        api_key: key,
        obtained_at: at,
        updated_at: at,
      };
      const changes: VaultChange[] = [{ id, value: record }];
      const state = loadState(provider);
      if (!state.default_connection || !vault.get(buildConnectionId(provider, state.default_connection))) {
        changes.push({ id: buildProviderStateId(provider), value: { ...state, default_connection: name } });
      }
      await vault.apply(changes);
      audit.record('login', { provider, connection: name, ...(existing ? { reason: 'replaced' } : {}) });
      return { provider, connection: name, display_name: def.display_name, stored: true };
    },

    async loginWithTokens({ provider, connection, force, tokens, requestedScopes, baseUrl, flow }) {
      const def = (await registry.get(provider)).definition;
      const name = checkConnectionName(connection);
      const id = buildConnectionId(provider, name);
      const existing = vault.get<ConnectionRecord>(id);
      // A connection made meanwhile (another login finished first) is not overwritten without --force.
      if (existing && !force) return { provider, connection: name, display_name: def.display_name, stored: false };
      const at = now();
      const record: ConnectionRecord = {
        provider,
        connection: name,
        auth_type: 'oauth2',
        status: 'connected',
        access_token: tokens.access_token,
        ...(tokens.refresh_token ? { refresh_token: tokens.refresh_token } : {}),
        token_type: tokens.token_type ?? 'Bearer',
        scopes: tokens.scopes ?? requestedScopes,
        ...(tokens.expires_in !== undefined
          ? { expires_at: new Date(at.getTime() + tokens.expires_in * 1000).toISOString() }
          : {}),
        obtained_at: at.toISOString(),
        ...(baseUrl ? { base_url: baseUrl } : {}),
        updated_at: at.toISOString(),
      };
      const changes: VaultChange[] = [{ id, value: record }];
      const state = loadState(provider);
      if (!state.default_connection || !vault.get(buildConnectionId(provider, state.default_connection))) {
        changes.push({ id: buildProviderStateId(provider), value: { ...state, default_connection: name } });
      }
      await vault.apply(changes);
      audit.record('login', { provider, connection: name, reason: `oauth ${flow}${existing ? ', replaced' : ''}` });
      return { provider, connection: name, display_name: def.display_name, stored: true };
    },

    loadOAuthClient(provider) {
      const state = loadState(provider);
      if (!state.client_id) return undefined;
      return {
        client_id: state.client_id,
        ...(state.client_secret ? { client_secret: state.client_secret } : {}),
        ...(state.registered_redirect_uri ? { registered_redirect_uri: state.registered_redirect_uri } : {}),
      };
    },

    async saveOAuthClient(provider, client) {
      const next: ProviderState = { ...loadState(provider), client_id: client.client_id };
      if (client.client_secret) next.client_secret = client.client_secret;
      else delete next.client_secret;
      if (client.registered_redirect_uri) next.registered_redirect_uri = client.registered_redirect_uri;
      else delete next.registered_redirect_uri;
      await vault.put(buildProviderStateId(provider), next);
    },

    async logout(provider, connection) {
      await registry.get(provider);
      const name = resolveConnectionName(provider, connection);
      requireRecord(provider, name);
      const warnings = await revokeAll(provider, [name]);
      await vault.apply(buildRemoval(provider, [name]));
      audit.record('logout', {
        provider,
        connection: name,
        ...(warnings.length > 0 ? { reason: 'remote revocation failed' } : {}),
      });
      return { provider, connection: name, warnings };
    },

    async revoke(provider) {
      await registry.get(provider);
      const names = loadRecords(provider).map((r) => r.connection);
      const warnings = await revokeAll(provider, names);
      // The provider state stays (minus the default): an OAuth client id entered once is reused by later logins.
      await vault.apply(buildRemoval(provider, names));
      audit.record('revoke', {
        provider,
        reason: `${names.length} connection(s)${warnings.length > 0 ? ', remote revocation failed' : ''}`,
      });
      return { provider, removed: names, warnings };
    },

    async remove(provider) {
      const custom = registry.customPath(provider);
      try {
        await registry.get(provider);
      } catch (err) {
        // A broken custom file must still be removable: that is how a person gets rid of it.
        if (!(isAppError(err) && err.code === 'INVALID_PROVIDER_FILE')) throw err;
      }
      // Its connections go too, also when the file broke after they were made (no orphaned secrets).
      const names = loadRecords(provider).map((r) => r.connection);
      // Revoked while the client (in the provider state) is still there to authenticate the revocation.
      const warnings = await revokeAll(provider, names);
      const changes = buildRemoval(provider, names);
      changes.push({ id: buildProviderStateId(provider), delete: true });
      await vault.apply(changes);
      const definitionDeleted = await registry.deleteCustom(provider);
      audit.record('remove', { provider, reason: definitionDeleted ? `definition deleted: ${custom}` : undefined });
      return { provider, removed: names, definitionDeleted, warnings };
    },

    async get(provider, connection, { reveal }) {
      await registry.get(provider);
      const name = resolveConnectionName(provider, connection);
      const record = requireRecord(provider, name);
      if (!reveal) return redactRecord(record);
      await refreshBeforeUse(provider, name);
      audit.record('reveal', { provider, connection: name });
      return requireRecord(provider, name);
    },

    async exportVariables({ provider, connection }) {
      const targets: { entry: ProviderEntry; connection: string }[] = [];
      if (provider) {
        const entry = await registry.get(provider);
        const name = resolveConnectionName(provider, connection);
        requireRecord(provider, name);
        targets.push({ entry, connection: name });
      } else {
        const { entries } = await registry.list();
        for (const entry of entries) {
          for (const summary of summarize(entry.definition.name))
            targets.push({ entry, connection: summary.connection });
        }
      }
      const out: ExportVariable[] = [];
      const taken = new Set<string>();
      for (const { entry, connection: name } of targets) {
        const def = entry.definition;
        await refreshBeforeUse(def.name, name);
        const record = requireRecord(def.name, name);
        for (const variable of def.exports) {
          const value = readExportValue(def, record, variable.source);
          if (value === undefined) continue;
          const envName = claimExportName(taken, variable.env, def.name, name);
          out.push({ name: envName, value, provider: def.name, connection: name });
        }
        audit.record('export', { provider: def.name, connection: name });
      }
      return out;
    },

    async list() {
      const { entries, warnings } = await registry.list();
      const rows = entries.map((entry) => ({
        name: entry.definition.name,
        display_name: entry.definition.display_name,
        source: entry.source,
        auth_type: entry.definition.auth_type,
        flow: entry.definition.flow,
        connections: summarize(entry.definition.name),
      }));
      return { rows, warnings };
    },

    digestStoredSecrets(salt) {
      const digests = new Set<string>();
      for (const id of [...vault.list('connection:'), ...vault.list('provider-state:')]) {
        const record = vault.get<Record<string, unknown>>(id) ?? {};
        for (const field of SECRET_FIELDS) {
          const value = record[field];
          if (typeof value === 'string' && value !== '') digests.add(digestSecretValue(salt, value));
        }
      }
      return [...digests];
    },

    async setDefault(provider, connection) {
      await registry.get(provider);
      requireRecord(provider, checkConnectionName(connection));
      await vault.put(buildProviderStateId(provider), { ...loadState(provider), default_connection: connection });
      audit.record('set_default', { provider, connection });
    },

    connectionsOf: summarize,

    loadCredential(provider, connection) {
      return requireRecord(provider, connection);
    },

    async loadCredentialForUse(provider, connection) {
      requireRecord(provider, connection);
      await refreshBeforeUse(provider, connection);
      return requireRecord(provider, connection);
    },

    loadApiKeyNow(provider, connection) {
      if (vault.status().state !== 'unlocked') return undefined;
      const record = vault.view<ConnectionRecord>(buildConnectionId(provider, connection));
      return record?.auth_type === 'api_key' && record.status === 'connected' && record.api_key ? record : undefined;
    },

    async loadCredentialAfterRejection(provider, connection, rejected) {
      requireRecord(provider, connection);
      await refreshRejected(provider, connection, rejected);
      return requireRecord(provider, connection);
    },
  };
  return service;
}

/** Plain code-unit order: the same on every machine, whatever its locale. */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function pickOldest(records: ConnectionRecord[]): ConnectionRecord {
  return [...records].sort(
    (a, b) => a.obtained_at.localeCompare(b.obtained_at) || compareText(a.connection, b.connection),
  )[0]!;
}

function readExportValue(def: ProviderDefinition, record: ConnectionRecord, source: ExportSource): string | undefined {
  switch (source) {
    case 'api_key':
      return record.api_key ?? record.access_token;
    case 'access_token':
      return record.access_token ?? record.api_key;
    case 'refresh_token':
      return record.refresh_token;
    case 'base_url':
      return record.base_url ?? def.oauth?.base_url;
    case 'api_url': {
      const host = def.matchers.find((m) => m.kind === 'host');
      return host && host.kind === 'host'
        ? `https://${host.host}${host.port ? `:${host.port}` : ''}${host.pathPrefix}`
        : undefined;
    }
  }
}

/**
 * The name a variable is exported under: its own, or for a later one that clashes with a name already taken,
 * `<NAME>_<PROVIDER>_<CONNECTION>` (upper case, non-alphanumerics as '_'). Records the name it returns in `taken`.
 */
export function claimExportName(taken: Set<string>, env: string, provider: string, connection: string): string {
  const name = taken.has(env) ? `${env}_${buildEnvPrefix(provider)}_${buildEnvPrefix(connection)}` : env;
  taken.add(name);
  return name;
}
