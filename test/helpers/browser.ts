// Debian's Chromium driven by playwright-core (the launch flags that work on these machines), pages that fail the test
// on any console error or CSP violation, screenshots at desktop and 400 px width, and a fake BROWSER command that
// records how it was started and the URLs the CLI's launcher files send it to.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { repoRoot } from './cli.js';

export const CHROMIUM_PATH = '/usr/bin/chromium';
export const screenshotDir = join(repoRoot, 'test-artifacts', 'screenshots');

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export interface CheckedPage {
  page: Page;
  /** Console errors, page errors and CSP violations seen so far (each test asserts it stays empty). */
  problems: string[];
}

/** A page whose console errors, uncaught exceptions and CSP violations are collected in `problems`. */
export async function openCheckedPage(context: BrowserContext): Promise<CheckedPage> {
  const problems: string[] = [];
  const page = await context.newPage();
  page.on('console', (msg) => {
    // Chromium logs every 4xx answer as "Failed to load resource"; the tests assert those statuses themselves
    // (a 422 form, a 410 link), and failed sub-resources are caught below instead.
    if (/^Failed to load resource: the server responded with a status of 4\d\d/.test(msg.text())) return;
    if (msg.type() === 'error' || msg.type() === 'warning') problems.push(`console ${msg.type()}: ${msg.text()}`);
  });
  page.on('response', (res) => {
    const type = res.request().resourceType();
    if (res.status() >= 400 && type !== 'document' && type !== 'xhr' && type !== 'fetch')
      problems.push(`${type} ${res.url()} answered ${res.status()}`);
    if (res.status() >= 500) problems.push(`${res.request().method()} ${res.url()} answered ${res.status()}`);
  });
  page.on('requestfailed', (req) => {
    if (req.failure()?.errorText !== 'net::ERR_ABORTED')
      problems.push(`request failed: ${req.url()} ${req.failure()?.errorText}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  // The listener is installed through the DevTools protocol, so the page's own CSP does not block it.
  await page.exposeBinding('__reportCsp', (_source, text: string) => problems.push(`CSP violation: ${text}`));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      (window as unknown as { __reportCsp(t: string): void }).__reportCsp(
        `${e.violatedDirective} blocked ${e.blockedURI || 'inline'} in ${e.sourceFile}:${e.lineNumber}`,
      );
    });
  });
  // Logging out asks for confirmation (hx-confirm): accept it as a person would.
  page.on('dialog', (dialog) => void dialog.accept());
  return { page, problems };
}

/** Saves `<name>.png` (1280 wide) and `<name>-400.png` (400 wide), full page, then restores the viewport. */
export async function saveScreenshots(page: Page, name: string): Promise<void> {
  mkdirSync(screenshotDir, { recursive: true });
  const original = page.viewportSize() ?? { width: 1280, height: 800 };
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.screenshot({ path: join(screenshotDir, `${name}.png`), fullPage: true, animations: 'disabled' });
  await page.setViewportSize({ width: 400, height: 800 });
  await page.screenshot({ path: join(screenshotDir, `${name}-400.png`), fullPage: true, animations: 'disabled' });
  await page.setViewportSize(original);
}

/** Fails when the page is wider than the viewport (horizontal scrolling at 400 px is a layout bug). */
export async function measureOverflow(page: Page, width = 400): Promise<number> {
  const original = page.viewportSize() ?? { width: 1280, height: 800 };
  await page.setViewportSize({ width, height: 800 });
  await page.waitForFunction((w) => window.innerWidth === w, width);
  await page.waitForLoadState('load');
  const overflow = await page.evaluate(
    () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
  );
  if (overflow > 0) {
    const wide = await page.evaluate(
      (w) =>
        [...document.querySelectorAll('body *')]
          .filter((e) => e.getBoundingClientRect().right > w + 1)
          .map((e) => `${e.tagName.toLowerCase()}.${e.className} → ${Math.round(e.getBoundingClientRect().right)}px`)
          .slice(0, 5),
      width,
    );
    console.error(`${page.url()} is wider than ${width}px: ${wide.join(', ')}`);
  }
  await page.setViewportSize(original);
  return overflow;
}

export interface FakeBrowser {
  /** Value for the BROWSER variable. */
  command: string;
  /** The URLs opened so far, oldest first: each read from the launcher file the CLI pointed the browser at. */
  urls(): string[];
  /** The command lines the browser was started with, one string per start (what any local user could read). */
  argvs(): string[];
  /** The launcher files' paths, as the browser got them. */
  launchers(): string[];
  /** Resolves with the next URL beyond the `seen` first ones. */
  waitForUrl(seen?: number, timeoutMs?: number): Promise<string>;
}

/**
 * A tiny BROWSER script that records its command line and, as a browser would, reads the launcher file it was
 * pointed at and follows its meta refresh: the URL found there is appended to a file a test can open in Chromium.
 */
export function createFakeBrowser(dir: string): FakeBrowser {
  mkdirSync(dir, { recursive: true });
  const log = join(dir, 'opened-urls.txt');
  const argvLog = join(dir, 'argv.txt');
  const launcherLog = join(dir, 'launchers.txt');
  const script = join(dir, 'fake-browser.sh');
  writeFileSync(
    script,
    [
      '#!/bin/sh',
      `printf '%s\\n' "$0 $*" >> '${argvLog}'`,
      'file=$(printf %s "$1" | sed "s|^file://||")',
      `printf '%s\\n' "$file" >> '${launcherLog}'`,
      `sed -n 's/.*http-equiv="refresh" content="0;url=\\([^"]*\\)".*/\\1/p' "$file" | sed 's/&amp;/\\&/g' >> '${log}'`,
      '',
    ].join('\n'),
  );
  chmodSync(script, 0o755);
  const lines = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);
  const urls = () => lines(log);
  return {
    command: script,
    urls,
    argvs: () => lines(argvLog),
    launchers: () => lines(launcherLog),
    async waitForUrl(seen = 0, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const all = urls();
        if (all.length > seen) return all[seen]!;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`The CLI did not open a URL within ${timeoutMs} ms`);
    },
  };
}
