// A run's guardrails in the real proxy: allow-lists, read-only and the request cap refuse before anything is sent;
// an answer that echoes the credential reaches the agent with a mask in its place; a placeholder in any other
// header never travels upstream beside the real key. An upstream that compresses regardless gets its answer decoded
// and scanned, or refused when it cannot be.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
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
import { dechunk } from '../../helpers/bytes.js';

/** Compresses `data` with each coding of the list in turn, as a server would for `Content-Encoding: <list>`. */
function compress(data: Buffer, codings: string): Buffer {
  let out = data;
  for (const coding of codings.split(',').map((c) => c.trim())) {
    if (coding === 'gzip') out = zlib.gzipSync(out);
    else if (coding === 'br') out = zlib.brotliCompressSync(out);
    else if (coding === 'deflate') out = zlib.deflateSync(out);
    else throw new Error(`no coding ${coding} in this test`);
  }
  return out;
}

function splitResponse(received: Buffer): { head: string; body: Buffer } {
  const end = received.indexOf('\r\n\r\n');
  return { head: received.toString('latin1', 0, end), body: received.subarray(end + 4) };
}

const endsChunked = (b: Buffer): boolean => b.toString('latin1').endsWith('\r\n0\r\n\r\n');
/** A gzip body the upstream sends to a request without a credential: the agent must get exactly these bytes. */
const PLAIN_GZIP = zlib.gzipSync(Buffer.from('nothing secret in here, just compressed text\n'.repeat(20)));

describe('run guardrails in the proxy', () => {
  let h: Harness;
  /** Lets the compressed SSE stream send its second event (the test first sees the first one arrive). */
  let releaseSse: () => void = () => undefined;

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
        if (url.startsWith('/compressed')) {
          // Ignores `Accept-Encoding: identity` and echoes the credential inside a compressed body.
          const coding = new URL(url, 'https://x').searchParams.get('coding') ?? 'gzip';
          const auth = String(req.headers.authorization ?? '');
          const body = compress(Buffer.from(JSON.stringify({ you_sent: auth })), coding);
          res.writeHead(200, {
            'content-type': 'application/json',
            'content-encoding': coding,
            'content-length': body.length,
            'x-echo': auth,
          });
          res.end(req.method === 'HEAD' ? undefined : body);
          return true;
        }
        if (url.startsWith('/gzip-chunked')) {
          // The key split across HTTP chunks and across flushes of one gzip stream.
          const auth = String(req.headers.authorization ?? '');
          res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip' });
          const gzip = zlib.createGzip();
          gzip.on('data', (d: Buffer) => res.write(d));
          gzip.on('end', () => res.end());
          gzip.write(`data: ${auth.slice(0, 12)}`);
          gzip.flush(() => {
            gzip.write(auth.slice(12, 21));
            gzip.flush(() => gzip.end(`${auth.slice(21)} end\n`));
          });
          return true;
        }
        if (url.startsWith('/gzip-sse')) {
          // An event stream compressed with gzip and flushed after each event.
          const auth = String(req.headers.authorization ?? '');
          res.writeHead(200, { 'content-type': 'text/event-stream', 'content-encoding': 'gzip' });
          const gzip = zlib.createGzip();
          gzip.on('data', (d: Buffer) => res.write(d));
          gzip.on('end', () => res.end());
          gzip.write(`data: first ${auth}\n\n`);
          gzip.flush();
          releaseSse = () => gzip.end(`data: second ${auth}\n\n`);
          return true;
        }
        if (url.startsWith('/gzip-corrupt')) {
          // A gzip header, then an invalid block (type 3) and the key as it is.
          const auth = String(req.headers.authorization ?? '');
          const body = Buffer.concat([zlib.gzipSync('').subarray(0, 10), Buffer.from([0xff]), Buffer.from(auth)]);
          res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': body.length });
          res.end(body);
          return true;
        }
        if (url.startsWith('/zstd')) {
          const body = Buffer.from(`zstd? ${String(req.headers.authorization ?? '')}`);
          res.writeHead(200, { 'content-encoding': 'zstd', 'content-length': body.length });
          res.end(body);
          return true;
        }
        if (url.startsWith('/split-head')) {
          // The head of a compressed answer in two writes, cut inside the Content-Encoding line.
          const auth = String(req.headers.authorization ?? '');
          const body = zlib.gzipSync(`split: ${auth}`);
          const head = `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nContent-Enc`;
          const socket = res.socket!;
          socket.write(head, () => socket.end(Buffer.concat([Buffer.from('oding: gzip\r\n\r\n'), body])));
          return true;
        }
        if (url.startsWith('/plain-gzip')) {
          res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': PLAIN_GZIP.length });
          res.end(PLAIN_GZIP);
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

  it('an allow-list passes its requests with the key and refuses the rest with 403, sending nothing', async () => {
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

  it(
    'an answer echoing the key, in a header, in the body and in base64, ' +
      'reaches the agent masked, at the same length',
    async () => {
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
    },
  );

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

  it('asks the upstream for an uncompressed answer (to scan it) and sends no placeholder beside the key', async () => {
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
      'GET /v1/models HTTP/1.1\r\nHost: api.openai.com\r\n' +
        'Authorization: Bearer sk-ant-authsome-proxy-managed-0000\r\n' +
        'x-api-key: sk-ant-authsome-proxy-managed-0000\r\nAccept-Encoding: gzip, br\r\n\r\n',
    );
    socket.destroy();
    const seen = h.upstream.requests.slice(before)[0]!;
    expect(seen.headers['x-api-key']).toBe(REAL_KEY);
    expect(seen.headers.authorization).toBeUndefined();
    expect(seen.headers['accept-encoding']).toBe('identity');
  });

  describe('an upstream that compresses regardless of Accept-Encoding', () => {
    const scrubbedInAudit = async () =>
      (await h.readAudit()).filter((e) => e.event === 'secret_in_response' && e.host === 'api.openai.com').length;

    it('gzip, br, deflate, a list: the agent gets the answer decoded, chunked, with the key masked', async () => {
      for (const coding of ['gzip', 'br', 'deflate', 'gzip, br']) {
        const audited = await scrubbedInAudit();
        const { socket, session } = await open();
        socket.write(get(`/compressed?coding=${encodeURIComponent(coding)}`));
        const received = await readUntil(socket, endsChunked);
        socket.destroy();
        expect(received.toString('latin1'), coding).not.toContain(REAL_KEY);
        const { head, body } = splitResponse(received);
        expect(head, coding).toMatch(/^HTTP\/1\.1 200 /);
        expect(head, coding).not.toMatch(/content-encoding|content-length/i);
        expect(head, coding).toMatch(/\r\nTransfer-Encoding: chunked(\r\n|$)/);
        expect(head, coding).toMatch(/x-echo: Bearer authsome-scrubbed-/i);
        expect(JSON.parse(dechunk(body).toString()).you_sent, coding).toMatch(/^Bearer (authsome-scrubbed-)+/);
        expect(session.stats.get('openai'), coding).toMatchObject({ injected: 1, scrubbed: 1 });
        expect(await scrubbedInAudit(), coding).toBe(audited + 1);
      }
    });

    it('curl, which decompresses nothing unasked, prints the mask and never the key', async () => {
      const session = h.sessions.create({
        scope: [{ provider: 'openai', connection: 'default', definition: h.openai }],
      });
      const { stdout, stderr } = await promisify(execFile)(
        'curl',
        [
          '-sS',
          '--proxy',
          h.proxyUrl(session),
          '--cacert',
          h.caCertPath,
          'https://api.openai.com/compressed?coding=br',
        ],
        { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, encoding: 'latin1' },
      );
      expect(stderr).toBe('');
      expect(stdout).not.toContain(REAL_KEY);
      expect(JSON.parse(stdout).you_sent).toMatch(/^Bearer (authsome-scrubbed-)+/);
    });

    it('a gzip stream sent chunked, the key split across chunks and flushes, is masked and still ends', async () => {
      const { socket } = await open();
      socket.write(get('/gzip-chunked'));
      const received = await readUntil(socket, endsChunked);
      socket.destroy();
      expect(received.toString('latin1')).not.toContain(REAL_KEY);
      const text = dechunk(splitResponse(received).body).toString();
      expect(text).toMatch(/^data: Bearer (authsome-scrubbed-)+[a-z-]* end\n$/);
      expect(text).toHaveLength(`data: Bearer ${REAL_KEY} end\n`.length);
    });

    it('a gzip event stream flushed per event: the first event reaches the agent before the stream ends', async () => {
      const { socket } = await open();
      socket.write(get('/gzip-sse'));
      const first = await readUntil(socket, (b) => b.toString('latin1').includes('\n\n\r\n'));
      expect(first.toString('latin1')).toContain('data: first Bearer authsome-scrubbed-');
      expect(endsChunked(first)).toBe(false);
      releaseSse();
      const rest = await readUntil(socket, endsChunked);
      socket.destroy();
      const received = Buffer.concat([first, rest]);
      expect(received.toString('latin1')).not.toContain(REAL_KEY);
      expect(dechunk(splitResponse(received).body).toString()).toMatch(
        /^data: first Bearer (authsome-scrubbed-)+\S*\n\ndata: second Bearer (authsome-scrubbed-)+\S*\n\n$/,
      );
    });

    it('pipelined answers keep their order: the one after a decoded answer waits until it is out', async () => {
      const { socket } = await open();
      socket.write(`${get('/compressed?coding=gzip')}${get('/echo-auth')}${get('/compressed?coding=br')}`);
      const received = await readUntil(socket, (b) => (b.toString('latin1').match(/\r\n0\r\n\r\n/g) ?? []).length >= 2);
      socket.destroy();
      const text = received.toString('latin1');
      expect(text).not.toContain(REAL_KEY);
      const heads = [...text.matchAll(/HTTP\/1\.1 200 OK\r\n/g)].map((m) => m.index);
      expect(heads).toHaveLength(3);
      const [first, second, third] = [
        text.slice(heads[0], heads[1]),
        text.slice(heads[1], heads[2]),
        text.slice(heads[2]),
      ];
      expect(dechunk(splitResponse(Buffer.from(first, 'latin1')).body).toString()).toMatch(
        /"you_sent":"Bearer authsome/,
      );
      expect(second).toMatch(/content-length: \d+/i);
      expect(second).toMatch(/"you_sent":"Bearer authsome-scrubbed-/);
      expect(dechunk(splitResponse(Buffer.from(third, 'latin1')).body).toString()).toMatch(
        /"you_sent":"Bearer authsome/,
      );
    });

    it('an HTTP/1.0 request gets the decoded answer ended by closing the connection, not chunked', async () => {
      const { socket } = await open();
      socket.write('GET /compressed?coding=gzip HTTP/1.0\r\nHost: api.openai.com\r\n\r\n');
      const received = await readUntil(socket, () => false);
      socket.destroy();
      expect(received.toString('latin1')).not.toContain(REAL_KEY);
      const { head, body } = splitResponse(received);
      expect(head).not.toMatch(/content-encoding|content-length|transfer-encoding/i);
      expect(head).toMatch(/\r\nConnection: close(\r\n|$)/);
      expect(JSON.parse(body.toString()).you_sent).toMatch(/^Bearer (authsome-scrubbed-)+/);
    });

    it('a compressed answer whose head arrives in pieces is decoded too: no piece of the head went ahead', async () => {
      const { socket } = await open();
      socket.write(get('/split-head'));
      const received = await readUntil(socket, endsChunked);
      socket.destroy();
      expect(received.toString('latin1')).not.toContain(REAL_KEY);
      const { head, body } = splitResponse(received);
      expect(head).toBe('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked');
      expect(dechunk(body).toString()).toMatch(/^split: Bearer (authsome-scrubbed-)+/);
    });

    it('a HEAD answer has no body: its head passes as it came', async () => {
      const { socket } = await open();
      socket.write(get('/compressed?coding=gzip', 'HEAD'));
      const head = (await readUntil(socket, (b) => b.includes('\r\n\r\n'))).toString('latin1');
      socket.destroy();
      expect(head).toMatch(/content-encoding: gzip/i);
      expect(head).toMatch(/content-length: \d+/i);
      expect(head).not.toMatch(/transfer-encoding/i);
    });

    it('a corrupt gzip body and an unknown coding (zstd) get a 502 proxy error; the key never shows', async () => {
      for (const path of ['/gzip-corrupt', '/zstd']) {
        const { response } = await ask(get(path));
        expect(response.status, path).toBe(502);
        expect(response.head, path).toMatch(/x-authsome-error: 1/i);
        expect(`${response.head}${response.body.toString('latin1')}`, path).not.toContain(REAL_KEY);
        expect(JSON.parse(response.body.toString()).error.message, path).toMatch(
          /^authsome proxy: The answer from api\.openai\.com was compressed .* withheld\./,
        );
      }
      const audit = await h.readAudit();
      expect(JSON.stringify(audit)).not.toContain(REAL_KEY);
      expect(audit.filter((e) => e.event === 'inject' && e.path === '/zstd').at(-1)).toMatchObject({ status: 502 });
    });

    it('the answer to a request that got no credential is relayed byte for byte, still compressed', async () => {
      const elsewhere = buildDefinition({
        name: 'elsewhere',
        auth_type: 'api_key',
        flow: 'api_key',
        api_url: 'https://api.openai.com/v1',
        api_key: { header_name: 'x-api-key', header_prefix: null },
      });
      h.secrets.set('elsewhere:default', REAL_KEY);
      const { socket } = await open(undefined, elsewhere, 'elsewhere');
      const before = h.upstream.requests.length;
      const response = await exchange(socket, get('/plain-gzip'));
      socket.destroy();
      expect(h.upstream.requests.slice(before).map((r) => r.headers['x-api-key'])).toEqual([undefined]);
      expect(response.head).toMatch(/content-encoding: gzip/i);
      expect(response.body.equals(PLAIN_GZIP)).toBe(true);
    });
  });
});
