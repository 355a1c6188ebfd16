// Pooled upstream connections on real sockets: agent connections and runs share the proxy's upstream connections,
// each request still carries its own run's key, an agent's Connection: close ends only its own connection, a
// pooled connection the upstream dropped is retried once for an idempotent request only, and a hostile upstream's
// stray bytes never reach another run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCredentialHeader } from '../../../src/providers/headers.js';
import {
  exchange,
  openTlsThroughProxy,
  OTHER_KEY,
  readUntil,
  REAL_KEY,
  startHarness,
  type Harness,
} from './harness.js';

describe('pooled upstream connections', () => {
  let h: Harness;
  let slowCredential = false;
  /** URLs the upstream has already dropped once (`?drop-once`). */
  const dropped = new Set<string>();

  beforeAll(async () => {
    h = await startHarness({
      // A credential that takes a moment (an OAuth refresh) when a test asks for it: the agent's later bytes and
      // its hang-up arrive while the proxy still holds the first request.
      resolveCredential: async (entry) => {
        if (slowCredential) await new Promise((resolve) => setTimeout(resolve, 50));
        return buildCredentialHeader(entry.definition, h.secrets.get(`${entry.provider}:${entry.connection}`)!);
      },
      upstreamHandler: (req) => {
        const url = req.url ?? '';
        // The upstream reads the request and hangs up without a word: what a server closing an idle keep-alive
        // connection looks like to a client that has just sent on it.
        if (url.includes('drop-always') || (url.includes('drop-once') && !dropped.has(url))) {
          dropped.add(url);
          req.socket.destroy();
          return true;
        }
        if (url === '/double') {
          // A hostile upstream: a second, unasked-for response behind the first one.
          req.socket.write(
            'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nforged',
          );
          return true;
        }
        return false;
      },
    });
    h.secrets.set('openai:default', REAL_KEY);
    h.secrets.set('openai:team', OTHER_KEY);
  });
  afterAll(async () => h?.close());

  const open = async (connection = 'default') => {
    const session = h.createSession([{ provider: 'openai', connection, definition: h.openai }]);
    return openTlsThroughProxy(h.proxy.port, session.token, 'api.openai.com:443', {
      servername: 'api.openai.com',
      ca: h.ca.certPem,
    });
  };
  const since = (n: number) => h.upstream.requests.slice(n);

  it('serves twenty agent connections, one request each, over one or two upstream connections', async () => {
    const before = h.upstream.requests.length;
    const connectionsBefore = h.upstream.connections();
    for (let i = 0; i < 20; i++) {
      const socket = await open();
      const res = await exchange(socket, `GET /v1/models?n=${i} HTTP/1.1\r\nHost: api.openai.com\r\n\r\n`);
      expect(res.status).toBe(200);
      socket.destroy();
    }
    expect(since(before).map((r) => r.url)).toEqual(Array.from({ length: 20 }, (_, i) => `/v1/models?n=${i}`));
    expect(since(before).every((r) => r.headers.authorization === `Bearer ${REAL_KEY}`)).toBe(true);
    // Without a pool every agent connection opens one of its own: twenty.
    expect(h.upstream.connections() - connectionsBefore).toBeLessThanOrEqual(2);
  });

  it('shares one upstream connection between two runs, each request with its own run’s key', async () => {
    const before = h.upstream.requests.length;
    const first = await open('default');
    expect(
      (
        await exchange(
          first,
          'GET /v1/models?run=1 HTTP/1.1\r\nHost: api.openai.com\r\nAuthorization: Bearer placeholder\r\n\r\n',
        )
      ).status,
    ).toBe(200);
    first.destroy();
    const second = await open('team');
    expect(
      (
        await exchange(
          second,
          'GET /v1/models?run=2 HTTP/1.1\r\nHost: api.openai.com\r\nAuthorization: Bearer placeholder\r\n\r\n',
        )
      ).status,
    ).toBe(200);
    second.destroy();
    const [one, two] = since(before);
    expect([one!.url, two!.url]).toEqual(['/v1/models?run=1', '/v1/models?run=2']);
    expect(two!.connectionId).toBe(one!.connectionId);
    expect(one!.headers.authorization).toBe(`Bearer ${REAL_KEY}`);
    expect(two!.headers.authorization).toBe(`Bearer ${OTHER_KEY}`);
  });

  it(
    'ends the agent’s connection after a Connection: close request, and keeps the upstream one for the next ' + 'agent',
    async () => {
      const before = h.upstream.requests.length;
      const agent = await open();
      agent.write(
        'GET /v1/models?close HTTP/1.1\r\nHost: api.openai.com\r\nConnection: close\r\n\r\nGET ' +
          '/v1/models?after-close HTTP/1.1\r\nHost: api.openai.com\r\n\r\n',
      );
      const text = (await readUntil(agent, () => false)).toString('latin1');
      expect(text).toMatch(/^HTTP\/1\.1 200 /);
      expect(text.match(/HTTP\/1\.1 \d{3}/g)).toHaveLength(1);
      expect(agent.readableEnded || agent.destroyed).toBe(true);
      const next = await open();
      expect((await exchange(next, 'GET /v1/models?next HTTP/1.1\r\nHost: api.openai.com\r\n\r\n')).status).toBe(200);
      next.destroy();
      const [closing, after] = since(before);
      // Nothing after the closing request was read; the upstream never saw the agent's Connection header.
      expect([closing!.url, after!.url]).toEqual(['/v1/models?close', '/v1/models?next']);
      expect(closing!.headers.connection).toBeUndefined();
      expect(after!.connectionId).toBe(closing!.connectionId);
    },
  );

  it(
    'answers every request of an agent that half-closed after sending them, then ends its connection and ' +
      'keeps the upstream one',
    async () => {
      const before = h.upstream.requests.length;
      const agent = await open();
      slowCredential = true;
      agent.end(
        'GET /v1/models?half-closed=1 HTTP/1.1\r\nHost: api.openai.com\r\n\r\n' +
          'POST /v1/echo?half-closed=2 HTTP/1.1\r\nHost: api.openai.com\r\nContent-Length: 5\r\n\r\nhello',
      );
      const text = (await readUntil(agent, () => false)).toString('latin1');
      slowCredential = false;
      expect(text.match(/HTTP\/1\.1 200 /g)).toHaveLength(2);
      expect(text).toContain('"object":"list"');
      expect(text.endsWith('hello')).toBe(true);
      const next = await open();
      expect(
        (await exchange(next, 'GET /v1/models?after-half-close HTTP/1.1\r\nHost: api.openai.com\r\n\r\n')).status,
      ).toBe(200);
      next.destroy();
      const seen = since(before);
      expect(seen.map((r) => [r.url, r.bodyLength])).toEqual([
        ['/v1/models?half-closed=1', 0],
        ['/v1/echo?half-closed=2', 5],
        ['/v1/models?after-half-close', 0],
      ]);
      expect(seen[2]!.connectionId).toBe(seen[0]!.connectionId);
    },
  );

  it('ends an agent connection that half-closed in the middle of a request body, sending nothing more', async () => {
    const agent = await open();
    agent.end('POST /v1/echo?cut HTTP/1.1\r\nHost: api.openai.com\r\nContent-Length: 100\r\n\r\nonly part');
    await readUntil(agent, () => false);
    expect(agent.readableEnded || agent.destroyed).toBe(true);
  });

  it('sends a GET again, once, when the pooled connection it went out on was dropped by the upstream', async () => {
    const agent = await open();
    expect((await exchange(agent, 'GET /v1/models?warm HTTP/1.1\r\nHost: api.openai.com\r\n\r\n')).status).toBe(200);
    const before = h.upstream.requests.length;
    const res = await exchange(agent, 'GET /v1/models?drop-once HTTP/1.1\r\nHost: api.openai.com\r\n\r\n');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body.toString()).object).toBe('list');
    const seen = since(before);
    expect(seen.map((r) => r.url)).toEqual(['/v1/models?drop-once', '/v1/models?drop-once']);
    expect(seen[1]!.connectionId).not.toBe(seen[0]!.connectionId);
    expect(seen.every((r) => r.headers.authorization === `Bearer ${REAL_KEY}`)).toBe(true);
    agent.destroy();
  });

  it('retries only once: a GET dropped on every connection gets the 502', async () => {
    const agent = await open();
    expect((await exchange(agent, 'GET /v1/models?warm2 HTTP/1.1\r\nHost: api.openai.com\r\n\r\n')).status).toBe(200);
    const before = h.upstream.requests.length;
    agent.write('GET /v1/models?drop-always HTTP/1.1\r\nHost: api.openai.com\r\n\r\n');
    const text = (await readUntil(agent, () => false)).toString();
    expect(text).toMatch(/^HTTP\/1\.1 502 /);
    expect(since(before).map((r) => r.url)).toEqual(['/v1/models?drop-always', '/v1/models?drop-always']);
  });

  it('never sends a POST twice: its connection dropped, the agent gets the 502', async () => {
    const agent = await open();
    expect((await exchange(agent, 'GET /v1/models?warm3 HTTP/1.1\r\nHost: api.openai.com\r\n\r\n')).status).toBe(200);
    const before = h.upstream.requests.length;
    agent.write('POST /v1/echo?drop-always HTTP/1.1\r\nHost: api.openai.com\r\nContent-Length: 2\r\n\r\nhi');
    const text = (await readUntil(agent, () => false)).toString();
    expect(text).toMatch(/^HTTP\/1\.1 502 /);
    expect(since(before).map((r) => r.url)).toEqual(['/v1/echo?drop-always']);
  });

  it('never hands an upstream connection that sent stray bytes to another run', async () => {
    const hostile = await open('default');
    hostile.write('GET /double HTTP/1.1\r\nHost: api.openai.com\r\n\r\n');
    await readUntil(hostile, (b) => b.toString('latin1').includes('\r\n\r\nok'));
    hostile.destroy();
    const victim = await open('team');
    const res = await exchange(victim, 'GET /v1/models?victim HTTP/1.1\r\nHost: api.openai.com\r\n\r\n');
    victim.destroy();
    expect(res.status).toBe(200);
    expect(res.body.toString()).not.toContain('forged');
    expect(JSON.parse(res.body.toString()).object).toBe('list');
  });
});

describe('pooled upstream connections at their limit', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ pool: { maxSocketsPerHost: 4 } });
    h.secrets.set('openai:default', REAL_KEY);
  });
  afterAll(async () => h?.close());

  it('answers every request of twelve keep-alive agents over at most four upstream connections', async () => {
    const session = h.createSession([{ provider: 'openai', connection: 'default', definition: h.openai }]);
    const connectionsBefore = h.upstream.connections();
    const agents = await Promise.all(
      Array.from({ length: 12 }, () =>
        openTlsThroughProxy(h.proxy.port, session.token, 'api.openai.com:443', {
          servername: 'api.openai.com',
          ca: h.ca.certPem,
        }),
      ),
    );
    // Each agent keeps its connection open between requests: the pool must take parked ones back for the others.
    const statuses = await Promise.all(
      agents.map(async (agent, a) => {
        const seen: number[] = [];
        for (let i = 0; i < 5; i++)
          seen.push(
            (await exchange(agent, `GET /v1/models?a=${a}&i=${i} HTTP/1.1\r\nHost: api.openai.com\r\n\r\n`)).status,
          );
        return seen;
      }),
    );
    for (const agent of agents) agent.destroy();
    expect(statuses.flat()).toEqual(Array.from({ length: 60 }, () => 200));
    expect(new Set(h.upstream.requests.map((r) => r.connectionId)).size).toBeLessThanOrEqual(4);
    expect(h.upstream.connections() - connectionsBefore).toBeLessThanOrEqual(4);
  });
});
