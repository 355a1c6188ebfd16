// The proxy engine over real sockets: interception and injection, tunnels, 407s, plain http,
// sessions, ambiguity, OAuth endpoints, upstream failures, WebSocket, large bodies, keep-alive, leaf certificates.
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { ProxyAgent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { errors } from '../../../src/errors.js';
import { PLACEHOLDER } from '../../../src/cli/run-env.js';
import { createTestCa } from '../../helpers/test-ca.js';
import { buildPatternBytes, startUpstream, type Upstream } from '../../helpers/upstream.js';
import {
  basicAuth,
  buildDefinition,
  exchange,
  openAgentThroughProxy,
  openTlsThroughProxy,
  OTHER_KEY,
  REAL_KEY,
  sendConnect,
  startHarness,
  type Harness,
} from './harness.js';

const PLACEHOLDER_AUTH = `Bearer ${PLACEHOLDER}`;

describe.each(['at-once', 'awaited'] as const)('proxy engine (credential %s)', (credentials) => {
  let h: Harness;
  let plain: Upstream;
  let closedPort: number;

  beforeAll(async () => {
    plain = await startUpstream({ plain: true });
    // A port that was just free: nothing listens there, so connecting is refused.
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    closedPort = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    h = await startHarness({
      credentials,
      resolve: { 'api.openai.com:80': plain.port, 'down.openai.test:443': closedPort },
      sseIntervalMs: 150,
    });
    h.secrets.set('openai:default', REAL_KEY);
    h.secrets.set('openai:team', OTHER_KEY);
  });

  afterAll(async () => {
    await h?.close();
    await plain?.close();
  });

  const openaiScope = (connection = 'default') => [{ provider: 'openai', connection, definition: h.openai }];
  const dispatcherFor = (token: string) =>
    new ProxyAgent({ uri: `http://authsome:${token}@127.0.0.1:${h.proxy.port}`, requestTls: { ca: h.ca.certPem } });
  const lastRequest = () => h.upstream.requests[h.upstream.requests.length - 1]!;

  it('intercepts a provider host and sets the real credential, replacing the placeholder', async () => {
    const session = h.createSession(openaiScope());
    const dispatcher = dispatcherFor(session.token);
    const before = h.upstream.requests.length;
    const res = await request('https://api.openai.com/v1/models?limit=2&secret_query=1', {
      dispatcher,
      headers: { authorization: PLACEHOLDER_AUTH, 'x-agent': 'kept' },
    });
    const body = (await res.body.json()) as { object: string };
    expect(res.statusCode).toBe(200);
    expect(body.object).toBe('list');
    expect(h.upstream.requests.length).toBe(before + 1);
    const seen = lastRequest();
    expect(seen.headers.authorization).toBe(`Bearer ${REAL_KEY}`);
    expect(seen.headers['proxy-authorization']).toBeUndefined();
    expect(seen.headers['x-agent']).toBe('kept');
    expect(seen.url).toBe('/v1/models?limit=2&secret_query=1');
    // Exactly one Authorization header reached the upstream.
    expect(
      seen.rawHeaders.filter((_, i) => i % 2 === 0 && seen.rawHeaders[i]!.toLowerCase() === 'authorization'),
    ).toHaveLength(1);
    await dispatcher.close();

    const audit = await h.readAudit();
    const entry = audit.filter((e) => e.event === 'inject' && e.run === session.id).at(-1)!;
    expect(entry).toMatchObject({
      provider: 'openai',
      connection: 'default',
      method: 'GET',
      host: 'api.openai.com',
      path: '/v1/models',
      status: 200,
    });
    expect(typeof entry.ms).toBe('number');
    const auditText = JSON.stringify(audit);
    expect(auditText).not.toContain(REAL_KEY);
    expect(auditText).not.toContain('secret_query');
    expect(auditText).not.toContain(session.token);
  });

  it('streams SSE events as the upstream sends them, not in one batch at the end', async () => {
    const session = h.createSession(openaiScope());
    const dispatcher = dispatcherFor(session.token);
    const before = h.upstream.requests.length;
    const res = await request('https://api.openai.com/v1/chat/completions', {
      method: 'POST',
      dispatcher,
      headers: { authorization: PLACEHOLDER_AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream');
    const arrivals: number[] = [];
    let text = '';
    for await (const chunk of res.body) {
      const piece = Buffer.from(chunk as Buffer).toString('utf8');
      text += piece;
      const events = piece.split('\n\n').filter((e) => e.startsWith('data: '));
      for (let i = 0; i < events.length; i++) arrivals.push(Date.now());
    }
    await dispatcher.close();
    const sent = h.upstream.requests[before]!.sseSentAt;
    expect(sent).toHaveLength(6);
    expect(text).toContain('data: [DONE]');
    // 6 JSON events + [DONE], each its own arrival (events were 150 ms apart upstream).
    expect(arrivals).toHaveLength(7);
    // The first event reaches the client while the upstream is still sending (before its third event, 300 ms on):
    // streamed, not held for later events. No tighter bound: on a loaded 2-core machine a wake-up can take 100 ms.
    expect(arrivals[0]!).toBeLessThan(sent[2]!);
    expect(arrivals[0]!).toBeLessThan(sent[sent.length - 1]! - 300);
    // And the spread survives the proxy (events batched together would arrive at once; half the sends' spread leaves
    // room for a slow wake-up on a loaded machine).
    expect(arrivals[5]! - arrivals[0]!).toBeGreaterThan((sent[5]! - sent[0]!) / 2);
    expect(h.upstream.requests[before]!.headers.authorization).toBe(`Bearer ${REAL_KEY}`);
  });

  it('blind-tunnels a host no route matches: the client sees that server’s own certificate', async () => {
    const session = h.createSession(openaiScope());
    const before = h.upstream.requests.length;
    // tunnel.test is not in the openai scope; the tunnel goes straight to the upstream's port (loopback included).
    const socket = await openTlsThroughProxy(h.proxy.port, session.token, `127.0.0.1:${h.upstream.port}`, {
      servername: 'tunnel.test',
      ca: h.testCa.caCert,
    });
    const cert = socket.getPeerCertificate();
    expect(socket.authorized).toBe(true);
    expect(cert.issuer.CN).toBe('authsome test upstream CA');
    const { status, body } = await exchange(
      socket,
      `GET /v1/models HTTP/1.1\r\nHost: tunnel.test\r\nAuthorization: ${PLACEHOLDER_AUTH}\r\nConnection: close\r\n\r\n`,
    );
    socket.destroy();
    expect(status).toBe(200);
    expect(JSON.parse(body.toString()).object).toBe('list');
    expect(h.upstream.requests.length).toBe(before + 1);
    // Untouched: the placeholder passed through, nothing was injected into a tunnel.
    expect(lastRequest().headers.authorization).toBe(PLACEHOLDER_AUTH);
  });

  it('answers 407 to a CONNECT without or with a wrong proxy secret, and forwards nothing', async () => {
    const session = h.createSession(openaiScope());
    const before = h.upstream.requests.length;
    for (const auth of [
      undefined,
      basicAuth('wrong-token'),
      basicAuth(`${session.token}x`),
      `Bearer ${session.token}`,
    ]) {
      const res = await sendConnect(h.proxy.port, 'api.openai.com:443', auth);
      res.socket.destroy();
      expect(res.status).toBe(407);
      expect(res.head).toMatch(/\r\nProxy-Authenticate: Basic realm="authsome"/i);
      expect(res.head).toMatch(/\r\nx-authsome-error: 1/i);
      expect(JSON.parse(res.body)).toMatchObject({ error: { code: 'unauthorized' } });
    }
    // Plain-http proxy requests get the same answer.
    const socket = net.connect(h.proxy.port, '127.0.0.1');
    const plainRes = await exchange(
      socket,
      'GET http://api.openai.com/v1/models HTTP/1.1\r\nHost: api.openai.com\r\n\r\n',
    );
    socket.destroy();
    expect(plainRes.status).toBe(407);
    expect(plainRes.head).toMatch(/proxy-authenticate: Basic realm="authsome"/i);
    expect(h.upstream.requests.length).toBe(before);
    expect(plain.requests.some((r) => r.url === '/v1/models')).toBe(false);
  });

  it('forwards plain http:// requests to a provider host without the credential', async () => {
    const session = h.createSession(openaiScope());
    const socket = net.connect(h.proxy.port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    const res = await exchange(
      socket,
      `GET http://api.openai.com/v1/models?x=1 HTTP/1.1\r\nHost: api.openai.com\r\nProxy-Authorization: ` +
        `${basicAuth(session.token)}\r\n` +
        `Authorization: ${PLACEHOLDER_AUTH}\r\n\r\n`,
    );
    socket.destroy();
    expect(res.status).toBe(200);
    const seen = plain.requests[plain.requests.length - 1]!;
    expect(seen.url).toBe('/v1/models?x=1');
    expect(seen.headers.authorization).toBe(PLACEHOLDER_AUTH);
    expect(seen.headers['proxy-authorization']).toBeUndefined();
    expect(JSON.stringify(seen.rawHeaders)).not.toContain(REAL_KEY);
    const audit = await h.readAudit();
    expect(audit.some((e) => e.event === 'no_match' && e.run === session.id && /plain_http/.test(e.reason ?? ''))).toBe(
      true,
    );
  });

  it('a plain http request with a provider Host header gets no credential either', async () => {
    const session = h.createSession(openaiScope());
    const socket = net.connect(h.proxy.port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    const res = await exchange(
      socket,
      `GET http://127.0.0.1:${plain.port}/v1/models HTTP/1.1\r\nHost: ` +
        `api.openai.com\r\nProxy-Authorization: ${basicAuth(session.token)}\r\n` +
        `Authorization: ${PLACEHOLDER_AUTH}\r\n\r\n`,
    );
    socket.destroy();
    expect(res.status).toBe(200);
    const seen = plain.requests[plain.requests.length - 1]!;
    expect(seen.headers.authorization).toBe(PLACEHOLDER_AUTH);
    expect(JSON.stringify(seen.rawHeaders)).not.toContain(REAL_KEY);
  });

  it('gives each run session its own connection’s key', async () => {
    const a = h.createSession(openaiScope('default'));
    const b = h.createSession(openaiScope('team'));
    const da = dispatcherFor(a.token);
    const db = dispatcherFor(b.token);
    const seen: string[] = [];
    for (const [d, label] of [
      [da, 'a'],
      [db, 'b'],
      [da, 'a'],
    ] as const) {
      const res = await request('https://api.openai.com/v1/models', { dispatcher: d, headers: { 'x-which': label } });
      await res.body.dump();
      seen.push(`${lastRequest().headers['x-which']}=${lastRequest().headers.authorization}`);
    }
    await da.close();
    await db.close();
    expect(seen).toEqual([`a=Bearer ${REAL_KEY}`, `b=Bearer ${OTHER_KEY}`, `a=Bearer ${REAL_KEY}`]);
  });

  it('injects nothing when two providers in scope claim the same host, and audits why', async () => {
    const twin = buildDefinition({
      name: 'openai-twin',
      auth_type: 'api_key',
      api_url: 'api.openai.com',
      api_key: { header_name: 'X-Twin-Key' },
    });
    h.secrets.set('openai-twin:default', 'twin-secret-value');
    const session = h.createSession([
      ...openaiScope(),
      { provider: 'openai-twin', connection: 'default', definition: twin },
    ]);
    const dispatcher = dispatcherFor(session.token);
    const res = await request('https://api.openai.com/v1/models', {
      dispatcher,
      headers: { authorization: PLACEHOLDER_AUTH },
    });
    await res.body.dump();
    await dispatcher.close();
    expect(res.statusCode).toBe(200);
    const seen = lastRequest();
    expect(seen.headers.authorization).toBe(PLACEHOLDER_AUTH);
    expect(seen.headers['x-twin-key']).toBeUndefined();
    const entry = (await h.readAudit()).filter((e) => e.run === session.id).at(-1)!;
    expect(entry.event).toBe('ambiguous');
    expect(entry.reason).toContain('openai (default)');
    expect(entry.reason).toContain('openai-twin (default)');
    expect(entry.status).toBe(200);
  });

  it('leaves the provider’s own OAuth endpoints untouched', async () => {
    const oauthDef = buildDefinition({
      name: 'acme',
      auth_type: 'oauth2',
      flow: 'pkce',
      api_url: 'api.openai.com',
      oauth: { authorization_url: 'https://auth.acme.test/authorize', token_url: 'https://api.openai.com/oauth/token' },
    });
    h.secrets.set('acme:default', 'acme-access-token');
    const session = h.createSession([{ provider: 'acme', connection: 'default', definition: oauthDef }]);
    const dispatcher = dispatcherFor(session.token);
    const token = await request('https://api.openai.com/oauth/token', {
      method: 'POST',
      dispatcher,
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Basic Y2xpZW50OnNlY3JldA==' },
      body: 'grant_type=refresh_token&refresh_token=abc',
    });
    await token.body.dump();
    expect(lastRequest().url).toBe('/oauth/token');
    expect(lastRequest().headers.authorization).toBe('Basic Y2xpZW50OnNlY3JldA==');
    const api = await request('https://api.openai.com/v1/models', { dispatcher });
    await api.body.dump();
    await dispatcher.close();
    expect(lastRequest().headers.authorization).toBe('Bearer acme-access-token');
    const audit = (await h.readAudit()).filter((e) => e.run === session.id);
    expect(audit.map((e) => [e.event, e.reason ?? ''])).toEqual([
      ['no_match', 'oauth_endpoint'],
      ['inject', ''],
    ]);
  });

  it('answers 502 JSON with x-authsome-error when the upstream is down', async () => {
    const down = buildDefinition({ name: 'down', auth_type: 'api_key', api_url: 'down.openai.test' });
    h.secrets.set('down:default', 'down-secret');
    const session = h.createSession([{ provider: 'down', connection: 'default', definition: down }]);
    const dispatcher = dispatcherFor(session.token);
    const res = await request('https://down.openai.test/v1/models', { dispatcher });
    const body = (await res.body.json()) as {
      type: string;
      error: { type: string; code: string; message: string; hint?: string };
    };
    await dispatcher.close();
    expect(res.statusCode).toBe(502);
    expect(res.headers['x-authsome-error']).toBe('1');
    expect(res.headers['content-type']).toMatch(/application\/json/);
    // The shape SDKs print: error.message names the cause and carries the hint.
    expect(body.type).toBe('error');
    expect(body.error.type).toBe('authsome_proxy_error');
    expect(body.error.code).toBe('upstream');
    expect(body.error.message).toMatch(
      /^authsome proxy: Connection refused by down\.openai\.test \(ECONNREFUSED\)\. Check the network/,
    );
    expect(body.error.hint).toMatch(/^Check the network/);
    expect(JSON.stringify(body)).not.toContain('down-secret');
  });

  it('answers 502 with the AppError JSON when the credential cannot be resolved', async () => {
    const locked = await startHarness({ resolveCredential: async () => Promise.reject(errors.vaultLocked()) });
    try {
      const session = locked.createSession([{ provider: 'openai', connection: 'default', definition: locked.openai }]);
      const dispatcher = new ProxyAgent({ uri: locked.proxyUrl(session), requestTls: { ca: locked.ca.certPem } });
      const res = await request('https://api.openai.com/v1/models', { dispatcher });
      const body = await res.body.json();
      await dispatcher.close();
      expect(res.statusCode).toBe(502);
      expect(res.headers['x-authsome-error']).toBe('1');
      const locked_ = errors.vaultLocked();
      expect(body).toEqual({
        type: 'error',
        error: {
          type: 'authsome_proxy_error',
          code: 'vault_locked',
          message: `authsome proxy: ${locked_.message} ${locked_.hint}`,
          hint: locked_.hint,
        },
      });
      expect(locked.upstream.requests).toHaveLength(0);
    } finally {
      await locked.close();
    }
  });

  it('puts the credential on a WebSocket upgrade, then pipes frames both ways', async () => {
    const session = h.createSession(openaiScope());
    const agent = await openAgentThroughProxy(h, session);
    const ws = new WebSocket('wss://api.openai.com/v1/realtime?model=x', {
      agent,
      headers: { authorization: PLACEHOLDER_AUTH },
    });
    const echoed = await new Promise<string>((resolve, reject) => {
      ws.once('open', () => ws.send('ping through the proxy'));
      ws.once('message', (data) => resolve(data.toString()));
      ws.once('error', reject);
    });
    ws.close();
    expect(echoed).toBe('ping through the proxy');
    const upgrade = h.upstream.requests.filter((r) => r.upgrade).at(-1)!;
    expect(upgrade.headers.authorization).toBe(`Bearer ${REAL_KEY}`);
    expect(upgrade.headers.upgrade).toBe('websocket');
    expect(upgrade.headers['proxy-authorization']).toBeUndefined();
  });

  it('carries 1 MiB bodies intact in both directions', async () => {
    const session = h.createSession(openaiScope());
    const dispatcher = dispatcherFor(session.token);
    const mib = buildPatternBytes(1024 * 1024);
    const sha = createHash('sha256').update(mib).digest('hex');
    const down = await request('https://api.openai.com/v1/bytes?n=1048576', { dispatcher });
    const got = Buffer.from(await down.body.arrayBuffer());
    expect(got.length).toBe(mib.length);
    expect(createHash('sha256').update(got).digest('hex')).toBe(sha);
    const up = await request('https://api.openai.com/v1/echo', { method: 'POST', dispatcher, body: mib });
    const echoed = Buffer.from(await up.body.arrayBuffer());
    await dispatcher.close();
    expect(lastRequest().bodyLength).toBe(mib.length);
    expect(lastRequest().bodySha256).toBe(sha);
    expect(createHash('sha256').update(echoed).digest('hex')).toBe(sha);
  });

  it('keeps both sides alive: five requests on one agent connection use one upstream connection', async () => {
    const session = h.createSession(openaiScope());
    const before = h.upstream.requests.length;
    const connectionsBefore = h.upstream.connections();
    const socket = await openTlsThroughProxy(h.proxy.port, session.token, 'api.openai.com:443', {
      servername: 'api.openai.com',
      ca: h.ca.certPem,
    });
    for (let i = 0; i < 5; i++) {
      const res = await exchange(socket, `GET /v1/models?i=${i} HTTP/1.1\r\nHost: api.openai.com\r\n\r\n`);
      expect(res.status).toBe(200);
      expect(res.head).not.toMatch(/connection: close/i);
    }
    socket.destroy();
    const seen = h.upstream.requests.slice(before);
    expect(seen.map((r) => r.url)).toEqual([0, 1, 2, 3, 4].map((i) => `/v1/models?i=${i}`));
    expect(new Set(seen.map((r) => r.connectionId)).size).toBe(1);
    // One at most: a pooled connection an earlier test left idle may carry them all.
    expect(h.upstream.connections() - connectionsBefore).toBeLessThanOrEqual(1);
    expect(seen.every((r) => r.headers.authorization === `Bearer ${REAL_KEY}`)).toBe(true);
  });

  it('presents a short-lived leaf for the host and offers only http/1.1', async () => {
    const session = h.createSession(openaiScope());
    const socket = await openTlsThroughProxy(h.proxy.port, session.token, 'api.openai.com:443', {
      servername: 'api.openai.com',
      ca: h.ca.certPem,
      ALPNProtocols: ['h2', 'http/1.1'],
    });
    const cert = socket.getPeerCertificate(true);
    expect(socket.authorized).toBe(true);
    expect(socket.alpnProtocol).toBe('http/1.1');
    expect(cert.subjectaltname).toBe('DNS:api.openai.com');
    const now = Date.now();
    const day = 24 * 3600 * 1000;
    expect(Math.abs(Date.parse(cert.valid_from) - (now - day))).toBeLessThan(5 * 60 * 1000);
    expect(Date.parse(cert.valid_to)).toBeLessThanOrEqual(now + 30 * day);
    expect(Date.parse(cert.valid_to)).toBeGreaterThan(now + 29 * day);
    socket.destroy();
    // A client that insists on h2 alone gets no h2.
    const h2Only = await openTlsThroughProxy(h.proxy.port, session.token, 'api.openai.com:443', {
      servername: 'api.openai.com',
      ca: h.ca.certPem,
      ALPNProtocols: ['h2'],
    }).then(
      (s) => {
        const proto = s.alpnProtocol;
        s.destroy();
        return proto;
      },
      () => 'refused',
    );
    expect(h2Only === false || h2Only === 'refused').toBe(true);
  });

  it('stops injecting on an open connection once its run session has ended', async () => {
    const session = h.createSession(openaiScope());
    const socket = await openTlsThroughProxy(h.proxy.port, session.token, 'api.openai.com:443', {
      servername: 'api.openai.com',
      ca: h.ca.certPem,
    });
    const first = await exchange(socket, 'GET /v1/models HTTP/1.1\r\nHost: api.openai.com\r\n\r\n');
    expect(first.status).toBe(200);
    const before = h.upstream.requests.length;
    h.sessions.end(session.id);
    const second = await exchange(socket, 'GET /v1/models HTTP/1.1\r\nHost: api.openai.com\r\n\r\n');
    socket.destroy();
    expect(second.status).toBe(407);
    expect(h.upstream.requests.length).toBe(before);
  });

  it('verifies upstream TLS: an untrusted upstream certificate gets a 502 and no request', async () => {
    const rogueCa = createTestCa(['untrusted.openai.test']);
    const rogue = await startUpstream({ cert: rogueCa.cert, key: rogueCa.key });
    const def = buildDefinition({ name: 'untrusted', auth_type: 'api_key', api_url: 'untrusted.openai.test' });
    const local = await startHarness({ resolve: { 'untrusted.openai.test:443': rogue.port } });
    try {
      local.secrets.set('untrusted:default', 'untrusted-secret');
      const session = local.createSession([{ provider: 'untrusted', connection: 'default', definition: def }]);
      const dispatcher = new ProxyAgent({ uri: local.proxyUrl(session), requestTls: { ca: local.ca.certPem } });
      const res = await request('https://untrusted.openai.test/v1/models', { dispatcher });
      const body = (await res.body.json()) as { error: { code: string; message: string } };
      await dispatcher.close();
      expect(res.statusCode).toBe(502);
      expect(res.headers['x-authsome-error']).toBe('1');
      expect(body.error.code).toBe('upstream');
      expect(body.error.message).toMatch(/TLS certificate of untrusted\.openai\.test is not trusted/);
      expect(rogue.requests).toHaveLength(0);
    } finally {
      await local.close();
      await rogue.close();
    }
  });

  it(
    'says why in the status line when a blind tunnel ' + 'cannot resolve its host (clients show only that line)',
    async () => {
      const session = h.createSession(openaiScope());
      const res = await sendConnect(h.proxy.port, 'no-such-host.invalid:443', basicAuth(session.token));
      res.socket.destroy();
      expect(res.status).toBe(502);
      expect(res.head.split('\r\n')[0]).toBe('HTTP/1.1 502 Bad Gateway (could not resolve no-such-host.invalid)');
      expect(JSON.parse(res.body).error.message).toMatch(
        /^authsome proxy: Could not resolve no-such-host\.invalid \(ENOTFOUND\)/,
      );
    },
  );

  it('rejects a CONNECT without a valid host:port with 400 JSON', async () => {
    const session = h.createSession(openaiScope());
    const res = await sendConnect(h.proxy.port, 'no-port-here', basicAuth(session.token));
    res.socket.destroy();
    expect(res.status).toBe(400);
    expect(res.head).toMatch(/x-authsome-error: 1/i);
    expect(JSON.parse(res.body).error.code).toBe('invalid_input');
  });

  it('presents a leaf that only the authsome CA validates (not the upstream’s certificate)', async () => {
    const session = h.createSession(openaiScope());
    const result = await openTlsThroughProxy(h.proxy.port, session.token, 'api.openai.com:443', {
      servername: 'api.openai.com',
      ca: h.testCa.caCert,
    }).then(
      () => 'accepted',
      (err: NodeJS.ErrnoException) => err.code,
    );
    expect(result).toBe('UNABLE_TO_GET_ISSUER_CERT_LOCALLY');
  });
});
