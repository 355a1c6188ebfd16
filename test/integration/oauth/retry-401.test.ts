// A provider that refuses an OAuth access token before its expiry (revoked, rotated early): the proxy refreshes the
// token once and sends an idempotent request once more, so the agent sees the answer to a valid token; anything
// else (a POST, no newer token) gets the 401 as the provider sent it. Against a real authorization server.
import { readFileSync } from 'node:fs';
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
const REFUSED = 'access-token-the-provider-revoked';

describe('a 401 to an OAuth token: one refresh, one more try', () => {
  let ca: TestCa;
  let auth: TestAuthServer;
  let upstream: Upstream;
  let started: OAuthRuntime;
  let rt: Runtime;

  beforeAll(async () => {
    ca = createTestCa(['localhost', '127.0.0.1', API_HOST]);
    auth = await startTestAuthServer({ ca, accessTokenTtl: 600 });
    upstream = await startUpstream({
      cert: ca.cert,
      key: ca.key,
      handler: (req, res) => {
        // A path whose backend refuses every token, valid or not: an agent can ask for it as often as it likes.
        if (req.headers.authorization !== `Bearer ${REFUSED}` && req.url !== '/v1/refuses-everyone') return false;
        const body = JSON.stringify({ error: { message: 'token revoked' } });
        res.writeHead(401, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
        return true;
      },
    });
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

  async function seed(refreshToken?: string): Promise<void> {
    await rt.connections.loginWithTokens({
      provider: 'testoauth',
      connection: 'default',
      force: true,
      // An hour left: nothing would refresh it before use; only the provider's 401 does.
      tokens: { access_token: REFUSED, expires_in: 3600, ...(refreshToken ? { refresh_token: refreshToken } : {}) },
      requestedScopes: ['openid'],
      flow: 'pkce',
    });
  }

  async function ask(request: string): Promise<{ status: number; body: string }> {
    const res = await fetch(`${rt.url}/api/run-sessions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${rt.token}`, 'content-type': 'application/json' },
      body: '{}',
    });
    const run = (await res.json()) as { proxy_url: string; ca_cert_path: string };
    const socket = await openTlsThroughProxy(rt.proxyPort!, new URL(run.proxy_url).password, `${API_HOST}:443`, {
      servername: API_HOST,
      ca: readFileSync(run.ca_cert_path, 'utf8'),
      ALPNProtocols: ['http/1.1'],
    });
    try {
      const answer = await exchange(socket, request);
      return { status: answer.status, body: answer.body.toString() };
    } finally {
      socket.destroy();
    }
  }

  const record = () => rt.vault.get<ConnectionRecord>(buildConnectionId('testoauth', 'default'))!;

  it(
    'a GET refused with 401 is answered after one refresh, ' + 'with the new token; the agent never sees the 401',
    async () => {
      await seed(await mintRefreshToken(auth));
      const before = auth.tokenRequests.refresh_token ?? 0;
      const answer = await ask(`GET /v1/models HTTP/1.1\r\nHost: ${API_HOST}\r\nConnection: close\r\n\r\n`);
      expect(answer.status).toBe(200);
      expect((auth.tokenRequests.refresh_token ?? 0) - before).toBe(1);
      const fresh = record().access_token!;
      expect(fresh).not.toBe(REFUSED);
      expect(upstream.requests.map((r) => r.headers.authorization)).toEqual([`Bearer ${REFUSED}`, `Bearer ${fresh}`]);
      await rt.audit.flush();
      expect((await rt.audit.readRecent(100)).map((e) => e.event)).toContain('refresh');
    },
  );

  it('a POST is never sent twice: the agent gets the 401', async () => {
    await seed(await mintRefreshToken(auth));
    const answer = await ask(
      `POST /v1/echo HTTP/1.1\r\nHost: ${API_HOST}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi`,
    );
    expect(answer.status).toBe(401);
    expect(upstream.requests).toHaveLength(1);
    expect(record().access_token).toBe(REFUSED);
  });

  it("without a newer token (no refresh token) the agent gets the provider's 401 as it was sent", async () => {
    await seed();
    const answer = await ask(`GET /v1/models HTTP/1.1\r\nHost: ${API_HOST}\r\nConnection: close\r\n\r\n`);
    expect(answer.status).toBe(401);
    expect(JSON.parse(answer.body)).toEqual({ error: { message: 'token revoked' } });
    expect(upstream.requests).toHaveLength(1);
  });

  it(
    'an agent that asks again and again for a path that always answers 401 gets one refresh, not one per ' +
      'request (each would rotate the grant at the provider)',
    async () => {
      await seed(await mintRefreshToken(auth));
      const before = auth.tokenRequests.refresh_token ?? 0;
      for (let i = 0; i < 4; i++) {
        const answer = await ask(`GET /v1/refuses-everyone HTTP/1.1\r\nHost: ${API_HOST}\r\nConnection: close\r\n\r\n`);
        expect(answer.status).toBe(401);
      }
      expect((auth.tokenRequests.refresh_token ?? 0) - before).toBe(1);
      // The first 401 was tried once more with the refreshed token; the later ones were relayed as they came.
      expect(upstream.requests).toHaveLength(5);
      await rt.audit.flush();
      expect((await rt.audit.readRecent(100)).filter((e) => e.event === 'refresh')).toHaveLength(1);
    },
  );
});
