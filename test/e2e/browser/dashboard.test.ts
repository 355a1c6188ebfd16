// The web pages end to end: `authsome ui`, dashboard, catalog search/filters, provider page actions,
// reveal, the override editor against `inspect`/`list`, live activity, unlock; every page checked for console
// errors, CSP violations and horizontal overflow at 400 px, and saved as screenshots.
import { readFileSync, statSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import {
  createFakeBrowser,
  launchBrowser,
  measureOverflow,
  openCheckedPage,
  saveScreenshots,
  type FakeBrowser,
} from '../../helpers/browser.js';
import { makeTempHome, runCli, type TempHome } from '../../helpers/cli.js';

const DEFAULT_KEY = 'sk-dashdefault0123456789abcdefWXYZ';
const TEAM_KEY = 'sk-dashteam0123456789abcdefghijQRST';
const WORK_KEY = 'sk-dashwork0123456789abcdefghijLMNO';
const NEW_WORK_KEY = 'sk-dashworkNEW456789abcdefghijEFGH';
const PASSPHRASE = 'correct horse battery staple';

describe('web pages', () => {
  let t: TempHome;
  let browser: Browser;
  let fake: FakeBrowser;
  let context: BrowserContext;
  let page: Page;
  let problems: string[];
  let base = '';
  const cli = (args: string[], input?: string) => runCli(t.home, args, { input, env: { BROWSER: fake.command } });

  /** Every page: no console error or CSP violation so far, and nothing wider than a 400 px screen. */
  async function checkPage(name?: string) {
    expect(problems).toEqual([]);
    expect(await measureOverflow(page), `${page.url()} overflows at 400 px`).toBe(0);
    if (name) await saveScreenshots(page, name);
  }

  beforeAll(async () => {
    t = makeTempHome();
    fake = createFakeBrowser(join(t.root, 'bin'));
    browser = await launchBrowser();
    expect((await runCli(t.home, ['login', 'openai'], { input: `${DEFAULT_KEY}\n` })).code).toBe(0);
    expect((await runCli(t.home, ['login', 'openai', '--connection', 'team'], { input: `${TEAM_KEY}\n` })).code).toBe(
      0,
    );
    expect((await runCli(t.home, ['login', 'anthropic'], { input: 'sk-ant-dashboard0123456789abcdefgh\n' })).code).toBe(
      0,
    );
  });
  afterAll(async () => {
    await browser?.close();
    await t.cleanup();
  });

  it('without a browser session, a page is a 401 that says to run authsome ui', async () => {
    const ui = await cli(['ui', '--no-browser']);
    base = new URL(ui.stdout.trim()).origin;
    const fresh = await browser.newContext();
    const checked = await openCheckedPage(fresh);
    const response = await checked.page.goto(`${base}/providers`);
    expect(response?.status()).toBe(401);
    expect(await checked.page.locator('main').textContent()).toContain('authsome ui');
    expect(await checked.page.locator('nav.nav').count()).toBe(0);
    page = checked.page;
    problems = checked.problems;
    await checkPage('unauthorized');
    await fresh.close();
  });

  it('authsome ui opens a one-time URL that signs the browser in; the dashboard shows the connections', async () => {
    const r = await cli(['ui']);
    expect(r.code).toBe(0);
    const url = await fake.waitForUrl(0);
    expect(url).toMatch(/^http:\/\/authsome\.localhost:\d+\/\?token=[A-Za-z0-9_-]{40,}$/);
    expect(r.stderr).toContain(`Opening ${url} in your browser`);
    expect(r.stdout).toBe('');
    // The browser got a launcher file (0600, in a 0700 directory), not the token on its command line.
    const launcher = fake.launchers()[0]!;
    expect(fake.argvs()[0]).toContain(pathToFileURL(launcher).href);
    expect(fake.argvs()[0]).not.toContain(url.split('token=')[1]!);
    expect(statSync(launcher).mode & 0o777).toBe(0o600);

    // Chromium resolves authsome.localhost itself: the launcher lands on the dashboard there, signed in.
    context = await browser.newContext();
    ({ page, problems } = await openCheckedPage(context));
    const landed = page.waitForResponse((res) => res.url() === `${base}/`);
    await page.goto(pathToFileURL(launcher).href);
    expect((await landed).status()).toBe(200);
    await page.waitForURL(`${base}/`);
    expect(base).toMatch(/^http:\/\/authsome\.localhost:\d+$/);
    expect(page.url()).toBe(`${base}/`);
    const cookies = await context.cookies();
    expect(cookies.map((c) => [c.domain, c.httpOnly, c.sameSite])).toEqual([['authsome.localhost', true, 'Strict']]);
    expect(await page.locator('h1').textContent()).toBe('Dashboard');
    const rows = page.locator('.row');
    expect(await rows.count()).toBe(2);
    expect(await rows.nth(1).textContent()).toContain('OpenAI');
    expect(await rows.nth(1).locator('.chip').allTextContents()).toEqual(['default', 'team']);
    expect(await page.locator('.stat-value').first().textContent()).toBe('2');
    expect(await page.content()).not.toContain(DEFAULT_KEY);
    await checkPage('dashboard');

    // The same URL a second time, in another browser: refused.
    const other = await browser.newContext();
    const again = await (await other.newPage()).goto(url);
    expect(again?.status()).toBe(401);
    await other.close();
  });

  it('catalog: live search and filters swap the results in place (htmx)', async () => {
    await page.goto(`${base}/providers`);
    expect(await page.locator('.provider-card').count()).toBe(61);
    await checkPage('catalog');
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));

    await page.locator('#q').fill('anthr');
    await expect.poll(() => page.locator('.provider-card').count()).toBe(1);
    expect(await page.locator('.provider-card').getAttribute('data-provider')).toBe('anthropic');
    expect(page.url()).toBe(`${base}/providers?q=anthr&show=all`);
    expect(await page.locator('#q').inputValue()).toBe('anthr'); // the field was not replaced under the typist

    await page.locator('#q').fill('');
    await page.locator('label[for="show-connected"]').click();
    await expect.poll(() => page.locator('.provider-card').count()).toBe(2);
    expect(
      await page.locator('.provider-card').evaluateAll((els) => els.map((e) => e.getAttribute('data-provider'))),
    ).toEqual(['anthropic', 'openai']);

    await page.locator('label[for="show-oauth2"]').click();
    const oauthCount = Number(await page.locator('label[for="show-oauth2"] .count').textContent());
    expect(oauthCount).toBeGreaterThan(0);
    await expect.poll(() => page.locator('.provider-card').count()).toBe(oauthCount);
    expect(await page.locator('.provider-card .badge', { hasText: 'API key' }).count()).toBe(0);

    await page.locator('label[for="show-api_key"]').click();
    await page.locator('#q').fill('zzz-no-such-provider');
    await expect.poll(() => page.locator('.catalog-results .empty h3').textContent()).toBe('No providers match');
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(42); // never reloaded
    await page.locator('#q').fill('open');
    await expect.poll(() => page.locator('.provider-card[data-provider="openai"]').count()).toBe(1);
    await checkPage('catalog-search');
  });

  it('keyboard: a skip link first, a visible focus ring, filters and cards reachable without a mouse', async () => {
    await page.goto(`${base}/providers`);
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
    expect(await page.locator('.skip-link').isVisible()).toBe(true);
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('main');
    const ring = async () =>
      page.evaluate(
        () =>
          getComputedStyle(document.activeElement!).outlineStyle +
          '|' +
          getComputedStyle(document.activeElement!).boxShadow,
      );
    let reachedSearch = false;
    for (let i = 0; i < 10 && !reachedSearch; i++) {
      await page.keyboard.press('Tab');
      reachedSearch = await page.evaluate(() => document.activeElement?.id === 'q');
    }
    expect(reachedSearch).toBe(true);
    expect(await ring()).not.toBe('none|none');
    await page.keyboard.type('groq');
    await expect.poll(() => page.locator('.provider-card').count()).toBe(1);
    await page.keyboard.press('Tab'); // into the filter group: arrow keys move between the options
    await page.keyboard.press('ArrowRight');
    expect(await page.locator('#show-connected').isChecked()).toBe(true);
    await expect.poll(() => page.locator('.catalog-results .empty h3').count()).toBe(1);
    await page.keyboard.press('ArrowLeft');
    await expect.poll(() => page.locator('.provider-card').count()).toBe(1);
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-provider'))).toBe('groq');
    expect(await ring()).toMatch(/^solid\|/);
    await page.keyboard.press('Enter');
    await page.waitForURL(`${base}/providers/groq`);
    await checkPage('provider-not-connected');
  });

  it('provider page: masked key, reveal only by POST (audited), hide again', async () => {
    await page.goto(`${base}/providers/openai`);
    expect(await page.locator('h1').textContent()).toBe('OpenAI');
    expect(await page.locator('.facts').textContent()).toContain('bundled');
    const team = page.locator('.conn[data-connection="team"]');
    expect(await team.locator('.secret-value').textContent()).toBe('sk-…QRST');
    const html = await page.content();
    expect(html).not.toContain(TEAM_KEY);
    expect(html).not.toContain(DEFAULT_KEY);
    await checkPage('provider');

    const reveal = page.waitForResponse((r) => r.url().endsWith('/connections/team/reveal'));
    await team.getByRole('button', { name: 'Reveal' }).click();
    expect((await reveal).request().method()).toBe('POST');
    await expect.poll(() => team.locator('.secret-value').textContent()).toBe(TEAM_KEY);
    await checkPage('provider-revealed');
    await page.emulateMedia({ colorScheme: 'dark' });
    await saveScreenshots(page, 'provider-revealed-dark');
    await page.emulateMedia({ colorScheme: 'light' });
    const log = await cli(['log', '-n', '3']);
    expect(log.stdout).toMatch(/reveal\s+openai \(team\)/);

    await team.getByRole('button', { name: 'Hide' }).click();
    await expect.poll(() => team.locator('.secret-value').textContent()).toBe('sk-…QRST');
    expect(await page.content()).not.toContain(TEAM_KEY);
  });

  it('provider page: set default and log out, each a swap of the connections list', async () => {
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 7));
    await page.locator('.conn[data-connection="team"]').getByRole('button', { name: 'Make default' }).click();
    await expect.poll(() => page.locator('.conn[data-connection="team"] .badge-accent').count()).toBe(1);
    expect(await page.locator('#connections .flash').textContent()).toContain(
      'team is now the default connection of openai.',
    );
    expect((await cli(['get', 'openai', '--field', 'connection'])).stdout).toBe('team\n');

    await page.locator('.conn[data-connection="default"]').getByRole('button', { name: 'Log out' }).click();
    await expect.poll(() => page.locator('.conn[data-connection="default"]').count()).toBe(0);
    expect(await page.locator('#connections .flash').textContent()).toContain('Logged out of openai (default).');
    expect((await cli(['get', 'openai', '--connection', 'default'])).code).toBe(3);
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(7);
    await checkPage();
  });

  it('provider page: "connect another" starts a login session and goes to its form', async () => {
    await page.locator('#connection').fill('work');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL(/\/login\/[A-Za-z0-9_-]+$/);
    expect(await page.locator('h1').textContent()).toBe('Connect OpenAI');
    await page.locator('#api_key').fill(WORK_KEY);
    await page.getByRole('button', { name: 'Save key' }).click();
    await expect
      .poll(() => page.locator('#login-result').textContent())
      .toBe('Successfully logged in to openai (work). You can close this window.');
    expect((await cli(['get', 'openai', '--connection', 'work', '--field', 'status'])).stdout).toBe('connected\n');
    await page.getByRole('link', { name: 'View openai' }).click();
    expect(await page.locator('.conn[data-connection="work"]').count()).toBe(1);

    // A name already taken is refused next to the field.
    await page.locator('#connection').fill('work');
    await page.getByRole('button', { name: 'Continue' }).click();
    await expect
      .poll(() => page.locator('#connection-error').textContent())
      .toBe('openai (work) is already connected.');
    await checkPage('provider-connect-error');
  });

  it(
    'provider page: "Replace key" opens a login form for that connection; the old key stays until a valid ' +
      'new one is saved',
    async () => {
      await page.goto(`${base}/providers/openai`);
      await page.locator('.conn[data-connection="work"]').getByRole('button', { name: 'Replace key' }).click();
      await page.waitForURL(/\/login\/[A-Za-z0-9_-]+$/);
      const formUrl = page.url();
      expect(await page.locator('h1').textContent()).toBe('Replace the OpenAI key');
      const input = page.locator('#api_key');
      expect(await input.getAttribute('type')).toBe('password');
      expect(await input.getAttribute('pattern')).toBe('^sk-[A-Za-z0-9_\\-]{20,}$');
      expect(await page.locator('#api_key-hint').textContent()).toBe(
        "OpenAI API keys start with 'sk-' followed by at least 20 letters, digits, '_' or '-'.",
      );
      await checkPage('replace-key');

      await input.fill('sk-short');
      const rejected = page.waitForResponse((r) => r.url() === formUrl && r.request().method() === 'POST');
      await page.getByRole('button', { name: 'Replace key' }).click();
      expect((await rejected).status()).toBe(422);
      await expect
        .poll(() => page.locator('#api_key-error').textContent())
        .toBe('This does not look like a valid OpenAI API key.');
      expect((await cli(['get', 'openai', '--connection', 'work', '--field', 'api_key', '--show-secret'])).stdout).toBe(
        `${WORK_KEY}\n`,
      );

      await page.locator('#api_key').fill(NEW_WORK_KEY);
      await page.getByRole('button', { name: 'Replace key' }).click();
      await page.waitForURL(`${base}/providers/openai`);
      expect(await page.locator('#flash').textContent()).toContain('Replaced the key of openai (work).');
      expect(await page.locator('.conn[data-connection="work"] .secret-value').textContent()).toBe('sk-…EFGH');
      expect(await page.content()).not.toContain(NEW_WORK_KEY);
      expect((await cli(['get', 'openai', '--connection', 'work', '--field', 'api_key', '--show-secret'])).stdout).toBe(
        `${NEW_WORK_KEY}\n`,
      );
      // the get --show-secret above logged a reveal after it
      expect((await cli(['log', '-n', '3'])).stdout).toMatch(/login\s+openai \(work\)/);
      await checkPage('provider-replaced');
    },
  );

  it(
    'override editor: checks after a pause or on Check ("not valid yet", JSON errors at line:column), saves ' +
      'the custom file that inspect and list see, resets',
    async () => {
      await page.goto(`${base}/providers/openai/override`);
      const textarea = page.locator('textarea[name="definition"]');
      const seeded = JSON.parse(await textarea.inputValue());
      expect(seeded).toEqual(JSON.parse((await cli(['inspect', 'openai'])).stdout));
      // First load: no verdict at all, and nothing styled as an error.
      const check = page.locator('#definition-check');
      expect(await check.getAttribute('data-state')).toBe('idle');
      expect(await page.locator('.field-invalid, .field-error, [aria-invalid]').count()).toBe(0);
      expect(await check.textContent()).toContain('Checked when you pause typing or press Check');
      await checkPage('override');

      await textarea.fill('{"schema_version": 1, "name": "openai",');
      await expect
        .poll(() => page.locator('#definition-check .field-error').textContent())
        .toBe('Not valid yet: JSON syntax error at line 1, column 40: Expected double-quoted property name.');
      // Marked when htmx settles the swap, a moment after the verdict's text is in.
      await expect.poll(() => textarea.getAttribute('aria-invalid')).toBe('true');
      expect(await check.textContent()).not.toMatch(/is invalid|openai\.json/);
      // Typing again takes the verdict down at once (seen by the page itself after each keystroke, so no timing is
      // assumed); the next one comes only after the next pause.
      await page.evaluate(() => {
        const seen: string[] = [];
        (window as unknown as { seenWhileTyping: string[] }).seenWhileTyping = seen;
        document.addEventListener('input', () => {
          const marked = document.querySelectorAll('.field-invalid, .field-error, [aria-invalid]').length;
          seen.push(`${document.getElementById('definition-check')?.getAttribute('data-state')}/${marked}`);
        });
      });
      await textarea.press('End');
      await page.keyboard.type(' "dis');
      expect(await page.evaluate(() => (window as unknown as { seenWhileTyping: string[] }).seenWhileTyping)).toEqual(
        Array(5).fill('idle/0'),
      );
      await expect
        .poll(() => page.locator('#definition-check .field-error').textContent())
        .toBe('Not valid yet: JSON syntax error at line 1, column 45: Unterminated string.');

      const broken = { ...seeded, api_key: { ...seeded.api_key, key_pattern: '([' } };
      await textarea.fill(JSON.stringify(broken, null, 2));
      await textarea.press('End');
      await page.getByRole('button', { name: 'Check' }).click(); // asked for: answered without waiting for a pause
      await expect
        .poll(() => page.locator('#definition-check .field-error').textContent())
        .toBe('Not valid yet: api_key.key_pattern is not a valid regular expression.');
      await checkPage('override-error');

      // Saving an invalid definition: 422, the error next to the field, the text kept as typed.
      const [rejected] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/override')),
        page.getByRole('button', { name: 'Save override' }).click(),
      ]);
      expect(rejected.status()).toBe(422);
      expect(await page.locator('.field-error').textContent()).toBe(
        'Not saved: api_key.key_pattern is not a valid regular expression.',
      );
      expect(JSON.parse(await page.locator('textarea[name="definition"]').inputValue())).toEqual(broken);
      // The 422 is a whole new document: typing before its scripts ran would send no input event to htmx.
      await page.waitForLoadState('load');

      const edited = { ...seeded, display_name: 'OpenAI (work proxy)', docs_url: 'https://example.com/keys' };
      await page.locator('textarea[name="definition"]').fill(JSON.stringify(edited, null, 2));
      await expect.poll(() => page.locator('#definition-check .check-ok').count()).toBe(1);
      await page.getByRole('button', { name: 'Save override' }).click();
      await page.waitForURL(`${base}/providers/openai`);
      expect(await page.locator('h1').textContent()).toBe('OpenAI (work proxy)');
      expect(await page.locator('#flash').textContent()).toContain('now uses your definition');
      expect((await cli(['inspect', 'openai'])).stdout).toBe(`${JSON.stringify(edited, null, 2)}\n`);
      expect(readFileSync(join(t.home, 'providers', 'openai.json'), 'utf8')).toBe(
        `${JSON.stringify(edited, null, 2)}\n`,
      );
      expect((await cli(['list'])).stdout).toMatch(/^openai\s+custom\s+api_key/m);
      await page.goto(`${base}/providers?q=openai`);
      expect(await page.locator('.provider-card[data-provider="openai"] .badge-custom').count()).toBe(1);
      await checkPage('catalog-custom');

      await page.goto(`${base}/providers/openai/override`);
      await page.getByRole('button', { name: 'Reset to bundled' }).click();
      await page.waitForURL(`${base}/providers/openai`);
      expect(await page.locator('h1').textContent()).toBe('OpenAI');
      expect((await cli(['list'])).stdout).toMatch(/^openai\s+bundled\s+api_key/m);
    },
  );

  it('activity: newest first, and new events appear without a reload', async () => {
    await page.goto(`${base}/activity`);
    expect(await page.locator('.event-label').first().textContent()).toBe('Override reset');
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 9));
    expect((await cli(['export', 'anthropic'])).code).toBe(0);
    await expect.poll(() => page.locator('.event-label').first().textContent(), { timeout: 8_000 }).toBe('Exported');
    expect(await page.locator('.event').first().textContent()).toContain('anthropic');
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(9);
    expect(await page.content()).not.toContain('sk-ant-dashboard');
    await checkPage('activity');
  });

  it('an unknown page is a 404 page', async () => {
    const response = await page.goto(`${base}/no-such-page`);
    expect(response?.status()).toBe(404);
    expect(await page.locator('h1').textContent()).toBe('Page not found');
    await checkPage('not-found');
  });

  it('a locked vault sends every page to /unlock; the passphrase opens it and returns', async () => {
    expect((await cli(['passphrase', 'set', '--passphrase-stdin'], `${PASSPHRASE}\n`)).code).toBe(0);
    expect((await cli(['lock'])).code).toBe(0);
    await page.goto(`${base}/providers`);
    expect(page.url()).toBe(`${base}/unlock?next=%2Fproviders`);
    expect(await page.locator('h1').textContent()).toBe('Unlock the vault');
    await checkPage('unlock');

    await page.locator('#passphrase').fill('not the passphrase');
    await page.getByRole('button', { name: 'Unlock' }).click();
    await expect
      .poll(() => page.locator('#passphrase-error').textContent())
      .toMatch(/^Wrong passphrase for the vault at \/.*vault\.json\.$/);
    await checkPage('unlock-error');

    await page.locator('#passphrase').fill(PASSPHRASE);
    await page.getByRole('button', { name: 'Unlock' }).click();
    await page.waitForURL(`${base}/providers`);
    expect((await cli(['get', 'anthropic', '--field', 'status'])).stdout).toBe('connected\n');

    // The header's Lock button locks it again.
    await page.getByRole('button', { name: 'Lock' }).click();
    await page.waitForURL(/\/unlock$/);
    expect((await cli(['get', 'anthropic'])).stderr).toContain('Error: The vault is locked.');
  });
});
