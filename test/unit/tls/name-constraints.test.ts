// A CA with name constraints vouches only for its run's hosts: Node's own TLS verification refuses a certificate it
// signed for any other name, or for an IP address the run does not name.
import { generateKeyPairSync, createPublicKey } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { buildAltName, buildCertificate } from '../../../src/tls/certificates.js';
import {
  buildNameConstraintsExtension,
  collectConstraintNames,
  findFixedSuffix,
} from '../../../src/tls/name-constraints.js';

const DAY = 86_400_000;

function makeCa(names: { dns: string[]; ips: string[] }) {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spkiDer = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const name = { commonName: 'authsome run CA' };
  const cert = buildCertificate({
    subject: name,
    issuer: name,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + DAY),
    spkiDer,
    signer: privateKey,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
      buildNameConstraintsExtension(names),
    ],
  });
  return { privateKey, pem: cert.pem };
}

function makeLeaf(ca: ReturnType<typeof makeCa>, host: string) {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spkiDer = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const cert = buildCertificate({
    // OpenSSL checks a host-like common name against the DNS constraints too: an IP goes in the SAN only.
    subject: { commonName: /^[\d.]+$/.test(host) ? 'authsome leaf' : host },
    issuer: { commonName: 'authsome run CA' },
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + DAY),
    spkiDer,
    signer: ca.privateKey,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [buildAltName(host)] },
    ],
  });
  return { key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, cert: cert.pem };
}

/**
 * A real TLS handshake against a leaf for `host`, trusting only the CA: undefined when verified, else the error code.
 */
async function handshake(ca: ReturnType<typeof makeCa>, host: string): Promise<string | undefined> {
  const leaf = makeLeaf(ca, host);
  const server = tls.createServer({ key: leaf.key, cert: leaf.cert }, (s) => s.end());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    return await new Promise<string | undefined>((resolve) => {
      const socket = tls.connect({
        host: '127.0.0.1',
        port: (server.address() as AddressInfo).port,
        servername: /^[\d.]+$/.test(host) ? undefined : host,
        ca: [ca.pem],
        checkServerIdentity: () => undefined,
      });
      socket.once('secureConnect', () => {
        socket.destroy();
        resolve(undefined);
      });
      // Node reports these with the code UNSPECIFIED and OpenSSL's reason as the message.
      socket.once('error', (err: NodeJS.ErrnoException) => resolve(`${err.code}: ${err.message}`));
    });
  } finally {
    server.close();
  }
}

describe('name-constrained CA', () => {
  const ca = makeCa({ dns: ['api.openai.com', 'huggingface.co'], ips: [] });

  it('vouches for its hosts and their subdomains', async () => {
    expect(await handshake(ca, 'api.openai.com')).toBeUndefined();
    expect(await handshake(ca, 'api-inference.huggingface.co')).toBeUndefined();
  });

  it('is refused by the client for any other name, and for IP addresses', async () => {
    for (const host of ['evil.example', 'api.openai.com.evil.example', 'openai.com', '127.0.0.1']) {
      expect(await handshake(ca, host), host).toMatch(/PERMITTED|EXCLUDED|SUBTREE|name constraint/i);
    }
  });

  it('a run that names an IP may vouch for that IP only', async () => {
    const ipCa = makeCa({ dns: ['localhost'], ips: ['127.0.0.1'] });
    expect(await handshake(ipCa, '127.0.0.1')).toBeUndefined();
    expect(await handshake(ipCa, '127.0.0.2')).toMatch(/PERMITTED|EXCLUDED|SUBTREE|name constraint/i);
  });
});

describe('constraint names from routes', () => {
  it.each([
    ['.*\\.huggingface\\.co', 'huggingface.co'],
    ['api\\.(eu|us)\\.example\\.com', 'example.com'],
    ['^[a-z]+-api\\.example\\.com$', 'example.com'],
    ['api\\.example\\.com', 'api.example.com'],
    ['.*', undefined],
    ['(foo|bar)', undefined],
    ['api\\.example\\.(com|net)', undefined],
  ])('%s → %s', (pattern, suffix) => {
    expect(findFixedSuffix(pattern)).toBe(suffix);
  });

  it('exact hosts, IPs and regex suffixes; a regex without one is reported', () => {
    expect(
      collectConstraintNames([
        { kind: 'host', host: 'API.OpenAI.com' },
        { kind: 'host', host: '[::1]' },
        { kind: 'regex', source: 'regex:.*\\.huggingface\\.co' },
        { kind: 'regex', source: 'regex:.*' },
      ]),
    ).toEqual({ dns: ['api.openai.com', 'huggingface.co'], ips: ['::1'], unconstrained: ['regex:.*'] });
  });
});
