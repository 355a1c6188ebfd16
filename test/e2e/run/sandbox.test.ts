// `authsome run --sandbox` end to end with Debian's bubblewrap: a hostile child tries to read the vault, the key
// file and the server token, to call the server's API, to reach the upstream without the proxy and to resolve
// names; each fails, while a request through the proxy still gets the key. Without bwrap, --sandbox refuses to run.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestEnv, cliPath, makeTempHome, readServerState, runCli, type TempHome } from '../../helpers/cli.js';
import { createTestCa } from '../../helpers/test-ca.js';
import { runInPty } from '../../helpers/pty.js';
import { startUpstream, type Upstream } from '../../helpers/upstream.js';

const KEY = 'sk-SANDBOXCANARY-0123456789abcdefXYZ';
const escapeScript = fileURLToPath(new URL('./children/sandbox-escape.mjs', import.meta.url));

describe('authsome run --sandbox', () => {
  let t: TempHome;
  let upstream: Upstream;
  let certDir: string;
  let env: NodeJS.ProcessEnv;
  const cli = (args: string[], extra: NodeJS.ProcessEnv = {}) =>
    runCli(t.home, args, { env: { ...env, ...extra }, timeoutMs: 60_000 });

  beforeAll(async () => {
    t = makeTempHome();
    const ca = createTestCa(['api.openai.com']);
    certDir = mkdtempSync(join(tmpdir(), 'authsome-sandbox-ca-'));
    const { caPath } = await ca.writeFiles(certDir);
    upstream = await startUpstream({ cert: ca.cert, key: ca.key });
    env = { NODE_EXTRA_CA_CERTS: caPath, AUTHSOME_PROXY_RESOLVE: `api.openai.com:443=127.0.0.1:${upstream.port}` };
    expect((await runCli(t.home, ['login', 'openai'], { env, input: `${KEY}\n` })).code).toBe(0);
  });
  afterAll(async () => {
    await t.cleanup();
    await upstream.close();
    rmSync(certDir, { recursive: true, force: true });
  });

  it(
    'a hostile child finds the home empty and reaches ' + 'neither the API, nor the upstream, nor a name server',
    async () => {
      const state = readServerState(t.home)!;
      const target = {
        home: t.home,
        serverPid: state.pid,
        webPort: Number(new URL(state.url).port),
        upstreamPort: upstream.port,
      };
      const before = upstream.requests.length;
      const r = await cli(['run', '--sandbox', '--', process.execPath, escapeScript, JSON.stringify(target)]);
      expect(r.code, r.stderr).toBe(0);
      const seen = JSON.parse(r.stdout) as {
        homeEntries: string[];
        files: Record<string, string>;
        connect: Record<string, string>;
        dns: Record<string, string>;
      };
      expect(seen.homeEntries).toEqual([]);
      expect(Object.keys(seen.files)).toHaveLength(4);
      for (const [path, outcome] of Object.entries(seen.files)) expect(outcome, path).toBe('ENOENT');
      expect(seen.connect).toEqual({ api: 'ECONNREFUSED', upstream: 'ECONNREFUSED' });
      expect(seen.dns.lookup).not.toBe('resolved');
      expect(seen.dns.resolve4).not.toBe('resolved');
      expect(upstream.requests.length).toBe(before);
      // The same child without --sandbox reads all three files and reaches both ports: the test would catch a no-op.
      const open = await cli(['run', '--', process.execPath, escapeScript, JSON.stringify(target)]);
      const unsandboxed = JSON.parse(open.stdout) as typeof seen;
      expect(unsandboxed.files[join(t.home, 'master.key')]).toBe('read');
      expect(unsandboxed.connect).toEqual({ api: 'connected', upstream: 'connected' });
    },
  );

  it(
    'the local sockets that lead out of a sandbox (the ' + "user's systemd and session bus, tmux) are hidden too",
    async () => {
      // Stand-ins where the child would look for them: a session bus in XDG_RUNTIME_DIR, a tmux server's socket.
      const runtimeDir = join(t.root, 'xdg-runtime');
      const tmuxDir = join(t.root, 'tmux-tmp', `tmux-${process.getuid!()}`);
      mkdirSync(runtimeDir, { recursive: true, mode: 0o700 });
      mkdirSync(tmuxDir, { recursive: true, mode: 0o700 });
      const sockets = [join(runtimeDir, 'bus'), join(tmuxDir, 'default')];
      const servers = await Promise.all(
        sockets.map(
          (path) =>
            new Promise<Server>((resolve) => {
              const server = createServer((s) => s.end()).listen(path, () => resolve(server));
            }),
        ),
      );
      try {
        const state = readServerState(t.home)!;
        const target = {
          home: t.home,
          serverPid: state.pid,
          webPort: Number(new URL(state.url).port),
          upstreamPort: upstream.port,
          unixSockets: sockets,
        };
        const extra = { XDG_RUNTIME_DIR: runtimeDir, TMUX_TMPDIR: join(t.root, 'tmux-tmp') };
        const sandboxed = await cli(
          ['run', '--sandbox', '--', process.execPath, escapeScript, JSON.stringify(target)],
          extra,
        );
        expect(sandboxed.code, sandboxed.stderr).toBe(0);
        expect(JSON.parse(sandboxed.stdout).unix).toEqual({ [sockets[0]!]: 'ENOENT', [sockets[1]!]: 'ENOENT' });
        const open = await cli(['run', '--', process.execPath, escapeScript, JSON.stringify(target)], extra);
        expect(JSON.parse(open.stdout).unix).toEqual({ [sockets[0]!]: 'connected', [sockets[1]!]: 'connected' });
      } finally {
        for (const server of servers) server.close();
      }
    },
  );

  it(
    'a program that ignores HTTPS_PROXY gets no network ' + 'at all; through the proxy curl gets the key injected',
    async () => {
      const before = upstream.requests.length;
      const direct = await cli([
        'run',
        '--sandbox',
        '--',
        'curl',
        '-sS',
        '--noproxy',
        '*',
        '--connect-timeout',
        '5',
        'https://api.openai.com/v1/models',
      ]);
      expect(direct.code).not.toBe(0);
      expect(upstream.requests.length).toBe(before);
      const proxied = await cli([
        'run',
        '--sandbox',
        '--',
        'sh',
        '-c',
        'curl -sS --fail-with-body -H "Authorization: Bearer $OPENAI_API_KEY" https://api.openai.com/v1/models',
      ]);
      expect(proxied.stderr).toBe('');
      expect(proxied.code).toBe(0);
      expect(JSON.parse(proxied.stdout).object).toBe('list');
      const seen = upstream.requests.slice(before);
      expect(seen).toHaveLength(1);
      expect(seen[0]!.headers.authorization).toBe(`Bearer ${KEY}`);
      expect(proxied.stdout.includes(KEY)).toBe(false);
    },
  );

  it('the CA variables point outside the hidden home, and the per-run directory is gone afterwards', async () => {
    const r = await cli([
      'run',
      '--sandbox',
      '--',
      process.execPath,
      '-e',
      'process.stdout.write(JSON.stringify(process.env))',
    ]);
    expect(r.code).toBe(0);
    const childEnv = JSON.parse(r.stdout) as Record<string, string>;
    expect(childEnv.AUTHSOME_SANDBOX).toBe('1');
    for (const name of ['NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'CURL_CA_BUNDLE']) {
      expect(childEnv[name]!.startsWith(t.home)).toBe(false);
      expect(() => readFileSync(childEnv[name]!)).toThrow(/ENOENT/);
    }
  });

  it("exits with the child's code, reports a missing command as a shell would, and forwards SIGTERM", async () => {
    expect((await cli(['run', '--sandbox', '--', 'sh', '-c', 'exit 7'])).code).toBe(7);
    expect((await cli(['run', '--sandbox', '--', 'sh', '-c', 'kill -KILL $$'])).code).toBe(137);
    const missing = await cli(['run', '--sandbox', '--', 'no-such-program-xyz']);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toContain('Error: Command not found: no-such-program-xyz.');
    const child = spawn(
      process.execPath,
      [
        cliPath,
        'run',
        '--sandbox',
        '--',
        process.execPath,
        '-e',
        "process.on('SIGTERM', () => { console.log('child got SIGTERM'); process.exit(42); }); " +
          "console.log('ready'); setInterval(() => {}, 1000);",
      ],
      {
        env: buildTestEnv(t.home, env),
      },
    );
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise((r) => child.on('exit', r));
    for (let i = 0; i < 400 && !out.includes('ready'); i++) await new Promise((r) => setTimeout(r, 25));
    expect(out).toContain('ready');
    child.kill('SIGTERM');
    expect(await exited).toBe(42);
    expect(out).toContain('child got SIGTERM');
  });

  it("on a terminal, Ctrl-C reaches the command, which handles it (bwrap's death would SIGKILL it)", async () => {
    const script =
      "process.on('SIGINT', () => { console.log('child got SIGINT'); process.exit(0); }); " +
      "console.log('ready'); setInterval(() => {}, 1000);";
    const pty = runInPty(t.home, ['run', '--sandbox', '--', process.execPath, '-e', script], env);
    await pty.waitFor('ready');
    pty.type('\x03');
    await pty.waitFor('child got SIGINT');
    expect(await pty.exit).toBe(0);
  });

  it(
    "cannot push keystrokes into the person's terminal (TIOCSTI): the sandbox is not in the terminal's " + 'session',
    async () => {
      const inject = [
        'import fcntl, termios',
        'try:',
        "    fcntl.ioctl(0, termios.TIOCSTI, b'#')",
        "    print('INJECTED')",
        'except OSError as e:',
        "    print('REFUSED', e.errno)",
      ].join('\n');
      const pty = runInPty(t.home, ['run', '--sandbox', '--', 'python3', '-c', inject], env);
      await pty.waitFor(/INJECTED|REFUSED/);
      expect(await pty.exit).toBe(0);
      expect(pty.output()).toContain('REFUSED');
      expect(pty.output()).not.toContain('INJECTED');
    },
  );

  it(
    'a nested run --sandbox runs inside an outer sandbox, and refuses inside an unsandboxed run rather than ' +
      'run bare',
    async () => {
      const nested =
        `${process.execPath} ${cliPath} run --sandbox -- ${process.execPath} -e ` +
        "'process.stdout.write(process.env.AUTHSOME_SANDBOX)'";
      const inside = await cli(['run', '--sandbox', '--', 'sh', '-c', nested]);
      expect(inside.code, inside.stderr).toBe(0);
      expect(inside.stdout).toBe('1');
      const bare = await cli(['run', '--', 'sh', '-c', nested]);
      expect(bare.code).toBe(1);
      expect(bare.stdout).toBe('');
      expect(bare.stderr).toContain(
        "Error: The sandbox for 'authsome run --sandbox' is not available: this command runs inside an " +
          'authsome run that is not sandboxed.',
      );
      expect(bare.stderr).toContain("Hint: Start the outer run with 'authsome run --sandbox'.");
    },
  );

  it('a command that needs the server says it is out of reach inside the sandbox, and starts none', async () => {
    const inner = `${process.execPath} ${cliPath} list; echo "exit=$?"; ls -A "$AUTHSOME_HOME"`;
    const r = await cli(['run', '--sandbox', '--', 'sh', '-c', inner]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(
      "Error: The authsome server is not available: this command runs inside 'authsome run --sandbox', which hides " +
        "authsome's home and server from it.",
    );
    expect(r.stderr).toContain(
      "Hint: Commands in a sandboxed run use credentials through its proxy; run 'authsome' commands from your own " +
        'terminal.',
    );
    // The server-unavailable exit code, and the hidden home stays empty: no vault, key or server made inside it.
    expect(r.stdout).toBe('exit=9\n');
  });

  it('without bwrap on PATH, --sandbox fails with an Error/Hint naming the package, and starts no run', async () => {
    // A PATH with the usual tools but no bwrap: a directory of links to what `sh -c` needs.
    const bin = join(t.root, 'bin-without-bwrap');
    mkdirSync(bin, { recursive: true });
    symlinkSync('/bin/sh', join(bin, 'sh'));
    const audit = () =>
      readFileSync(join(t.home, 'audit.log'), 'utf8')
        .split('\n')
        .filter((l) => l.includes('"run_start"')).length;
    const starts = audit();
    const r = await cli(['run', '--sandbox', '--', 'sh', '-c', 'echo ran'], { PATH: bin });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(
      new RegExp(
        "^Error: The sandbox for 'authsome run --sandbox' is not available: " +
          "'bwrap' \\(package bubblewrap\\) was not found on PATH\\.$",
        'm',
      ),
    );
    expect(r.stderr).toMatch(/^Hint: Install bubblewrap \('sudo apt-get install bubblewrap'/m);
    expect(audit()).toBe(starts);
    const doctor = await cli(['doctor'], { PATH: bin });
    expect(doctor.stdout).toMatch(
      /^! Sandbox: 'bwrap' \(package bubblewrap\) was not found on PATH; 'authsome run --sandbox' is not available$/m,
    );
    expect(doctor.stdout).toMatch(/^ {2}Hint: Install bubblewrap/m);
    expect(doctor.code).toBe(0);
  });

  it('doctor says when the sandbox works', async () => {
    const r = await cli(['doctor']);
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toMatch(
      /^✓ Sandbox: \/\S*bwrap builds its network and pid namespaces: 'authsome run --sandbox' is available$/m,
    );
  });
});
