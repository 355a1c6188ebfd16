// A run's guardrails in the real proxy: allow-lists, read-only and the request cap refuse before anything is sent;
// an answer that echoes the credential reaches the agent with a mask in its place; a placeholder in any other
// header never travels upstream beside the real key.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRunPolicy, type PolicyInput } from '../../../src/runs/policy.js';
import {
  buildDefinition,
  exchange,
  openTlsThroughProxy,
  readUntil,
  REAL_KEY,
  startHarness,
  type Harness,
} from './harness.js';

describe('run guardrails in the proxy', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({
      upstreamHandler: (req, res) => {
        const url = req.url ?? '';
        if (url.startsWith('/echo-auth')) {
          // A debug endpoint that quotes the request's credential back, in the body and in a header.
          const auth = String(req.headers.authorization ?? '');
          const body = JSON.stringify({ you_sent: auth, b64: Buffer.from(auth).toString('base64') });
          res.writeHead(200, {
            'content-type': 'application/json',
            'x-echo': auth,
            'content-length': Buffer.byteLength(body),
          });
          res.end(body);
          return true;
        }
        if (url.startsWith('/echo-chunked')) {
          // The key split across chunks of a streamed (chunked) body.
          const auth = String(req.headers.authorization ?? '');
          res.writeHead(200, { 'content-type': 'text/plain' });
          const cut = 12;
          res.write(`data: ${auth.slice(0, cut)}`);
          setTimeout(() => {
            res.write(auth.slice(cut, cut + 9));
            setTimeout(() => res.end(`${auth.slice(cut + 9)} end\n`), 20);
          }, 20);
          return true;
        }
        return false;
      },
    });
    h.secrets.set('openai:default', REAL_KEY);
    h.secrets.set('keyed:default', REAL_KEY);
  });
  afterAll(async () => h?.close());

  const open = async (policy?: PolicyInput, definition = h.openai, provider = 'openai') => {
    const session = h.sessions.create({
      scope: [{ provider, connection: 'default', definition }],
      ...(policy ? { policy: createRunPolicy(policy) } : {}),
    });
    const socket = await openTlsThroughProxy(h.proxy.port, session.token, 'api.openai.com:443', {
      servername: 'api.openai.com',
      ca: h.ca.certPem,
    });
    return { session, socket };
  };
  const ask = async (request: string, policy?: PolicyInput) => {
    const { session, socket } = await open(policy);
    const before = h.upstream.requests.length;
    const response = await exchange(socket, request);
    socket.destroy();
    return { response, seen: h.upstream.requests.slice(before), session };
  };
  const get = (path: string, method = 'GET') =>
    `${method} ${path} HTTP/1.1\r\nHost: api.openai.com\r\n${method === 'POST' ? 'Content-Length: 0\r\n' : ''}\r\n`;

  it('an allow-list lets its requests through with the key, and refuses the rest with 403 before sending anything', async () => {
    const policy = { allow: ['openai:GET:/v1/models'] };
    const allowed = await ask(get('/v1/models'), policy);
    expect(allowed.response.status).toBe(200);
    expect(allowed.seen.map((r) => r.headers.authorization)).toEqual([`Bearer ${REAL_KEY}`]);
    for (const request of [
      get('/v1/models', 'POST'),
      get('/v1/files'),
      get('/v1/models/../files'),
      get('/v1/%6dodels/../files'),
    ]) {
      const denied = await ask(request, policy);
      expect(denied.response.status, request).toBe(403);
      expect(denied.response.head).toMatch(/x-authsome-error: 1/i);
      expect(JSON.parse(denied.response.body.toString()).error.message).toMatch(
        /^authsome proxy: Refused by this run's rules: no rule of this run allows /,
      );
      expect(denied.seen, request).toEqual([]);
      expect(denied.session.stats.get('openai')).toMatchObject({ denied: 1, injected: 0 });
    }
    const audit = await h.readAudit();
    const denied = audit.filter((e) => e.event === 'denied');
    expect(denied.at(-1)).toMatchObject({
      provider: 'openai',
      method: 'GET',
      host: 'api.openai.com',
      path: '/v1/files',
      status: 403,
    });
    expect(JSON.stringify(audit)).not.toContain(REAL_KEY);
  });

  it('read-only refuses a POST; the request cap refuses the request after the last one allowed', async () => {
    expect((await ask(get('/v1/models', 'POST'), { readOnly: true })).response.status).toBe(403);
    expect((await ask(get('/v1/models'), { readOnly: true })).response.status).toBe(200);
    const { socket, session } = await open({ maxRequests: 2 });
    expect((await exchange(socket, get('/v1/models'))).status).toBe(200);
    expect((await exchange(socket, get('/v1/models'))).status).toBe(200);
    expect((await exchange(socket, get('/v1/models'))).status).toBe(403);
    socket.destroy();
    expect(session.stats.get('openai')).toEqual({ injected: 2, denied: 1, scrubbed: 0 });
  });

  it('an answer echoing the key, in a header, in the body and in base64, reaches the agent masked, at the same length', async () => {
    const { response, seen, session } = await ask(get('/echo-auth'));
    expect(seen[0]!.headers.authorization).toBe(`Bearer ${REAL_KEY}`);
    const text = `${response.head}\r\n\r\n${response.body.toString('latin1')}`;
    expect(text).not.toContain(REAL_KEY);
    expect(text).not.toContain(Buffer.from(`Bearer ${REAL_KEY}`).toString('base64').slice(8, 40));
    expect(response.head).toMatch(/x-echo: Bearer authsome-scrubbed-/i);
    expect(JSON.parse(response.body.toString()).you_sent).toMatch(/^Bearer (authsome-scrubbed-)+/);
    expect(session.stats.get('openai')).toMatchObject({ injected: 1, scrubbed: 1 });
    const audit = await h.readAudit();
    expect(audit.filter((e) => e.event === 'secret_in_response').at(-1)).toMatchObject({
      provider: 'openai',
      host: 'api.openai.com',
    });
  });

  it('a key split across the chunks of a streamed answer is masked too, and the stream still ends', async () => {
    const { socket } = await open();
    socket.write(get('/echo-chunked'));
    const received = (await readUntil(socket, (b) => b.toString('latin1').includes('end\n\r\n0\r\n\r\n'))).toString(
      'latin1',
    );
    socket.destroy();
    expect(received).not.toContain(REAL_KEY);
    expect(received.replace(/\r\n[0-9a-f]+\r\n/g, '')).toContain('data: Bearer authsome-scrubbed-');
  });

  it('asks the upstream for an uncompressed answer (so it can be scanned), and sends no placeholder beside the key', async () => {
    const keyed = buildDefinition({
      name: 'keyed',
      auth_type: 'api_key',
      flow: 'api_key',
      api_url: 'api.openai.com',
      api_key: { header_name: 'x-api-key', header_prefix: null },
    });
    const { socket } = await open(undefined, keyed, 'keyed');
    const before = h.upstream.requests.length;
    await exchange(
      socket,
      'GET /v1/models HTTP/1.1\r\nHost: api.openai.com\r\nAuthorization: Bearer sk-ant-authsome-proxy-managed-0000\r\nx-api-key: sk-ant-authsome-proxy-managed-0000\r\nAccept-Encoding: gzip, br\r\n\r\n',
    );
    socket.destroy();
    const seen = h.upstream.requests.slice(before)[0]!;
    expect(seen.headers['x-api-key']).toBe(REAL_KEY);
    expect(seen.headers.authorization).toBeUndefined();
    expect(seen.headers['accept-encoding']).toBe('identity');
  });
});
