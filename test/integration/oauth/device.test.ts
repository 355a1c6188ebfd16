// The device flow (RFC 8628) against a real authorization server: the runtime in-process with an injected poll clock
// (it records the intervals asked for and waits a few milliseconds instead of 5 s), the login session driven through
// /api as the CLI drives it, and a second browser page entering the user code at oidc-provider's /device pages.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildConnectionId } from '../../../src/connections/records.js';
import { createRuntime, type Runtime } from '../../../src/runtime.js';
import { launchBrowser } from '../../helpers/browser.js';
import {
  buildOAuthDefinition,
  PUBLIC_CLIENT_ID,
  startTestAuthServer,
  type TestAuthServer,
} from '../../helpers/oauth-server.js';
import { createTestCa } from '../../helpers/test-ca.js';

const KDF = { memory_kib: 1024, iterations: 1 };

describe('OAuth device flow (RFC 8628)', () => {
  let auth: TestAuthServer;
  let browser: Browser;
  let root: string;
  let rt: Runtime;
  let asked: number[];
  /** Waits that ended because the login was cancelled (the poll stops after one). */
  let aborted = 0;
  /** How long the injected clock waits (a test may make it long to hold the poll inside a wait). */
  let waitMs = 20;
  /** Waits now in progress. */
  let waiting = 0;

  beforeAll(async () => {
    const ca = createTestCa(['localhost', '127.0.0.1']);
    auth = await startTestAuthServer({ ca });
    browser = await launchBrowser();
    root = mkdtempSync(join(tmpdir(), 'authsome-device-'));
    const home = join(root, 'home');
    mkdirSync(join(home, 'providers'), { recursive: true, mode: 0o700 });
    const def = buildOAuthDefinition(auth, { name: 'testdevice', display_name: 'Test Device', flow: 'device_code' });
    writeFileSync(join(home, 'providers', 'testdevice.json'), JSON.stringify(def), { mode: 0o600 });
    rt = await createRuntime({
      home,
      port: 0,
      kdf: KDF,
      upstreamCaCerts: [ca.caCert],
      // The injected clock: remember the wait asked for, wait a moment (an aborted wait ends at once).
      deviceSleep: (ms, signal) => {
        asked.push(ms);
        waiting++;
        return new Promise<void>((resolve) => {
          const onAbort = () => {
            aborted++;
            clearTimeout(timer);
            resolve();
          };
          const timer = setTimeout(() => {
            signal.removeEventListener('abort', onAbort);
            resolve();
          }, waitMs);
          signal.addEventListener('abort', onAbort, { once: true });
        }).finally(() => {
          waiting--;
        });
      },
    });
  });
  afterAll(async () => {
    await rt?.close();
    await browser?.close();
    await auth?.close();
    rmSync(root, { recursive: true, force: true });
  });
  beforeEach(() => {
    asked = [];
    waitMs = 20;
  });
  afterEach(() => {
    auth.overrideToken(undefined);
    auth.overrideDeviceAuthorization(undefined);
  });

  async function api(method: 'GET' | 'POST', path: string, body?: unknown): Promise<any> {
    const res = await fetch(`${rt.url}/api${path}`, {
      method,
      headers: { authorization: `Bearer ${rt.token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return res.json();
  }

  async function waitForEnd(id: string): Promise<any> {
    for (;;) {
      const state = await api('GET', `/login-sessions/${id}?wait=20000`);
      if (state.state !== 'pending') return state;
    }
  }

  it(
    'asks for the client once, polls with slow_down (+5 s each), and stores the tokens once the code is ' + 'approved',
    async () => {
      const started = await api('POST', '/login-sessions', { provider: 'testdevice' });
      expect(started.flow).toBe('device_code');
      expect(started.device).toBeUndefined(); // no client yet: the CLI asks for it
      // The first two polls are told to slow down, as GitHub does when a client polls too fast.
      let slowDowns = 2;
      auth.overrideToken((_req, res) => {
        if (slowDowns === 0) return false;
        slowDowns--;
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'slow_down' }));
        return true;
      });
      const session = await api('POST', `/login-sessions/${started.id}/client`, { client_id: PUBLIC_CLIENT_ID });
      expect(session.device.user_code).toMatch(/^[A-Z]{4}-[A-Z]{4}$/);
      expect(session.device.verification_uri).toBe(`${auth.issuer}/device`);
      expect(session.device.verification_uri_complete).toContain('user_code=');

      const context = await browser.newContext({ ignoreHTTPSErrors: true });
      const page = await context.newPage();
      await page.goto(`${auth.issuer}/device`);
      await page.locator('input[name="user_code"]').fill(session.device.user_code);
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.getByRole('button', { name: 'Continue' }).first().click();
      await page.locator('input[name="login"]').fill('alice');
      await page.locator('input[name="password"]').fill('any');
      await page.getByRole('button', { name: 'Sign-in' }).click();
      await page.getByRole('button', { name: 'Continue' }).click();
      await expect.poll(() => page.locator('body').textContent()).toContain('Sign-in Success');

      const ended = await waitForEnd(started.id);
      expect(ended.state).toBe('completed');
      // No interval from oidc-provider → 5 s (RFC 8628 §3.2); each slow_down adds 5 s and the new pace is kept.
      expect(asked.slice(0, 4)).toEqual([5000, 10_000, 15_000, 15_000]);
      const record = rt.vault.get<{ access_token: string; status: string }>(
        buildConnectionId('testdevice', 'default'),
      )!;
      expect(record.status).toBe('connected');
      const me = await fetch(`${rt.url}/health`); // the runtime still answers after the background poll ended
      expect(me.status).toBe(200);
      expect(rt.connections.loadOAuthClient('testdevice')).toEqual({ client_id: PUBLIC_CLIENT_ID });
      await context.close();
    },
  );

  it('access_denied at the provider ends the login with a clear error and stores nothing', async () => {
    const started = await api('POST', '/login-sessions', { provider: 'testdevice', connection: 'denied' });
    expect(started.device.user_code).toBeDefined(); // the stored client is reused: no question this time
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    await page.goto(started.device.verification_uri_complete);
    await page.getByRole('button', { name: '[ Abort ]' }).click();
    const ended = await waitForEnd(started.id);
    expect(ended.state).toBe('failed');
    expect(ended.error).toEqual({
      error: 'OAUTH_FAILED',
      message: 'Test Device did not grant access; nothing was stored.',
      hint: "Run 'authsome login testdevice' to try again, and approve the request.",
    });
    expect(rt.vault.get(buildConnectionId('testdevice', 'denied'))).toBeUndefined();
    await context.close();
  });

  it('expired_token from the provider: the code expired, nothing stored', async () => {
    auth.overrideToken((_req, res) => {
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'expired_token' }));
      return true;
    });
    const started = await api('POST', '/login-sessions', { provider: 'testdevice', connection: 'late' });
    const ended = await waitForEnd(started.id);
    expect(ended.state).toBe('failed');
    expect(ended.error.message).toBe('The code for Test Device expired before it was entered; nothing was stored.');
    expect(ended.error.hint).toBe(
      "Run 'authsome login testdevice' again for a new code, and enter it within the time shown.",
    );
    expect(rt.vault.get(buildConnectionId('testdevice', 'late'))).toBeUndefined();
  });

  it('a cancelled login (Ctrl-C) stops the polling', async () => {
    const started = await api('POST', '/login-sessions', { provider: 'testdevice', connection: 'gone' });
    await expect.poll(() => asked.length).toBeGreaterThan(2); // polling (authorization_pending)
    // Hold the poll inside a wait (a minute long) so the cancel lands there, not during a token request.
    waitMs = 60_000;
    const held = asked.length;
    await expect.poll(() => asked.length > held && waiting === 1).toBe(true);
    const before = aborted;
    const cancelled = await api('POST', `/login-sessions/${started.id}/cancel`, {});
    expect(cancelled.state).toBe('cancelled');
    // The wait is cut short by the cancel (not after its minute); the loop checks the signal after it and stops.
    await expect.poll(() => aborted).toBe(before + 1);
    await expect.poll(() => waiting).toBe(0);
    const asks = asked.length;
    await new Promise((r) => setTimeout(r, 100));
    expect(asked.length).toBe(asks); // no further poll
    expect(rt.vault.get(buildConnectionId('testdevice', 'gone'))).toBeUndefined();
  });

  it('a device code said to live 1e300 seconds: the login waits an hour at most, its state readable', async () => {
    auth.overrideDeviceAuthorization((_req, res) => {
      const body = {
        device_code: 'hostile-device-code',
        user_code: 'ABCD-EFGH',
        verification_uri: `${auth.issuer}/device`,
        expires_in: 1e300,
      };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      return true;
    });
    // The person has not entered the code yet. (The real server does not know this code: its invalid_grant, on a
    // machine slow enough for a poll to come back before the cancel below, ended the login as failed.)
    auth.overrideToken((_req, res) => {
      res
        .writeHead(400, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: 'authorization_pending' }));
      return true;
    });
    const started = await api('POST', '/login-sessions', { provider: 'testdevice', connection: 'forever' });
    const res = await fetch(`${rt.url}/api/login-sessions/${started.id}/client`, {
      method: 'POST',
      headers: { authorization: `Bearer ${rt.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: PUBLIC_CLIENT_ID }),
    });
    expect(res.status).toBe(200);
    const session = (await res.json()) as { device: { user_code: string }; expires_at: string };
    expect(session.device.user_code).toBe('ABCD-EFGH');
    expect(Date.parse(session.expires_at)).toBeLessThanOrEqual(Date.now() + 3600_000);
    expect((await api('GET', `/login-sessions/${started.id}`)).state).toBe('pending');
    expect((await api('POST', `/login-sessions/${started.id}/cancel`, {})).state).toBe('cancelled');
  });
});
