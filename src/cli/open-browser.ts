// Opening a one-time URL in the person's browser without putting the URL on a command line: any local
// user can read /proc/<pid>/cmdline, so the opener is handed a 0600 launcher file that redirects to the URL (as
// Jupyter does). `BROWSER` is the command, run with that file's URL; otherwise the platform's opener. Fire and
// forget: the CLI has already printed the URL on the terminal, so a failure here only costs a warning.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, lstatSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildHomePaths, resolveHomeDir } from '../paths.js';
import { buildRedirectPage } from '../redirect-page.js';

export interface BrowserCommand {
  command: string;
  args: string[];
}

export interface OpenedBrowser {
  /** Why the browser could not even be started, if it could not. */
  failure?: string;
  /** Deletes the launcher file (once nobody needs it: the URL has been used, or the wait is over). */
  removeLauncher(): void;
}

/** Launcher files older than this are swept on the next open: no one-time URL lives longer (login: 5 minutes). */
export const LAUNCHER_MAX_AGE_MS = 5 * 60_000;
const LAUNCHER_NAME = /^open-[0-9a-f]{32}\.html$/;

/** Where launcher files go: a directory of the authsome home's server folder that only its owner can enter. */
export function buildLauncherDir(home = resolveHomeDir()): string {
  return join(buildHomePaths(home).server, 'open');
}

/** Pure: which program to run for `target`. BROWSER may carry its own arguments ("firefox --new-window"). */
export function buildBrowserCommand(target: string, env: NodeJS.ProcessEnv, platform: NodeJS.Platform): BrowserCommand {
  const browser = env.BROWSER?.trim();
  if (browser) {
    if (platform === 'win32') return { command: 'cmd', args: ['/d', '/s', '/c', `${browser} "${target}"`] };
    // The target travels as "$1", never pasted into the shell text.
    return { command: '/bin/sh', args: ['-c', `${browser} "$1"`, 'authsome-browser', target] };
  }
  if (platform === 'darwin') return { command: 'open', args: [target] };
  if (platform === 'win32') return { command: 'cmd', args: ['/d', '/s', '/c', 'start', '""', target] };
  return { command: 'xdg-open', args: [target] };
}

/**
 * Pure: a page that sends the browser on to `url` with no script at all (a file:// page gets none of our server's
 * CSP, so it forbids everything itself).
 */
export function buildLauncherHtml(url: string): string {
  return buildRedirectPage(url, {
    title: 'Opening authsome…',
    head: [
      `<meta http-equiv="Content-Security-Policy" content="default-src 'none'">`,
      '<meta name="referrer" content="no-referrer">',
    ],
  });
}

/**
 * Writes the launcher for `url` into `dir` (made 0700, ours alone) as a new 0600 file, after sweeping launchers
 * left over by earlier runs. Returns the file's path.
 */
export function writeLauncherFile(url: string, dir: string, now = Date.now()): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // mkdir keeps an existing directory's mode, and a symlink here could point anywhere: insist on our own directory.
  if (!lstatSync(dir).isDirectory()) throw new Error(`${dir} is not a directory`);
  chmodSync(dir, 0o700);
  sweepLauncherFiles(dir, now);
  const file = join(dir, `open-${randomBytes(16).toString('hex')}.html`);
  // 'wx': a new file or nothing (never through a planted symlink); the mode applies at creation, before any byte.
  writeFileSync(file, buildLauncherHtml(url), { mode: 0o600, flag: 'wx' });
  return file;
}

/** Deletes launcher files older than LAUNCHER_MAX_AGE_MS (their URLs have expired anyway). */
export function sweepLauncherFiles(dir: string, now = Date.now()): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!LAUNCHER_NAME.test(name)) continue;
    const file = join(dir, name);
    try {
      if (now - lstatSync(file).mtimeMs > LAUNCHER_MAX_AGE_MS) rmSync(file, { force: true });
    } catch {
      // Removed by a concurrent CLI in the meantime: nothing to do.
    }
  }
}

/** Starts the browser detached on a launcher file for `url` written under `launcherDir`. */
export async function openBrowser(
  url: string,
  launcherDir = buildLauncherDir(),
  env: NodeJS.ProcessEnv = process.env,
  platform = process.platform,
): Promise<OpenedBrowser> {
  let file: string;
  try {
    file = writeLauncherFile(url, launcherDir);
  } catch (err) {
    return { failure: (err as Error).message, removeLauncher() {} };
  }
  const removeLauncher = () => rmSync(file, { force: true });
  const { command, args } = buildBrowserCommand(pathToFileURL(file).href, env, platform);
  const failure = await new Promise<string | undefined>((resolve) => {
    let child;
    try {
      child = spawn(command, args, {
        detached: true,
        stdio: 'ignore',
        env,
        windowsVerbatimArguments: platform === 'win32',
      });
    } catch (err) {
      resolve((err as Error).message);
      return;
    }
    child.once('error', (err) => resolve(`${command}: ${err.message}`));
    child.once('spawn', () => {
      child.unref();
      resolve(undefined);
    });
  });
  if (failure) removeLauncher();
  return { ...(failure ? { failure } : {}), removeLauncher };
}
