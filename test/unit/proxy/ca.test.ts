// The authsome CA: stored root reused across starts, per-host leaves minted once and cached,
// one leaf key per process, validity windows, and a chain strict verifiers accept.
import { spawn } from 'node:child_process';
import { createPrivateKey, createPublicKey, randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import net, { type AddressInfo } from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildCaBundle,
  createCertificateAuthority,
  createRunAuthority,
  createRunAuthorityForRoutes,
  type CaKeyStore,
  type CertificateAuthority,
  type LeafIssuer,
} from '../../../src/proxy/ca.js';
import { buildCertificate, buildKeyIdentifier } from '../../../src/tls/certificates.js';
import { makeTempDir, type TempDir } from '../../helpers/temp-dir.js';

function memoryKeyStore(): CaKeyStore & { saves: number; pem?: string } {
  const store = {
    saves: 0,
    pem: undefined as string | undefined,
    load: async () => store.pem,
    save: async (pem: string) => {
      store.saves++;
      store.pem = pem;
    },
  };
  return store;
}

/** Serves getLeafContext over real TLS and returns the chain a client receives. */
async function fetchChain(
  ca: LeafIssuer & { certPem: string },
  host: string,
  servername?: 'none',
): Promise<tls.DetailedPeerCertificate> {
  // Like the proxy: the context is chosen from what the client asked for, not from SNI (IP targets have none).
  const server = net.createServer((raw) => {
    const s = new tls.TLSSocket(raw, { isServer: true, secureContext: ca.getLeafContext(host) });
    s.on('error', () => s.destroy());
    s.on('secure', () => s.end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    return await new Promise((resolve, reject) => {
      const socket = tls.connect({
        port: (server.address() as AddressInfo).port,
        host: '127.0.0.1',
        // Without SNI the identity is checked against the host the leaf was asked for, not the address dialled.
        ...(servername === undefined
          ? { servername: host }
          : { checkServerIdentity: (_: string, cert: tls.PeerCertificate) => tls.checkServerIdentity(host, cert) }),
        ca: ca.certPem,
      });
      socket.once('secureConnect', () => {
        resolve(socket.getPeerCertificate(true));
        socket.destroy();
      });
      socket.once('error', reject);
    });
  } finally {
    server.close();
  }
}

describe('certificate authority', () => {
  let dir: TempDir;
  let store: ReturnType<typeof memoryKeyStore>;
  let ca: CertificateAuthority;
  let certPath: string;

  beforeAll(async () => {
    dir = await makeTempDir('ca');
    store = memoryKeyStore();
    certPath = join(dir.path, 'ca', 'ca.pem');
    ca = await createCertificateAuthority({ keyStore: store, certPath });
  });
  afterAll(async () => dir?.cleanup());

  it('makes an RSA-2048 CA on first use: key to the key store, certificate to certPath (0600, dir 0700)', () => {
    expect(store.saves).toBe(1);
    expect(store.pem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    const cert = new X509Certificate(ca.certPem);
    expect(cert.ca).toBe(true);
    expect(cert.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(readFileSync(certPath, 'utf8')).toBe(ca.certPem);
    expect(statSync(certPath).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir.path, 'ca')).mode & 0o777).toBe(0o700);
    expect(ca.certPem).not.toContain('PRIVATE KEY');
  });

  it('reuses the stored key and certificate on the next start', async () => {
    const again = await createCertificateAuthority({ keyStore: store, certPath });
    expect(store.saves).toBe(1);
    expect(again.certPem).toBe(ca.certPem);
  });

  it('re-issues the certificate from the stored key when the file is missing or belongs to another key', async () => {
    await rm(certPath);
    const reissued = await createCertificateAuthority({ keyStore: store, certPath });
    expect(store.saves).toBe(1);
    expect(reissued.certPem).not.toBe(ca.certPem);
    const pub = (pem: string) => createPublicKey(pem).export({ type: 'spki', format: 'der' }).toString('hex');
    expect(pub(reissued.certPem)).toBe(pub(ca.certPem));
    expect(readFileSync(certPath, 'utf8')).toBe(reissued.certPem);
    // Leaves of the old and the new certificate chain to the same key: clients that trust either keep working.
    await fetchChain(reissued, 'api.openai.com');

    const foreign = await createCertificateAuthority({
      keyStore: memoryKeyStore(),
      certPath: join(dir.path, 'other', 'ca.pem'),
    });
    await writeFile(certPath, foreign.certPem);
    const fixed = await createCertificateAuthority({ keyStore: store, certPath });
    expect(pub(fixed.certPem)).toBe(pub(ca.certPem));
    expect(readFileSync(certPath, 'utf8')).toBe(fixed.certPem);
  });

  it('keeps a stored root only when its key id and common name are the ones this code issues', async () => {
    const key = createPrivateKey(store.pem!);
    const spkiDer = createPublicKey(key).export({ type: 'spki', format: 'der' });
    const rootFor = (keyIdentifier: Buffer, commonName: string) =>
      buildCertificate({
        subject: { organization: 'authsome', commonName },
        issuer: { organization: 'authsome', commonName },
        notBefore: new Date(Date.now() - 86_400_000),
        notAfter: new Date(Date.now() + 3 * 365 * 86_400_000),
        spkiDer,
        extensions: [
          { name: 'basicConstraints', cA: true, critical: true },
          { name: 'keyUsage', critical: true, keyCertSign: true, cRLSign: true, digitalSignature: true },
          { name: 'subjectKeyIdentifier', keyIdentifier },
        ],
        signer: key,
      }).pem;
    const ours = rootFor(buildKeyIdentifier(spkiDer), 'authsome local CA');
    await writeFile(certPath, ours);
    expect((await createCertificateAuthority({ keyStore: store, certPath })).certPem).toBe(ours);
    // The same key, but a key id the issued certificates would not name (a SHA-1 one, say), or another name.
    for (const stranger of [
      rootFor(randomBytes(20), 'authsome local CA'),
      rootFor(buildKeyIdentifier(spkiDer), 'someone else'),
    ]) {
      await writeFile(certPath, stranger);
      const again = await createCertificateAuthority({ keyStore: store, certPath });
      expect(again.certPem).not.toBe(stranger);
      expect(readFileSync(certPath, 'utf8')).toBe(again.certPem);
      await fetchChain(again, 'api.openai.com');
    }
    expect(store.saves).toBe(1);
  });

  it('mints a leaf once per host and caches the TLS context (case-insensitive)', () => {
    const minted = ca.stats.leavesMinted;
    const first = ca.getLeafContext('cache.example.test');
    for (let i = 0; i < 50; i++)
      expect(ca.getLeafContext(i % 2 ? 'CACHE.example.test' : 'cache.example.test')).toBe(first);
    expect(ca.stats.leavesMinted).toBe(minted + 1);
    for (let i = 0; i < 20; i++) ca.getLeafContext(`host${i}.example.test`);
    expect(ca.stats.leavesMinted).toBe(minted + 21);
  });

  it('generates one leaf key per process, however many leaves and CA instances', async () => {
    const keys = ca.stats.leafKeysGenerated;
    expect(keys).toBe(1);
    const other = await createCertificateAuthority({
      keyStore: memoryKeyStore(),
      certPath: join(dir.path, 'third', 'ca.pem'),
    });
    for (let i = 0; i < 10; i++) other.getLeafContext(`k${i}.test`);
    expect(other.stats.leafKeysGenerated).toBe(1);
    expect(ca.stats.leafKeysGenerated).toBe(1);
  });

  it('issues leaves valid from now − 1 day to at most now + 30 days, through an issuer under the root', async () => {
    const chain = await fetchChain(ca, 'api.openai.com');
    const now = Date.now();
    const day = 86_400_000;
    expect(chain.subject.CN).toBe('api.openai.com');
    expect(chain.subjectaltname).toBe('DNS:api.openai.com');
    expect(Math.abs(Date.parse(chain.valid_from) - (now - day))).toBeLessThan(120_000);
    expect(Date.parse(chain.valid_to)).toBeLessThanOrEqual(now + 30 * day);
    const leaf = new X509Certificate(chain.raw);
    const issuer = new X509Certificate(chain.issuerCertificate.raw);
    const root = new X509Certificate(ca.certPem);
    expect(leaf.ca).toBe(false);
    expect(leaf.checkIssued(issuer)).toBe(true);
    expect(leaf.verify(issuer.publicKey)).toBe(true);
    expect(issuer.ca).toBe(true);
    expect(issuer.verify(root.publicKey)).toBe(true);
    expect(Date.parse(issuer.validTo)).toBeGreaterThanOrEqual(Date.parse(leaf.validTo));
  });

  it('puts IP addresses in an iPAddress SAN', async () => {
    const chain = await fetchChain(ca, '127.0.0.1', 'none');
    expect(chain.subjectaltname).toBe('IP Address:127.0.0.1');
  });

  it('passes a strict verifier (Python ssl with VERIFY_X509_STRICT, the default from Python 3.13)', async () => {
    const result = await verifyStrictly(ca, ca.certPath);
    expect(result.out).toMatch(/^verified TLSv1\.3/);
    expect(result.code).toBe(0);
  });

  it('builds the combined bundle: system roots plus the authsome CA', () => {
    const bundle = buildCaBundle(ca.certPem);
    expect(bundle.endsWith(`${ca.certPem.trim()}\n`)).toBe(true);
    expect(bundle.split('BEGIN CERTIFICATE').length - 1).toBe(tls.rootCertificates.length + 1);
  });
});

/**
 * A handshake from Python's ssl with VERIFY_X509_STRICT (the default from Python 3.13) to a server whose leaves
 * `issuer` makes, trusting only `caFile`, for strict.example.test.
 */
async function verifyStrictly(issuer: LeafIssuer, caFile: string): Promise<{ code: number | null; out: string }> {
  const server = tls.createServer({ SNICallback: (n, cb) => cb(null, issuer.getLeafContext(n)) }, (s) => s.end('ok'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const script = [
    'import ssl, socket, sys',
    `ctx = ssl.create_default_context(cafile=${JSON.stringify(caFile)})`,
    'ctx.verify_flags |= ssl.VERIFY_X509_STRICT',
    `s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", ${port})), server_hostname="strict.example.test")`,
    'print("verified", s.version())',
  ].join('\n');
  try {
    return await new Promise((resolve, reject) => {
      const child = spawn('python3', ['-c', script]);
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d));
      child.stderr.on('data', (d: Buffer) => (out += d));
      child.once('error', (err) => reject(new Error(`python3 is required for this test: ${err.message}`)));
      child.once('close', (code) => resolve({ code, out }));
    });
  } finally {
    server.close();
  }
}

/**
 * A real handshake: the issuer's leaf for `host`, a client trusting only `trusted`; undefined when verified, else why
 * not.
 */
async function verifyLeaf(issuer: LeafIssuer, host: string, trusted: string): Promise<string | undefined> {
  return fetchChain(
    { ...issuer, certPem: trusted, getLeafContext: (h) => issuer.getLeafContext(h) },
    host,
    net.isIP(host) ? 'none' : undefined,
  ).then(
    () => undefined,
    (err: Error) => err.message,
  );
}

describe('run authority', () => {
  it(
    "is an EC P-256 CA of its own per run, constrained to the run's names, whose leaves verify for those " + 'names',
    async () => {
      const run = await createRunAuthority({ dns: ['api.openai.com', 'huggingface.co'], ips: [] });
      const cert = new X509Certificate(run.certPem);
      expect(cert.ca).toBe(true);
      expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
      expect(run.constrained).toBe(true);
      expect(run.certPem).not.toContain('PRIVATE KEY');
      expect(await verifyLeaf(run, 'api.openai.com', run.certPem)).toBeUndefined();
      expect(await verifyLeaf(run, 'router.huggingface.co', run.certPem)).toBeUndefined();
      const other = await createRunAuthority({ dns: ['api.openai.com'], ips: [] });
      expect(other.certPem).not.toBe(run.certPem);
    },
  );

  it('outlives a run left going for months: the CA and its leaves are valid for 397 days', async () => {
    const now = Date.now();
    const run = await createRunAuthority({ dns: ['api.openai.com'], ips: [] });
    const day = 86_400_000;
    const ca = new X509Certificate(run.certPem);
    expect(Date.parse(ca.validTo)).toBeGreaterThanOrEqual(now + 396 * day);
    expect(Date.parse(ca.validTo)).toBeLessThanOrEqual(now + 398 * day);
    const leaf = await fetchChain(run, 'api.openai.com');
    expect(Date.parse(leaf.valid_to)).toBe(Date.parse(ca.validTo));
  });

  it('is refused for any name outside its scope, and for IP addresses, even when asked to sign one', async () => {
    const run = await createRunAuthority({ dns: ['api.openai.com'], ips: [] });
    for (const host of ['evil.example', 'api.openai.com.evil.example', 'openai.com', '127.0.0.1']) {
      expect(await verifyLeaf(run, host, run.certPem), host).toMatch(/permitted|excluded|subtree|name constraint/i);
    }
  });

  it("a leaf of one run is not trusted by another run's children", async () => {
    const a = await createRunAuthority({ dns: ['api.openai.com'], ips: [] });
    const b = await createRunAuthority({ dns: ['api.openai.com'], ips: [] });
    expect(await verifyLeaf(a, 'api.openai.com', b.certPem)).toMatch(/issuer|self.signed|verify/i);
  });

  it('a run that names an IP vouches for that IP, with no IP in the common name', async () => {
    const run = await createRunAuthority({ dns: ['localhost'], ips: ['127.0.0.1'] });
    expect(await verifyLeaf(run, '127.0.0.1', run.certPem)).toBeUndefined();
    const chain = await fetchChain(run, '127.0.0.1', 'none');
    expect(chain.subject.CN).toBeUndefined();
  });

  it('without names it carries no constraint (a route without a fixed suffix)', async () => {
    const run = await createRunAuthority(undefined);
    expect(run.constrained).toBe(false);
    expect(await verifyLeaf(run, 'anything.example', run.certPem)).toBeUndefined();
  });

  it(
    'from routes: exact hosts and regex suffixes are permitted, an address spelled in a regex as an IP, ' +
      'nothing else',
    async () => {
      const { authority, unconstrained } = await createRunAuthorityForRoutes([
        { kind: 'host', host: 'api.openai.com' },
        { kind: 'regex', source: 'regex:.*\\.linear\\.app' },
        { kind: 'regex', source: 'regex:10\\.0\\.0\\.1' },
      ]);
      expect(unconstrained).toEqual([]);
      for (const host of ['api.openai.com', 'api.linear.app', '10.0.0.1'])
        expect(await verifyLeaf(authority, host, authority.certPem), host).toBeUndefined();
      for (const host of ['evil.example', '10.0.0.2'])
        expect(await verifyLeaf(authority, host, authority.certPem), host).toMatch(
          /permitted|excluded|subtree|name constraint/i,
        );
    },
  );

  it('from no routes at all: vouches for no name (an empty permitted list would allow every one)', async () => {
    const { authority } = await createRunAuthorityForRoutes([]);
    expect(authority.constrained).toBe(true);
    expect(await verifyLeaf(authority, 'api.openai.com', authority.certPem)).toMatch(
      /permitted|excluded|subtree|name constraint/i,
    );
  });

  it('from a regex without a fixed suffix: unconstrained, and that route is returned', async () => {
    const { authority, unconstrained } = await createRunAuthorityForRoutes([
      { kind: 'host', host: 'api.openai.com' },
      { kind: 'regex', source: 'regex:.*googleapis.*' },
    ]);
    expect(unconstrained).toEqual(['regex:.*googleapis.*']);
    expect(authority.constrained).toBe(false);
  });

  it('reuses the process-wide leaf key and caches its leaves', async () => {
    const dir = await makeTempDir('runca');
    const stable = await createCertificateAuthority({ keyStore: memoryKeyStore(), certPath: join(dir.path, 'ca.pem') });
    const keysBefore = stable.stats.leafKeysGenerated;
    const run = await createRunAuthority({ dns: ['api.openai.com'], ips: [] });
    expect(run.getLeafContext('API.openai.com')).toBe(run.getLeafContext('api.openai.com'));
    const leafKey = async (issuer: LeafIssuer & { certPem: string }) =>
      new X509Certificate((await fetchChain(issuer, 'api.openai.com')).raw).publicKey
        .export({ type: 'spki', format: 'der' })
        .toString('hex');
    expect(await leafKey(run)).toBe(await leafKey(stable));
    expect(stable.stats.leafKeysGenerated).toBe(keysBefore);
    await dir.cleanup();
  });

  it('passes a strict verifier (Python ssl with VERIFY_X509_STRICT)', async () => {
    const run = await createRunAuthority({ dns: ['strict.example.test'], ips: [] });
    const dir = await makeTempDir('runca');
    const caFile = join(dir.path, 'run-ca.pem');
    await writeFile(caFile, run.certPem);
    const result = await verifyStrictly(run, caFile);
    await dir.cleanup();
    expect(result.out).toMatch(/^verified TLSv1\.3/);
    expect(result.code).toBe(0);
  });
});
