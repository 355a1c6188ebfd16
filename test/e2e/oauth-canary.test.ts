// The canary for OAuth: every code, access token and refresh token the real authorization server issued (refreshes
// on use included) is searched for in every file under AUTHSOME_HOME, every stderr, every stdout nobody asked a
// secret from, every page the browser saw, and the environment of a child under `authsome run`. Only absent passes.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFakeBrowser, launchBrowser, type FakeBrowser } from '../helpers/browser.js';
import {
  listFilesRecursive,
  makeTempHome,
  runCli,
  spawnCli,
  stopHomeServer,
  type CliResult,
  type TempHome,
} from '../helpers/cli.js';
import {
  buildOAuthDefinition,
  PUBLIC_CLIENT_ID,
  startTestAuthServer,
  type TestAuthServer,
} from '../helpers/oauth-server.js';
import { createTestCa } from '../helpers/test-ca.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const API_HOST = 'api.testoauth.example';
const forms = (s: string) => [
  s,
  Buffer.from(s).toString('base64'),
  Buffer.from(s).toString('base64url'),
  Buffer.from(s).toString('hex'),
];

describe('OAuth tokens canary', () => {
  let t: TempHome;
  let auth: TestAuthServer;
  let upstream: Upstream;
  let browser: Browser;
  let fake: FakeBrowser;
  let env: NodeJS.ProcessEnv;
  const results: { args: string[]; r: CliResult }[] = [];
  const pages: { url: string; html: string }[] = [];
  let childEnv = '';

  const cli = async (args: string[]) => {
    const r = await runCli(t.home, args, { env, timeoutMs: 60_000 });
    results.push({ args, r });
    return r;
  };

  beforeAll(async () => {
    t = makeTempHome();
    fake = createFakeBrowser(join(t.root, 'bin'));
    const ca = createTestCa(['localhost', '127.0.0.1', API_HOST]);
    const { caPath } = await ca.writeFiles(t.root);
    // Access tokens live 2 minutes: inside the 5-minute window, so every use below refreshes (and rotates).
    auth = await startTestAuthServer({ ca, accessTokenTtl: 120 });
    upstream = await startUpstream({ cert: ca.cert, key: ca.key });
    mkdirSync(join(t.home, 'providers'), { recursive: true, mode: 0o700 });
    writeFileSync(
      join(t.home, 'providers', 'testoauth.json'),
      JSON.stringify(buildOAuthDefinition(auth, { api_url: API_HOST })),
      { mode: 0o600 },
    );
    env = {
      BROWSER: fake.command,
      NODE_EXTRA_CA_CERTS: caPath,
      AUTHSOME_PROXY_RESOLVE: `${API_HOST}:443=127.0.0.1:${upstream.port}`,
    };
    browser = await launchBrowser();

    // Log in through the browser, keeping every page authsome showed.
    const login = spawnCli(t.home, ['login', 'testoauth'], env);
    let loginErr = '';
    login.stderr?.on('data', (d: Buffer) => (loginErr += d.toString()));
    const loginOut: string[] = [];
    login.stdout?.on('data', (d: Buffer) => loginOut.push(d.toString()));
    const exited = new Promise<number | null>((resolve) => login.on('close', resolve));
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    page.on('load', async () => {
      if (!page.url().startsWith('https://'))
        pages.push({ url: page.url(), html: await page.content().catch(() => '') });
    });
    await page.goto(await fake.waitForUrl(0));
    await page.locator('#client_id').fill(PUBLIC_CLIENT_ID);
    await page.getByRole('button', { name: 'Continue to Test OAuth' }).click();
    await page.locator('input[name="login"]').fill('alice');
    await page.locator('input[name="password"]').fill('any');
    await page.getByRole('button', { name: 'Sign-in' }).click();
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.locator('#login-result').waitFor();
    expect(await exited).toBe(0);
    results.push({ args: ['login', 'testoauth'], r: { code: 0, stdout: loginOut.join(''), stderr: loginErr } });

    await cli(['list']);
    await cli(['list', '--json']);
    await cli(['get', 'testoauth']);
    await cli(['get', 'testoauth', '--json']);
    await cli(['get', 'testoauth', '--field', 'access_token']);
    await cli(['get', 'testoauth', '--field', 'access_token', '--show-secret']);
    await cli(['export', 'testoauth', '--format', 'env']);
    const run = await cli(['run', '--', process.execPath, '-e', 'process.stdout.write(JSON.stringify(process.env))']);
    childEnv = run.stdout;
    await cli([
      'run',
      '--',
      'sh',
      '-c',
      `curl -sS --fail-with-body -H "Authorization: Bearer $TESTOAUTH_ACCESS_TOKEN" https://${API_HOST}/v1/models`,
    ]);
    for (const path of ['/', '/providers/testoauth', '/activity']) {
      await page.goto(new URL(path, await fake.waitForUrl(0)).href);
      pages.push({ url: path, html: await page.content() });
    }
    await cli(['log', '-n', '100']);
    await cli(['log', '--json']);
    await cli(['whoami']);
    await cli(['doctor']);
    await cli(['logout', 'testoauth']);
    await cli(['daemon', 'logs']);
    await context.close();
    await stopHomeServer(t.home);
  });
  afterAll(async () => {
    await browser?.close();
    await t?.cleanup();
    await upstream?.close();
    await auth?.close();
  });

  it('the server issued tokens, refreshed them on use, and the upstream got one', () => {
    // a code, then access + refresh tokens, refreshed more than once
    expect(auth.issued.length).toBeGreaterThanOrEqual(5);
    expect(auth.tokenRequests.refresh_token).toBeGreaterThanOrEqual(2);
    const sent = upstream.requests.at(-1)!.headers.authorization!;
    expect(auth.issued.map((v) => `Bearer ${v}`)).toContain(sent);
  });

  it('no code or token is anywhere under AUTHSOME_HOME, in any form', () => {
    const files = listFilesRecursive(t.home);
    expect(files.some((f) => f.endsWith('audit.log'))).toBe(true);
    expect(files.some((f) => f.endsWith('server.log'))).toBe(true);
    for (const file of files) {
      const text = readFileSync(file).toString('latin1');
      for (const secret of auth.issued)
        for (const form of forms(secret)) expect(text.includes(form), `${form} found in ${file}`).toBe(false);
    }
  });

  it('never on stderr, on stdout only where a person asked for it, never in a page or the child environment', () => {
    const asked = (args: string[]) => args.includes('--show-secret') || args[0] === 'export';
    for (const { args, r } of results) {
      for (const secret of auth.issued) {
        expect(r.stderr.includes(secret), `stderr of ${args.join(' ')}`).toBe(false);
        if (!asked(args)) expect(r.stdout.includes(secret), `stdout of ${args.join(' ')}`).toBe(false);
      }
    }
    expect(pages.length).toBeGreaterThanOrEqual(4);
    for (const { url, html } of pages)
      for (const secret of auth.issued) expect(html.includes(secret), `page ${url}`).toBe(false);
    expect(JSON.parse(childEnv).TESTOAUTH_ACCESS_TOKEN).toBe('authsome-proxy-managed');
    for (const secret of auth.issued) expect(childEnv.includes(secret), 'child environment').toBe(false);
    // The canary did go through the command that prints it on request (so this test can fail).
    const shown = results.find((x) => x.args.includes('--show-secret'))!.r.stdout.trim();
    expect(auth.issued).toContain(shown);
  });

  it('the audit log has login, refresh, reveal, export and logout, and no token', () => {
    const audit = readFileSync(join(t.home, 'audit.log'), 'utf8');
    const events = audit
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).event);
    for (const e of ['login', 'refresh', 'reveal', 'export', 'logout']) expect(events).toContain(e);
  });
});
