// A login abandoned half-way: the pending session expires (the CLI then exits 2), and the provider's answer arriving
// afterwards is refused without a token request and without storing anything.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConnectionId } from '../../../src/connections/records.js';
import { createRuntime, type Runtime } from '../../../src/runtime.js';
import {
  buildOAuthDefinition,
  PUBLIC_CLIENT_ID,
  startTestAuthServer,
  type TestAuthServer,
} from '../../helpers/oauth-server.js';
import { createTestCa } from '../../helpers/test-ca.js';

describe('an abandoned OAuth login', () => {
  let auth: TestAuthServer;
  let root: string;
  let rt: Runtime;

  beforeAll(async () => {
    const ca = createTestCa(['localhost', '127.0.0.1']);
    auth = await startTestAuthServer({ ca });
    root = mkdtempSync(join(tmpdir(), 'authsome-abandoned-'));
    const home = join(root, 'home');
    mkdirSync(join(home, 'providers'), { recursive: true, mode: 0o700 });
    writeFileSync(join(home, 'providers', 'testoauth.json'), JSON.stringify(buildOAuthDefinition(auth)), {
      mode: 0o600,
    });
    rt = await createRuntime({
      home,
      port: 0,
      kdf: { memory_kib: 1024, iterations: 1 },
      upstreamCaCerts: [ca.caCert],
      web: { loginTtlMs: 300 },
    });
    await rt.connections.saveOAuthClient('testoauth', { client_id: PUBLIC_CLIENT_ID });
  });
  afterAll(async () => {
    await rt?.close();
    await auth?.close();
    rmSync(root, { recursive: true, force: true });
  });

  async function api(method: 'GET' | 'POST', path: string, body?: unknown): Promise<any> {
    const res = await fetch(`${rt.url}/api${path}`, {
      method,
      headers: { authorization: `Bearer ${rt.token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return res.json();
  }

  it('the session expires, and a late answer from the provider stores nothing', async () => {
    const session = await api('POST', '/login-sessions', { provider: 'testoauth' });
    const { authorization_url } = await api('POST', `/login-sessions/${session.id}/authorize`, {});
    const state = new URL(authorization_url).searchParams.get('state');
    // The long-poll the CLI makes ends when the session expires (its timer wakes waiters at the deadline).
    const ended = await api('GET', `/login-sessions/${session.id}?wait=10000`);
    expect(ended.state).toBe('expired');
    const late = await fetch(`http://127.0.0.1:${rt.port}/auth/callback?code=late-code&state=${state}`);
    expect(late.status).toBe(400);
    expect(await late.text()).toContain('does not match any login authsome is waiting for');
    expect(auth.tokenRequests.authorization_code ?? 0).toBe(0);
    expect(rt.vault.get(buildConnectionId('testoauth', 'default'))).toBeUndefined();
  });
});
