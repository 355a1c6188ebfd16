// The OAuth mix-up attack (RFC 9700 §4.4) against two real authorization servers: the person signs in to a hostile
// provider, which sends the browser on to an honest one with authsome's state; the honest server's code comes back
// to the one redirect URI under the hostile login's state. Its `iss` (RFC 9207) names the honest server, so authsome
// refuses the answer before the code goes to the hostile token endpoint, which could redeem it.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildConnectionId } from '../../../src/connections/records.js';
import { createRuntime, type Runtime } from '../../../src/runtime.js';
import {
  buildOAuthDefinition,
  LOOPBACK_REDIRECT,
  PUBLIC_CLIENT_ID,
  startTestAuthServer,
  type TestAuthServer,
} from '../../helpers/oauth-server.js';
import { createTestCa } from '../../helpers/test-ca.js';
import { postApi } from '../../helpers/http.js';

describe('an OAuth mix-up: a code from another authorization server', () => {
  let honest: TestAuthServer;
  let hostile: TestAuthServer;
  let root: string;
  let rt: Runtime;
  /** Every body the hostile token endpoint received. */
  const received: string[] = [];

  beforeAll(async () => {
    const ca = createTestCa(['localhost', '127.0.0.1']);
    honest = await startTestAuthServer({ ca });
    hostile = await startTestAuthServer({ ca });
    hostile.overrideToken((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        received.push(body);
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end('{"error":"invalid_grant"}');
      });
      return true;
    });
    root = mkdtempSync(join(tmpdir(), 'authsome-mixup-'));
    const home = join(root, 'home');
    mkdirSync(join(home, 'providers'), { recursive: true, mode: 0o700 });
    const definitions = {
      testoauth: buildOAuthDefinition(honest),
      hostile: buildOAuthDefinition(hostile, {
        name: 'hostile',
        display_name: 'Hostile',
        api_url: 'api.hostile.example',
      }),
    };
    for (const [name, definition] of Object.entries(definitions))
      writeFileSync(join(home, 'providers', `${name}.json`), JSON.stringify(definition), { mode: 0o600 });
    rt = await createRuntime({
      home,
      port: 0,
      kdf: { memory_kib: 1024, iterations: 1 },
      upstreamCaCerts: [ca.caCert],
    });
    await rt.connections.saveOAuthClient('testoauth', { client_id: PUBLIC_CLIENT_ID });
    await rt.connections.saveOAuthClient('hostile', { client_id: PUBLIC_CLIENT_ID });
  });
  afterEach(() => {
    received.length = 0;
  });
  afterAll(async () => {
    await rt?.close();
    await honest?.close();
    await hostile?.close();
    rmSync(root, { recursive: true, force: true });
  });

  const api = (path: string, body: unknown) => postApi(rt, path, body);

  /** A login to the hostile provider, waiting for its answer: the session and the state authsome sent it. */
  async function startHostileLogin(): Promise<{ session: string; state: string }> {
    const session = await api('/login-sessions', { provider: 'hostile' });
    const { authorization_url } = await api(`/login-sessions/${session.id}/authorize`, {});
    expect(new URL(authorization_url).origin).toBe(hostile.issuer);
    return { session: session.id, state: new URL(authorization_url).searchParams.get('state')! };
  }

  /**
   * What the honest server sends back after the hostile one forwarded the browser to it: a real code for the person,
   * bound to a PKCE challenge whose verifier only the attacker knows.
   */
  async function issueHonestCode(): Promise<string> {
    const provider = honest.provider as unknown as Record<string, any>;
    const grant = new provider.Grant({ accountId: 'alice', clientId: PUBLIC_CLIENT_ID });
    grant.addOIDCScope('openid offline_access');
    const grantId = await grant.save();
    const verifier = randomBytes(32).toString('base64url');
    const code = new provider.AuthorizationCode({
      accountId: 'alice',
      client: await provider.Client.find(PUBLIC_CLIENT_ID),
      grantId,
      scope: 'openid offline_access',
      redirectUri: LOOPBACK_REDIRECT,
      codeChallenge: createHash('sha256').update(verifier).digest('base64url'),
      codeChallengeMethod: 'S256',
    });
    return code.save();
  }

  it('the answer names the honest issuer: refused, and the code never reaches the hostile server', async () => {
    const { state } = await startHostileLogin();
    const code = await issueHonestCode();
    const query = new URLSearchParams({ code, state, iss: honest.issuer });
    const answer = await fetch(`http://127.0.0.1:${rt.port}/auth/callback?${query}`);
    expect(answer.status).toBe(400);
    const page = await answer.text();
    expect(page).toContain('was not issued by Hostile');
    expect(page).not.toContain(code);
    expect(received.join('\n')).not.toContain(code);
    expect(rt.vault.get(buildConnectionId('hostile', 'default'))).toBeUndefined();
  });

  it('the same answer pasted back in a terminal (headless login) is refused the same way', async () => {
    const { session, state } = await startHostileLogin();
    const code = await issueHonestCode();
    const url = `http://127.0.0.1:${rt.port}/auth/callback?${new URLSearchParams({ code, state, iss: honest.issuer })}`;
    const refused = await api(`/login-sessions/${session}/redirect`, { url });
    expect(refused.error).toBe('OAUTH_FAILED');
    expect(refused.message).toContain('was not issued by Hostile');
    expect(received.join('\n')).not.toContain(code);
  });

  it("an answer that names the login's own issuer goes to its token endpoint as before", async () => {
    const { state } = await startHostileLogin();
    const query = new URLSearchParams({ code: 'a-code-of-its-own', state, iss: hostile.issuer });
    const answer = await fetch(`http://127.0.0.1:${rt.port}/auth/callback?${query}`);
    // The hostile server refuses every code here; what matters is that the exchange was attempted there.
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(received.join('\n')).toContain('code=a-code-of-its-own');
  });
});
