// The authsome certificate authorities: a stored RSA-2048 root, a name-constrained CA made in memory for each
// run, and per-host leaf certificates with cached TLS contexts. Private keys stay in memory (and, for the stored root,
// in the caller's keyStore), never on disk here.
import { generateKeyPair, createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { dirname } from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { ensurePrivateDir, writeFileAtomic } from '../atomic-file.js';
import { errors } from '../errors.js';
import {
  buildAltName,
  buildCertificate,
  buildKeyIdentifier,
  type Extension,
  type NameSpec,
  OID,
} from '../tls/certificates.js';
import { findCertificateExtension, octetString } from '../tls/der.js';
import { buildNameConstraintsExtension, collectConstraintNames } from '../tls/name-constraints.js';

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

/** What the proxy needs to terminate TLS for a host: the stable CA and a run's own CA both provide it. */
export interface LeafIssuer {
  getLeafContext(host: string): tls.SecureContext;
}

/** A run's own CA: made for one run, its key only in this process's memory, gone with the run. */
export interface RunAuthority extends LeafIssuer {
  /** The run CA's certificate (what the run's children trust, and nothing else of authsome's). */
  certPem: string;
  /** Whether the certificate carries name constraints (false when a route has no fixed suffix to permit). */
  constrained: boolean;
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
// A run talks to a handful of API hosts: a small cache per run keeps a long agent session from minting on every
// CONNECT.
const RUN_LEAF_CACHE_LIMIT = 16;
const RUN_NAME: NameSpec = { organization: 'authsome', commonName: 'authsome run CA' };
// Outlives any run a person starts (an agent left running for months included: its children read the CA once, at
// start, so it cannot be renewed under them); a leaf never outlives it. The key dies with the run, so the length
// costs nothing; 397 days is the longest that clients which apply the public-web limit to every leaf accept.
const RUN_CA_VALIDITY_MS = 397 * DAY_MS;
/** X.520 ub-common-name. */
const MAX_COMMON_NAME = 64;

// One leaf key per process: every leaf certifies the same key, so a new host costs one signature and
// one context, never a key generation. P-256, not RSA: the TLS handshake signs with the leaf key, and on the
// reference machine an RSA-2048 signature costs 0.77 ms against 0.04 ms for ECDSA P-256.
let leafKeyPromise: Promise<KeyPair> | undefined;
let leafKeysGenerated = 0;

export async function createCertificateAuthority(opts: {
  keyStore: CaKeyStore;
  certPath: string;
}): Promise<CertificateAuthority> {
  const root = await loadOrCreateRoot(opts.keyStore, opts.certPath);
  const [leafKey, issuerKey] = await Promise.all([loadLeafKey(), generateEcKeyPair(false)]);
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
        { name: 'authorityKeyIdentifier', keyIdentifier: issuer.keyId },
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

/**
 * A CA for one run: an EC P-256 key made here and never exported, a certificate whose name constraints permit only the
 * run's hosts (`names`; undefined = unconstrained, when a route has no fixed suffix), and leaves for the hosts the
 * proxy intercepts. A child that trusts only this CA accepts no certificate it signs for any other name, so neither
 * another run's interception nor a leaked leaf can impersonate a site outside the run's scope.
 */
export async function createRunAuthority(
  names: { dns: readonly string[]; ips: readonly string[] } | undefined,
): Promise<RunAuthority> {
  // The leaf key is shared with the stable CA's leaves: it certifies nothing by itself, it never leaves this process,
  // and each run's children trust only their own run's CA, so sharing it lends no run another's certificates.
  const [leafKey, caKey] = await Promise.all([loadLeafKey(), generateEcKeyPair(false)]);
  const now = Date.now();
  const notAfter = now + RUN_CA_VALIDITY_MS;
  const keyId = buildKeyIdentifier(caKey.spkiDer);
  const { pem: certPem } = buildCertificate({
    subject: RUN_NAME,
    issuer: RUN_NAME,
    notBefore: new Date(now - DAY_MS),
    notAfter: new Date(notAfter),
    spkiDer: caKey.spkiDer,
    extensions: [
      ...buildSigningCaExtensions(keyId),
      ...(names === undefined ? [] : [buildNameConstraintsExtension(names)]),
    ],
    signer: caKey.privateKey,
  });
  const leaves = new Map<string, tls.SecureContext>();

  return {
    certPem,
    constrained: names !== undefined,
    getLeafContext(rawHost) {
      const host = normalizeHost(rawHost);
      const cached = leaves.get(host);
      if (cached !== undefined) return cached;
      const issuedAt = Date.now();
      const { pem } = buildCertificate({
        // OpenSSL checks a host-like common name against DNS constraints too: an IP address goes in the SAN only.
        subject:
          host.length <= MAX_COMMON_NAME && isIP(host) === 0 ? { commonName: host } : { organization: 'authsome' },
        issuer: RUN_NAME,
        notBefore: new Date(issuedAt - DAY_MS),
        notAfter: new Date(notAfter),
        spkiDer: leafKey.spkiDer,
        extensions: [
          { name: 'basicConstraints', cA: false },
          { name: 'keyUsage', critical: true, digitalSignature: true },
          { name: 'extKeyUsage', serverAuth: true },
          { name: 'subjectAltName', altNames: [buildAltName(host)] },
          { name: 'authorityKeyIdentifier', keyIdentifier: keyId },
        ],
        signer: caKey.privateKey,
      });
      const context = tls.createSecureContext({ key: leafKey.privatePem, cert: pem, minVersion: 'TLSv1.2' });
      if (leaves.size >= RUN_LEAF_CACHE_LIMIT) leaves.delete(leaves.keys().next().value!);
      leaves.set(host, context);
      return context;
    },
  };
}

/**
 * The CA of a run whose routes are `matchers`: constrained to their hosts (regex routes by their fixed suffix). One
 * regex route without a fixed suffix leaves the whole CA unconstrained; such routes are returned so the run can say so.
 */
export async function createRunAuthorityForRoutes(
  matchers: readonly ({ kind: 'host'; host: string } | { kind: 'regex'; source: string })[],
): Promise<{ authority: RunAuthority; unconstrained: string[] }> {
  const names = collectConstraintNames(matchers);
  // A regex spelling out an address (`10\.0\.0\.1`) names an IP, which only an iPAddress subtree permits.
  const ips = [...names.ips, ...names.dns.filter((d) => isIP(d) !== 0)];
  let dns = names.dns.filter((d) => isIP(d) === 0);
  // No route at all would leave DNS names unconstrained (no permitted subtree): permit only the reserved `invalid`.
  if (dns.length === 0 && ips.length === 0) dns = ['invalid'];
  const authority = await createRunAuthority(names.unconstrained.length > 0 ? undefined : { dns, ips });
  return { authority, unconstrained: names.unconstrained };
}

/** The regex routes among `matchers` with no fixed domain suffix: they match hosts in any domain. */
export function listUnanchoredRoutes(
  matchers: readonly ({ kind: 'host'; host: string } | { kind: 'regex'; source: string })[],
): string[] {
  return collectConstraintNames(matchers).unconstrained;
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
    const ski = findCertificateExtension(cert.raw, OID.subjectKeyIdentifier);
    if (ski === undefined || !ski.equals(octetString(keyId))) return undefined;
    if (!cert.subject.split('\n').includes(`CN=${ROOT_NAME.commonName}`)) return undefined;
    return pem;
  } catch {
    return undefined;
  }
}

/** A CA that signs leaves only (no CA below it): what the run CAs and the leaf issuer share. */
function buildSigningCaExtensions(keyId: Buffer): Extension[] {
  return [
    { name: 'basicConstraints', cA: true, critical: true, pathLenConstraint: 0 },
    { name: 'keyUsage', critical: true, keyCertSign: true, cRLSign: true, digitalSignature: true },
    buildKeyIdExtension(keyId),
  ];
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
    extensions: [...buildSigningCaExtensions(keyId), { name: 'authorityKeyIdentifier', keyIdentifier: root.keyId }],
    signer: root.key,
  });
  return { pem, keyId, notAfter, renewAt: notAfter - LEAF_VALIDITY_MS - DAY_MS };
}

function buildKeyIdExtension(keyId: Buffer): Extension {
  return { name: 'subjectKeyIdentifier', keyIdentifier: keyId };
}

function loadLeafKey(): Promise<KeyPair> {
  leafKeyPromise ??= generateEcKeyPair(true).catch((err: unknown) => {
    leafKeyPromise = undefined;
    throw err;
  });
  return leafKeyPromise;
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
