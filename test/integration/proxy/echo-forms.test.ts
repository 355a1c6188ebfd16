// Attacks on the key scrubber by a hostile agent: it asks a provider endpoint that echoes the credential for an
// answer in a form the scrubber would not read (a compressed WebSocket frame, a trailer, a JSON escape).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  openAgentThroughProxy,
  openTlsThroughProxy,
  readUntil,
  REAL_KEY,
  startHarness,
  type Harness,
} from './harness.js';

/** A key with the characters JSON encoders may escape ('/' as `\/` in PHP and Java encoders). */
const SLASHED_KEY = 'sk-test/REALKEY/with+slashes/0123456789abcdef';

/** Debug endpoints of a careless provider, each echoing the request's Authorization in another place. */
function answerEcho(req: IncomingMessage, res: ServerResponse): boolean {
  const auth = req.headers.authorization ?? '';
  switch (req.url) {
    case '/v1/echo-trailer':
      res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-debug-authorization' });
      res.write('see the trailer\n');
      res.addTrailers({ 'x-debug-authorization': auth });
      res.end();
      return true;
    case '/v1/echo-json-slashes': {
      // PHP's json_encode escapes every '/'.
      const body = JSON.stringify({ authorization: auth }).replace(/\//g, '\\/');
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return true;
    }
    case '/v1/echo-location':
      res.writeHead(302, { location: `https://example.com/cb?auth=${encodeURIComponent(auth)}`, 'content-length': 0 });
      res.end();
      return true;
    default:
      return false;
  }
}

describe('an echoed credential never reaches the agent in another form', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ upstreamHandler: (req, res) => answerEcho(req, res) });
    h.secrets.set('openai:default', REAL_KEY);
    h.secrets.set('openai:slashed', SLASHED_KEY);
  });
  afterAll(async () => h?.close());

  const openaiScope = (connection = 'default') => [{ provider: 'openai', connection, definition: h.openai }];

  /** One raw GET through the proxy; everything the agent received until the answer ends (`complete`). */
  const fetchRaw = async (path: string, complete: (text: string) => boolean, connection = 'default') => {
    const session = h.createSession(openaiScope(connection));
    const socket = await openTlsThroughProxy(h.proxy.port, session.token, 'api.openai.com:443', {
      servername: 'api.openai.com',
      ca: h.ca.certPem,
    });
    socket.write(`GET ${path} HTTP/1.1\r\nHost: api.openai.com\r\n\r\n`);
    const received = await readUntil(socket, (bytes) => complete(bytes.toString('latin1')));
    socket.destroy();
    return received.toString('latin1');
  };
  const headEnded = (text: string) => text.includes('\r\n\r\n');

  it('a WebSocket that would compress its echo (permessage-deflate) is sent uncompressed and scrubbed', async () => {
    const session = h.createSession(openaiScope());
    const agent = await openAgentThroughProxy(h, session);
    // ws offers permessage-deflate and inflates what comes back: the agent reads what the server meant to send.
    const ws = new WebSocket('wss://api.openai.com/v1/echo-auth-ws', { agent, perMessageDeflate: true });
    const message = await new Promise<string>((resolve, reject) => {
      ws.once('message', (data) => resolve(data.toString()));
      ws.once('error', reject);
    });
    ws.close();
    const upgrade = h.upstream.requests.filter((r) => r.upgrade).at(-1)!;
    expect(upgrade.headers.authorization).toBe(`Bearer ${REAL_KEY}`);
    expect(upgrade.headers['sec-websocket-extensions']).toBeUndefined();
    expect(message).toContain('authsome-scrubbed-');
    expect(message).not.toContain(REAL_KEY);
  });

  it('a trailer of a chunked answer echoing the key is scrubbed', async () => {
    const text = await fetchRaw('/v1/echo-trailer', (t) => /\r\n0\r\n[\s\S]*\r\n\r\n$/.test(t));
    expect(text).toMatch(/x-debug-authorization: Bearer authsome-scrubbed-/i);
    expect(text).not.toContain(REAL_KEY);
  });

  it("a JSON echo that escapes the key's slashes (\\/) is scrubbed", async () => {
    const text = await fetchRaw('/v1/echo-json-slashes', (t) => t.endsWith('}'), 'slashed');
    expect(text).not.toContain(SLASHED_KEY.replace(/\//g, '\\/'));
    expect(text).not.toContain('REALKEY');
    expect(text).toContain('authsome-scrubbed-');
  });

  it('the key in the Location of a redirect is scrubbed, as it is and URL-encoded', async () => {
    const text = await fetchRaw('/v1/echo-location', headEnded);
    expect(text).toMatch(/^HTTP\/1\.1 302/);
    expect(text).not.toContain(REAL_KEY);
    expect(text).toContain('authsome-scrubbed-');
  });
});
