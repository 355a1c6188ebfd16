// The intercepting engine's HTTP/1.1 handling on real sockets: chunked uploads, Expect: 100-continue, HEAD,
// pipelining, close-delimited responses, upstream idle closes, and refusal of ambiguous or malformed requests.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAuditFiles } from '../../../src/audit-chain.js';
import { buildPatternBytes } from '../../helpers/upstream.js';
import { openTlsThroughProxy, readUntil, REAL_KEY, startHarness, type Harness } from './harness.js';

const countResponses = (text: string) => (text.match(/HTTP\/1\.1 \d{3}/g) ?? []).length;

// Both ways a credential reaches the proxy: at once (an API key, the request sent in the turn it arrived) and awaited
// (the agent's connection paused meanwhile); the framing must not depend on which.
describe.each(['at-once', 'awaited'] as const)('intercepted HTTP/1.1 framing (credential %s)', (credentials) => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({
      credentials,
      upstreamKeepAliveMs: 300,
      upstreamHandler: (req) => {
        if (req.url === '/close-delimited') {
          // An HTTP/1.0-style body that ends when the connection does.
          req.socket.end(
            'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nthe body ends at close',
          );
          return true;
        }
        return false;
      },
    });
    h.secrets.set('openai:default', REAL_KEY);
  });
  afterAll(async () => h?.close());

  const open = async () => {
    const session = h.createSession([{ provider: 'openai', connection: 'default', definition: h.openai }]);
    return openTlsThroughProxy(h.proxy.port, session.token, 'api.openai.com:443', {
      servername: 'api.openai.com',
      ca: h.ca.certPem,
    });
  };
  const since = (n: number) => h.upstream.requests.slice(n);

  it('relays a chunked upload and finds the next request after it', async () => {
    const socket = await open();
    const before = h.upstream.requests.length;
    socket.write(
      'POST /v1/echo HTTP/1.1\r\nHost: api.openai.com\r\nTransfer-Encoding: chunked\r\nAuthorization: Bearer x\r\n\r\n',
    );
    socket.write('5\r\nhello\r\n');
    socket.write('7;ext=1\r\n, world\r\n0\r\n\r\nGET /v1/models HTTP/1.1\r\nHost: api.openai.com\r\n\r\n');
    const text = (
      await readUntil(
        socket,
        (b) => countResponses(b.toString('latin1')) === 2 && b.toString().includes('"object":"list"'),
      )
    ).toString();
    socket.destroy();
    expect(text).toMatch(/^HTTP\/1\.1 200/);
    expect(text).toContain('hello, world');
    const seen = since(before);
    expect(seen.map((r) => [r.method, r.url, r.bodyLength])).toEqual([
      ['POST', '/v1/echo', 12],
      ['GET', '/v1/models', 0],
    ]);
    expect(seen.every((r) => r.headers.authorization === `Bearer ${REAL_KEY}`)).toBe(true);
  });

  it('passes Expect: 100-continue through: the interim response, then the body', async () => {
    const socket = await open();
    const before = h.upstream.requests.length;
    socket.write('POST /v1/echo HTTP/1.1\r\nHost: api.openai.com\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n');
    const interim = (await readUntil(socket, (b) => b.includes('\r\n\r\n'))).toString();
    expect(interim).toMatch(/^HTTP\/1\.1 100 Continue/);
    socket.write('ping');
    const final = (await readUntil(socket, (b) => b.toString().endsWith('ping'))).toString();
    socket.destroy();
    expect(final).toMatch(/^HTTP\/1\.1 200/);
    expect(since(before).map((r) => [r.url, r.bodyLength, r.headers.authorization])).toEqual([
      ['/v1/echo', 4, `Bearer ${REAL_KEY}`],
    ]);
  });

  it('knows a HEAD response has no body, and answers pipelined requests in order', async () => {
    const socket = await open();
    const before = h.upstream.requests.length;
    socket.write(
      'HEAD /v1/models HTTP/1.1\r\nHost: api.openai.com\r\n\r\n' +
        'GET /v1/models?n=2 HTTP/1.1\r\nHost: api.openai.com\r\n\r\n' +
        'GET /v1/bytes?n=10 HTTP/1.1\r\nHost: api.openai.com\r\n\r\n',
    );
    const text = (
      await readUntil(
        socket,
        (b) =>
          countResponses(b.toString('latin1')) === 3 &&
          b.toString('latin1').endsWith(buildPatternBytes(10).toString('latin1')),
      )
    ).toString('latin1');
    socket.destroy();
    expect(countResponses(text)).toBe(3);
    expect(since(before).map((r) => `${r.method} ${r.url}`)).toEqual([
      'HEAD /v1/models',
      'GET /v1/models?n=2',
      'GET /v1/bytes?n=10',
    ]);
    expect(since(before).every((r) => r.headers.authorization === `Bearer ${REAL_KEY}`)).toBe(true);
    const audit = (await h.readAudit()).filter((e) => e.event === 'inject').slice(-3);
    expect(audit.map((e) => [e.method, e.path, e.status])).toEqual([
      ['HEAD', '/v1/models', 200],
      ['GET', '/v1/models', 200],
      ['GET', '/v1/bytes', 200],
    ]);
  });

  it('ends the agent’s connection after a close-delimited response, body complete', async () => {
    const socket = await open();
    socket.write('GET /close-delimited HTTP/1.1\r\nHost: api.openai.com\r\n\r\n');
    const text = (await readUntil(socket, () => false)).toString();
    expect(text).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(text.endsWith('\r\n\r\nthe body ends at close')).toBe(true);
    expect(socket.destroyed || socket.readableEnded).toBe(true);
  });

  it(
    'keeps the agent’s connection when the upstream closes ' + 'an idle one, and reconnects for the next request',
    async () => {
      const socket = await open();
      const before = h.upstream.requests.length;
      const connections = h.upstream.connections();
      socket.write('GET /v1/models?first HTTP/1.1\r\nHost: api.openai.com\r\n\r\n');
      await readUntil(socket, (b) => b.toString().includes('"object":"list"'));
      // The upstream's keep-alive is 300 ms: wait until it has closed the idle connection (not for a guessed time).
      for (const deadline = Date.now() + 10_000; h.upstream.openConnections() > 0 && Date.now() < deadline; ) {
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(h.upstream.openConnections()).toBe(0);
      socket.write('GET /v1/models?second HTTP/1.1\r\nHost: api.openai.com\r\n\r\n');
      const second = (await readUntil(socket, (b) => b.toString().includes('"object":"list"'))).toString();
      socket.destroy();
      expect(second).toMatch(/^HTTP\/1\.1 200/);
      expect(since(before).map((r) => r.url)).toEqual(['/v1/models?first', '/v1/models?second']);
      expect(h.upstream.connections() - connections).toBe(2);
    },
  );

  it('a hostile agent cannot forge or break an audit line with JSON in its request target', async () => {
    // The audit line is written by hand (serializeAuditFields), not by JSON.stringify: quotes, backslashes and braces
    // in the path are the agent's way to end its string early and add a field or a whole entry of its own.
    const session = h.createSession([{ provider: 'openai', connection: 'default', definition: h.openai }]);
    const socket = await openTlsThroughProxy(h.proxy.port, session.token, 'api.openai.com:443', {
      servername: 'api.openai.com',
      ca: h.ca.certPem,
    });
    const targets = [
      '/v1/models/"},"event":"login","provider":"x',
      '/v1/a\\"}\\n{"ts":"2020-01-01T00:00:00.000Z","event":"reveal"}',
      '/v1/b\\u0022,"seq":1,"prev":"AAAA"',
    ];
    for (const target of targets) socket.write(`GET ${target} HTTP/1.1\r\nHost: api.openai.com\r\n\r\n`);
    await readUntil(socket, (b) => countResponses(b.toString('latin1')) === targets.length);
    socket.destroy();
    const mine = (await h.readAudit()).filter((e) => e.run === session.id);
    expect(mine.map((e) => [e.event, e.path])).toEqual(targets.map((t) => ['inject', t]));
    // Every line of the file is one whole entry, and the chain over all of them still links.
    const lines = readFileSync(h.auditPath, 'utf8')
      .split('\n')
      .filter((l) => l !== '');
    for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();
    expect(lines.filter((l) => l.includes(session.id))).toHaveLength(targets.length);
    expect(await verifyAuditFiles(h.auditPath, [])).toMatchObject({ intact: true, torn: 0, unchained: 0 });
  });

  it('refuses ambiguous framing and malformed requests with 400 JSON, forwarding nothing', async () => {
    const before = h.upstream.requests.length;
    for (const request of [
      'POST /v1/echo HTTP/1.1\r\nHost: api.openai.com\r\nContent-Length: 5\r\nTransfer-Encoding: ' +
        'chunked\r\n\r\n0\r\n\r\n',
      'GET /v1/models HTTP/1.1\r\nHost: api.openai.com\r\n folded: header\r\n\r\n',
      'NOT-HTTP\r\n\r\n',
    ]) {
      const socket = await open();
      socket.write(request);
      const text = (await readUntil(socket, () => false)).toString();
      expect(text).toMatch(/^HTTP\/1\.1 400 /);
      expect(text).toMatch(/x-authsome-error: 1/i);
      expect(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)).error.code).toBe('invalid_input');
    }
    expect(h.upstream.requests.length).toBe(before);
  });
});
