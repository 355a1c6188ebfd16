// The launcher file `login` and `ui` hand the browser instead of the one-time URL (a command line is readable by
// every local user, a 0600 file in a 0700 directory is not): its mode, its content, the sweep of stale ones, and
// the opener's command line carrying only the file's URL.
import { existsSync, readdirSync, readFileSync, statSync, utimesSync, mkdirSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  buildBrowserCommand,
  buildLauncherDir,
  buildLauncherHtml,
  LAUNCHER_MAX_AGE_MS,
  writeLauncherFile,
} from '../../../src/cli/open-browser.js';
import { makeTempDir, type TempDir } from '../../helpers/temp-dir.js';

const URL_WITH_TOKEN =
  'http://authsome.localhost:7998/login/abc?token=SECRETtoken0123456789abcdefghijklmnopqrstu&x=<"y">';
const TOKEN = 'SECRETtoken0123456789abcdefghijklmnopqrstu';

describe('launcher files', () => {
  let tmp: TempDir;
  beforeEach(async () => {
    tmp = await makeTempDir('launcher');
  });
  afterEach(() => tmp.cleanup());

  it('lives in the home server folder, in a 0700 directory, as a new 0600 file that redirects to the URL', () => {
    const dir = buildLauncherDir(join(tmp.path, 'home'));
    expect(dir).toBe(join(tmp.path, 'home', 'server', 'open'));
    const file = writeLauncherFile(URL_WITH_TOKEN, dir);
    expect(file.startsWith(`${dir}/`)).toBe(true);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const html = readFileSync(file, 'utf8');
    expect(html).toBe(buildLauncherHtml(URL_WITH_TOKEN));
    const escaped =
      'http://authsome.localhost:7998/login/abc?token=SECRETtoken0123456789abcdefghijklmnopqrstu&amp;x=&lt;' +
      '&quot;y&quot;&gt;';
    expect(html).toContain(`<meta http-equiv="refresh" content="0;url=${escaped}">`);
    expect(html).toContain(`<a href="${escaped}">`);
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain(`content="default-src 'none'"`);
  });

  it('tightens an existing directory to 0700, and never writes through a file already there', () => {
    const dir = join(tmp.path, 'open');
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    const a = writeLauncherFile(URL_WITH_TOKEN, dir);
    const b = writeLauncherFile(URL_WITH_TOKEN, dir);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(a).not.toBe(b);
  });

  it('sweeps launchers older than their URLs can live, on the next write, and leaves other files alone', () => {
    const dir = join(tmp.path, 'open');
    const now = Date.now();
    const old = writeLauncherFile(URL_WITH_TOKEN, dir, now);
    const recent = writeLauncherFile(URL_WITH_TOKEN, dir, now);
    const past = (now - LAUNCHER_MAX_AGE_MS - 1_000) / 1000;
    utimesSync(old, past, past);
    const fresh = writeLauncherFile(URL_WITH_TOKEN, dir, now);
    expect(existsSync(old)).toBe(false);
    expect(existsSync(recent)).toBe(true);
    expect(existsSync(fresh)).toBe(true);
    expect(readdirSync(dir)).toHaveLength(2);
  });
});

describe('buildBrowserCommand', () => {
  const target = pathToFileURL('/home/me/.authsome/server/open/open-0123.html').href;

  it('hands every opener the launcher file, so no one-time token is on a command line', () => {
    for (const [env, platform] of <[NodeJS.ProcessEnv, NodeJS.Platform][]>[
      [{}, 'linux'],
      [{}, 'darwin'],
      [{}, 'win32'],
      [{ BROWSER: 'firefox --new-window' }, 'linux'],
      [{ BROWSER: 'firefox' }, 'win32'],
    ]) {
      const { command, args } = buildBrowserCommand(target, env, platform);
      const line = [command, ...args].join(' ');
      expect(line, `${platform} ${JSON.stringify(env)}`).toContain(target);
      expect(line).not.toContain(TOKEN);
    }
    expect(buildBrowserCommand(target, { BROWSER: 'firefox --new-window' }, 'linux')).toEqual({
      command: '/bin/sh',
      args: ['-c', 'firefox --new-window "$1"', 'authsome-browser', target],
    });
  });
});
