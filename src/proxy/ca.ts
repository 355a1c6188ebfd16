// The authsome certificate authority (SPEC §7): a stored RSA-2048 root, and per-host leaf certificates with
// cached TLS contexts for interception. Private keys stay in memory and in the caller's keyStore, never on disk here.
import { generateKeyPair, createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import forge from 'node-forge';
import { ensurePrivateDir, writeFileAtomic } from '../atomic-file.js';
import { errors } from '../errors.js';
import { buildAltName, buildCertificate, buildKeyIdentifier, type NameSpec } from '../tls/certificates.js';

export interface CaKeyStore {
  load(): Promise<string | undefined>;
  save(pem: string): Promise<void>;
}

export interface CertificateAuthority {
  /** The root certificate (what clients trust). */
  certPem: string;
  certPath: string;
  /** A TLS context presenting a leaf for `host` (plus its issuer), minted once per host and cached. */
  getLeafContext(host: string): tls.SecureContext;
  /** Counters for tests and diagnostics; timings belong in the bench. */
  readonly stats: CaStats;
}

export interface CaStats {
  leafKeysGenerated: number;
  issuersMinted: number;
  leavesMinted: number;
  cachedLeaves: number;
}

interface KeyPair {
  privateKey: KeyObject;
  /** PEM of the private key, for tls.createSecureContext (it takes no KeyObject). */
  privatePem: string;
  spkiDer: Buffer;
}

interface Issuer {
  pem: string;
  keyId: Buffer;
  notAfter: number;
  /** Re-issued this long before it expires, so no leaf ever outlives its issuer. */
  renewAt: number;
}

const generateKeyPairAsync = promisify(generateKeyPair);
const DAY_MS = 24 * 60 * 60 * 1000;
const ROOT_NAME: NameSpec = { organization: 'authsome', commonName: 'authsome local CA' };
const ISSUER_NAME: NameSpec = { organization: 'authsome', commonName: 'authsome leaf issuer' };
const ROOT_VALIDITY_MS = 10 * 365 * DAY_MS;
const ROOT_MIN_REMAINING_MS = 60 * DAY_MS;
const ISSUER_VALIDITY_MS = 90 * DAY_MS;
const LEAF_VALIDITY_MS = 30 * DAY_MS;
/** A cached leaf is re-minted after a week, so the one served always has ≥ 23 days left. */
const LEAF_REUSE_MS = 7 * DAY_MS;
// Each cached context holds an OpenSSL SSL_CTX (~50-75 KB, measured): 64 hosts is ~4 MB and still more hosts than an
// agent talks to; one past the limit costs a mint (about 6 ms), not a failure.
const LEAF_CACHE_LIMIT = 64;
/** X.520 ub-common-name. */
const MAX_COMMON_NAME = 64;

// One leaf key per process (SPEC §7): every leaf certifies the same key, so a new host costs one signature and
// one context, never a key generation. P-256, not RSA: the TLS handshake signs with the leaf key, and on the
// reference machine an RSA-2048 signature costs 0.77 ms against 0.04 ms for ECDSA P-256.
let leafKeyPromise: Promise<KeyPair> | undefined;
let leafKeysGenerated = 0;

export async function createCertificateAuthority(opts: { keyStore: CaKeyStore; certPath: string }): Promise<CertificateAuthority> {
  const root = await loadOrCreateRoot(opts.keyStore, opts.certPath);
  leafKeyPromise ??= generateEcKeyPair(true).catch((err: unknown) => {
    leafKeyPromise = undefined;
    throw err;
  });
  const [leafKey, issuerKey] = await Promise.all([leafKeyPromise, generateEcKeyPair(false)]);
  const stats: CaStats = { leafKeysGenerated: 0, issuersMinted: 0, leavesMinted: 0, cachedLeaves: 0 };
  Object.defineProperty(stats, 'leafKeysGenerated', { get: () => leafKeysGenerated, enumerable: true });
  const leaves = new Map<string, { context: tls.SecureContext; reuseUntil: number }>();
  let issuer = mintIssuer(root, issuerKey);
  stats.issuersMinted++;

  function mintLeaf(host: string, now: number): tls.SecureContext {
    const { pem } = buildCertificate({
      subject: host.length <= MAX_COMMON_NAME ? { commonName: host } : { organization: 'authsome' },
      issuer: ISSUER_NAME,
      notBefore: new Date(now - DAY_MS),
      notAfter: new Date(Math.min(now + LEAF_VALIDITY_MS, issuer.notAfter)),
      spkiDer: leafKey.spkiDer,
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', critical: true, digitalSignature: true },
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames: [buildAltName(host)] },
        { name: 'authorityKeyIdentifier', keyIdentifier: issuer.keyId.toString('binary') },
      ],
      signer: issuerKey.privateKey,
    });
    stats.leavesMinted++;
    // The chain goes with the leaf: clients trust only the root.
    return tls.createSecureContext({ key: leafKey.privatePem, cert: pem + issuer.pem, minVersion: 'TLSv1.2' });
  }

  return {
    certPem: root.certPem,
    certPath: opts.certPath,
    stats,
    getLeafContext(rawHost) {
      const host = normalizeHost(rawHost);
      const now = Date.now();
      const cached = leaves.get(host);
      if (cached !== undefined && cached.reuseUntil > now) return cached.context;
      if (now >= issuer.renewAt) {
        issuer = mintIssuer(root, issuerKey);
        stats.issuersMinted++;
        leaves.clear();
      }
      const context = mintLeaf(host, now);
      leaves.delete(host);
      if (leaves.size >= LEAF_CACHE_LIMIT) leaves.delete(leaves.keys().next().value!);
      leaves.set(host, { context, reuseUntil: now + LEAF_REUSE_MS });
      stats.cachedLeaves = leaves.size;
      return context;
    },
  };
}

/** The system roots plus the authsome CA: for SSL_CERT_FILE and friends, which replace the trust store. */
export function buildCaBundle(caPem: string): string {
  const parts = [...tls.rootCertificates, caPem.trim()];
  return `${parts.join('\n')}\n`;
}

interface Root {
  key: KeyObject;
  certPem: string;
  keyId: Buffer;
}

async function loadOrCreateRoot(keyStore: CaKeyStore, certPath: string): Promise<Root> {
  let keyPem = await keyStore.load();
  let key: KeyObject;
  if (keyPem === undefined) {
    ({ privateKey: key } = await generateKeyPairAsync('rsa', { modulusLength: 2048 }));
    keyPem = key.export({ type: 'pkcs8', format: 'pem' }) as string;
    // The key is saved before the certificate exists: a crash in between only costs a re-issue next start.
    await keyStore.save(keyPem);
  } else {
    try {
      key = createPrivateKey(keyPem);
    } catch {
      throw errors.internal('The stored authsome CA key could not be read.');
    }
  }
  const keyId = buildKeyIdentifier(createPublicKey(key).export({ type: 'spki', format: 'der' }));
  const existing = await readUsableRootCert(certPath, key, keyId);
  if (existing !== undefined) return { key, certPem: existing, keyId };
  const now = Date.now();
  const { pem } = buildCertificate({
    subject: ROOT_NAME,
    issuer: ROOT_NAME,
    notBefore: new Date(now - DAY_MS),
    notAfter: new Date(now + ROOT_VALIDITY_MS),
    spkiDer: createPublicKey(key).export({ type: 'spki', format: 'der' }),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', critical: true, keyCertSign: true, cRLSign: true, digitalSignature: true },
      buildKeyIdExtension(keyId),
    ],
    signer: key,
  });
  await ensurePrivateDir(dirname(certPath));
  await writeFileAtomic(certPath, pem);
  return { key, certPem: pem, keyId };
}

/** The stored certificate, if it is ours for this key and still has a while to live; else undefined. */
async function readUsableRootCert(certPath: string, key: KeyObject, keyId: Buffer): Promise<string | undefined> {
  let pem: string;
  try {
    pem = await readFile(certPath, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const cert = new X509Certificate(pem);
    if (!cert.ca || !cert.checkPrivateKey(key)) return undefined;
    if (Date.parse(cert.validTo) - Date.now() < ROOT_MIN_REMAINING_MS) return undefined;
    // Issued certificates name the root by subject and key id: both must be what this code issues.
    const parsed = forge.pki.certificateFromPem(pem);
    const ski = parsed.getExtension('subjectKeyIdentifier') as { subjectKeyIdentifier?: string } | undefined;
    if (ski?.subjectKeyIdentifier !== keyId.toString('hex')) return undefined;
    if (parsed.subject.getField('CN')?.value !== ROOT_NAME.commonName) return undefined;
    return pem;
  } catch {
    return undefined;
  }
}

function mintIssuer(root: Root, issuerKey: KeyPair): Issuer {
  const now = Date.now();
  const notAfter = now + ISSUER_VALIDITY_MS;
  const keyId = buildKeyIdentifier(issuerKey.spkiDer);
  const { pem } = buildCertificate({
    subject: ISSUER_NAME,
    issuer: ROOT_NAME,
    notBefore: new Date(now - DAY_MS),
    notAfter: new Date(notAfter),
    spkiDer: issuerKey.spkiDer,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true, pathLenConstraint: 0 },
      { name: 'keyUsage', critical: true, keyCertSign: true, cRLSign: true, digitalSignature: true },
      buildKeyIdExtension(keyId),
      { name: 'authorityKeyIdentifier', keyIdentifier: root.keyId.toString('binary') },
    ],
    signer: root.key,
  });
  return { pem, keyId, notAfter, renewAt: notAfter - LEAF_VALIDITY_MS - DAY_MS };
}

function buildKeyIdExtension(keyId: Buffer): Record<string, unknown> {
  return {
    name: 'subjectKeyIdentifier',
    value: forge.asn1.create(forge.asn1.Class.UNIVERSAL, forge.asn1.Type.OCTETSTRING, false, keyId.toString('binary')),
  };
}

async function generateEcKeyPair(isLeafKey: boolean): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPairAsync('ec', { namedCurve: 'prime256v1' });
  if (isLeafKey) leafKeysGenerated++;
  return {
    privateKey,
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    spkiDer: publicKey.export({ type: 'spki', format: 'der' }),
  };
}

function normalizeHost(host: string): string {
  const h = host.toLowerCase();
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}
