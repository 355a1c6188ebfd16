// Request smuggling through the intercepting proxy, end to end: a hostile agent writes raw bytes into its tunnel,
// and a raw TLS upstream records every byte that reaches it. Whatever the proxy refuses must reach no upstream.
import type { Socket } from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTlsThroughProxy, readUntil, REAL_KEY, startHarness, type Harness } from './harness.js';

/**
 * An upstream that keeps every byte it is sent (what a lenient server would have read) and answers nothing, except
 * a request for a path in `responses`, which gets those raw bytes back: a hostile upstream.
 */
interface RecordingUpstream {
  port: number;
  server: tls.Server;
  /** Every byte received, across connections, in arrival order. */
  received(): string;
  /** Resolves once no connection to it is open, so everything the proxy sent has been recorded. */
  settle(): Promise<void>;
  close(): Promise<void>;
}

async function startRecordingUpstream(responses: Record<string, string> = {}): Promise<RecordingUpstream> {
  // Its certificate is set once the harness has made the test CA the proxy trusts.
  const server = tls.createServer({ ALPNProtocols: ['http/1.1'] });
  const chunks: Buffer[] = [];
  const open = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  server.on('secureConnection', (socket) => {
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      const path = /^[A-Z]+ (\S+) /.exec(chunk.toString('latin1'))?.[1];
      if (path !== undefined && responses[path] !== undefined) socket.write(responses[path]);
    });
    socket.on('error', () => undefined);
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    server,
    received: () => Buffer.concat(chunks).toString('latin1'),
    async settle() {
      const deadline = Date.now() + 5000;
      while (open.size > 0) {
        if (Date.now() > deadline) throw new Error(`${open.size} upstream connection(s) still open`);
        await new Promise((resolve) => setImmediate(resolve));
      }
    },
    async close() {
      for (const socket of open) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('request smuggling through the intercepting proxy', () => {
  let h: Harness;
  let upstream: RecordingUpstream;

  beforeAll(async () => {
    upstream = await startRecordingUpstream({
      '/bare-lf': 'HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n',
      '/nul-header': 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX: a\x00\r\n\r\nok',
      '/status-999': 'HTTP/1.1 999 Odd\r\nContent-Length: 2\r\n\r\nok',
      '/trailer-bare-lf': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX: y\nZ\r\n\r\n',
      '/well-formed': 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
    });
    // Pooled upstream connections close soon after their last use, so settle() can wait for all of them.
    h = await startHarness({ resolve: { 'api.openai.com:443': upstream.port }, pool: { idleTimeoutMs: 50 } });
    upstream.server.setSecureContext({ cert: h.testCa.cert, key: h.testCa.key });
    h.secrets.set('openai:default', REAL_KEY);
  });
  afterAll(async () => {
    await h?.close();
    await upstream?.close();
  });

  const open = async () => {
    const session = h.createSession([{ provider: 'openai', connection: 'default', definition: h.openai }]);
    const socket = await openTlsThroughProxy(h.proxy.port, session.token, 'api.openai.com:443', {
      servername: 'api.openai.com',
      ca: h.ca.certPem,
    });
    socket.on('error', () => undefined); // the proxy may cut a connection the agent is still writing to
    return socket;
  };

  /** Sends raw bytes as the agent, waits for the proxy to hang up, and returns what the agent and the upstream got. */
  const attack = async (bytes: string | Buffer): Promise<{ answer: string; upstream: string }> => {
    const before = upstream.received().length;
    const socket = await open();
    socket.write(bytes);
    const answer = (await readUntil(socket, () => false)).toString('latin1');
    await upstream.settle();
    return { answer, upstream: upstream.received().slice(before) };
  };

  const expectProxy400 = (answer: string): void => {
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toMatch(/x-authsome-error: 1/i);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)).error.code).toBe('invalid_input');
    expect(answer).not.toContain(REAL_KEY);
  };

  it('relays a well-formed request with the key (the recording upstream sees what the proxy sends)', async () => {
    const before = upstream.received().length;
    const socket = await open();
    socket.write('GET /v1/models HTTP/1.1\r\nHost: api.openai.com\r\nAuthorization: Bearer placeholder\r\n\r\n');
    const deadline = Date.now() + 5000;
    while (!upstream.received().slice(before).includes('\r\n\r\n') && Date.now() < deadline)
      await new Promise((r) => setImmediate(r));
    socket.destroy();
    const seen = upstream.received().slice(before);
    expect(seen).toMatch(/^GET \/v1\/models HTTP\/1\.1\r\n/);
    expect(seen).toContain(`Authorization: Bearer ${REAL_KEY}\r\n`);
  });

  it(
    'refuses the observed attack (TAB before the version, bare LF line ends) with 400 and sends nothing ' + 'upstream',
    async () => {
      // Framed by the old parser as one request with the target `/v1/echo\tHTTP/1.1\nHost:…\nX:y` and no body, then a
      // second request that got the key. A bare-LF-tolerant upstream (Python's http.server) read the first as a POST
      // with Content-Length 150 and echoed the second's head, `Authorization: Bearer <real key>` included, back.
      const smuggled = 'GET /v1/models HTTP/1.1\r\nHost: api.openai.com\r\nAuthorization: Bearer placeholder\r\n\r\n';
      const { answer, upstream: seen } = await attack(
        `POST /v1/echo\tHTTP/1.1\nHost:api.openai.com\nContent-Length:150\nX:y HTTP/1.1\r\nHost: ` +
          `api.openai.com\r\n\r\n${smuggled}`,
      );
      expectProxy400(answer);
      expect(seen).toBe('');
    },
  );

  it('refuses heads a lenient upstream could frame differently with 400, sending nothing upstream', async () => {
    const next = 'GET /v1/models HTTP/1.1\r\nHost: api.openai.com\r\n\r\n';
    for (const head of [
      'POST /v1/echo HTTP/1.1\r\nHost: api.openai.com\r\nContent-Length: 5\rX: y\r\n\r\n',
      'POST /v1/echo HTTP/1.1\r\nHost: api.openai.com\r\nX: a\x00\r\nContent-Length: 5\r\n\r\n',
      'POST /v1/echo HTTP/1.1\r\nHost: api.openai.com\r\nTransfer-Encoding: gzip, chunked\r\n\r\n',
      'POST /v1/echo HTTP/1.1\r\nHost: api.openai.com\r\nTransfer-Encoding: \x0bchunked\r\n\r\n',
      'POST /v1/echo HTTP/1.0\r\nHost: api.openai.com\r\nTransfer-Encoding: chunked\r\n\r\n',
      'POST /v1/echo HTTP/1.1\r\nHost: api.openai.com\r\nContent-Length: +5\r\n\r\n',
      'GET /v1/models\x0b HTTP/1.1\r\nHost: api.openai.com\r\n\r\n',
    ]) {
      const { answer, upstream: seen } = await attack(`${head}0\r\n\r\n${next}`);
      expectProxy400(answer);
      expect(seen, JSON.stringify(head)).toBe('');
    }
  });

  it(
    'cuts a chunked body at a bare LF in its trailers: the request hidden behind it never reaches the ' + 'upstream',
    async () => {
      const { answer, upstream: seen } = await attack(
        'POST /v1/echo HTTP/1.1\r\nHost: api.openai.com\r\nTransfer-Encoding: chunked\r\n\r\n' +
          '0\r\nX: y\nGET /smuggled HTTP/1.1\r\nHost: api.openai.com\r\n\r\n',
      );
      // The head may already be on its way upstream (no 400 can follow a request under way); the proxy hangs up.
      expect(answer).not.toContain(REAL_KEY);
      expect(seen).not.toContain('/smuggled');
    },
  );

  it('answers 431 to a head over 64 KiB even when it arrives whole, sending nothing upstream', async () => {
    const head = `GET /v1/models HTTP/1.1\r\nHost: api.openai.com\r\nX-Pad: ${'a'.repeat(64 * 1024)}\r\n\r\n`;
    const { answer, upstream: seen } = await attack(head);
    expect(answer).toMatch(/^HTTP\/1\.1 431 /);
    expect(answer).toMatch(/x-authsome-error: 1/i);
    expect(seen).toBe('');
  });

  it('refuses an agent that piles up more than 1 MiB behind an unanswered upgrade request', async () => {
    const upgrade =
      'GET /v1/realtime HTTP/1.1\r\nHost: api.openai.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
      'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';
    // The upstream never answers, so the proxy holds what follows; it must hang up rather than buffer it all. The head
    // goes first and the rest once the upstream has it: cut before its upstream connection is up, the proxy would
    // drop the head too, and the test would say nothing about what follows it.
    const before = upstream.received().length;
    const socket = await open();
    socket.write(upgrade);
    const deadline = Date.now() + 5000;
    while (!upstream.received().slice(before).endsWith('\r\n\r\n') && Date.now() < deadline)
      await new Promise((r) => setImmediate(r));
    socket.write(Buffer.alloc(4 * 1024 * 1024, 0x61));
    await readUntil(socket, () => false);
    await upstream.settle();
    const seen = upstream.received().slice(before);
    expect(seen).toMatch(/^GET \/v1\/realtime HTTP\/1\.1\r\n/);
    expect(seen.endsWith('\r\n\r\n')).toBe(true);
  });

  it('keeps the agent connection open after a well-formed response from the scripted upstream', async () => {
    const socket = await open();
    socket.write('GET /well-formed HTTP/1.1\r\nHost: api.openai.com\r\n\r\n');
    const ok = (await readUntil(socket, (b) => b.toString('latin1').endsWith('\r\n\r\nok'))).toString('latin1');
    expect(ok).toBe('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    expect(socket.destroyed || socket.readableEnded).toBe(false);
    socket.destroy();
  });

  it.each(['/bare-lf', '/nul-header', '/status-999', '/trailer-bare-lf'])(
    'hangs up on an upstream whose response to %s is malformed',
    async (path) => {
      const agent = await open();
      agent.write(`GET ${path} HTTP/1.1\r\nHost: api.openai.com\r\n\r\n`);
      // The bytes already relayed arrive; then the proxy, unable to tell where this response ends, closes.
      await readUntil(agent, () => false);
      expect(agent.destroyed || agent.readableEnded).toBe(true);
    },
  );
});
