// Builds signed X.509 certificates: node-forge lays out the TBSCertificate, Node's native crypto signs it
// (forge's pure-JS signing costs ~17 ms a certificate). No I/O; it never sees more than the signer key handle.
import { createHash, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';

const { asn1, pki } = forge;

export interface NameSpec {
  commonName?: string;
  organization?: string;
}

export interface CertificateSpec {
  subject: NameSpec;
  issuer: NameSpec;
  notBefore: Date;
  notAfter: Date;
  /** DER SubjectPublicKeyInfo of the key being certified (RSA or EC; forge cannot encode EC, so it is spliced in). */
  spkiDer: Buffer;
  /** node-forge extension objects (keyUsage, basicConstraints, subjectAltName, …). */
  extensions: Record<string, unknown>[];
  signer: KeyObject;
}

export interface BuiltCertificate {
  der: Buffer;
  pem: string;
}

// AlgorithmIdentifiers. ECDSA parameters must be absent, RSA's must be NULL (RFC 5758 §3.2, RFC 4055 §5).
const SHA256_WITH_RSA = derOf(
  asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    asn1.create(
      asn1.Class.UNIVERSAL,
      asn1.Type.OID,
      false,
      asn1.oidToDer(pki.oids.sha256WithRSAEncryption!).getBytes(),
    ),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, ''),
  ]),
);
const ECDSA_WITH_SHA256 = derOf(
  asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer('1.2.840.10045.4.3.2').getBytes()),
  ]),
);
const VERSION_V3 = derOf(
  asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, asn1.integerToDer(2).getBytes()),
  ]),
);
const JAN_1_2050 = Date.UTC(2050, 0, 1);

export function buildCertificate(spec: CertificateSpec): BuiltCertificate {
  const algorithm = selectSignatureAlgorithm(spec.signer);
  // A throwaway forge certificate does the field filling (OIDs, extension values) that its helpers expect.
  const draft = pki.createCertificate();
  draft.setSubject(buildNameAttributes(spec.subject));
  draft.setIssuer(buildNameAttributes(spec.issuer));
  draft.setExtensions(spec.extensions);
  const tbs = encodeDerSequence([
    VERSION_V3,
    derOf(asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, buildSerialNumber())),
    algorithm,
    derOf(pki.distinguishedNameToAsn1(draft.issuer)),
    derOf(
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
        buildTime(spec.notBefore),
        buildTime(spec.notAfter),
      ]),
    ),
    derOf(pki.distinguishedNameToAsn1(draft.subject)),
    spec.spkiDer,
    derOf(
      (pki as unknown as { certificateExtensionsToAsn1(e: unknown[]): forge.asn1.Asn1 }).certificateExtensionsToAsn1(
        draft.extensions,
      ),
    ),
  ]);
  // crypto.sign gives PKCS#1 v1.5 for RSA keys and a DER ECDSA-Sig-Value for EC keys: both what X.509 wants.
  const signature = sign('sha256', tbs, spec.signer);
  const der = encodeDerSequence([tbs, algorithm, encodeDer(0x03, Buffer.concat([Buffer.from([0]), signature]))]);
  return { der, pem: buildPem('CERTIFICATE', der) };
}

/** RFC 5280 §4.2.1.2 allows any unique value; a truncated SHA-256 of the whole SPKI is stable and cheap. */
export function buildKeyIdentifier(spkiDer: Buffer): Buffer {
  return createHash('sha256').update(spkiDer).digest().subarray(0, 20);
}

/** subjectAltName entry for a host: iPAddress for literal IPs (a dNSName would not match), else dNSName. */
export function buildAltName(host: string): Record<string, unknown> {
  return isIP(host) ? { type: 7, ip: host } : { type: 2, value: host };
}

export function buildPem(label: string, der: Buffer): string {
  const b64 = der.toString('base64');
  let body = '';
  for (let i = 0; i < b64.length; i += 64) body += `${b64.slice(i, i + 64)}\n`;
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}

function selectSignatureAlgorithm(signer: KeyObject): Buffer {
  if (signer.asymmetricKeyType === 'rsa') return SHA256_WITH_RSA;
  if (signer.asymmetricKeyType === 'ec') return ECDSA_WITH_SHA256;
  throw new Error(`unsupported signing key type ${signer.asymmetricKeyType ?? 'unknown'}`);
}

function buildNameAttributes(name: NameSpec): forge.pki.CertificateField[] {
  const attrs: forge.pki.CertificateField[] = [];
  // UTF8String: a PrintableString cannot hold '_' or '*', which real host names sometimes contain.
  if (name.organization !== undefined)
    attrs.push({ name: 'organizationName', value: name.organization, valueTagClass: asn1.Type.UTF8 as never });
  if (name.commonName !== undefined)
    attrs.push({ name: 'commonName', value: name.commonName, valueTagClass: asn1.Type.UTF8 as never });
  return attrs;
}

/** 16 random bytes, positive and minimally encoded (first byte 0x01–0x7f), as X.509 requires (≤ 20 octets). */
function buildSerialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f || 0x01;
  return bytes.toString('binary');
}

function buildTime(date: Date): forge.asn1.Asn1 {
  // RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
  return date.getTime() < JAN_1_2050
    ? asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTCTIME, false, asn1.dateToUtcTime(date))
    : asn1.create(asn1.Class.UNIVERSAL, asn1.Type.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(date));
}

function derOf(node: forge.asn1.Asn1): Buffer {
  return Buffer.from(asn1.toDer(node).getBytes(), 'binary');
}

function encodeDerSequence(parts: Buffer[]): Buffer {
  return encodeDer(0x30, Buffer.concat(parts));
}

function encodeDer(tag: number, content: Buffer): Buffer {
  const len = content.length;
  let header: Buffer;
  if (len < 0x80) {
    header = Buffer.from([tag, len]);
  } else {
    const lenBytes: number[] = [];
    for (let n = len; n > 0; n = Math.floor(n / 256)) lenBytes.unshift(n & 0xff);
    header = Buffer.from([tag, 0x80 | lenBytes.length, ...lenBytes]);
  }
  return Buffer.concat([header, content]);
}
