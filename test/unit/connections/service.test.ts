// The connection service over a real vault (cheap KDF), the real bundled registry and a real audit log, all in
// a temp home: key validation, login/logout/revoke/remove, defaults, redaction, export order and renaming.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createAuditLog, type AuditLog } from '../../../src/audit.js';
import { packagePaths } from '../../../src/paths.js';
import { createProviderRegistry, type ProviderRegistry } from '../../../src/providers/registry.js';
import { createVault, type Vault } from '../../../src/vault/vault.js';
import { claimExportName, createConnectionService, type ConnectionService } from '../../../src/connections/service.js';
import { findSecretVariables } from '../../../src/connections/secret-digests.js';
import type { ConnectionRecord, ProviderState } from '../../../src/connections/records.js';
import type { ProviderDefinition } from '../../../src/providers/schema.js';
import { makeTempDir, type TempDir } from '../../helpers/temp-dir.js';
import { rejected, caught } from '../../helpers/app-errors.js';

const OPENAI_CANARY = 'sk-CANARYopenai0123456789abcdefXYZ';
const OPENAI_TEAM = 'sk-teamkey_0123456789abcdefghij';
const ANTHROPIC_KEY = 'sk-ant-CANARYanthropic0123456789';
const GH_PAT = `ghp_${'C'.repeat(6)}${'a1'.repeat(15)}`;
const OPENAI_MESSAGE = 'This does not look like a valid OpenAI API key.';
const OPENAI_HINT = "OpenAI API keys start with 'sk-' followed by at least 20 letters, digits, '_' or '-'.";

let tmp: TempDir;
let vault: Vault;
let registry: ProviderRegistry;
let audit: AuditLog;
let service: ConnectionService;
let auditPath: string;
let customDir: string;
let clock: number;

beforeEach(async () => {
  tmp = await makeTempDir('connections');
  customDir = join(tmp.path, 'providers');
  mkdirSync(customDir);
  auditPath = join(tmp.path, 'audit.log');
  vault = createVault({
    paths: {
      vault: join(tmp.path, 'vault.json'),
      vaultBackup: join(tmp.path, 'vault.json.bak'),
      masterKey: join(tmp.path, 'master.key'),
    },
    kdf: { memory_kib: 1024, iterations: 1 },
  });
  await vault.open();
  registry = createProviderRegistry({ bundledDir: packagePaths.providers, customDir });
  audit = createAuditLog(auditPath);
  clock = Date.parse('2025-01-01T00:00:00Z');
  // Each call is one second later, so "oldest" is well defined.
  service = createConnectionService({ vault, registry, audit, now: () => new Date((clock += 1000)) });
});
afterEach(async () => {
  await audit.flush(); // audit appends run after the call returns; let them land before the directory goes
  await tmp.cleanup();
});

const login = (provider: string, apiKey: string, connection?: string, force?: boolean) =>
  service.loginWithApiKey({ provider, apiKey, ...(connection ? { connection } : {}), ...(force ? { force } : {}) });

const defaultOf = (provider: string) => vault.get<ProviderState>(`provider-state:${provider}`)?.default_connection;

async function auditEvents(): Promise<{ event: string; provider?: string; connection?: string; reason?: string }[]> {
  await audit.flush();
  if (!existsSync(auditPath)) return [];
  return readFileSync(auditPath, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

function writeCustom(name: string, value: unknown): void {
  writeFileSync(join(customDir, `${name}.json`), typeof value === 'string' ? value : JSON.stringify(value, null, 2));
}

const acmeDefinition = {
  schema_version: 1,
  name: 'acme',
  display_name: 'Acme',
  auth_type: 'api_key',
  api_url: 'api.acme.example',
};

describe('validateApiKey', () => {
  const definitionOf = async (name: string) => (await registry.get(name)).definition;
  let openaiDefinition: ProviderDefinition;
  beforeEach(async () => {
    openaiDefinition = await definitionOf('openai');
  });

  it('trims leading and trailing whitespace', async () => {
    expect(service.validateApiKey(openaiDefinition, `  \t${OPENAI_CANARY} \r\n`)).toBe(OPENAI_CANARY);
  });

  it.each([
    ['a space', 'sk-abcdefghij klmnopqrstuvwxyz'],
    ['a tab', 'sk-abcdefghij\tklmnopqrstuvwxyz'],
    ['a line break', 'sk-abcdefghij\nklmnopqrstuvwxyz'],
    ['a short key', 'sk-short'],
    ['a key with junk around it', 'key: sk-abcdefghijklmnopqrstuvwxyz'],
  ])('refuses %s with the exact message and hint', async (_label, input) => {
    const err = caught(() => service.validateApiKey(openaiDefinition, input));
    expect(err.code).toBe('INVALID_KEY');
    expect(err.message).toBe(OPENAI_MESSAGE);
    expect(err.hint).toBe(OPENAI_HINT);
  });

  it.each([
    ['empty', ''],
    ['only whitespace', ' \t\r\n'],
  ])('refuses an %s value', async (_label, input) => {
    const err = caught(() => service.validateApiKey(openaiDefinition, input));
    expect(err.code).toBe('INVALID_KEY');
    expect(err.message).toContain('OpenAI');
    expect(err.hint).toBeTruthy();
  });

  it('without a key_pattern, still refuses inner whitespace and control characters', async () => {
    const brevo = await definitionOf('brevo');
    expect(brevo.keyPattern).toBeUndefined();
    expect(service.validateApiKey(brevo, ' xkeysib-abc123 ')).toBe('xkeysib-abc123');
    for (const input of ['xkeysib abc', 'xkeysib\u0000abc', 'xkeysib\u007fabc']) {
      const err = caught(() => service.validateApiKey(brevo, input));
      expect(err.code).toBe('INVALID_KEY');
      expect(err.message).toBe('This does not look like a valid Brevo API key.');
      expect(err.hint).toMatch(/never contains spaces/);
    }
  });

  it('a pattern without a hint: the hint shows the pattern', async () => {
    writeCustom('acme', { ...acmeDefinition, api_key: { key_pattern: 'ak_[0-9]{4}' } });
    const acme = await definitionOf('acme');
    expect(service.validateApiKey(acme, 'ak_1234')).toBe('ak_1234');
    const err = caught(() => service.validateApiKey(acme, 'ak_12345'));
    expect(err.message).toBe('This does not look like a valid Acme API key.');
    expect(err.hint).toBe('The key must match the pattern ak_[0-9]{4}.');
  });
});

describe('login with an API key', () => {
  it('stores a connected record and makes the first connection the default', async () => {
    const result = await login('openai', `  ${OPENAI_CANARY}\n`);
    expect(result).toEqual({ provider: 'openai', connection: 'default', display_name: 'OpenAI', stored: true });
    const record = vault.get<ConnectionRecord>('connection:openai:default')!;
    expect(record).toEqual({
      provider: 'openai',
      connection: 'default',
      auth_type: 'api_key',
      status: 'connected',
      api_key: OPENAI_CANARY,
      obtained_at: '2025-01-01T00:00:01.000Z',
      updated_at: '2025-01-01T00:00:01.000Z',
    });
    expect(defaultOf('openai')).toBe('default');
    expect(await auditEvents()).toEqual([
      expect.objectContaining({ event: 'login', provider: 'openai', connection: 'default' }),
    ]);
  });

  it('the first named connection becomes the default; later ones do not change it', async () => {
    await login('openai', OPENAI_CANARY, 'personal');
    await login('openai', OPENAI_TEAM, 'team');
    expect(defaultOf('openai')).toBe('personal');
    expect(service.resolveConnectionName('openai')).toBe('personal');
    expect(service.resolveConnectionName('openai', 'team')).toBe('team');
    expect((await service.describeLogin('openai')).connection).toBe('personal');
  });

  it('an existing connection without force: stored false, key unchanged', async () => {
    await login('openai', OPENAI_CANARY);
    const before = vault.get<ConnectionRecord>('connection:openai:default');
    const result = await login('openai', OPENAI_TEAM);
    expect(result).toMatchObject({ stored: false, connection: 'default' });
    expect(vault.get('connection:openai:default')).toEqual(before);
    expect((await service.describeLogin('openai')).exists).toBe(true);
    expect((await auditEvents()).filter((e) => e.event === 'login')).toHaveLength(1);
  });

  it('with force: the key is replaced and the audit says so', async () => {
    await login('openai', OPENAI_CANARY);
    const result = await login('openai', OPENAI_TEAM, undefined, true);
    expect(result.stored).toBe(true);
    const record = vault.get<ConnectionRecord>('connection:openai:default')!;
    expect(record.api_key).toBe(OPENAI_TEAM);
    expect(record.obtained_at).toBe('2025-01-01T00:00:02.000Z');
    expect((await auditEvents()).at(-1)).toMatchObject({ event: 'login', reason: 'replaced' });
  });

  it('an invalid key stores nothing', async () => {
    const err = await rejected(login('openai', 'sk-not valid at all, sorry'));
    expect(err.message).toBe(OPENAI_MESSAGE);
    expect(vault.list('')).toEqual([]);
    expect(await auditEvents()).toEqual([]);
  });

  it('an OAuth provider cannot take an API key', async () => {
    const err = await rejected(login('github', 'anything'));
    expect(err.code).toBe('INVALID_INPUT');
    expect(err.message).toBe('GitHub uses OAuth 2.0, not an API key.');
  });

  it('an unknown provider → PROVIDER_NOT_FOUND', async () => {
    const err = await rejected(login('nope', OPENAI_CANARY));
    expect(err.code).toBe('PROVIDER_NOT_FOUND');
    expect(err.message).toBe("Provider 'nope' not found.");
  });

  it.each(['bad name', '-team', '.hidden', 'a/b', 'x'.repeat(65), 'team:1'])(
    'connection name %j → INVALID_NAME',
    async (name) => {
      const err = await rejected(login('openai', OPENAI_CANARY, name));
      expect(err.code).toBe('INVALID_NAME');
      expect(err.message).toBe(`Invalid connection name '${name}'.`);
      expect(vault.list('')).toEqual([]);
    },
  );

  it('accepts letters, digits, dot, underscore and dash up to 64 characters', async () => {
    for (const name of ['Team_1', 'a.b-c', 'x'.repeat(64)]) {
      expect((await login('openai', OPENAI_CANARY, name)).stored).toBe(true);
    }
  });
});

describe('logout and defaults', () => {
  async function threeConnections(): Promise<void> {
    await login('openai', OPENAI_CANARY, 'personal'); // oldest, default
    await login('openai', OPENAI_TEAM, 'zeta'); // second oldest
    await login('openai', OPENAI_TEAM, 'alpha'); // newest, first by name
  }

  it('logging out of the default moves the default to the oldest remaining connection', async () => {
    await threeConnections();
    expect(await service.logout('openai')).toEqual({ provider: 'openai', connection: 'personal', warnings: [] });
    expect(vault.get('connection:openai:personal')).toBeUndefined();
    expect(defaultOf('openai')).toBe('zeta');
    expect(service.resolveConnectionName('openai')).toBe('zeta');
    expect((await auditEvents()).at(-1)).toMatchObject({ event: 'logout', provider: 'openai', connection: 'personal' });
  });

  it('logging out of another connection leaves the default alone', async () => {
    await threeConnections();
    await service.logout('openai', 'zeta');
    expect(defaultOf('openai')).toBe('personal');
    expect(vault.list('connection:openai:')).toEqual(['connection:openai:alpha', 'connection:openai:personal']);
  });

  it('logging out of the last connection clears the default', async () => {
    await login('openai', OPENAI_CANARY);
    await service.logout('openai');
    expect(vault.list('connection:')).toEqual([]);
    expect(defaultOf('openai')).toBeUndefined();
    expect(service.resolveConnectionName('openai')).toBe('default');
  });

  it('an unknown connection → CONNECTION_NOT_FOUND', async () => {
    await login('openai', OPENAI_CANARY);
    const err = await rejected(service.logout('openai', 'nope'));
    expect(err.code).toBe('CONNECTION_NOT_FOUND');
    expect(err.message).toBe("Connection 'nope' not found for provider 'openai'.");
    const none = await rejected(service.logout('anthropic'));
    expect(none.code).toBe('CONNECTION_NOT_FOUND');
    expect(none.message).toBe('No connection for anthropic.');
    expect(none.hint).toBe("Run 'authsome login anthropic' first.");
    expect(vault.get('connection:openai:default')).toBeDefined();
  });

  it('an invalid connection name → INVALID_NAME', async () => {
    expect((await rejected(service.logout('openai', 'no spaces'))).code).toBe('INVALID_NAME');
  });

  it('setDefault chooses the default; unknown or invalid names are refused', async () => {
    await threeConnections();
    await service.setDefault('openai', 'alpha');
    expect(service.resolveConnectionName('openai')).toBe('alpha');
    expect(service.connectionsOf('openai').map((c) => [c.connection, c.is_default])).toEqual([
      ['alpha', true],
      ['personal', false],
      ['zeta', false],
    ]);
    expect((await rejected(service.setDefault('openai', 'nope'))).code).toBe('CONNECTION_NOT_FOUND');
    expect((await rejected(service.setDefault('openai', 'bad name'))).code).toBe('INVALID_NAME');
    expect(defaultOf('openai')).toBe('alpha');
  });
});

describe('get', () => {
  it('redacts secrets as ***REDACTED*** and audits nothing', async () => {
    await login('openai', OPENAI_CANARY);
    const record = await service.get('openai', undefined, { reveal: false });
    expect(record.api_key).toBe('***REDACTED***');
    expect(record).toMatchObject({
      provider: 'openai',
      connection: 'default',
      status: 'connected',
      auth_type: 'api_key',
    });
    expect(JSON.stringify(record)).not.toContain(OPENAI_CANARY);
    expect((await auditEvents()).filter((e) => e.event === 'reveal')).toEqual([]);
    // The stored record is untouched by redaction.
    expect(vault.get<ConnectionRecord>('connection:openai:default')!.api_key).toBe(OPENAI_CANARY);
  });

  it('redacts OAuth tokens too', async () => {
    const at = '2025-01-01T00:00:00.000Z';
    await vault.put('connection:github:default', {
      provider: 'github',
      connection: 'default',
      auth_type: 'oauth2',
      status: 'connected',
      access_token: 'gho_secretaccess',
      refresh_token: 'ghr_secretrefresh',
      token_type: 'bearer',
      obtained_at: at,
      updated_at: at,
    });
    const record = await service.get('github', undefined, { reveal: false });
    expect(record).toMatchObject({
      access_token: '***REDACTED***',
      refresh_token: '***REDACTED***',
      token_type: 'bearer',
    });
    expect(record.api_key).toBeUndefined();
  });

  it('reveal returns the secret and writes a reveal audit entry', async () => {
    await login('openai', OPENAI_TEAM, 'team');
    const record = await service.get('openai', 'team', { reveal: true });
    expect(record.api_key).toBe(OPENAI_TEAM);
    expect((await auditEvents()).at(-1)).toMatchObject({ event: 'reveal', provider: 'openai', connection: 'team' });
  });

  it('an unknown connection or provider is an error', async () => {
    expect((await rejected(service.get('openai', 'nope', { reveal: false }))).code).toBe('CONNECTION_NOT_FOUND');
    expect((await rejected(service.get('nope', undefined, { reveal: false }))).code).toBe('PROVIDER_NOT_FOUND');
  });

  it('loadCredential returns the full record, or CONNECTION_NOT_FOUND', async () => {
    await login('openai', OPENAI_CANARY);
    expect(service.loadCredential('openai', 'default').api_key).toBe(OPENAI_CANARY);
    expect(caught(() => service.loadCredential('openai', 'team')).code).toBe('CONNECTION_NOT_FOUND');
  });

  it('loadApiKeyNow: a connected API key at once, read from the vault each call; else undefined', async () => {
    await login('openai', OPENAI_CANARY);
    expect(service.loadApiKeyNow('openai', 'default')?.api_key).toBe(OPENAI_CANARY);
    await login('openai', OPENAI_TEAM, undefined, true); // a re-login takes effect on the next call
    expect(service.loadApiKeyNow('openai', 'default')?.api_key).toBe(OPENAI_TEAM);
    expect(service.loadApiKeyNow('openai', 'team')).toBeUndefined(); // the async path gives the error
    const at = '2025-01-01T00:00:00.000Z';
    const oauth = { provider: 'github', connection: 'default', auth_type: 'oauth2', obtained_at: at, updated_at: at };
    await vault.put('connection:github:default', { ...oauth, status: 'connected', access_token: 'gho_x' });
    expect(service.loadApiKeyNow('github', 'default')).toBeUndefined(); // a token may be due for a refresh
    const revoked = { ...vault.get<ConnectionRecord>('connection:openai:default')!, status: 'revoked' };
    await vault.put('connection:openai:default', revoked);
    expect(service.loadApiKeyNow('openai', 'default')).toBeUndefined();
    await login('openai', OPENAI_CANARY, undefined, true);
    expect(service.loadApiKeyNow('openai', 'default')?.api_key).toBe(OPENAI_CANARY);
    await service.logout('openai');
    expect(service.loadApiKeyNow('openai', 'default')).toBeUndefined(); // a logout too
    await login('openai', OPENAI_CANARY);
    await vault.setPassphrase('correct horse battery staple');
    vault.lock();
    expect(service.loadApiKeyNow('openai', 'default')).toBeUndefined(); // locked: the async path says so
  });
});

describe('exportVariables', () => {
  it('one provider: its export names with the default connection', async () => {
    await login('openai', OPENAI_CANARY);
    await login('openai', OPENAI_TEAM, 'team');
    expect(await service.exportVariables({ provider: 'openai' })).toEqual([
      { name: 'OPENAI_API_KEY', value: OPENAI_CANARY, provider: 'openai', connection: 'default' },
    ]);
    expect(await service.exportVariables({ provider: 'openai', connection: 'team' })).toEqual([
      { name: 'OPENAI_API_KEY', value: OPENAI_TEAM, provider: 'openai', connection: 'team' },
    ]);
    expect((await auditEvents()).filter((e) => e.event === 'export').map((e) => e.connection)).toEqual([
      'default',
      'team',
    ]);
  });

  it('a provider with several export names gives each', async () => {
    await login('github-pat', GH_PAT);
    expect((await service.exportVariables({ provider: 'github-pat' })).map((v) => [v.name, v.value])).toEqual([
      ['GITHUB_TOKEN', GH_PAT],
      ['GH_TOKEN', GH_PAT],
    ]);
  });

  it('no connection → CONNECTION_NOT_FOUND; nothing at all → an empty list', async () => {
    expect((await rejected(service.exportVariables({ provider: 'openai' }))).code).toBe('CONNECTION_NOT_FOUND');
    expect(await service.exportVariables({})).toEqual([]);
  });

  it('everything: providers by name, default connection first, later duplicates renamed', async () => {
    await login('openai', OPENAI_CANARY, 'zeta'); // default, though last by name
    await login('openai', OPENAI_TEAM, 'beta');
    await login('openai', OPENAI_TEAM, 'my-team.1');
    await login('anthropic', ANTHROPIC_KEY);
    await login('github-pat', GH_PAT);
    const vars = await service.exportVariables({});
    expect(vars.map((v) => [v.name, v.provider, v.connection])).toEqual([
      ['ANTHROPIC_API_KEY', 'anthropic', 'default'],
      ['GITHUB_TOKEN', 'github-pat', 'default'],
      ['GH_TOKEN', 'github-pat', 'default'],
      ['OPENAI_API_KEY', 'openai', 'zeta'],
      ['OPENAI_API_KEY_OPENAI_BETA', 'openai', 'beta'],
      ['OPENAI_API_KEY_OPENAI_MY_TEAM_1', 'openai', 'my-team.1'],
    ]);
    expect(vars.find((v) => v.name === 'OPENAI_API_KEY')!.value).toBe(OPENAI_CANARY);
    expect(new Set(vars.map((v) => v.name)).size).toBe(vars.length);
  });

  it('two providers sharing GH_TOKEN: the later provider gets <NAME>_<PROVIDER>_<CONNECTION>', async () => {
    const at = '2025-01-01T00:00:00.000Z';
    await vault.put('connection:github:default', {
      provider: 'github',
      connection: 'default',
      auth_type: 'oauth2',
      status: 'connected',
      access_token: 'gho_access',
      obtained_at: at,
      updated_at: at,
    });
    await login('github-pat', GH_PAT);
    const vars = await service.exportVariables({});
    expect(vars.map((v) => [v.name, v.value])).toEqual([
      ['GITHUB_ACCESS_TOKEN', 'gho_access'],
      ['GH_TOKEN', 'gho_access'],
      ['GITHUB_TOKEN', GH_PAT],
      ['GH_TOKEN_GITHUB_PAT_DEFAULT', GH_PAT],
    ]);
  });
});

describe('list', () => {
  it('one row per provider with its connections and default, plus registry warnings', async () => {
    await login('openai', OPENAI_CANARY, 'personal');
    await login('openai', OPENAI_TEAM, 'team');
    writeCustom('acme', '{ broken');
    const { rows, warnings } = await service.list();
    const openai = rows.find((r) => r.name === 'openai')!;
    expect(openai).toMatchObject({ display_name: 'OpenAI', source: 'bundled', auth_type: 'api_key', flow: 'api_key' });
    expect(openai.connections.map((c) => [c.connection, c.status, c.is_default])).toEqual([
      ['personal', 'connected', true],
      ['team', 'connected', false],
    ]);
    expect(rows.find((r) => r.name === 'anthropic')!.connections).toEqual([]);
    expect(warnings.map((w) => w.path)).toEqual([join(customDir, 'acme.json')]);
    expect(JSON.stringify(rows)).not.toContain(OPENAI_CANARY);
  });
});

describe('revoke and remove', () => {
  it('revoke removes every connection and the default, and nothing of other providers', async () => {
    await login('openai', OPENAI_CANARY);
    await login('openai', OPENAI_TEAM, 'team');
    await login('anthropic', ANTHROPIC_KEY);
    const result = await service.revoke('openai');
    expect(result).toEqual({ provider: 'openai', removed: ['default', 'team'], warnings: [] });
    expect(vault.list('connection:openai:')).toEqual([]);
    expect(vault.get('provider-state:openai')).toBeUndefined();
    expect(vault.list('connection:anthropic:')).toEqual(['connection:anthropic:default']);
    // Other provider state (an OAuth client id) survives revoke; only the default goes with the connections.
    await vault.put('provider-state:anthropic', { default_connection: 'default', client_id: 'client-123' });
    await service.revoke('anthropic');
    expect(vault.get('provider-state:anthropic')).toEqual({ client_id: 'client-123' });
    expect(service.resolveConnectionName('openai')).toBe('default');
    expect((await auditEvents()).at(-1)).toMatchObject({ event: 'revoke', provider: 'anthropic' });
  });

  it('remove also deletes the custom definition file; the bundled one takes over', async () => {
    const bundled = JSON.parse(readFileSync(join(packagePaths.providers, 'openai.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    writeCustom('openai', { ...bundled, display_name: 'OpenAI (mine)' });
    await login('openai', OPENAI_CANARY);
    const result = await service.remove('openai');
    expect(result).toEqual({ provider: 'openai', removed: ['default'], definitionDeleted: true, warnings: [] });
    expect(existsSync(join(customDir, 'openai.json'))).toBe(false);
    expect(vault.list('')).toEqual([]);
    expect((await registry.get('openai')).source).toBe('bundled');
  });

  it('without a custom file, remove leaves the same state as revoke', async () => {
    await login('openai', OPENAI_CANARY);
    expect(await service.remove('openai')).toEqual({
      provider: 'openai',
      removed: ['default'],
      definitionDeleted: false,
      warnings: [],
    });
    expect(vault.list('')).toEqual([]);
  });

  it('remove deletes a broken custom-only definition', async () => {
    writeCustom('acme', '{ broken');
    expect(await service.remove('acme')).toMatchObject({ definitionDeleted: true });
    expect(existsSync(join(customDir, 'acme.json'))).toBe(false);
  });

  it('remove of a custom provider whose file broke after login still removes its connections', async () => {
    writeCustom('acme', acmeDefinition);
    await login('acme', 'acme-key-CANARY');
    writeCustom('acme', '{ broken');
    await service.remove('acme');
    expect(existsSync(join(customDir, 'acme.json'))).toBe(false);
    expect(vault.list('connection:acme:')).toEqual([]);
    expect(vault.get('provider-state:acme')).toBeUndefined();
  });

  it('an unknown provider → PROVIDER_NOT_FOUND', async () => {
    expect((await rejected(service.remove('nope'))).code).toBe('PROVIDER_NOT_FOUND');
    expect((await rejected(service.revoke('nope'))).code).toBe('PROVIDER_NOT_FOUND');
  });
});

describe('the audit log never holds a secret', () => {
  it('after login, force, get, reveal, export, logout, revoke and remove', async () => {
    await login('openai', OPENAI_CANARY);
    await login('openai', OPENAI_CANARY, 'team');
    await login('openai', OPENAI_TEAM, 'team', true);
    await login('anthropic', ANTHROPIC_KEY);
    await service.get('openai', undefined, { reveal: false });
    await service.get('openai', undefined, { reveal: true });
    await service.exportVariables({});
    await service.exportVariables({ provider: 'anthropic' });
    await service.logout('openai', 'team');
    await service.revoke('openai');
    await service.remove('anthropic');
    await audit.flush();
    const text = readFileSync(auditPath, 'utf8');
    const events = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { ts: string; event: string });
    expect(events.map((e) => e.event)).toEqual([
      // The full export audits each connection it exported (openai default and team, anthropic), then one more.
      'login',
      'login',
      'login',
      'login',
      'reveal',
      'export',
      'export',
      'export',
      'export',
      'logout',
      'revoke',
      'remove',
    ]);
    for (const secret of [OPENAI_CANARY, OPENAI_TEAM, ANTHROPIC_KEY, 'CANARY']) expect(text).not.toContain(secret);
  });
});

describe('digestStoredSecrets and findSecretVariables', () => {
  const OPENAI = 'sk-digest-openai-0123456789abcdefghij';
  const GROQ = 'gsk_digestgroq0123456789abcdefghijklmnop';

  it(
    'finds exactly the inherited variables whose value ' + '(trimmed or not) is a stored secret, in any provider',
    async () => {
      await login('openai', OPENAI);
      await login('groq', GROQ, 'team');
      await vault.put('provider-state:github', { client_id: 'Iv1.abc', client_secret: 'client-secret-value-123456' });
      const salt = 'salt-for-this-run';
      const digests = service.digestStoredSecrets(salt);
      expect(digests).toHaveLength(3);
      expect(JSON.stringify(digests)).not.toContain(OPENAI);
      const env = {
        A: OPENAI,
        B: `  ${GROQ}\n`,
        C: 'client-secret-value-123456',
        D: `${OPENAI}x`,
        E: 'Iv1.abc',
        PATH: '/usr/bin',
        F: undefined,
      };
      expect(findSecretVariables(env, salt, digests).sort()).toEqual(['A', 'B', 'C']);
      // Another salt, another run: yesterday's digests match nothing.
      expect(findSecretVariables(env, 'another-salt', digests)).toEqual([]);
    },
  );
});

describe('claimExportName', () => {
  it('keeps the first name and renames a later clash after its provider and connection', () => {
    const taken = new Set<string>();
    expect(claimExportName(taken, 'OPENAI_API_KEY', 'openai', 'default')).toBe('OPENAI_API_KEY');
    expect(claimExportName(taken, 'OPENAI_API_KEY', 'openai', 'team-2')).toBe('OPENAI_API_KEY_OPENAI_TEAM_2');
    expect(claimExportName(taken, 'OPENAI_API_KEY', 'azure.openai', 'x')).toBe('OPENAI_API_KEY_AZURE_OPENAI_X');
    expect(claimExportName(taken, 'GROQ_API_KEY', 'groq', 'default')).toBe('GROQ_API_KEY');
    expect([...taken]).toEqual([
      'OPENAI_API_KEY',
      'OPENAI_API_KEY_OPENAI_TEAM_2',
      'OPENAI_API_KEY_AZURE_OPENAI_X',
      'GROQ_API_KEY',
    ]);
  });
});
