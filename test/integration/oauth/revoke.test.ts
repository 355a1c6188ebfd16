// Revocation (RFC 7009) on logout and revoke, against a real authorization server: afterwards neither the access
// nor the refresh token works there. A revocation endpoint that cannot be reached is a warning, and the local
// state goes anyway.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildConnectionId } from '../../../src/connections/records.js';
import { createRuntime, type Runtime } from '../../../src/runtime.js';
import {
  buildOAuthDefinition,
  PUBLIC_CLIENT_ID,
  startTestAuthServer,
  type TestAuthServer,
} from '../../helpers/oauth-server.js';
import { createTestCa, type TestCa } from '../../helpers/test-ca.js';
import { postApi } from '../../helpers/http.js';

const KDF = { memory_kib: 1024, iterations: 1 };

describe('OAuth revocation on logout and revoke', () => {
  let ca: TestCa;
  let auth: TestAuthServer;
  let root: string;
  let rt: Runtime;
  let dispatcher: Agent;

  beforeAll(async () => {
    ca = createTestCa(['localhost', '127.0.0.1']);
    auth = await startTestAuthServer({ ca });
    dispatcher = new Agent({ connect: { ca: ca.caCert } });
  });
  afterAll(async () => {
    await auth?.close();
  });
  beforeEach(async () => {
    root = mkdtempSync(join(tmpdir(), 'authsome-revoke-'));
    const home = join(root, 'home');
    mkdirSync(join(home, 'providers'), { recursive: true, mode: 0o700 });
    writeFileSync(join(home, 'providers', 'testoauth.json'), JSON.stringify(buildOAuthDefinition(auth)), {
      mode: 0o600,
    });
    // The same provider with a revocation endpoint nobody listens on.
    const dead = buildOAuthDefinition(auth, {
      name: 'deadrevoke',
      display_name: 'Dead Revoke',
      oauth: { revocation_url: 'https://127.0.0.1:2/revoke' },
    });
    writeFileSync(join(home, 'providers', 'deadrevoke.json'), JSON.stringify(dead), { mode: 0o600 });
    rt = await createRuntime({ home, port: 0, kdf: KDF, upstreamCaCerts: [ca.caCert] });
    for (const p of ['testoauth', 'deadrevoke'])
      await rt.connections.saveOAuthClient(p, { client_id: PUBLIC_CLIENT_ID });
  });
  afterEach(async () => {
    await rt.close();
    rmSync(root, { recursive: true, force: true });
  });

  /** An access and a refresh token the authorization server really issued, as after a login. */
  async function mintTokens(): Promise<{ access: string; refresh: string }> {
    const provider = auth.provider as unknown as Record<string, any>;
    const grant = new provider.Grant({ accountId: 'alice', clientId: PUBLIC_CLIENT_ID });
    grant.addOIDCScope('openid offline_access');
    const grantId = await grant.save();
    const client = await provider.Client.find(PUBLIC_CLIENT_ID);
    const access = await new provider.AccessToken({ accountId: 'alice', client, grantId, scope: 'openid' }).save();
    const refresh = await new provider.RefreshToken({
      accountId: 'alice',
      client,
      grantId,
      scope: 'openid offline_access',
      gty: 'authorization_code',
    }).save();
    return { access, refresh };
  }

  async function seed(provider: string, connection: string): Promise<{ access: string; refresh: string }> {
    const tokens = await mintTokens();
    await rt.connections.loginWithTokens({
      provider,
      connection,
      force: true,
      tokens: { access_token: tokens.access, refresh_token: tokens.refresh, expires_in: 3600 },
      requestedScopes: ['openid'],
      flow: 'pkce',
    });
    return tokens;
  }

  const userinfo = async (access: string) =>
    (await undiciFetch(`${auth.issuer}/me`, { headers: { authorization: `Bearer ${access}` }, dispatcher })).status;
  const refreshStatus = async (refresh: string) =>
    (
      await undiciFetch(`${auth.issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: refresh,
          client_id: PUBLIC_CLIENT_ID,
        }).toString(),
        dispatcher,
      })
    ).status;

  const api = (path: string, body: unknown) => postApi(rt, path, body);

  it('logout revokes both tokens at the provider, then deletes the connection', async () => {
    const tokens = await seed('testoauth', 'default');
    expect(await userinfo(tokens.access)).toBe(200);
    const r = await api('/logout', { provider: 'testoauth' });
    expect(r).toMatchObject({ provider: 'testoauth', connection: 'default', warnings: [] });
    expect(await userinfo(tokens.access)).toBe(401);
    expect(await refreshStatus(tokens.refresh)).toBe(400);
    expect(rt.vault.get(buildConnectionId('testoauth', 'default'))).toBeUndefined();
    expect(auth.paths.filter((p) => p === '/token/revocation').length).toBeGreaterThanOrEqual(2);
  });

  it('revoke revokes every connection; the client stays for the next login', async () => {
    const a = await seed('testoauth', 'a');
    const b = await seed('testoauth', 'b');
    const r = await api('/revoke', { provider: 'testoauth' });
    expect(r.removed.sort()).toEqual(['a', 'b']);
    expect(r.warnings).toEqual([]);
    for (const t of [a, b]) expect(await userinfo(t.access)).toBe(401);
    expect(rt.connections.loadOAuthClient('testoauth')).toEqual({ client_id: PUBLIC_CLIENT_ID });
  });

  it('a revocation endpoint that cannot be reached is a warning; the local state is removed anyway', async () => {
    const tokens = await seed('deadrevoke', 'default');
    const r = await api('/logout', { provider: 'deadrevoke' });
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toMatch(
      new RegExp(
        '^Could not revoke the tokens at Dead Revoke ' +
          '\\(Could not reach Dead Revoke at 127\\.0\\.0\\.1:2: ECONNREFUSED\\); ' +
          'they were deleted from authsome anyway',
      ),
    );
    expect(r.warnings[0]).not.toContain(tokens.access);
    expect(r.warnings[0]).not.toContain(tokens.refresh);
    expect(rt.vault.get(buildConnectionId('deadrevoke', 'default'))).toBeUndefined();
    await rt.audit.flush();
    const logout = (await rt.audit.readRecent(100)).filter((e) => e.event === 'logout');
    expect(logout.at(-1)).toMatchObject({ provider: 'deadrevoke', reason: 'remote revocation failed' });
  });
});
