// Real, unmodified clients through the proxy with the environment `authsome run` builds: curl, Node's
// fetch via the preload, the openai SDK, Python requests. The upstream must see the real key; the child never does.
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRunEnv, PLACEHOLDER } from '../../../src/cli/run-env.js';
import type { RunSession } from '../../../src/proxy/run-sessions.js';
import { SSE_WORDS } from '../../helpers/upstream.js';
import { buildDefinition, REAL_KEY, startHarness, type Harness } from './harness.js';
import { ensurePreloadBuilt } from './preload-build.js';
import { findPythonWithRequests } from '../../helpers/python.js';

const childrenDir = fileURLToPath(new URL('./children/', import.meta.url));

interface ChildResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runChild(
  command: string,
  args: string[],
  env: Record<string, string>,
  timeoutMs = 20_000,
): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} timed out; stderr: ${stderr}`));
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`could not start ${command}: ${err.message}`));
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('real clients through the proxy', () => {
  let h: Harness;
  let session: RunSession;
  let env: Record<string, string>;

  beforeAll(async () => {
    h = await startHarness({ sseIntervalMs: 150 });
    h.secrets.set('openai:default', REAL_KEY);
    session = h.createSession([{ provider: 'openai', connection: 'default', definition: h.openai }]);
    const preloadPath = await ensurePreloadBuilt();
    // A parent env without proxy settings of its own, as on a developer machine.
    const parentEnv = { ...process.env };
    for (const k of [
      'HTTPS_PROXY',
      'https_proxy',
      'HTTP_PROXY',
      'http_proxy',
      'ALL_PROXY',
      'all_proxy',
      'OPENAI_API_KEY',
      'OPENAI_BASE_URL',
    ])
      delete parentEnv[k];
    env = buildRunEnv({
      parentEnv,
      proxyUrl: h.proxyUrl(session),
      caCertPath: h.caCertPath,
      caBundlePath: h.caBundlePath,
      preloadPath,
      placeholders: h.openai.exports.map((e) => e.env),
    });
  });

  afterAll(async () => {
    await h?.close();
  });

  const expectUpstreamGotRealKey = (fromIndex: number, count = 1) => {
    const seen = h.upstream.requests.slice(fromIndex);
    expect(seen).toHaveLength(count);
    for (const r of seen) {
      expect(r.headers.authorization).toBe(`Bearer ${REAL_KEY}`);
      expect(r.headers['proxy-authorization']).toBeUndefined();
    }
  };
  const expectNoLeak = (result: ChildResult) => {
    expect(result.stdout + result.stderr).not.toContain(REAL_KEY);
  };

  it('builds a child environment with the placeholder and no secret', () => {
    expect(env.OPENAI_API_KEY).toBe(PLACEHOLDER);
    expect(Object.values(env).join('\n')).not.toContain(REAL_KEY);
    expect(env.HTTPS_PROXY).toBe(h.proxyUrl(session));
  });

  it('curl with --proxy and --cacert (the authsome CA)', async () => {
    const before = h.upstream.requests.length;
    const result = await runChild(
      'curl',
      [
        '-sS',
        '--fail-with-body',
        '--proxy',
        h.proxyUrl(session),
        '--cacert',
        h.caCertPath,
        '-H',
        `Authorization: Bearer ${PLACEHOLDER}`,
        'https://api.openai.com/v1/models',
      ],
      { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).object).toBe('list');
    expectUpstreamGotRealKey(before);
    expectNoLeak(result);
  });

  it('curl configured only by the run environment (https_proxy, CURL_CA_BUNDLE)', async () => {
    const before = h.upstream.requests.length;
    const result = await runChild(
      'curl',
      [
        '-sS',
        '--fail-with-body',
        '-H',
        `Authorization: Bearer ${env.OPENAI_API_KEY}`,
        'https://api.openai.com/v1/models',
      ],
      env,
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).object).toBe('list');
    expectUpstreamGotRealKey(before);
    expectNoLeak(result);
  });

  it('Node’s built-in fetch in an unmodified script (the preload routes it)', async () => {
    const before = h.upstream.requests.length;
    const result = await runChild(process.execPath, [join(childrenDir, 'fetch-models.mjs')], env);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ status: 200, object: 'list', ids: ['gpt-4o-mini', 'gpt-4o'] });
    expectUpstreamGotRealKey(before);
    expectNoLeak(result);
  });

  it('http.request in an unmodified script: the preload routes the global https agent through the proxy', async () => {
    const before = h.upstream.requests.length;
    const result = await runChild(process.execPath, [join(childrenDir, 'http-request-models.mjs')], env);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ status: 200, object: 'list' });
    expectUpstreamGotRealKey(before);
    expectNoLeak(result);
  });

  it(
    'http.request: NO_PROXY hosts and agents the child brings itself go direct, everything else meets the ' + 'proxy',
    async () => {
      // A proxy URL whose password the proxy rejects: a request that reaches it gets 407, one that goes direct does
      // not.
      const rejected = `http://authsome:not-the-run-token@127.0.0.1:${h.proxy.port}`;
      const upstreamCa = join(h.dir.path, 'upstream-ca.pem');
      await writeFile(upstreamCa, h.testCa.caCert);
      const direct = `https://127.0.0.1:${h.upstream.port}/v1/models`;
      const base = {
        ...env,
        HTTPS_PROXY: rejected,
        https_proxy: rejected,
        HTTP_PROXY: rejected,
        http_proxy: rejected,
        CHILD_EXTRA_CA: upstreamCa,
      };
      const script = join(childrenDir, 'http-request-models.mjs');
      const listed = await runChild(process.execPath, [script, direct], base);
      expect(JSON.parse(listed.stdout)).toEqual({ status: 200, object: 'list' });
      const unlisted = { ...base, NO_PROXY: '', no_proxy: '' };
      const routed = await runChild(process.execPath, [script, direct], unlisted);
      expect(JSON.parse(routed.stdout)).toEqual({ status: 407 });
      const ownAgent = await runChild(process.execPath, [script, direct, '--own-agent'], unlisted);
      expect(JSON.parse(ownAgent.stdout)).toEqual({ status: 200, object: 'list' });
    },
  );

  it('the openai SDK: models.list() and a streamed chat completion', async () => {
    const before = h.upstream.requests.length;
    const result = await runChild(process.execPath, [join(childrenDir, 'openai-sdk.mjs')], env);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const out = JSON.parse(result.stdout) as { ids: string[]; text: string; arrivals: number[] };
    expect(out.ids).toEqual(['gpt-4o-mini', 'gpt-4o']);
    expect(out.text).toBe(SSE_WORDS.join(''));
    expectUpstreamGotRealKey(before, 2);
    const chat = h.upstream.requests[before + 1]!;
    expect(chat.url).toBe('/v1/chat/completions');
    // Chunks reached the SDK spread out like the upstream sent them (150 ms apart), not all at the end.
    expect(out.arrivals[0]!).toBeLessThan(chat.sseSentAt[chat.sseSentAt.length - 1]! - 300);
    expectNoLeak(result);
  });

  it("the openai SDK shows the proxy's own cause when the upstream cannot be reached", async () => {
    const down = buildDefinition({ name: 'down', auth_type: 'api_key', api_url: 'down.openai.test' });
    h.secrets.set('down:default', 'sk-down-secret-0123456789abcdefghij');
    const downUrl = h.proxyUrl(h.createSession([{ provider: 'down', connection: 'default', definition: down }]));
    const childEnv = {
      ...env,
      HTTPS_PROXY: downUrl,
      https_proxy: downUrl,
      HTTP_PROXY: downUrl,
      http_proxy: downUrl,
      OPENAI_BASE_URL: 'https://down.openai.test/v1',
    };
    const result = await runChild(process.execPath, [join(childrenDir, 'openai-sdk-error.mjs')], childEnv);
    expect(result.code).toBe(0);
    const out = JSON.parse(result.stdout) as { name: string; status: number; message: string; code: string };
    expect(out).toMatchObject({ name: 'InternalServerError', status: 502, code: 'upstream' });
    expect(out.message).toMatch(
      new RegExp(
        '^502 authsome proxy: (Could not resolve down\\.openai\\.test|Connection refused by down\\.openai\\.test) ' +
          '\\(E[A-Z]+\\)\\. Check the network',
      ),
    );
    expect(result.stdout).not.toContain('sk-down-secret');
  });

  it('Python requests (REQUESTS_CA_BUNDLE from the run environment)', async () => {
    const before = h.upstream.requests.length;
    const result = await runChild(findPythonWithRequests(), [join(childrenDir, 'requests_models.py')], env).catch(
      (err: Error) => {
        throw new Error(`python3 is required for this test (CI installs python3-requests): ${err.message}`);
      },
    );
    if (result.code === 3)
      throw new Error(`python3 cannot import requests; install python3-requests. ${result.stdout}`);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ status: 200, object: 'list' });
    expectUpstreamGotRealKey(before);
    expectNoLeak(result);
  });
});
