// Each run trusts a CA of its own, made in memory and constrained to the run's hosts: curl, Node and Python refuse
// a certificate it signs for any other name, its trust files live only as long as the run, and the proxy presents
// the run's leaves (not the stable CA's) to the run's children.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../../../src/runtime.js';
import { createTestCa } from '../../helpers/test-ca.js';
import { makeTempDir, type TempDir } from '../../helpers/temp-dir.js';
import { startUpstream, type Upstream } from '../../helpers/upstream.js';
import { openTlsThroughProxy } from './harness.js';

const KEY = 'sk-RUNCACANARY-0123456789abcdefghijXYZ';
const OK_RESPONSE = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok';

interface ChildResult {
  code: number | null;
  out: string;
}

function runChild(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (out += d));
    child.once('error', (err) => reject(new Error(`could not start ${command}: ${err.message}`)));
    child.once('close', (code) => resolve({ code, out }));
  });
}

async function waitFor(check: () => boolean, what: string, deadlineMs = 10_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('a CA of its own per run', () => {
  let dir: TempDir;
  let rt: Runtime;
  let upstream: Upstream;
  const home = () => join(dir.path, 'home');

  beforeAll(async () => {
    dir = await makeTempDir('runca');
    const testCa = createTestCa(['api.openai.com']);
    upstream = await startUpstream({ cert: testCa.cert, key: testCa.key });
    rt = await createRuntime({
      home: home(),
      port: 0,
      kdf: { memory_kib: 1024, iterations: 1 },
      proxyResolve: `api.openai.com:443=127.0.0.1:${upstream.port}`,
      upstreamCaCerts: [testCa.caCert],
    });
    await rt.connections.loginWithApiKey({ provider: 'openai', apiKey: KEY });
  });
  afterAll(async () => {
    await rt?.close();
    await upstream?.close();
    await dir?.cleanup();
  });

  it(
    'writes its CA alone and the system roots plus it as 0600 files of the run, and removes them when the ' +
      'run ends',
    async () => {
      const run = await rt.runs.start({ pid: process.pid, program: 'node' });
      const runDir = join(home(), 'ca', 'runs', run.id);
      expect(run.caCertPath).toBe(join(runDir, 'ca.pem'));
      expect(run.caBundlePath).toBe(join(runDir, 'bundle.pem'));
      expect(statSync(runDir).mode & 0o777).toBe(0o700);
      for (const file of [run.caCertPath, run.caBundlePath]) expect(statSync(file).mode & 0o777).toBe(0o600);
      const caPem = readFileSync(run.caCertPath, 'utf8');
      expect(caPem.match(/BEGIN CERTIFICATE/g)).toHaveLength(1);
      expect(caPem).not.toContain('PRIVATE KEY');
      const bundle = readFileSync(run.caBundlePath, 'utf8');
      expect(bundle.endsWith(`${caPem.trim()}\n`)).toBe(true);
      expect(bundle.match(/BEGIN CERTIFICATE/g)).toHaveLength(tls.rootCertificates.length + 1);
      // The stored CA is not made or trusted for a run that has its own.
      expect(existsSync(join(home(), 'ca', 'ca.pem'))).toBe(false);
      expect(run.warnings).toEqual([]);

      const other = await rt.runs.start({ pid: process.pid, program: 'node' });
      expect(readFileSync(other.caCertPath, 'utf8')).not.toBe(caPem);

      expect(await rt.runs.end(run.id)).toBe(true);
      expect(existsSync(runDir)).toBe(false);
      expect(existsSync(other.caCertPath)).toBe(true);
      await rt.runs.end(other.id);
      expect(existsSync(other.caCertPath)).toBe(false);
    },
  );

  it("removes the run's files when its process is gone", async () => {
    const child = spawn(process.execPath, ['-e', 'process.stdin.resume()'], { stdio: ['pipe', 'ignore', 'ignore'] });
    const run = await rt.runs.start({ pid: child.pid!, program: 'node' });
    expect(existsSync(run.caCertPath)).toBe(true);
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    await waitFor(() => !existsSync(join(home(), 'ca', 'runs', run.id)), "the dead run's CA directory to go");
    expect(rt.runs.isLive(run.id)).toBe(false);
  });

  it("the proxy presents the run's leaves: curl with the run's bundle reaches the upstream with the key", async () => {
    const run = await rt.runs.start({ pid: process.pid, program: 'curl' });
    try {
      const r = await runChild(
        'curl',
        ['-sS', '--proxy', run.proxyUrl, '--cacert', run.caBundlePath, 'https://api.openai.com/v1/models'],
        {},
      );
      expect(r.out).not.toContain(KEY);
      expect(r.code).toBe(0);
      expect(upstream.requests.at(-1)?.headers.authorization).toBe(`Bearer ${KEY}`);
      // Node's TLS, trusting the run's CA alone: the chain it is given ends at that CA.
      const socket = await openTlsThroughProxy(rt.proxyPort!, new URL(run.proxyUrl).password, 'api.openai.com:443', {
        servername: 'api.openai.com',
        ca: readFileSync(run.caCertPath, 'utf8'),
      });
      expect(socket.getPeerCertificate().issuer.CN).toBe('authsome run CA');
      socket.destroy();
    } finally {
      await rt.runs.end(run.id);
    }
  });

  describe('a certificate the run CA signs for a host outside the run is refused', () => {
    let server: tls.Server;
    let port: number;
    let run: Awaited<ReturnType<Runtime['runs']['start']>>;

    beforeAll(async () => {
      run = await rt.runs.start({ pid: process.pid, program: 'agent' });
      // The hostile case: the run's own CA key signs whatever SNI asks for (as if it had leaked, or the proxy were
      // fooled).
      const authority = rt.runs.authorityFor(run.id)!;
      server = tls.createServer({ SNICallback: (name, cb) => cb(null, authority.getLeafContext(name)) }, (s) =>
        s.end(OK_RESPONSE),
      );
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      port = (server.address() as AddressInfo).port;
    });
    afterAll(async () => {
      server?.close();
      await rt.runs.end(run.id);
    });

    it('by curl (CURL_CA_BUNDLE)', async () => {
      const curl = (host: string) =>
        runChild('curl', ['-sS', '--resolve', `${host}:${port}:127.0.0.1`, `https://${host}:${port}/`], {
          CURL_CA_BUNDLE: run.caBundlePath,
        });
      const inScope = await curl('api.openai.com');
      expect(inScope.out).toBe('ok');
      const outside = await curl('evil.example');
      expect(outside.code).toBe(60);
      expect(outside.out).toMatch(/permitted|subtree|constraint/i);
    });

    it('by Node (NODE_EXTRA_CA_CERTS)', async () => {
      const script = `const tls = require('node:tls');
        const s = tls.connect({ host: '127.0.0.1', port: ${port}, servername: process.argv[1] }, \
() => { console.log('verified'); s.destroy(); });
        s.on('error', (e) => { console.log('refused: ' + e.message); process.exitCode = 3; });`;
      const node = (host: string) =>
        runChild(process.execPath, ['-e', script, host], { NODE_EXTRA_CA_CERTS: run.caCertPath });
      expect((await node('api.openai.com')).out.trim()).toBe('verified');
      const outside = await node('evil.example');
      expect(outside.code).toBe(3);
      expect(outside.out).toMatch(/refused: .*(permitted|subtree|constraint)/i);
    });

    it('by Python (ssl, SSL_CERT_FILE)', async () => {
      const script = [
        'import ssl, socket, sys',
        'host = sys.argv[1]',
        'ctx = ssl.create_default_context()',
        'try:',
        `    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", ${port})), server_hostname=host)`,
        '    print("verified")',
        'except ssl.SSLError as e:',
        '    print("refused:", e)',
        '    sys.exit(3)',
      ].join('\n');
      const python = (host: string) => runChild('python3', ['-c', script, host], { SSL_CERT_FILE: run.caBundlePath });
      expect((await python('api.openai.com')).out.trim()).toBe('verified');
      const outside = await python('evil.example');
      expect(outside.code).toBe(3);
      expect(outside.out).toMatch(/refused: .*(permitted|subtree|constraint)/i);
    });
  });

  it('--stable-ca keeps the stored CA and its bundle', async () => {
    const run = await rt.runs.start({ pid: process.pid, program: 'java', stableCa: true });
    try {
      expect(run.caCertPath).toBe(join(home(), 'ca', 'ca.pem'));
      expect(run.caBundlePath).toBe(join(home(), 'ca', 'bundle.pem'));
      expect(rt.runs.authorityFor(run.id)).toBeUndefined();
      expect(existsSync(join(home(), 'ca', 'runs', run.id))).toBe(false);
      const socket = await openTlsThroughProxy(rt.proxyPort!, new URL(run.proxyUrl).password, 'api.openai.com:443', {
        servername: 'api.openai.com',
        ca: readFileSync(run.caCertPath, 'utf8'),
      });
      expect(socket.getPeerCertificate(true).issuerCertificate.issuer.CN).toBe('authsome local CA');
      socket.destroy();
    } finally {
      await rt.runs.end(run.id);
    }
  });

  it('a route without a fixed suffix leaves the run unconstrained and is named in a warning', async () => {
    await writeFile(
      join(home(), 'providers', 'widget.json'),
      JSON.stringify({
        schema_version: 1,
        name: 'widget',
        display_name: 'Widget',
        auth_type: 'api_key',
        flow: 'api_key',
        api_url: 'regex:.*widget.*',
        api_key: { header_name: 'Authorization', header_prefix: 'Bearer' },
      }),
    );
    await rt.connections.loginWithApiKey({ provider: 'widget', apiKey: 'wk-0123456789abcdef' });
    const run = await rt.runs.start({ pid: process.pid, program: 'agent', only: ['widget'] });
    try {
      expect(run.warnings).toEqual([expect.stringContaining('regex:.*widget.*')]);
      const authority = rt.runs.authorityFor(run.id)!;
      const server = tls.createServer({ SNICallback: (name, cb) => cb(null, authority.getLeafContext(name)) }, (s) =>
        s.end(OK_RESPONSE),
      );
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const r = await runChild(
        'curl',
        [
          '-sS',
          '--resolve',
          `anything.example:${(server.address() as AddressInfo).port}:127.0.0.1`,
          `https://anything.example:${(server.address() as AddressInfo).port}/`,
        ],
        {
          CURL_CA_BUNDLE: run.caBundlePath,
        },
      );
      server.close();
      expect(r.out).toBe('ok');
    } finally {
      await rt.runs.end(run.id);
    }
  });
});
