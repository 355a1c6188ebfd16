// Attacks on the CONNECT authority by a hostile agent: spellings that a suffix regex route matches while the proxy
// would connect to, or check the certificate of, another name than a host in the provider's domain.
import type tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  exchange,
  loadBundledDefinition,
  openTlsThroughProxy,
  REAL_KEY,
  startHarness,
  type Harness,
} from './harness.js';

/**
 * An IPv6 literal with a zone ID that ends like the provider's domain: Node takes it for an IP address, so the
 * upstream certificate would be checked against the address (an attacker can get a public certificate for an IP it
 * owns), while linear's `regex:.*\.linear\.app` matches the text.
 */
const ZONED = '::1%evil.linear.app';
/** CONNECT authorities that are no host name, each matched by linear's route as text. */
const SPELLINGS = [
  ['zoned IPv6 literal', `[${ZONED}]:443`, ZONED],
  ['user info', 'x@api.linear.app:443', 'x@api.linear.app'],
  ['a slash', 'evil.example/.linear.app:443', 'evil.example/.linear.app'],
  ['a query', 'evil.example?.linear.app:443', 'evil.example?.linear.app'],
  ['percent-encoding', 'evil%2eexample.linear.app:443', 'evil%2eexample.linear.app'],
] as const;
const UPSTREAM_ISSUER = 'authsome test upstream CA';

describe('the CONNECT authority cannot steer the credential to another server', () => {
  let h: Harness;

  beforeAll(async () => {
    // The recording upstream stands in for the attacker's server: every spelling resolves to it, and its
    // certificate is valid for ::1.
    h = await startHarness({
      upstreamHosts: ['::1', 'api.linear.app'],
      upstreamAliases: SPELLINGS.map(([, , host]) => host),
    });
    h.secrets.set('linear:default', REAL_KEY);
    h.secrets.set('openai:default', REAL_KEY);
  });
  afterAll(async () => h?.close());

  const keysSeen = (from: number) =>
    h.upstream.requests.slice(from).filter((r) => JSON.stringify(r.headers).includes(REAL_KEY));

  /** CONNECT, then TLS without checking the certificate (a hostile agent does not care) and one request. */
  const attack = async (authority: string, token: string, host = 'api.linear.app') => {
    const socket: tls.TLSSocket = await openTlsThroughProxy(h.proxy.port, token, authority, {
      rejectUnauthorized: false,
    });
    const issuer = socket.getPeerCertificate().issuer.CN;
    const response = await exchange(socket, `GET /graphql HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
    socket.destroy();
    return { issuer, status: response.status };
  };

  it.each(SPELLINGS)('an authority with %s is tunnelled blind: no credential', async (_, authority) => {
    const session = h.createSession([
      { provider: 'linear', connection: 'default', definition: loadBundledDefinition('linear') },
    ]);
    const before = h.upstream.requests.length;
    const { issuer, status } = await attack(authority, session.token);
    // The agent's TLS ended at the server itself, not at the proxy: nothing was intercepted, nothing injected.
    expect(issuer).toBe(UPSTREAM_ISSUER);
    expect(status).toBe(200);
    expect(h.upstream.requests.length).toBe(before + 1);
    expect(keysSeen(before)).toEqual([]);
  });

  it('an upper-case provider name is intercepted and the key goes to that name, verified as it', async () => {
    const session = h.createSession([{ provider: 'openai', connection: 'default', definition: h.openai }]);
    const before = h.upstream.requests.length;
    const { issuer, status } = await attack('API.OPENAI.COM:443', session.token, 'api.openai.com');
    expect(issuer).not.toBe(UPSTREAM_ISSUER);
    expect(status).toBe(200);
    expect(keysSeen(before)).toHaveLength(1);
  });
});
