// The client matrix: real, unmodified clients under the built `authsome run` against local HTTPS stand-ins for the
// providers (api.openai.com, api.anthropic.com, a git smart-HTTP host). Each upstream checks it received the real
// key; each child reports the key it held, which must be the placeholder. run.test.ts covers curl, fetch, the openai
// SDK and Python requests; this file covers the rest of the README's table.
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempHome, repoRoot, runCli, type CliResult, type TempHome } from '../../helpers/cli.js';
import { findPythonWithRequests } from '../../helpers/python.js';
import { createTestCa } from '../../helpers/test-ca.js';
import { startUpstream, type Upstream } from '../../helpers/upstream.js';
import { startGitHttpServer, type GitHttpServer } from './git-http-server.js';

const OPENAI_KEY = 'sk-MATRIXCANARY-openai-0123456789abcdefXYZ';
const ANTHROPIC_KEY = 'sk-ant-MATRIXCANARY-anthropic-0123456789abcdef';
const GIT_KEY = 'MATRIXCANARY-git-token-0123456789';
const OPENAI_PLACEHOLDER = 'sk-authsome-proxy-managed-00000000000000';
const ANTHROPIC_PLACEHOLDER = 'sk-ant-authsome-proxy-managed-00000000000000';
const WORDS = ['Hello', ' from', ' the', ' stand-in'];
const EVENT_INTERVAL_MS = 150;
const childrenDir = fileURLToPath(new URL('../../integration/proxy/children/', import.meta.url));
const bin = (name: string) => join(repoRoot, 'node_modules', '.bin', name);

/** Answers the Anthropic Messages API's streamed form, one text delta every EVENT_INTERVAL_MS. */
function answerAnthropic(sentAt: number[]) {
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    if (req.url !== '/v1/messages' || req.method !== 'POST') return false;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const send = (type: string, data: object) =>
      res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
    send('message_start', {
      message: {
        id: 'msg_1',
        type: 'message',
        role: 'assistant',
        model: 'claude-test',
        content: [],
        stop_reason: null,
        usage: { input_tokens: 3, output_tokens: 0 },
      },
    });
    send('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
    let i = 0;
    const timer = setInterval(() => {
      if (i < WORDS.length) {
        sentAt.push(Date.now());
        send('content_block_delta', { index: 0, delta: { type: 'text_delta', text: WORDS[i++] } });
        return;
      }
      clearInterval(timer);
      send('content_block_stop', { index: 0 });
      send('message_delta', { delta: { stop_reason: 'end_turn' }, usage: { output_tokens: WORDS.length } });
      send('message_stop', {});
      res.end();
    }, EVENT_INTERVAL_MS);
    return true;
  };
}

describe('authsome run: the client matrix', () => {
  let t: TempHome;
  let upstream: Upstream;
  let git: GitHttpServer;
  let certDir: string;
  let env: NodeJS.ProcessEnv;
  const anthropicSentAt: number[] = [];
  const cli = (args: string[], input?: string) => runCli(t.home, args, { env, input, timeoutMs: 90_000 });

  beforeAll(async () => {
    t = makeTempHome();
    const ca = createTestCa(['api.openai.com', 'api.anthropic.com', 'git.authsome.test']);
    certDir = mkdtempSync(join(tmpdir(), 'authsome-matrix-ca-'));
    const { caPath } = await ca.writeFiles(certDir);
    upstream = await startUpstream({
      cert: ca.cert,
      key: ca.key,
      sseIntervalMs: EVENT_INTERVAL_MS,
      handler: answerAnthropic(anthropicSentAt),
    });
    git = await startGitHttpServer({ cert: ca.cert, key: ca.key, authorization: `Bearer ${GIT_KEY}` });
    env = {
      NODE_EXTRA_CA_CERTS: caPath,
      AUTHSOME_PROXY_RESOLVE: [
        `api.openai.com:443=127.0.0.1:${upstream.port}`,
        `api.anthropic.com:443=127.0.0.1:${upstream.port}`,
        `git.authsome.test:443=127.0.0.1:${git.port}`,
      ].join(','),
      // Deno keeps its module cache here instead of the person's home.
      DENO_DIR: join(t.root, 'deno'),
    };
    expect((await cli(['login', 'openai', '--stdin'], `${OPENAI_KEY}\n`)).code).toBe(0);
    expect((await cli(['login', 'anthropic', '--stdin'], `${ANTHROPIC_KEY}\n`)).code).toBe(0);
    // A provider definition for the git host, as a person would add one (~/.authsome/providers/<name>.json).
    mkdirSync(join(t.home, 'providers'), { recursive: true });
    writeFileSync(
      join(t.home, 'providers', 'gitlocal.json'),
      JSON.stringify({
        schema_version: 1,
        name: 'gitlocal',
        display_name: 'Local git host',
        auth_type: 'api_key',
        flow: 'api_key',
        api_url: 'git.authsome.test',
        api_key: { header_name: 'Authorization', header_prefix: 'Bearer' },
        export: { GITLOCAL_TOKEN: 'API_TOKEN' },
      }),
    );
    expect((await cli(['login', 'gitlocal', '--stdin'], `${GIT_KEY}\n`)).code).toBe(0);
  }, 120_000);

  afterAll(async () => {
    await t?.cleanup();
    await upstream?.close();
    await git?.close();
    if (certDir) rmSync(certDir, { recursive: true, force: true });
  });

  const expectNoKey = (r: CliResult) => {
    for (const k of [OPENAI_KEY, ANTHROPIC_KEY, GIT_KEY]) expect(`${r.stdout}\n${r.stderr}`.includes(k)).toBe(false);
  };
  /** The upstream got the real key on every request since `before`, and the child held only the placeholder. */
  const expectOpenAiModels = (r: CliResult, before: number) => {
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ status: 200, object: 'list', sent: OPENAI_PLACEHOLDER });
    const seen = upstream.requests.slice(before);
    expect(seen.length).toBeGreaterThan(0);
    for (const req of seen) {
      expect(req.headers.authorization).toBe(`Bearer ${OPENAI_KEY}`);
      expect(req.headers['proxy-authorization']).toBeUndefined();
    }
    expectNoKey(r);
  };

  it('node:https http.request (the preload replaces the global agent)', async () => {
    const before = upstream.requests.length;
    const r = await cli(['run', '--', process.execPath, '-e', HTTP_REQUEST_SCRIPT]);
    expectOpenAiModels(r, before);
  });

  it('axios', async () => {
    const before = upstream.requests.length;
    expectOpenAiModels(await cli(['run', '--', process.execPath, join(childrenDir, 'axios-models.mjs')]), before);
  });

  it('got 14', async () => {
    const before = upstream.requests.length;
    expectOpenAiModels(await cli(['run', '--', process.execPath, join(childrenDir, 'got-models.mjs')]), before);
  });

  it('@anthropic-ai/sdk: a streamed message, x-api-key replaced, events arriving as they were sent', async () => {
    const before = upstream.requests.length;
    const r = await cli(['run', '--', process.execPath, join(childrenDir, 'anthropic-sdk.mjs')]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { text: string; arrivals: number[]; sent: string };
    expect(out.text).toBe(WORDS.join(''));
    expect(out.sent).toBe(ANTHROPIC_PLACEHOLDER);
    const [req] = upstream.requests.slice(before);
    expect(req!.url).toBe('/v1/messages');
    expect(req!.headers['x-api-key']).toBe(ANTHROPIC_KEY);
    expect(req!.headers.authorization).toBeUndefined();
    // The first delta reached the SDK well before the last one was sent: streamed, not buffered.
    expect(out.arrivals[0]!).toBeLessThan(anthropicSentAt.at(-1)! - EVENT_INTERVAL_MS);
    expectNoKey(r);
  });

  it('Bun: fetch', async () => {
    const before = upstream.requests.length;
    expectOpenAiModels(await cli(['run', '--', bin('bun'), join(childrenDir, 'runtime-fetch.mjs')]), before);
  });

  it('Deno: fetch', async () => {
    const before = upstream.requests.length;
    expectOpenAiModels(
      await cli([
        'run',
        '--',
        bin('deno'),
        'run',
        '--allow-net',
        '--allow-env',
        join(childrenDir, 'runtime-fetch.mjs'),
      ]),
      before,
    );
  });

  it('Python httpx', async () => {
    const before = upstream.requests.length;
    expectOpenAiModels(
      await cli(['run', '--', findPythonWithRequests(), join(childrenDir, 'httpx_models.py')]),
      before,
    );
  });

  it('Python urllib.request', async () => {
    const before = upstream.requests.length;
    expectOpenAiModels(
      await cli(['run', '--', findPythonWithRequests(), join(childrenDir, 'urllib_models.py')]),
      before,
    );
  });

  it('git ls-remote over https against a smart-HTTP host, through a provider definition for that host', async () => {
    const before = git.seen.length;
    const r = await cli([
      'run',
      '--',
      'git',
      '-c',
      'credential.helper=',
      'ls-remote',
      'https://git.authsome.test/repo.git',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${git.head}\trefs/heads/main`);
    const seen = git.seen.slice(before);
    expect(seen.length).toBeGreaterThan(0);
    for (const a of seen) expect(a).toBe(`Bearer ${GIT_KEY}`);
    expectNoKey(r);
  });
});

/** http.request in its plainest form, inline: no agent, no proxy setting, the key from the environment. */
const HTTP_REQUEST_SCRIPT = `
const https = require('node:https');
const key = process.env.OPENAI_API_KEY;
https.get('https://api.openai.com/v1/models', { headers: { authorization: 'Bearer ' + key } }, (res) => {
  let body = '';
  res.on('data', (c) => (body += c));
  res.on('end', () => console.log(JSON.stringify({ status: res.statusCode, object: JSON.parse(body).object, \
sent: key })));
});
`;
