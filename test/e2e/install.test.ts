// authsome installs like a CLI: `npm pack` of this checkout, `npm install -g` of the tarball into a temporary prefix,
// then the installed `authsome` on PATH (run from outside the checkout) logs in, gets, runs an unmodified client
// through its proxy with the preload and CA from the installed package, serves its static files, and completes.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath, readServerState, repoRoot, stopHomeServer } from '../helpers/cli.js';
import { createTestCa } from '../helpers/test-ca.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const KEY = 'sk-INSTALLCANARY-0123456789abcdefghijXYZ';
const VERSION = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function exec(
  command: string,
  args: string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv; input?: string; timeoutMs?: number },
): Promise<Result> {
  return new Promise((resolve, reject) => {
    // Without input, stdin is closed from the start: writing to a child that has already exited would be EPIPE.
    const child = spawn(command, args, {
      cwd: opts.cwd,
      env: opts.env,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin?.end(opts.input);
  });
}

describe('npm pack + npm install -g: the installed authsome', () => {
  let root: string;
  let prefix: string;
  let home: string;
  let upstream: Upstream;
  let env: NodeJS.ProcessEnv;
  const authsome = (args: string[], input?: string) =>
    exec('authsome', args, { cwd: root, env, input, timeoutMs: 60_000 });

  beforeAll(async () => {
    if (!existsSync(cliPath)) throw new Error('dist/ is missing: run `npm run build` first (npm test does).');
    root = mkdtempSync(join(tmpdir(), 'authsome-install-'));
    prefix = join(root, 'prefix');
    home = join(root, 'home');
    const npmEnv = { ...process.env, npm_config_update_notifier: 'false' };
    // dist/ is already built; --ignore-scripts keeps pack from rebuilding it (and racing other test files' reads).
    const pack = await exec('npm', ['pack', '--pack-destination', root, '--ignore-scripts'], {
      cwd: repoRoot,
      env: npmEnv,
      timeoutMs: 120_000,
    });
    expect(pack.code, pack.stderr).toBe(0);
    const tarball = readdirSync(root).find((f) => /^authsome-.*\.tgz$/.test(f));
    expect(tarball).toBe(`authsome-${VERSION}.tgz`);
    // --prefer-offline: the dependencies are in npm's cache since `npm ci`; the registry is asked only for a miss.
    const install = await exec(
      'npm',
      ['install', '-g', '--prefix', prefix, join(root, tarball!), '--prefer-offline', '--no-audit', '--no-fund'],
      {
        cwd: root,
        env: npmEnv,
        timeoutMs: 240_000,
      },
    );
    expect(install.code, install.stderr).toBe(0);
    const ca = createTestCa(['api.openai.com']);
    const { caPath } = await ca.writeFiles(root);
    upstream = await startUpstream({ cert: ca.cert, key: ca.key });
    env = {
      // Only the installed prefix and the directory of node: the checkout's dist/ is nowhere on the way.
      PATH: [join(prefix, 'bin'), dirname(process.execPath), '/usr/bin', '/bin'].join(':'),
      HOME: root,
      AUTHSOME_HOME: home,
      AUTHSOME_PORT: '0',
      NO_COLOR: '1',
      NODE_EXTRA_CA_CERTS: caPath,
      AUTHSOME_PROXY_RESOLVE: `api.openai.com:443=127.0.0.1:${upstream.port}`,
    };
  }, 400_000);

  afterAll(async () => {
    if (home) await stopHomeServer(home);
    await upstream?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('is on PATH from the prefix and prints the version', async () => {
    const which = await exec('sh', ['-c', 'command -v authsome'], { cwd: root, env });
    expect(which.stdout.trim()).toBe(join(prefix, 'bin', 'authsome'));
    const r = await authsome(['--version']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(VERSION);
  });

  it('login --stdin, then get, from the installed package', async () => {
    const login = await authsome(['login', 'openai', '--stdin'], `${KEY}\n`);
    expect(login.code, login.stderr).toBe(0);
    const get = await authsome(['get', 'openai', '--field', 'api_key', '--show-secret']);
    expect(get.code, get.stderr).toBe(0);
    expect(get.stdout.trim()).toBe(KEY);
    // The server it started serves its static files from the installed package.
    const state = readServerState(home)!;
    expect(state.version).toBe(VERSION);
    const css = await fetch(`${state.url}/static/app.css`);
    expect(css.status).toBe(200);
    expect((await css.text()).length).toBeGreaterThan(100);
  });

  it(
    'run: an unmodified http.request client gets the key ' + 'added, with the preload of the installed package',
    async () => {
      const before = upstream.requests.length;
      const script = [
        "const https = require('node:https');",
        "https.get('https://api.openai.com/v1/models', { headers: { authorization: 'Bearer ' + " +
          'process.env.OPENAI_API_KEY } }, (res) => {',
        "  let body = ''; res.on('data', (c) => (body += c));",
        "  res.on('end', () => console.log(JSON.stringify({ status: res.statusCode, object: " +
          'JSON.parse(body).object, options: process.env.NODE_OPTIONS })));',
        '});',
      ].join('\n');
      const r = await authsome(['run', '--', 'node', '-e', script]);
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as { status: number; object: string; options: string };
      expect(out).toMatchObject({ status: 200, object: 'list' });
      expect(out.options).toContain(`${prefix}/lib/node_modules/authsome/dist/proxy/preload.js`);
      expect(out.options).not.toContain(repoRoot);
      const seen = upstream.requests.slice(before);
      expect(seen).toHaveLength(1);
      expect(seen[0]!.headers.authorization).toBe(`Bearer ${KEY}`);
      expect(r.stdout + r.stderr).not.toContain(KEY);
    },
  );

  it('completion bash: commands, then provider names, completed by the installed authsome', async () => {
    const complete = (words: string) =>
      exec(
        'bash',
        [
          '-c',
          `source <(authsome completion bash); COMP_WORDS=(${words}); COMP_CWORD=$((\${#COMP_WORDS[@]} - ` +
            `1)); _authsome; echo "\${COMPREPLY[*]}"`,
        ],
        { cwd: root, env },
      );
    expect((await complete('authsome lo')).stdout.trim().split(' ').sort()).toEqual(['lock', 'log', 'login', 'logout']);
    expect((await complete('authsome login open')).stdout.trim().split(' ').sort()).toEqual(['openai', 'openrouter']);
    expect((await complete('authsome daemon st')).stdout.trim().split(' ').sort()).toEqual(['start', 'status', 'stop']);
  });

  it('completion zsh and fish print their scripts; an unknown shell is a usage error', async () => {
    const zsh = await authsome(['completion', 'zsh']);
    expect(zsh.code).toBe(0);
    expect(zsh.stdout).toMatch(/^#compdef authsome\n/);
    expect(zsh.stdout).toContain('compdef _authsome authsome');
    const fish = await authsome(['completion', 'fish']);
    expect(fish.code).toBe(0);
    expect(fish.stdout).toContain('complete -c authsome -n __fish_use_subcommand');
    const bad = await authsome(['completion', 'tcsh']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe("Error: Unknown shell 'tcsh'.\nHint: Choose one of: bash, zsh, fish.\n");
  });
});
