// `authsome login <oauth provider>` with the pkce flow, end to end: the built CLI, the server it starts (trusting the
// test CA through NODE_EXTRA_CA_CERTS), a real authorization server (oidc-provider over HTTPS) and Chromium driving
// authsome's form, then the provider's own login and consent pages, back to http://127.0.0.1:<port>/auth/callback.
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { createFakeBrowser, launchBrowser, openCheckedPage, type FakeBrowser } from '../../helpers/browser.js';
import {
  listFilesRecursive,
  makeTempHome,
  readServerState,
  runCli,
  spawnCli,
  type TempHome,
} from '../../helpers/cli.js';
import {
  buildOAuthDefinition,
  CONFIDENTIAL_CLIENT_ID,
  CONFIDENTIAL_CLIENT_SECRET,
  PUBLIC_CLIENT_ID,
  startTestAuthServer,
  type TestAuthServer,
} from '../../helpers/oauth-server.js';
import { runInPty } from '../../helpers/pty.js';
import { createTestCa } from '../../helpers/test-ca.js';

interface Running {
  child: ChildProcess;
  out: { stdout: string; stderr: string };
  exited: Promise<number | null>;
}

function watch(args: string[], home: string, env: NodeJS.ProcessEnv): Running {
  const child = spawnCli(home, args, env);
  const out = { stdout: '', stderr: '' };
  child.stdout?.on('data', (d: Buffer) => (out.stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out.stderr += d.toString()));
  return { child, out, exited: new Promise((resolve) => child.on('close', (code) => resolve(code))) };
}

describe('authsome login through OAuth 2.0 (pkce) against a real authorization server', () => {
  let t: TempHome;
  let browser: Browser;
  let fake: FakeBrowser;
  let auth: TestAuthServer;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    t = makeTempHome();
    fake = createFakeBrowser(join(t.root, 'bin'));
    const ca = createTestCa(['localhost', '127.0.0.1']);
    const { caPath } = await ca.writeFiles(t.root);
    auth = await startTestAuthServer({ ca });
    mkdirSync(join(t.home, 'providers'), { recursive: true, mode: 0o700 });
    writeFileSync(join(t.home, 'providers', 'testoauth.json'), JSON.stringify(buildOAuthDefinition(auth)), {
      mode: 0o600,
    });
    // A self-hosted kind: every endpoint under the connection's --base-url.
    const templated = buildOAuthDefinition(auth, {
      name: 'testbase',
      display_name: 'Test Base',
      oauth: {
        authorization_url: '{base_url}/auth',
        token_url: '{base_url}/token',
        revocation_url: '{base_url}/token/revocation',
      },
    });
    writeFileSync(join(t.home, 'providers', 'testbase.json'), JSON.stringify(templated), { mode: 0o600 });
    // dcr_pkce without a registration_endpoint: found by discovery (RFC 8414, then OpenID).
    const dcr = buildOAuthDefinition(auth, { name: 'testdcr', display_name: 'Test DCR', flow: 'dcr_pkce' });
    writeFileSync(join(t.home, 'providers', 'testdcr.json'), JSON.stringify(dcr), { mode: 0o600 });
    env = { BROWSER: fake.command, NODE_EXTRA_CA_CERTS: caPath };
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await t?.cleanup();
    await auth?.close();
  });

  /**
   * "Another machine": the browser signs in, but the redirect to 127.0.0.1 is not followed (there, nothing listens);
   * its address is what the person copies. Playwright does not route redirects, so each form post at the provider
   * is sent by hand and its redirect chain followed here, up to the redirect URI. Resolves with that address.
   */
  async function signInElsewhere(url: string): Promise<string> {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    let redirected = '';
    await context.route(new RegExp(`^${auth.issuer}/interaction/`), async (route) => {
      if (route.request().method() !== 'POST') return route.continue();
      const posted = await route.fetch({ maxRedirects: 0 });
      const resume = await context.request.get(new URL(posted.headers().location!, auth.issuer).href, {
        maxRedirects: 0,
      });
      const location = resume.headers().location ?? '';
      if (!location.startsWith('http://127.0.0.1')) return route.fulfill({ status: 303, headers: { location } });
      redirected = location;
      return route.fulfill({ status: 200, contentType: 'text/plain', body: 'This site can not be reached' });
    });
    await page.goto(url);
    await signInAtProvider(page);
    await expect.poll(() => redirected).toMatch(/code=/);
    await context.close();
    return redirected;
  }

  /** oidc-provider's development login and consent pages, as a person fills them in. */
  async function signInAtProvider(page: Page): Promise<void> {
    await page.locator('input[name="login"]').fill('alice');
    await page.locator('input[name="password"]').fill('any');
    await page.getByRole('button', { name: 'Sign-in' }).click();
    await page.getByRole('button', { name: 'Continue' }).click();
  }

  it(
    'asks for the client once, shows the exact redirect URI, signs in at the provider and stores a working ' + 'token',
    async () => {
      const run = watch(['login', 'testoauth'], t.home, env);
      const url = await fake.waitForUrl(0);
      const port = Number(new URL(readServerState(t.home)!.url).port);
      // The authorization server's certificate comes from the test CA; the browser is not what is under test here.
      const context = await browser.newContext({ ignoreHTTPSErrors: true });
      const { page, problems } = await openCheckedPage(context);
      await page.goto(url);
      await expect.poll(() => page.locator('h1').textContent()).toBe('Connect Test OAuth');
      expect(await page.locator('#redirect_uri').textContent()).toBe(`http://127.0.0.1:${port}/auth/callback`);
      expect(await page.locator('#scopes').inputValue()).toBe('openid offline_access');
      expect(await page.locator('#client_id').inputValue()).toBe('');

      await page.locator('#client_id').fill(PUBLIC_CLIENT_ID);
      const authorize = page.waitForRequest((r) => r.url().startsWith(`${auth.issuer}/auth?`));
      await page.getByRole('button', { name: 'Continue to Test OAuth' }).click();
      const query = new URL((await authorize).url()).searchParams;
      expect(query.get('redirect_uri')).toBe(`http://127.0.0.1:${port}/auth/callback`);
      expect(query.get('code_challenge_method')).toBe('S256');
      expect(query.get('client_id')).toBe(PUBLIC_CLIENT_ID);
      expect(query.get('scope')).toBe('openid offline_access');
      // At least 128 bits of state: 22 base64url characters; authsome sends 32 bytes (43 characters).
      expect(query.get('state')!.length).toBeGreaterThanOrEqual(43);

      await signInAtProvider(page);
      await page.waitForURL(/^http:\/\/127\.0\.0\.1:\d+\/auth\/callback\?/);
      await expect
        .poll(() => page.locator('#login-result').textContent())
        .toBe('Successfully logged in to testoauth (default). You can close this window.');
      const callbackUrl = page.url();
      expect(await run.exited).toBe(0);
      expect(run.out.stdout).toBe('Successfully logged in to testoauth (default).\n');
      expect(run.out.stderr).toContain('Waiting for the sign-in to finish');
      expect(auth.tokenRequests.authorization_code).toBe(1);

      // The stored token is one the provider accepts.
      const token = (
        await runCli(t.home, ['get', 'testoauth', '--field', 'access_token', '--show-secret'])
      ).stdout.trim();
      expect(token.length).toBeGreaterThan(20);
      const me = await fetchWithCa(`${auth.issuer}/me`, token, t.root);
      expect(me.status).toBe(200);
      const record = await runCli(t.home, ['get', 'testoauth']);
      expect(record.stdout).toContain('auth_type: oauth2');
      // The scopes the provider granted (its answer's `scope`): oidc-provider drops offline_access without
      // prompt=consent.
      expect(record.stdout).toContain('scopes: openid\n');
      expect(record.stdout).toMatch(/expires_at: \d{4}-/);
      expect(record.stdout).not.toContain(token);
      // list, and the provider page this browser is signed in to, show the expiry and the granted scopes.
      const list = await runCli(t.home, ['list', '--connected']);
      expect(list.stdout).toMatch(/testoauth +custom +oauth2 +default +yes +connected +expires in \d+m +openid\n/);
      await page.goto(new URL('/providers/testoauth', url).href);
      await expect.poll(() => page.locator('.conn-expiry').first().textContent()).toMatch(/^expires in \d+m$/);
      expect(await page.locator('.conn-scopes').first().textContent()).toBe('openid');
      expect(await page.content()).not.toContain(token);
      await page.goto(new URL('/', url).href);
      await expect.poll(() => page.locator('.chip-scopes').first().textContent()).toBe('openid');

      // The same answer again (a reload, or a page replaying it): the state was used once and is gone.
      const replay = await page.goto(callbackUrl);
      expect(replay!.status()).toBe(400);
      expect(await page.locator('.notice-message').textContent()).toContain(
        'does not match any login authsome is waiting for',
      );
      expect(auth.tokenRequests.authorization_code).toBe(1);
      // oidc-provider's own pages ask for a web font this offline machine cannot resolve: not authsome's problem.
      expect(problems.filter((p) => !/fonts\.googleapis\.com|ERR_NAME_NOT_RESOLVED/.test(p))).toEqual([]);
      await context.close();
    },
  );

  it('a later login reuses the stored client, and a confidential client sends its secret', async () => {
    const run = watch(['login', 'testoauth', '--connection', 'second', '--scopes', 'openid,repo'], t.home, env);
    const url = await fake.waitForUrl(1);
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const { page } = await openCheckedPage(context);
    await page.goto(url);
    await expect.poll(() => page.locator('#client_id').inputValue()).toBe(PUBLIC_CLIENT_ID);
    expect(await page.locator('#scopes').inputValue()).toBe('openid repo');
    // Switch this provider to the confidential app: the secret is stored (encrypted) with it.
    await page.locator('#client_id').fill(CONFIDENTIAL_CLIENT_ID);
    await page.locator('#client_secret').fill(CONFIDENTIAL_CLIENT_SECRET);
    const authorize = page.waitForRequest((r) => r.url().startsWith(`${auth.issuer}/auth?`));
    await page.getByRole('button', { name: 'Continue to Test OAuth' }).click();
    expect(new URL((await authorize).url()).searchParams.get('scope')).toBe('openid repo');
    await signInAtProvider(page);
    await expect
      .poll(() => page.locator('#login-result').textContent())
      .toBe('Successfully logged in to testoauth (second). You can close this window.');
    expect(await run.exited).toBe(0);
    expect((await runCli(t.home, ['get', 'testoauth', '--connection', 'second', '--field', 'scopes'])).stdout).toBe(
      'openid repo\n',
    );
    // The client secret is in the vault encrypted: no file under the home holds it in the clear.
    for (const file of listFilesRecursive(t.home))
      expect(readFileSync(file).toString('latin1').includes(CONFIDENTIAL_CLIENT_SECRET), file).toBe(false);

    // The next login shows the confidential client, secret kept: nothing to type but "Continue".
    const again = watch(['login', 'testoauth', '--connection', 'third'], t.home, env);
    await page.goto(await fake.waitForUrl(2));
    await expect.poll(() => page.locator('#client_id').inputValue()).toBe(CONFIDENTIAL_CLIENT_ID);
    expect(await page.locator('#client_secret-hint').textContent()).toContain('A secret is stored');
    expect(await page.content()).not.toContain(CONFIDENTIAL_CLIENT_SECRET);
    await page.getByRole('button', { name: 'Continue to Test OAuth' }).click();
    // Signed in at the provider already: consent only (or straight back).
    await page.waitForURL((u) => u.href.startsWith('http://127.0.0.1') || u.pathname.startsWith('/interaction'));
    if (!page.url().startsWith('http://127.0.0.1')) await page.getByRole('button', { name: 'Continue' }).click();
    await expect
      .poll(() => page.locator('#login-result').textContent())
      .toBe('Successfully logged in to testoauth (third). You can close this window.');
    expect(await again.exited).toBe(0);
    await context.close();
  });

  it(
    'without JavaScript the form leads on with a link (CSP form-action forbids redirecting a form post to ' +
      'the provider)',
    async () => {
      const seen = fake.urls().length;
      const run = watch(['login', 'testoauth', '--connection', 'nojs'], t.home, env);
      const context = await browser.newContext({ ignoreHTTPSErrors: true, javaScriptEnabled: false });
      const page = await context.newPage();
      await page.goto(await fake.waitForUrl(seen));
      await page.getByRole('button', { name: 'Continue to Test OAuth' }).click();
      const link = page.locator('#oauth-continue');
      expect(await link.getAttribute('href')).toMatch(new RegExp(`^${auth.issuer}/auth\\?`));
      await link.click();
      await signInAtProvider(page);
      await expect
        .poll(() => page.locator('#login-result').textContent())
        .toBe('Successfully logged in to testoauth (nojs). You can close this window.');
      expect(await run.exited).toBe(0);
      await context.close();
    },
  );

  it('the provider page starts, finishes and cancels an OAuth connection', async () => {
    const ui = await runCli(t.home, ['ui', '--no-browser'], { env });
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const { page, problems } = await openCheckedPage(context);
    await page.goto(ui.stdout.trim());
    await page.goto(new URL('/providers/testoauth', ui.stdout.trim()).href);
    expect(await page.content()).not.toContain('cannot do yet');
    // Cancel: back to the provider page, nothing stored.
    await page.locator('#connection').fill('webcancel');
    await page.getByRole('button', { name: 'Continue', exact: true }).click();
    await expect.poll(() => page.locator('h1').textContent()).toBe('Connect Test OAuth');
    await page.getByRole('button', { name: 'Cancel this login' }).click();
    await page.waitForURL(/\/providers\/testoauth$/);
    // Connect: the form, the provider, and back.
    await page.locator('#connection').fill('web');
    await page.getByRole('button', { name: 'Continue', exact: true }).click();
    await page.getByRole('button', { name: 'Continue to Test OAuth' }).click();
    await signInAtProvider(page);
    await expect
      .poll(() => page.locator('#login-result').textContent())
      .toBe('Successfully logged in to testoauth (web). You can close this window.');
    expect(
      (await runCli(t.home, ['get', 'testoauth', '--connection', 'web', '--field', 'status'], { env })).stdout,
    ).toBe('connected\n');
    expect((await runCli(t.home, ['get', 'testoauth', '--connection', 'webcancel'], { env })).code).toBe(3);
    expect(problems.filter((p) => !/fonts\.googleapis\.com|ERR_NAME_NOT_RESOLVED/.test(p))).toEqual([]);
    await context.close();
  });

  it('--base-url fills {base_url} in every endpoint and is stored with the connection', async () => {
    const missing = await runCli(t.home, ['login', 'testbase'], { env });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('Error: Test Base needs the base URL of your server.');
    expect(missing.stderr).toContain("Hint: Run 'authsome login testbase --base-url https://<your server>'.");

    const seen = fake.urls().length;
    const run = watch(['login', 'testbase', '--base-url', `${auth.issuer}/`], t.home, env);
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const { page } = await openCheckedPage(context);
    await page.goto(await fake.waitForUrl(seen));
    await page.locator('#client_id').fill(PUBLIC_CLIENT_ID);
    const authorize = page.waitForRequest((r) => r.url().startsWith(`${auth.issuer}/auth?`));
    await page.getByRole('button', { name: 'Continue to Test Base' }).click();
    await authorize;
    await signInAtProvider(page);
    await expect
      .poll(() => page.locator('#login-result').textContent())
      .toBe('Successfully logged in to testbase (default). You can close this window.');
    expect(await run.exited).toBe(0);
    expect((await runCli(t.home, ['get', 'testbase', '--field', 'base_url'])).stdout).toBe(`${auth.issuer}\n`);
    await context.close();
  });

  it(
    '--flow device_code prints the code and the URL, ' + 'opens verification_uri_complete, and Ctrl-C cancels',
    async () => {
      const seen = fake.urls().length;
      const run = watch(
        ['login', 'testbase', '--connection', 'device', '--flow', 'device_code', '--base-url', auth.issuer],
        t.home,
        env,
      );
      const opened = await fake.waitForUrl(seen);
      expect(opened).toMatch(new RegExp(`^${auth.issuer}/device\\?user_code=`));
      await expect.poll(() => run.out.stderr).toContain('Waiting for you to approve (Ctrl-C to cancel)…');
      const code = /First copy your one-time code: ([A-Z]{4}-[A-Z]{4})\n/.exec(run.out.stderr)?.[1];
      expect(code).toBeDefined();
      expect(run.out.stderr).toContain(`Then open ${auth.issuer}/device and enter it.`);
      run.child.kill('SIGINT');
      expect(await run.exited).toBe(2);
      expect(run.out.stderr).toContain('Error: Cancelled.');
      expect(run.out.stdout).toBe('');
      const listed = await runCli(t.home, ['get', 'testbase', '--connection', 'device'], { env });
      expect(listed.code).toBe(3);
    },
  );

  it(
    'headless: prints the authorization URL, and the redirected address pasted on stdin finishes the login ' +
      '(its state must match)',
    async () => {
      // No BROWSER, no display: the CLI cannot open anything, so it prints the URL for a browser on another machine.
      const headlessEnv = { NODE_EXTRA_CA_CERTS: env.NODE_EXTRA_CA_CERTS };
      const run = watch(['login', 'testoauth', '--connection', 'headless', '--stdin'], t.home, headlessEnv);
      await expect.poll(() => run.out.stderr, { timeout: 15_000 }).toContain('paste it here');
      const url = /\n {2}(https:\/\/\S+)\n/.exec(run.out.stderr)![1]!;
      expect(url.startsWith(`${auth.issuer}/auth?`)).toBe(true);

      const redirected = await signInElsewhere(url);
      run.child.stdin!.end(`${redirected}\n`);
      expect(await run.exited).toBe(0);
      expect(run.out.stdout).toBe('Successfully logged in to testoauth (headless).\n');
      expect(run.out.stderr).not.toContain(new URL(redirected).searchParams.get('code')!);

      // An address whose state is not this login's (a stale paste, or one from someone else) stores nothing.
      const stale = watch(['login', 'testoauth', '--connection', 'stale', '--stdin'], t.home, headlessEnv);
      await expect.poll(() => stale.out.stderr, { timeout: 15_000 }).toContain('paste it here');
      stale.child.stdin!.end(`${redirected}\n`);
      expect(await stale.exited).toBe(2);
      expect(stale.out.stderr).toContain('Error: This sign-in answer does not match any login authsome is waiting for');
      expect((await runCli(t.home, ['get', 'testoauth', '--connection', 'stale'])).code).toBe(3);
    },
  );

  it('dcr_pkce registers a client through discovery once, and later logins reuse it', async () => {
    for (const connection of ['default', 'again']) {
      const seen = fake.urls().length;
      const run = watch(['login', 'testdcr', '--connection', connection], t.home, env);
      const context = await browser.newContext({ ignoreHTTPSErrors: true });
      const { page } = await openCheckedPage(context);
      await page.goto(await fake.waitForUrl(seen));
      await expect.poll(() => page.locator('#dcr-note').count()).toBe(1);
      expect(await page.locator('#client_id').count()).toBe(0); // nothing to enter
      await page.getByRole('button', { name: 'Continue to Test DCR' }).click();
      await signInAtProvider(page);
      await expect
        .poll(() => page.locator('#login-result').textContent())
        .toBe(`Successfully logged in to testdcr (${connection}). You can close this window.`);
      expect(await run.exited).toBe(0);
      await context.close();
    }
    expect(auth.paths.filter((p) => p === '/reg')).toHaveLength(1);
    expect(auth.paths).toContain('/.well-known/oauth-authorization-server');
  });

  it(
    'bad answers end the login with an Error and a Hint ' + 'on the page and in the terminal, and store nothing',
    async () => {
      const html = (res: import('node:http').ServerResponse) =>
        res.writeHead(502, { 'content-type': 'text/html' }).end('<html><body>Bad gateway</body></html>');
      const json = (status: number, body: unknown) => (res: import('node:http').ServerResponse) =>
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      const cases: {
        name: string;
        answer?: (res: import('node:http').ServerResponse) => void;
        deny?: boolean;
        message: string;
        hint: string;
        code: number;
      }[] = [
        {
          name: 'denied',
          deny: true,
          message: 'Test OAuth did not grant access (End-User aborted interaction); nothing was stored.',
          hint: "Run 'authsome login testoauth' to try again, and approve the request.",
          code: 2,
        },
        {
          name: 'html',
          answer: html,
          message:
            'The token endpoint of Test OAuth gave an answer authsome cannot use: HTTP 502 with an HTML page ' +
            'instead of JSON; nothing was stored.',
          hint: "Check oauth.token_url in the provider definition ('authsome inspect testoauth'), then try again.",
          code: 1,
        },
        {
          name: 'noaccess',
          answer: json(200, { token_type: 'bearer', expires_in: 60 }),
          message:
            'The token endpoint of Test OAuth gave an answer authsome cannot use: the answer has no ' +
            'access_token; nothing was stored.',
          hint: "Check oauth.token_url in the provider definition ('authsome inspect testoauth'), then try again.",
          code: 1,
        },
        {
          name: 'badclient',
          answer: json(401, { error: 'invalid_client', error_description: 'client authentication failed' }),
          message:
            'Test OAuth refused the token request: invalid_client (client authentication failed); nothing was stored.',
          hint:
            "Check the client id and secret of your OAuth app, then run 'authsome login testoauth --force' and " +
            'enter them again.',
          code: 2,
        },
      ];
      for (const c of cases) {
        auth.overrideToken(c.answer ? (_req, res) => (c.answer!(res), true) : undefined);
        const seen = fake.urls().length;
        const run = watch(['login', 'testoauth', '--connection', c.name], t.home, env);
        const context = await browser.newContext({ ignoreHTTPSErrors: true });
        const page = await context.newPage();
        await page.goto(await fake.waitForUrl(seen));
        await page.getByRole('button', { name: 'Continue to Test OAuth' }).click();
        if (c.deny) {
          await page.getByRole('link', { name: '[ Cancel ]' }).click();
        } else {
          await signInAtProvider(page);
        }
        await page.waitForURL(/^http:\/\/127\.0\.0\.1:\d+\/auth\/callback\?/);
        await expect.poll(() => page.locator('.notice-message').textContent(), { message: c.name }).toBe(c.message);
        expect(await run.exited, c.name).toBe(c.code);
        expect(run.out.stderr, c.name).toContain(`Error: ${c.message}\nHint: ${c.hint}\n`);
        expect((await runCli(t.home, ['get', 'testoauth', '--connection', c.name])).code, c.name).toBe(3);
        await context.close();
      }
      auth.overrideToken(undefined);
    },
  );

  it('headless on a terminal: the pasted address is read with echo off', async () => {
    const pty = runInPty(t.home, ['login', 'testoauth', '--connection', 'tty', '--no-browser'], {
      NODE_EXTRA_CA_CERTS: env.NODE_EXTRA_CA_CERTS,
    });
    await pty.waitFor('Redirected URL: ');
    const url = /\n {2}(https:\/\/\S+)\r?\n/.exec(pty.output())![1]!;
    const redirected = await signInElsewhere(url);
    pty.type(`${redirected}\r`);
    expect(await pty.exit).toBe(0);
    expect(pty.output()).toContain('Successfully logged in to testoauth (tty).');
    expect(pty.output()).not.toContain(new URL(redirected).searchParams.get('code')!);
  });

  it(
    'a HEAD request to the callback (a prefetch, a link checker) does not use up the state of a login in ' + 'progress',
    async () => {
      const headlessEnv = { NODE_EXTRA_CA_CERTS: env.NODE_EXTRA_CA_CERTS };
      const run = watch(['login', 'testoauth', '--connection', 'head', '--stdin'], t.home, headlessEnv);
      await expect.poll(() => run.out.stderr, { timeout: 15_000 }).toContain('paste it here');
      const state = new URL(/\n {2}(https:\/\/\S+)\n/.exec(run.out.stderr)![1]!).searchParams.get('state')!;
      const port = Number(new URL(readServerState(t.home)!.url).port);
      const callback = `http://127.0.0.1:${port}/auth/callback?code=made-up-code&state=${state}`;
      expect((await fetch(callback, { method: 'HEAD' })).status).toBe(200);
      // The state is still this login's: the made-up code reaches the token endpoint, which refuses it.
      const res = await fetch(callback);
      expect(res.status).toBe(400);
      expect(await res.text()).toContain('refused the token request: invalid_grant');
      expect(await run.exited).toBe(2);
      expect(run.out.stderr).toContain('Error: Test OAuth refused the token request: invalid_grant');
    },
  );

  it(
    'a hostile page cannot finish a login: a forged state ' + 'stores nothing and the pending login still works',
    async () => {
      const before = auth.tokenRequests.authorization_code;
      const port = Number(new URL(readServerState(t.home)!.url).port);
      const res = await fetch(`http://127.0.0.1:${port}/auth/callback?code=attacker-code&state=${'A'.repeat(43)}`);
      expect(res.status).toBe(400);
      expect(await res.text()).toContain('does not match any login authsome is waiting for');
      expect(auth.tokenRequests.authorization_code).toBe(before);
    },
  );

  it('the OAuth flags are refused where they mean nothing, and unfinished flows are refused, not ignored', async () => {
    const apiKey = await runCli(t.home, ['login', 'openai', '--scopes', 'a,b'], { env });
    expect(apiKey.code).toBe(2);
    expect(apiKey.stderr).toContain('Error: --scopes is for OAuth providers; OpenAI uses an API key.');
    const flow = await runCli(t.home, ['login', 'testoauth', '--connection', 'x', '--flow', 'magic'], { env });
    expect(flow.code).toBe(2);
    expect(flow.stderr).toContain("Error: Unknown flow 'magic'.");
    const device = await runCli(t.home, ['login', 'openai', '--flow', 'device_code'], { env });
    expect(device.code).toBe(2);
    expect(device.stderr).toContain('Error: --flow is for OAuth providers; OpenAI uses an API key.');
  });
});

/** The provider's userinfo endpoint with the token, trusting the test CA the way the server does. */
async function fetchWithCa(url: string, token: string, root: string): Promise<{ status: number }> {
  const { Agent, fetch: undiciFetch } = await import('undici');
  const { readFileSync } = await import('node:fs');
  const dispatcher = new Agent({ connect: { ca: readFileSync(join(root, 'ca.pem'), 'utf8') } });
  const res = await undiciFetch(url, { headers: { authorization: `Bearer ${token}` }, dispatcher });
  await res.arrayBuffer();
  return { status: res.status };
}
