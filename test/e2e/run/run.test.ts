// `authsome run` end to end: the built CLI, its auto-started server and proxy, and real clients (curl, Node
// fetch, the openai SDK, Python requests) against a local HTTPS stand-in for api.openai.com. The upstream
// records what it received; the child's environment and every file under the home are searched for the key.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildTestEnv,
  cliPath,
  listFilesRecursive,
  repoRoot,
  makeTempHome,
  runCli,
  stopHomeServer,
  type CliResult,
  type TempHome,
} from '../../helpers/cli.js';
import { createTestCa } from '../../helpers/test-ca.js';
import { SSE_WORDS, startUpstream, type Upstream } from '../../helpers/upstream.js';
import { findPythonWithRequests } from '../../helpers/python.js';

const KEY = 'sk-RUNCANARY-default-0123456789abcdefXYZ';
const TEAM_KEY = 'sk-RUNCANARY-team-0123456789abcdefghiJKL';
// Shaped like an OpenAI key (providers/openai.json key_pattern), so SDKs that check a key's form accept it.
const PLACEHOLDER = 'sk-authsome-proxy-managed-00000000000000';
const OPENAI_KEY_PATTERN = new RegExp(
  JSON.parse(readFileSync(join(repoRoot, 'providers', 'openai.json'), 'utf8')).api_key.key_pattern,
);
const childrenDir = fileURLToPath(new URL('../../integration/proxy/children/', import.meta.url));

describe('authsome run with real clients', () => {
  let t: TempHome;
  let upstream: Upstream;
  let certDir: string;
  let env: NodeJS.ProcessEnv;
  const cli = (args: string[], input?: string) => runCli(t.home, args, { env, input, timeoutMs: 60_000 });

  beforeAll(async () => {
    t = makeTempHome();
    const ca = createTestCa(['api.openai.com']);
    certDir = mkdtempSync(join(tmpdir(), 'authsome-run-ca-'));
    const { caPath } = await ca.writeFiles(certDir);
    upstream = await startUpstream({ cert: ca.cert, key: ca.key, sseIntervalMs: 150 });
    // The server trusts the stand-in's CA and reaches api.openai.com:443 on 127.0.0.1.
    env = { NODE_EXTRA_CA_CERTS: caPath, AUTHSOME_PROXY_RESOLVE: `api.openai.com:443=127.0.0.1:${upstream.port}` };
    expect((await cli(['login', 'openai'], `${KEY}\n`)).code).toBe(0);
    expect((await cli(['login', 'openai', '--connection', 'team'], `${TEAM_KEY}\n`)).code).toBe(0);
  });
  afterAll(async () => {
    await t.cleanup();
    await upstream.close();
    rmSync(certDir, { recursive: true, force: true });
  });

  const expectInjected = (before: number, key = KEY) => {
    const seen = upstream.requests.slice(before);
    expect(seen.length).toBeGreaterThan(0);
    for (const r of seen) {
      expect(r.headers.authorization).toBe(`Bearer ${key}`);
      expect(r.headers['proxy-authorization']).toBeUndefined();
    }
  };
  const expectNoKey = (r: CliResult) => {
    for (const k of [KEY, TEAM_KEY]) {
      expect(r.stdout.includes(k)).toBe(false);
      expect(r.stderr.includes(k)).toBe(false);
    }
  };

  it('the child sees only the placeholder, the proxy and the CA bundle', async () => {
    const r = await cli(['run', '--', process.execPath, '-e', 'process.stdout.write(JSON.stringify(process.env))']);
    expect(r.code).toBe(0);
    const childEnv = JSON.parse(r.stdout) as Record<string, string>;
    expect(childEnv.OPENAI_API_KEY).toBe(PLACEHOLDER);
    expect(OPENAI_KEY_PATTERN.test(childEnv.OPENAI_API_KEY!)).toBe(true);
    expect(childEnv.HTTPS_PROXY).toMatch(/^http:\/\/authsome:[^@]+@127\.0\.0\.1:\d+$/);
    expect(childEnv.https_proxy).toBe(childEnv.HTTPS_PROXY);
    expect(childEnv.HTTP_PROXY).toBe(childEnv.HTTPS_PROXY);
    expect(childEnv.NO_PROXY!.split(',')).toEqual(expect.arrayContaining(['localhost', '127.0.0.1', '::1']));
    // The run's own CA, in a directory of the run (its files are checked, and seen to go, in the test below).
    const runDir = dirname(childEnv.NODE_EXTRA_CA_CERTS!);
    expect(dirname(runDir)).toBe(join(t.home, 'ca', 'runs'));
    expect(childEnv.NODE_EXTRA_CA_CERTS).toBe(join(runDir, 'ca.pem'));
    for (const v of ['SSL_CERT_FILE', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'GIT_SSL_CAINFO'])
      expect(childEnv[v]).toBe(join(runDir, 'bundle.pem'));
    expect(childEnv.NODE_USE_ENV_PROXY).toBe('1');
    expect(childEnv.NODE_OPTIONS).toMatch(/--import file:\/\/.*\/dist\/proxy\/preload\.js/);
    expect(childEnv.AUTHSOME_RUN).toBe('1');
    expect(r.stdout.includes(KEY)).toBe(false);
  });

  it(
    "the run's CA files exist while it runs, are 0600, hold its CA alone and the roots plus it, and are gone " +
      'after',
    async () => {
      const script = `const fs = require('node:fs');
      const files = [process.env.NODE_EXTRA_CA_CERTS, process.env.SSL_CERT_FILE];
      process.stdout.write(JSON.stringify(files.map((f) => ({ path: f, mode: fs.statSync(f).mode & 0o777, \
pem: fs.readFileSync(f, 'utf8') }))));`;
      const r = await cli(['run', '--', process.execPath, '-e', script]);
      expect(r.code).toBe(0);
      const [ca, bundle] = JSON.parse(r.stdout) as { path: string; mode: number; pem: string }[];
      expect(ca!.path.startsWith(join(t.home, 'ca', 'runs'))).toBe(true);
      expect([ca!.mode, bundle!.mode]).toEqual([0o600, 0o600]);
      expect(ca!.pem.match(/BEGIN CERTIFICATE/g)).toHaveLength(1);
      expect(bundle!.pem.endsWith(`${ca!.pem.trim()}\n`)).toBe(true);
      expect(existsSync(ca!.path)).toBe(false);
      expect(existsSync(bundle!.path)).toBe(false);
    },
  );

  it('--stable-ca gives the child the stored CA and bundle', async () => {
    const r = await cli([
      'run',
      '--stable-ca',
      '--',
      process.execPath,
      '-e',
      'process.stdout.write(JSON.stringify(process.env))',
    ]);
    expect(r.code).toBe(0);
    const childEnv = JSON.parse(r.stdout) as Record<string, string>;
    expect(childEnv.NODE_EXTRA_CA_CERTS).toBe(join(t.home, 'ca', 'ca.pem'));
    for (const v of ['SSL_CERT_FILE', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'GIT_SSL_CAINFO'])
      expect(childEnv[v]).toBe(join(t.home, 'ca', 'bundle.pem'));
    expect(readFileSync(childEnv.SSL_CERT_FILE!, 'utf8')).toContain(
      readFileSync(childEnv.NODE_EXTRA_CA_CERTS!, 'utf8').trim(),
    );
    const before = upstream.requests.length;
    const curl = await cli([
      'run',
      '--stable-ca',
      '--',
      'curl',
      '-sS',
      '-o',
      '/dev/null',
      'https://api.openai.com/v1/models',
    ]);
    expect(curl.code).toBe(0);
    expectInjected(before, KEY);
  });

  it('warns, naming the route, when a regex route has no fixed domain suffix, with either CA', async () => {
    const definition = {
      schema_version: 1,
      name: 'widget',
      display_name: 'Widget',
      auth_type: 'api_key',
      flow: 'api_key',
      api_url: 'regex:.*widget.*',
      api_key: { header_name: 'Authorization', header_prefix: 'Bearer' },
    };
    writeFileSync(join(t.home, 'providers', 'widget.json'), JSON.stringify(definition), { mode: 0o600 });
    expect((await cli(['login', 'widget'], 'wk-0123456789abcdef\n')).code).toBe(0);
    const r = await cli(['run', '--only', 'widget', '--', 'true']);
    expect(r.code).toBe(0);
    const warning =
      'Warning: The route regex:.*widget.* has no fixed domain suffix: it matches hosts in any domain, so the ' +
      "credential can be sent to a host the command picks, and this run's CA is not limited to its providers' " +
      'hosts. Anchor it to a domain (regex:.*\\.example\\.com).';
    expect(r.stderr).toContain(warning);
    // The credential's side of it holds with the stable CA too.
    expect((await cli(['run', '--stable-ca', '--only', 'widget', '--', 'true'])).stderr).toContain(warning);
    const scoped = await cli(['run', '--only', 'openai', '--', 'true']);
    expect(scoped.stderr).not.toContain('fixed domain suffix');
    expect((await cli(['remove', 'widget'])).code).toBe(0);
  });

  it('withholds the vault passphrase and every inherited variable whose value is a stored key', async () => {
    const printEnv = ['run', '--', process.execPath, '-e', 'process.stdout.write(JSON.stringify(process.env))'];
    const hostile = {
      ...env,
      AUTHSOME_PASSPHRASE: 'correct horse battery staple',
      MY_OLD_KEY: KEY,
      OPENAI_API_KEY: ` ${TEAM_KEY}\n`,
      UNRELATED: 'keep-me-please',
    };
    const r = await runCli(t.home, printEnv, { env: hostile, timeoutMs: 60_000 });
    expect(r.code).toBe(0);
    const childEnv = JSON.parse(r.stdout) as Record<string, string | undefined>;
    expect(childEnv.AUTHSOME_PASSPHRASE).toBeUndefined();
    expect(childEnv.MY_OLD_KEY).toBeUndefined();
    expect(childEnv.OPENAI_API_KEY).toBe(PLACEHOLDER);
    expect(childEnv.UNRELATED).toBe('keep-me-please');
    expect(r.stderr).toContain('Warning: MY_OLD_KEY holds a key stored in authsome: it is not passed to the command.');
    expect(r.stderr).not.toContain('OPENAI_API_KEY holds');
    expectNoKey(r);
    // Without placeholders nothing replaces the variable: it is withheld, and the person is told.
    const bare = await runCli(t.home, ['run', '--no-placeholders', ...printEnv.slice(1)], {
      env: hostile,
      timeoutMs: 60_000,
    });
    expect(bare.code).toBe(0);
    expect((JSON.parse(bare.stdout) as Record<string, string | undefined>).OPENAI_API_KEY).toBeUndefined();
    expect(bare.stderr).toContain('OPENAI_API_KEY holds a key stored in authsome');
  });

  it(
    '--allow, --verbose and --summary: the rule lets one request through, refuses the other, and the summary ' +
      'says so',
    async () => {
      const before = upstream.requests.length;
      const script =
        "curl -s -o /dev/null -w '%{http_code} ' https://api.openai.com/v1/models; " +
        "curl -s -o /dev/null -w '%{http_code}' -X POST -H 'content-type: application/json' -d '{}' " +
        'https://api.openai.com/v1/chat/completions';
      const r = await cli([
        'run',
        '--allow',
        'openai:GET:/v1/models',
        '--verbose',
        '--summary',
        '--',
        'sh',
        '-c',
        script,
      ]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('200 403');
      expect(upstream.requests.slice(before).map((q) => `${q.method} ${q.url}`)).toEqual(['GET /v1/models']);
      expect(r.stderr).toContain('authsome run: allow openai GET /v1/models');
      expect(r.stderr).toMatch(/Provider\s+Injected\s+Denied\s+Scrubbed\nopenai\s+1\s+1\s+0\n/);
      expectNoKey(r);
      const bad = await cli(['run', '--allow', 'openai:GET', '--', 'true']);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain("Error: Invalid --allow rule 'openai:GET'.");
    },
  );

  it('curl: the upstream gets the real key, the child never has it', async () => {
    const before = upstream.requests.length;
    const r = await cli([
      'run',
      '--',
      'sh',
      '-c',
      'curl -sS --fail-with-body -H "Authorization: Bearer $OPENAI_API_KEY" https://api.openai.com/v1/models',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).object).toBe('list');
    expectInjected(before);
    expectNoKey(r);
  });

  it('Node 20 built-in fetch in an unmodified script', async () => {
    const before = upstream.requests.length;
    const r = await cli(['run', '--', process.execPath, join(childrenDir, 'fetch-models.mjs')]);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ status: 200, object: 'list', ids: ['gpt-4o-mini', 'gpt-4o'] });
    expectInjected(before);
  });

  it('the openai SDK: models.list() and a streamed chat completion, events spread out', async () => {
    const before = upstream.requests.length;
    const r = await cli(['run', '--', process.execPath, join(childrenDir, 'openai-sdk.mjs')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { ids: string[]; text: string; arrivals: number[] };
    expect(out.ids).toEqual(['gpt-4o-mini', 'gpt-4o']);
    expect(out.text).toBe(SSE_WORDS.join(''));
    expectInjected(before);
    const chat = upstream.requests.slice(before).find((x) => x.url === '/v1/chat/completions')!;
    expect(out.arrivals[0]!).toBeLessThan(chat.sseSentAt.at(-1)! - 300);
  });

  it('a child that gets the key echoed back compressed (gzip, br) by the provider sees only the mask', async () => {
    // The hostile child asks an endpoint that echoes the Authorization header, compressed whatever authsome asked
    // for; Node's fetch decompresses on its own, so an unscanned body would hand it the key.
    const script = [
      'const out = {};',
      "for (const encoding of ['gzip', 'br']) {",
      '  const r = await fetch(`https://api.openai.com/v1/echo-headers?encoding=${encoding}`);',
      '  out[encoding] = { status: r.status, encoding: r.headers.get("content-encoding"), body: await r.text() };',
      '}',
      'process.stdout.write(JSON.stringify(out));',
    ].join('\n');
    const before = upstream.requests.length;
    const r = await cli(['run', '--', process.execPath, '--input-type=module', '-e', script]);
    expect(r.code, r.stderr).toBe(0);
    expectInjected(before);
    expect(r.stdout).not.toContain(KEY);
    expect(r.stdout).not.toContain(Buffer.from(KEY).toString('base64'));
    const seen = JSON.parse(r.stdout) as Record<string, { status: number; encoding: string | null; body: string }>;
    for (const encoding of ['gzip', 'br']) {
      expect(seen[encoding]!.status).toBe(200);
      // Decoded by the proxy: the child gets identity, the same length as the key, masked.
      expect(seen[encoding]!.encoding).toBeNull();
      const { authorization } = JSON.parse(seen[encoding]!.body) as { authorization: string };
      expect(authorization).toMatch(/^Bearer /);
      expect(authorization.length).toBe(`Bearer ${KEY}`.length);
    }
  });

  it('Python requests', async () => {
    const before = upstream.requests.length;
    const r = await cli(['run', '--', findPythonWithRequests(), join(childrenDir, 'requests_models.py')]);
    expect(r.code, `${r.stdout}${r.stderr}`).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ status: 200, object: 'list' });
    expectInjected(before);
  });

  it('--connection openai=team injects the team key', async () => {
    const before = upstream.requests.length;
    const r = await cli([
      'run',
      '--connection',
      'openai=team',
      '--',
      'curl',
      '-sS',
      '-o',
      '/dev/null',
      'https://api.openai.com/v1/models',
    ]);
    expect(r.code).toBe(0);
    expectInjected(before, TEAM_KEY);
  });

  it('--only narrows the scope: a provider left out gets nothing', async () => {
    const before = upstream.requests.length;
    const r = await cli([
      'run',
      '--only',
      'anthropic',
      '--',
      'curl',
      '-sS',
      '-o',
      '/dev/null',
      'https://api.openai.com/v1/models',
    ]);
    expect(r.stderr).toContain('Warning: anthropic has no connection');
    // Nothing in scope matches api.openai.com: a blind tunnel, so curl meets the stand-in's own certificate, which
    // the run's bundle does not trust: the handshake fails and no request reaches the upstream.
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/SSL certificate problem|certificate/i);
    expect(upstream.requests.length).toBe(before);
  });

  it('a nested run reuses the outer session', async () => {
    const script =
      `${process.execPath} ${cliPath} run -- ${process.execPath} -e ` +
      "'process.stdout.write(process.env.HTTPS_PROXY)'";
    const r = await cli(['run', '--', 'sh', '-c', `printf '%s\\n' "$HTTPS_PROXY"; ${script}`]);
    expect(r.code).toBe(0);
    const [outer, inner] = r.stdout.split('\n');
    expect(inner).toBe(outer);
  });

  it("exits with the child's code, 128+signal when killed", async () => {
    expect((await cli(['run', '--', 'sh', '-c', 'exit 7'])).code).toBe(7);
    expect((await cli(['run', '--', 'sh', '-c', 'kill -KILL $$'])).code).toBe(137);
  });

  it('forwards SIGTERM to the child', async () => {
    const child = spawn(
      process.execPath,
      [
        cliPath,
        'run',
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
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    for (let i = 0; i < 400 && !out.includes('ready'); i++) await new Promise((r) => setTimeout(r, 25));
    child.kill('SIGTERM');
    const code = await new Promise((r) => child.on('exit', r));
    expect(out).toContain('child got SIGTERM');
    expect(code).toBe(42);
  });

  it('no command is a usage error; a command that cannot start exits as a shell would (127, 126)', async () => {
    const none = await cli(['run']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^Error: No command to run\.\nHint: Usage: authsome run/m);
    const missing = await cli(['run', '--', 'no-such-program-xyz']);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toContain('Error: Command not found: no-such-program-xyz.');
    const notExecutable = await cli(['run', '--', join(t.home, 'audit.log')]);
    expect(notExecutable.code).toBe(126);
    expect(notExecutable.stderr).toContain('Error: Permission denied:');
  });

  it('the audit log has run_start, inject (path without query) and run_end, and no key', async () => {
    await cli(['run', '--', 'curl', '-sS', '-o', '/dev/null', 'https://api.openai.com/v1/models?secret_query=1']);
    const audit = readFileSync(join(t.home, 'audit.log'), 'utf8');
    const entries = audit
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const inject = entries.filter((e) => e.event === 'inject').at(-1)!;
    expect(inject).toMatchObject({
      provider: 'openai',
      connection: 'default',
      method: 'GET',
      host: 'api.openai.com',
      path: '/v1/models',
      status: 200,
    });
    expect(typeof inject.ms).toBe('number');
    const start = entries.filter((e) => e.event === 'run_start').at(-1)!;
    expect(start).toMatchObject({ program: 'curl', reason: 'openai(default)' });
    expect(entries.filter((e) => e.event === 'run_end').at(-1)).toMatchObject({
      run: start.run,
      program: 'curl',
      reason: 'exit code 0',
    });
    expect(audit).not.toContain('secret_query');
  });

  it(
    "names a run by its program file name only, never its path or arguments; doctor's round trip is a " + 'self-test',
    async () => {
      await cli(['run', '--', '/bin/sh', '-c', 'exit 0', 'arg-that-could-be-secret']);
      await cli(['doctor']);
      const entries = readFileSync(join(t.home, 'audit.log'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      const starts = entries.filter((e) => e.event === 'run_start').slice(-2);
      expect(starts[0]).toMatchObject({ program: 'sh' });
      expect(starts[1]).toMatchObject({ program: 'authsome doctor', reason: expect.stringMatching(/^self-test: /) });
      expect(JSON.stringify(entries)).not.toMatch(/arg-that-could-be-secret|\/bin\/sh|exit 0/);
    },
  );

  it('the key is nowhere under the home (logs, audit, CA files), in any form', async () => {
    await stopHomeServer(t.home);
    for (const file of listFilesRecursive(t.home)) {
      const text = readFileSync(file).toString('latin1');
      for (const k of [KEY, TEAM_KEY]) {
        for (const form of [k, Buffer.from(k).toString('base64'), Buffer.from(k).toString('base64url')]) {
          expect(text.includes(form), `${form} in ${file}`).toBe(false);
        }
      }
    }
  });
});
