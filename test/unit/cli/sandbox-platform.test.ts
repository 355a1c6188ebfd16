// Which sandbox `run --sandbox` uses on which system, and the macOS path run for real with a stand-in for
// /usr/bin/sandbox-exec (a script that checks its arguments and execs the command, as sandbox-exec does after
// applying the profile): the command line, the CA copies, the child's own session, signals, clean-up.
import type { ChildProcess } from 'node:child_process';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AppError } from '../../../src/errors.js';
import { createSandbox, requireSandbox, requireSeatbelt } from '../../../src/cli/sandbox.js';
import { makeTempDir, type TempDir } from '../../helpers/temp-dir.js';

/** sandbox-exec's part that can run here: record the arguments, insist on `-p <profile> --`, exec the command. */
const STAND_IN = `#!/bin/sh
printf '%s\\0' "$@" > "$STAND_IN_LOG"
[ "$1" = -p ] && [ "$3" = -- ] || { echo "sandbox-exec: bad arguments" >&2; exit 64; }
shift 3
exec "$@"
`;

const exited = (child: ChildProcess) =>
  new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('exit', (c, s) => resolve([c, s])));

describe('requireSandbox by platform', () => {
  it('refuses on a system that is neither Linux nor macOS, naming both, with a hint', async () => {
    for (const platform of ['win32', 'freebsd'] as const) {
      const err = await requireSandbox(process.env, platform).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).code).toBe('SANDBOX_UNAVAILABLE');
      expect((err as AppError).message).toBe(
        "The sandbox for 'authsome run --sandbox' is not available: it is built on Linux namespaces (bubblewrap) " +
          `or macOS Seatbelt (sandbox-exec), and this system is ${platform}.`,
      );
      expect((err as AppError).hint).toBe('Run without --sandbox, or run the agent on Linux or macOS.');
    }
  });

  it('on macOS looks for /usr/bin/sandbox-exec only (absent on this Linux host), never for bwrap', async () => {
    const err = (await requireSandbox(process.env, 'darwin').catch((e: unknown) => e)) as AppError;
    expect(err.code).toBe('SANDBOX_UNAVAILABLE');
    expect(err.detail).toBe('/usr/bin/sandbox-exec (Seatbelt) was not found');
    expect(err.hint).toMatch(/^It ships with macOS/);
  });
});

describe('requireSeatbelt', () => {
  let t: TempDir;
  afterEach(async () => t.cleanup());

  it('runs a profile of the run’s shape through the program, and says what it answered when it fails', async () => {
    t = await makeTempDir('seatbelt-probe');
    const log = join(t.path, 'args');
    const good = join(t.path, 'sandbox-exec');
    await writeFile(good, STAND_IN.replace('"$STAND_IN_LOG"', `'${log}'`));
    await chmod(good, 0o755);
    expect(await requireSeatbelt(good)).toBe(good);
    const args = (await readFile(log, 'utf8')).split('\0').slice(0, -1);
    expect(args[0]).toBe('-p');
    expect(args[1]).toContain('(allow network-outbound (remote ip "localhost:9"))');
    expect(args.slice(2)).toEqual(['--', '/usr/bin/true']);

    const bad = join(t.path, 'broken');
    await writeFile(bad, '#!/bin/sh\necho "sandbox-exec: unbound variable: remote" >&2\nexit 65\n');
    await chmod(bad, 0o755);
    const err = (await requireSeatbelt(bad).catch((e: unknown) => e)) as AppError;
    expect(err.code).toBe('SANDBOX_UNAVAILABLE');
    expect(err.detail).toBe(`${bad} could not apply its profile (sandbox-exec: unbound variable: remote)`);
  });
});

describe('createSandbox with Seatbelt', () => {
  let t: TempDir;
  afterEach(async () => t.cleanup());

  async function prepare() {
    t = await makeTempDir('seatbelt-run');
    const home = join(t.path, 'home');
    await writeFile(join(t.path, 'sandbox-exec'), STAND_IN);
    await chmod(join(t.path, 'sandbox-exec'), 0o755);
    await mkdir(home, { mode: 0o700 });
    await writeFile(join(home, 'ca.pem'), 'CA CERT');
    await writeFile(join(home, 'bundle.pem'), 'CA BUNDLE');
    const sandbox = await createSandbox({
      tool: { kind: 'seatbelt', path: join(t.path, 'sandbox-exec') },
      home,
      env: { HOME: join(t.path, 'user') },
      proxyUrl: 'http://authsome:pw@127.0.0.1:45678',
      caCertPath: join(home, 'ca.pem'),
      caBundlePath: join(home, 'bundle.pem'),
    });
    return {
      home,
      sandbox,
      log: join(t.path, 'args'),
      env: { PATH: process.env.PATH, STAND_IN_LOG: join(t.path, 'args') },
    };
  }

  it('starts `sandbox-exec -p <profile> -- <command>` in its own session, CA copies outside the home', async () => {
    const { home, sandbox, log, env } = await prepare();
    expect(sandbox.caCertPath.startsWith(`${home}/`)).toBe(false);
    expect(await readFile(sandbox.caCertPath, 'utf8')).toBe('CA CERT');
    expect(await readFile(sandbox.caBundlePath, 'utf8')).toBe('CA BUNDLE');
    expect((await stat(sandbox.caCertPath)).mode & 0o777).toBe(0o600);
    const out = join(t.path, 'session');
    // A session leader's session id is its pid: the terminal is then not its controlling terminal (no TIOCSTI).
    const script = 'import os, sys; open(sys.argv[1], "w").write(str(os.getsid(0) == os.getpid()))';
    const { child } = sandbox.spawn(['python3', '-c', script, out], env);
    expect(await exited(child)).toEqual([0, null]);
    expect(await readFile(out, 'utf8')).toBe('True');
    const args = (await readFile(log, 'utf8')).split('\0').slice(0, -1);
    expect(args[0]).toBe('-p');
    expect(args[1]).toContain(`(deny file-read* file-write* (subpath "${home}"))`);
    expect(args[1]).toContain('(allow network-outbound (remote ip "localhost:45678"))');
    expect(args.slice(2)).toEqual(['--', 'python3', '-c', script, out]);
    const dir = join(sandbox.caCertPath, '..');
    await sandbox.close();
    await expect(stat(dir)).rejects.toThrow(/ENOENT/);
  });

  it('delivers a forwarded signal to the command itself (sandbox-exec execs it)', async () => {
    const { sandbox, env } = await prepare();
    const { child, kill } = sandbox.spawn(['sleep', '30'], env);
    // The pid `run` holds becomes the command's own once the stand-in has applied nothing and exec'd it.
    await expect.poll(() => readFile(`/proc/${child.pid}/comm`, 'utf8').catch(() => '')).toBe('sleep\n');
    kill('SIGTERM');
    expect(await exited(child)).toEqual([null, 'SIGTERM']);
    await sandbox.close();
  });
});
