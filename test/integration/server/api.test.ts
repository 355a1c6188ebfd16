// The web server's guards with real sockets: Host allowlist on every route, bearer token
// before routing on /api/*, no-store everywhere, and state/token files written 0600.
import { readFileSync, statSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendHttp } from '../../helpers/http.js';
import { createRuntime, type Runtime } from '../../../src/runtime.js';

const send = sendHttp;

describe('server guards', () => {
  let root: string;
  let rt: Runtime;
  let auth: Record<string, string>;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'authsome-api-'));
    rt = await createRuntime({ home: join(root, 'home'), port: 0, kdf: { memory_kib: 1024, iterations: 1 } });
    auth = { authorization: `Bearer ${rt.token}` };
  });
  afterAll(async () => {
    await rt.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('/health answers without a token on an allowed Host', async () => {
    for (const host of [`127.0.0.1:${rt.port}`, `localhost:${rt.port}`, `[::1]:${rt.port}`]) {
      const r = await send(rt.port, '/health', { headers: { host } });
      expect(r.status, host).toBe(200);
      expect(JSON.parse(r.body)).toMatchObject({ status: 'ok', version: expect.any(String) });
      expect(r.headers['cache-control']).toBe('no-store');
    }
  });

  it('a foreign Host, or one without the port, is refused on every route (DNS rebinding)', async () => {
    for (const host of [
      'evil.example',
      `evil.example:${rt.port}`,
      '127.0.0.1',
      'localhost',
      `127.0.0.1:${rt.port + 1}`,
      `127.0.0.2:${rt.port}`,
    ]) {
      for (const path of ['/health', '/api/status', '/']) {
        const r = await send(rt.port, path, { headers: { host, ...auth } });
        expect(r.status, `${host} ${path}`).toBe(403);
        expect(r.body).not.toContain(rt.token);
      }
    }
  });

  it('/api/* needs the bearer token before routing, even for unknown paths', async () => {
    for (const path of ['/api/status', '/api/providers', '/api/does-not-exist']) {
      expect((await send(rt.port, path)).status, path).toBe(401);
      expect((await send(rt.port, path, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
      expect((await send(rt.port, path, { headers: { authorization: `Bearer ${rt.token}x` } })).status).toBe(401);
      expect((await send(rt.port, path, { headers: { cookie: `token=${rt.token}` } })).status).toBe(401);
    }
    const ok = await send(rt.port, '/api/status', { headers: auth });
    expect(ok.status).toBe(200);
    expect(ok.headers['cache-control']).toBe('no-store');
    expect((await send(rt.port, '/api/does-not-exist', { headers: auth })).status).toBe(404);
  });

  it('a state-changing API call without the token stores nothing', async () => {
    const r = await send(rt.port, '/api/login/api-key', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ provider: 'openai', api_key: 'sk-notstored0123456789abcdefghij' }),
    });
    expect(r.status).toBe(401);
    expect(rt.vault.list('connection:')).toEqual([]);
  });

  it('malformed bodies are a 400 with an error code, not a crash', async () => {
    const r = await send(rt.port, '/api/login/api-key', {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: '{nope',
    });
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body)).toMatchObject({ error: 'USAGE' });
  });

  it('writes state.json and token 0600 with the real URL', () => {
    const state = JSON.parse(readFileSync(rt.paths.state, 'utf8'));
    expect(state).toMatchObject({ pid: process.pid, url: `http://127.0.0.1:${rt.port}`, version: expect.any(String) });
    expect(Object.keys(state).sort()).toEqual(['pid', 'proxy_port', 'started_at', 'url', 'version']);
    expect(statSync(rt.paths.state).mode & 0o777).toBe(0o600);
    expect(statSync(rt.paths.token).mode & 0o777).toBe(0o600);
    expect(readFileSync(rt.paths.token, 'utf8').trim()).toBe(rt.token);
  });

  it('a second runtime on the same home refuses with the running pid and URL', async () => {
    await expect(createRuntime({ home: rt.paths.home, port: 0 })).rejects.toMatchObject({
      code: 'ALREADY_RUNNING',
      message: `authsome is already running (pid ${process.pid}) on ${rt.url}`,
    });
  });
});
