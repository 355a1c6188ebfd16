// Refresh on use against a real authorization server (oidc-provider over HTTPS with the test CA): the whole runtime
// in-process, a run session from /api, 50 agent requests through the proxy at once → exactly one refresh counted at
// the server; rotation stored; a failed refresh with a still-valid token uses it; an expired one is an error.
import { readFileSync } from 'node:fs';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildConnectionId, type ConnectionRecord } from '../../../src/connections/records.js';
import type { Runtime } from '../../../src/runtime.js';
import {
  mintRefreshToken,
  type OAuthRuntime,
  startOAuthRuntime,
  startTestAuthServer,
  type TestAuthServer,
} from '../../helpers/oauth-server.js';
import { createTestCa, type TestCa } from '../../helpers/test-ca.js';
import { startUpstream, type Upstream } from '../../helpers/upstream.js';
import { exchange, openTlsThroughProxy } from '../proxy/harness.js';

const API_HOST = 'api.testoauth.example';

describe('OAuth refresh on use', () => {
  let ca: TestCa;
  let auth: TestAuthServer;
  let upstream: Upstream;
  let started: OAuthRuntime;
  let rt: Runtime;
  let authsomeCa: string;

  beforeAll(async () => {
    ca = createTestCa(['localhost', '127.0.0.1', API_HOST]);
    // Refreshed tokens live 10 minutes: outside the 5-minute window, so one refresh serves every later request.
    auth = await startTestAuthServer({ ca, accessTokenTtl: 600 });
    upstream = await startUpstream({ cert: ca.cert, key: ca.key });
  });
  afterAll(async () => {
    await upstream?.close();
    await auth?.close();
  });

  beforeEach(async () => {
    started = await startOAuthRuntime({ auth, caCert: ca.caCert, apiHost: API_HOST, upstreamPort: upstream.port });
    rt = started.rt;
    upstream.requests.length = 0;
  });
  afterEach(async () => {
    await started.close();
  });

  async function seed(fields: { access_token: string; refresh_token?: string; expires_in: number }): Promise<void> {
    await rt.connections.loginWithTokens({
      provider: 'testoauth',
      connection: 'default',
      force: true,
      tokens: {
        access_token: fields.access_token,
        expires_in: fields.expires_in,
        ...(fields.refresh_token ? { refresh_token: fields.refresh_token } : {}),
      },
      requestedScopes: ['openid'],
      flow: 'pkce',
    });
  }

  const record = () => rt.vault.get<ConnectionRecord>(buildConnectionId('testoauth', 'default'))!;

  async function api(path: string, body: unknown): Promise<{ status: number; json: any }> {
    const res = await fetch(`${rt.url}/api${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${rt.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, json: await res.json() };
  }

  async function proxiedGet(token: string): Promise<number> {
    const socket = await openTlsThroughProxy(rt.proxyPort!, token, `${API_HOST}:443`, {
      servername: API_HOST,
      ca: authsomeCa,
      ALPNProtocols: ['http/1.1'],
    });
    try {
      const res = await exchange(
        socket,
        `GET /v1/models HTTP/1.1\r\nHost: ${API_HOST}\r\nAuthorization: Bearer ` +
          `authsome-proxy-managed\r\nConnection: close\r\n\r\n`,
      );
      return res.status;
    } finally {
      socket.destroy();
    }
  }

  async function startRun(): Promise<string> {
    const { status, json } = await api('/run-sessions', {});
    expect(status).toBe(200);
    authsomeCa = readFileSync(json.ca_cert_path, 'utf8');
    return new URL(json.proxy_url).password;
  }

  async function auditEvents(): Promise<{ event: string; reason?: string }[]> {
    await rt.audit.flush();
    return rt.audit.readRecent(1000);
  }

  it(
    '50 proxied requests at once with a token about to expire → one refresh at the server, rotation stored ' + 'first',
    async () => {
      const oldRefresh = await mintRefreshToken(auth);
      await seed({ access_token: 'old-access-token-about-to-expire', refresh_token: oldRefresh, expires_in: 120 });
      const runToken = await startRun();

      const statuses = await Promise.all(Array.from({ length: 50 }, () => proxiedGet(runToken)));
      expect(statuses).toEqual(Array(50).fill(200));
      expect(auth.tokenRequests.refresh_token).toBe(1);

      const fresh = record();
      expect(fresh.access_token).not.toBe('old-access-token-about-to-expire');
      expect(fresh.refresh_token).toBeDefined();
      expect(fresh.refresh_token).not.toBe(oldRefresh); // rotated, and the new one is what the vault holds
      expect(Date.parse(fresh.expires_at!) - Date.now()).toBeGreaterThan(9 * 60_000);
      const sent = new Set(upstream.requests.map((r) => r.headers.authorization));
      expect([...sent]).toEqual([`Bearer ${fresh.access_token}`]);
      // The new access token is one the provider accepts.
      const me = await undiciFetch(`${auth.issuer}/me`, {
        headers: { authorization: `Bearer ${fresh.access_token}` },
        dispatcher: new Agent({ connect: { ca: ca.caCert } }),
      });
      expect(me.status).toBe(200);
      const events = (await auditEvents()).filter((e) => e.event === 'refresh' || e.event === 'refresh_failed');
      expect(events.map((e) => e.event)).toEqual(['refresh']);
      expect(JSON.stringify(await auditEvents())).not.toContain(fresh.access_token!);
    },
  );

  it('export and get --show-secret refresh too; a fresh token is not refreshed again', async () => {
    await seed({ access_token: 'old-access-for-export', refresh_token: await mintRefreshToken(auth), expires_in: 60 });
    const before = auth.tokenRequests.refresh_token ?? 0;
    const exported = await api('/export', { provider: 'testoauth' });
    expect(exported.status).toBe(200);
    expect(JSON.stringify(exported.json)).not.toContain('old-access-for-export');
    expect(JSON.stringify(exported.json)).toContain(record().access_token);
    const shown = await api('/get', { provider: 'testoauth', reveal: true });
    expect(shown.status).toBe(200);
    expect(auth.tokenRequests.refresh_token).toBe(before + 1);
  });

  it('a failed refresh with a still-valid token uses that token and audits refresh_failed', async () => {
    await seed({
      access_token: 'still-valid-access-token',
      refresh_token: 'not-a-refresh-token-the-server-knows',
      expires_in: 120,
    });
    const runToken = await startRun();
    const before = auth.tokenRequests.refresh_token ?? 0;
    // Three requests in a row: one refresh attempt, not one per request (the token still works meanwhile).
    for (let i = 0; i < 3; i++) expect(await proxiedGet(runToken)).toBe(200);
    expect(auth.tokenRequests.refresh_token).toBe(before + 1);
    expect(upstream.requests.at(-1)!.headers.authorization).toBe('Bearer still-valid-access-token');
    expect(record().status).toBe('connected');
    const failed = (await auditEvents()).filter((e) => e.event === 'refresh_failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]!.reason).toContain('invalid_grant');
    expect(JSON.stringify(failed)).not.toContain('not-a-refresh-token-the-server-knows');
  });

  it('an expired token whose refresh fails: status expired, and the error says to log in again', async () => {
    await seed({ access_token: 'expired-access-token', refresh_token: 'unknown-refresh-token', expires_in: 60 });
    await rt.vault.put(buildConnectionId('testoauth', 'default'), {
      ...record(),
      expires_at: new Date(Date.now() - 60_000).toISOString(),
    });
    const shown = await api('/get', { provider: 'testoauth', reveal: true });
    expect(shown.json.error).toBe('CREDENTIAL_EXPIRED');
    expect(shown.json.message).toMatch(/^The credential for testoauth \(default\) has expired: /);
    expect(shown.json.hint).toBe("Run 'authsome login testoauth --force'.");
    expect(JSON.stringify(shown.json)).not.toContain('expired-access-token');
    expect(record().status).toBe('expired');

    // A later run leaves the expired connection out of its scope: nothing is ever sent with a dead token.
    const run = await api('/run-sessions', {});
    expect(run.json.scope).toEqual([]);
  });

  it(
    'a token endpoint that answers a refresh with an absurd expires_in: the token is used, its expiry kept ' +
      'within a year (not an invalid date that fails every later use)',
    async () => {
      await seed({ access_token: 'about-to-expire', refresh_token: await mintRefreshToken(auth), expires_in: 120 });
      const runToken = await startRun();
      auth.overrideToken((_req, res) => {
        const body = JSON.stringify({
          access_token: 'fresh-from-a-hostile-provider',
          token_type: 'Bearer',
          expires_in: 1e300,
        });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(body);
        return true;
      });
      try {
        expect(await proxiedGet(runToken)).toBe(200);
      } finally {
        auth.overrideToken(undefined);
      }
      expect(upstream.requests.at(-1)!.headers.authorization).toBe('Bearer fresh-from-a-hostile-provider');
      const expiresAt = Date.parse(record().expires_at!);
      expect(expiresAt).toBeGreaterThan(Date.now());
      expect(expiresAt).toBeLessThanOrEqual(Date.now() + 366 * 24 * 3600_000);
    },
  );
});
