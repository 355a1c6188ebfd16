// Attacks on the key scrubber by a hostile agent: it asks a provider endpoint that echoes the credential for an
// answer in a form the scrubber would not read (a compressed WebSocket frame, a trailer, a JSON escape).
import https from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { openTlsThroughProxy, REAL_KEY, startHarness, type Harness } from './harness.js';

describe('an echoed credential never reaches the agent in another form', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness();
    h.secrets.set('openai:default', REAL_KEY);
  });
  afterAll(async () => h?.close());

  const openaiScope = () => [{ provider: 'openai', connection: 'default', definition: h.openai }];

  it('a WebSocket that would compress its echo (permessage-deflate) is sent uncompressed and scrubbed', async () => {
    const session = h.createSession(openaiScope());
    const tlsSocket = await openTlsThroughProxy(h.proxy.port, session.token, 'api.openai.com:443', {
      servername: 'api.openai.com',
      ca: h.ca.certPem,
    });
    const agent = new https.Agent();
    agent.createConnection = () => tlsSocket;
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
});
