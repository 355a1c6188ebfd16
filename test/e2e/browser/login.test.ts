// `authsome login <provider>` through the browser, end to end: the built CLI with BROWSER set
// to a script that records the URL, the real server it starts, and Chromium filling in the form.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import {
  createFakeBrowser,
  launchBrowser,
  measureOverflow,
  openCheckedPage,
  saveScreenshots,
  type FakeBrowser,
} from '../../helpers/browser.js';
import { buildTestEnv, cliPath, makeTempHome, runCli, spawnCli, type TempHome } from '../../helpers/cli.js';

const GOOD_KEY = 'sk-browser0123456789abcdefghijklmn';
const PATTERN_ERROR = 'This does not look like a valid OpenAI API key.';
const PATTERN_HINT = "OpenAI API keys start with 'sk-' followed by at least 20 letters, digits, '_' or '-'.";
const openingLine = (url: string) =>
  `Opening ${url} in your browser. Waiting for the form to be submitted (Ctrl-C to cancel)…\n`;

interface Running {
  child: ChildProcess;
  out: { stdout: string; stderr: string };
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function watch(child: ChildProcess): Running {
  const out = { stdout: '', stderr: '' };
  child.stdout?.on('data', (d: Buffer) => (out.stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out.stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  return { child, out, exited };
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('authsome login through the browser', () => {
  let t: TempHome;
  let browser: Browser;
  let fake: FakeBrowser;
  let firstUrl = '';

  beforeAll(async () => {
    t = makeTempHome();
    fake = createFakeBrowser(join(t.root, 'bin'));
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await t.cleanup();
  });

  it('before any login, the dashboard and activity pages have empty states that say what to do', async () => {
    const ui = await runCli(t.home, ['ui', '--no-browser']);
    expect(ui.code).toBe(0);
    expect(ui.stdout).toMatch(/^http:\/\/authsome\.localhost:\d+\/\?token=[A-Za-z0-9_-]{43}\n$/);
    expect(ui.stderr).toContain('This link works once, within 2 minutes.');
    const context = await browser.newContext();
    const { page, problems } = await openCheckedPage(context);
    await page.goto(ui.stdout.trim());
    expect(await page.locator('.empty h3').textContent()).toBe('No connections yet');
    expect(await page.locator('.empty code').textContent()).toBe('authsome login openai');
    await saveScreenshots(page, 'dashboard-empty');
    await page.getByRole('link', { name: 'Activity', exact: true }).click();
    expect(await page.locator('.empty h3').textContent()).toBe('No activity yet');
    await saveScreenshots(page, 'activity-empty');
    expect(problems).toEqual([]);
    await context.close();
  });

  it('bad key → inline error with the exact text → good key → the CLI prints success and exits 0', async () => {
    const run = watch(spawnCli(t.home, ['login', 'openai'], { BROWSER: fake.command }));
    const url = await fake.waitForUrl(0);
    firstUrl = url;
    expect(url).toMatch(/^http:\/\/authsome\.localhost:\d+\/login\/[A-Za-z0-9_-]+\?token=[A-Za-z0-9_-]{40,}$/);
    await waitFor(() => run.out.stderr.includes('Opening '), 'the Opening line');
    expect(run.out.stderr).toContain(openingLine(url)); // the terminal still shows it, for a browser elsewhere

    // The browser was started on a launcher file, never with the URL: any local user can read a command line.
    const token = url.split('token=')[1]!;
    const launcher = fake.launchers()[0]!;
    expect(fake.argvs()).toHaveLength(1);
    expect(fake.argvs()[0]).toContain(pathToFileURL(launcher).href);
    expect(fake.argvs()[0]).not.toContain(token);
    expect(launcher.startsWith(`${join(t.home, 'server', 'open')}/`)).toBe(true);
    expect(statSync(launcher).mode & 0o777).toBe(0o600);
    expect(statSync(join(t.home, 'server', 'open')).mode & 0o777).toBe(0o700);

    // Chromium follows the launcher to the form, on the pages' own host.
    const context = await browser.newContext();
    const { page, problems } = await openCheckedPage(context);
    const clean = url.slice(0, url.indexOf('?'));
    const landed = page.waitForResponse((r) => r.url() === clean);
    await page.goto(pathToFileURL(launcher).href);
    expect((await landed).status()).toBe(200);
    await page.waitForURL(clean);
    expect(page.url()).toBe(clean); // the token is gone from the address bar and history
    await expect.poll(() => page.locator('h1').textContent()).toBe('Connect OpenAI');
    const input = page.locator('#api_key');
    expect(await input.getAttribute('type')).toBe('password');
    // The seed's key_pattern, in the form browsers accept (an unescaped '-' ends a class only in the old syntax).
    expect(await input.getAttribute('pattern')).toBe('^sk-[A-Za-z0-9_\\-]{20,}$');
    expect(await page.locator('#api_key-hint').textContent()).toBe(PATTERN_HINT);
    expect(await page.getByRole('link', { name: /Where to get a key/ }).getAttribute('href')).toBe(
      'https://platform.openai.com/api-keys',
    );
    await saveScreenshots(page, 'login-form');
    expect(await measureOverflow(page)).toBe(0);

    await input.fill('sk-short');
    const rejected = page.waitForResponse((r) => r.url() === clean && r.request().method() === 'POST');
    await page.getByRole('button', { name: 'Save key' }).click();
    expect((await rejected).status()).toBe(422);
    await expect.poll(() => page.locator('#api_key-error').textContent()).toBe(PATTERN_ERROR);
    expect(await page.locator('#api_key-hint').textContent()).toBe(PATTERN_HINT);
    expect(await page.locator('#api_key').inputValue()).toBe(''); // never echoed back
    expect(await page.content()).not.toContain('sk-short');
    // htmx moves focus to the swapped-in autofocus field when it settles, a moment after the error text is in.
    await expect.poll(() => page.locator('#api_key').evaluate((el) => el === document.activeElement)).toBe(true);
    await saveScreenshots(page, 'login-error');

    await page.locator('#api_key').fill(`  ${GOOD_KEY} `);
    await page.getByRole('button', { name: 'Save key' }).click();
    await expect
      .poll(() => page.locator('#login-result').textContent())
      .toBe('Successfully logged in to openai (default). You can close this window.');
    await saveScreenshots(page, 'login-success');

    const exit = await run.exited;
    expect(exit.code).toBe(0);
    expect(run.out.stdout).toBe('Successfully logged in to openai (default).\n');
    expect(existsSync(launcher)).toBe(false); // gone once the CLI stopped waiting
    expect((await runCli(t.home, ['get', 'openai', '--field', 'api_key', '--show-secret'])).stdout).toBe(
      `${GOOD_KEY}\n`,
    );

    // The login URL also signed this browser into the dashboard.
    await page.goto(new URL('/', url).href);
    await expect.poll(() => page.locator('h1').textContent()).toBe('Dashboard');
    expect(await page.locator('.row-title').first().textContent()).toContain('OpenAI');
    expect(problems).toEqual([]);
    await context.close();
  });

  it('an existing connection is reported before any browser opens', async () => {
    const before = fake.urls().length;
    const r = await runCli(t.home, ['login', 'openai'], { env: { BROWSER: fake.command } });
    expect(r).toMatchObject({ code: 0, stdout: 'Already logged in to openai (default). Use --force to overwrite.\n' });
    expect(fake.urls().length).toBe(before);
  });

  it('a reused login URL shows the friendly page, in the same browser or another', async () => {
    for (const fresh of [true, false]) {
      const context = await browser.newContext();
      const { page, problems } = await openCheckedPage(context);
      if (!fresh) {
        // A browser that is signed in (through a dashboard link) is still refused the used login link.
        const ui = await runCli(t.home, ['ui', '--no-browser']);
        await page.goto(ui.stdout.trim());
      }
      const response = await page.goto(firstUrl);
      expect(response?.status()).toBe(410);
      expect(await page.locator('h1').textContent()).toBe('This login link has already been used');
      expect(await page.locator('#notice-command').textContent()).toBe('authsome login openai');
      expect(await page.locator('main').textContent()).toContain('Run the login again');
      if (fresh) await saveScreenshots(page, 'login-link-used');
      expect(problems).toEqual([]);
      await context.close();
    }
  });

  it('Ctrl-C on a waiting login cancels the session: exit 2, and the form is gone', async () => {
    const seen = fake.urls().length;
    const run = watch(spawnCli(t.home, ['login', 'openai', '--connection', 'team'], { BROWSER: fake.command }));
    const url = await fake.waitForUrl(seen);
    await waitFor(() => run.out.stderr.includes('Opening '), 'the Opening line');
    run.child.kill('SIGINT');
    const exit = await run.exited;
    expect(exit.code).toBe(2);
    expect(run.out.stderr).toContain('Error: Cancelled.\n');
    expect(run.out.stdout).toBe('');

    const context = await browser.newContext();
    const { page, problems } = await openCheckedPage(context);
    const response = await page.goto(url);
    expect(response?.status()).toBe(410);
    expect(await page.locator('h1').textContent()).toBe('This login was cancelled');
    expect(await page.locator('#notice-command').textContent()).toBe('authsome login openai --connection team');
    await saveScreenshots(page, 'login-cancelled');
    expect(problems).toEqual([]);
    await context.close();
    expect((await runCli(t.home, ['get', 'openai', '--connection', 'team'])).code).toBe(3);
  });

  it('without JavaScript the form still works: 422 page with the error, then success', async () => {
    const seen = fake.urls().length;
    const run = watch(spawnCli(t.home, ['login', 'openai', '--connection', 'nojs'], { BROWSER: fake.command }));
    const url = await fake.waitForUrl(seen);
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(url);
    await page.locator('#api_key').fill('not-a-key');
    const [rejected] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST'),
      page.getByRole('button', { name: 'Save key' }).click(),
    ]);
    expect(rejected.status()).toBe(422);
    expect(await rejected.headerValue('content-type')).toContain('text/html');
    expect(await page.locator('#api_key-error').textContent()).toBe(PATTERN_ERROR);
    // a whole page, not a fragment
    expect(await page.locator('title').textContent()).toBe('Log in to OpenAI · authsome');
    await page.locator('#api_key').fill(GOOD_KEY);
    await page.getByRole('button', { name: 'Save key' }).click();
    await page.waitForURL(/\/done$/);
    expect(await page.locator('#login-result').textContent()).toBe(
      'Successfully logged in to openai (nojs). You can close this window.',
    );
    expect((await run.exited).code).toBe(0);
    expect(run.out.stdout).toBe('Successfully logged in to openai (nojs).\n');
    await context.close();
  });

  it('cancelling in the browser ends the CLI with a clear error', async () => {
    const seen = fake.urls().length;
    const run = watch(spawnCli(t.home, ['login', 'openai', '--connection', 'later'], { BROWSER: fake.command }));
    const url = await fake.waitForUrl(seen);
    const context = await browser.newContext();
    const { page, problems } = await openCheckedPage(context);
    await page.goto(url);
    await page.getByRole('button', { name: 'Cancel this login' }).click();
    await expect.poll(() => page.locator('h1').textContent()).toBe('This login was cancelled');
    const exit = await run.exited;
    expect(exit.code).toBe(2);
    expect(run.out.stderr).toContain('Error: The login was cancelled in the browser.\n');
    expect(problems).toEqual([]);
    await context.close();
  });

  it('--no-browser keeps the terminal path even with BROWSER set', async () => {
    const before = fake.urls().length;
    const r = await runCli(t.home, ['login', 'openai', '--connection', 'piped', '--no-browser'], {
      input: `${GOOD_KEY}\n`,
      env: { BROWSER: fake.command },
    });
    expect(r).toMatchObject({ code: 0, stdout: 'Successfully logged in to openai (piped).\n' });
    expect(r.stderr).not.toContain('Opening');
    expect(fake.urls().length).toBe(before);
  });

  it('on a terminal, stderr shows a spinner with a countdown while it waits', async () => {
    const seen = fake.urls().length;
    // script(1) gives the CLI a pseudo-terminal, so stderr is a TTY as in a person's shell.
    const child = spawn(
      'script',
      ['-q', '-e', '-c', `exec ${process.execPath} ${cliPath} login openai --connection tty`, '/dev/null'],
      {
        env: buildTestEnv(t.home, { BROWSER: fake.command, TERM: 'xterm' }),
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    const run = watch(child);
    const url = await fake.waitForUrl(seen);
    await waitFor(
      () => /Waiting for the browser \(or paste the key here and press Enter\)… [45]:\d\d left/.test(run.out.stdout),
      'the countdown',
      5_000,
    );
    const context = await browser.newContext();
    const { page } = await openCheckedPage(context);
    await page.goto(url);
    await page.locator('#api_key').fill(GOOD_KEY);
    await page.getByRole('button', { name: 'Save key' }).click();
    expect((await run.exited).code).toBe(0);
    expect(run.out.stdout).toContain(openingLine(url).replace('\n', '\r\n'));
    expect(run.out.stdout).toMatch(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] Waiting for the browser \(or paste/);
    expect(run.out.stdout).toContain('Successfully logged in to openai (tty).');
    await context.close();
  });
});
