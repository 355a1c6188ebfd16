// Builds signed X.509 certificates: the TBSCertificate is laid out here in DER (./der.ts), Node's native crypto signs
// it. No I/O; it never sees more than the signer key handle.
import { createHash, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import {
  bitString,
  ipAddressBytes,
  NULL,
  objectId,
  octetString,
  sequence,
  set,
  smallInteger,
  TRUE,
  time,
  tlv,
  unsignedInteger,
  utf8String,
} from './der.js';

export interface NameSpec {
  commonName?: string;
  organization?: string;
}

/** A subjectAltName entry: a dNSName (GeneralName [2]) or an iPAddress ([7]). */
export type AltName = { type: 2; value: string } | { type: 7; ip: string };

/** An extension whose DER value the caller built (nameConstraints, …). */
export interface RawExtension {
  id: string;
  critical: boolean;
  value: Buffer;
}

export type Extension =
  | { name: 'basicConstraints'; cA: boolean; critical?: boolean; pathLenConstraint?: number }
  | {
      name: 'keyUsage';
      critical?: boolean;
      digitalSignature?: boolean;
      keyEncipherment?: boolean;
      keyCertSign?: boolean;
      cRLSign?: boolean;
    }
  | { name: 'extKeyUsage'; critical?: boolean; serverAuth?: boolean; clientAuth?: boolean }
  | { name: 'subjectAltName'; critical?: boolean; altNames: readonly AltName[] }
  | { name: 'subjectKeyIdentifier'; keyIdentifier: Buffer }
  | { name: 'authorityKeyIdentifier'; keyIdentifier: Buffer }
  | RawExtension;

export interface CertificateSpec {
  subject: NameSpec;
  issuer: NameSpec;
  notBefore: Date;
  notAfter: Date;
  /** DER SubjectPublicKeyInfo of the key being certified (RSA or EC), as Node exports it. */
  spkiDer: Buffer;
  extensions: readonly Extension[];
  signer: KeyObject;
  /** Tests only: a fixed serial number (big-endian magnitude); otherwise 16 random bytes. */
  serialNumber?: Buffer;
}

export interface BuiltCertificate {
  der: Buffer;
  pem: string;
}

export const OID = {
  commonName: '2.5.4.3',
  organizationName: '2.5.4.10',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  nameConstraints: '2.5.29.30',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

// AlgorithmIdentifiers. ECDSA parameters must be absent, RSA's must be NULL (RFC 5758 §3.2, RFC 4055 §5).
const SHA256_WITH_RSA = sequence([objectId('1.2.840.113549.1.1.11'), NULL]);
const ECDSA_WITH_SHA256 = sequence([objectId('1.2.840.10045.4.3.2')]);
const VERSION_V3 = tlv(0xa0, smallInteger(2));

export function buildCertificate(spec: CertificateSpec): BuiltCertificate {
  const algorithm = selectSignatureAlgorithm(spec.signer);
  const extensions = spec.extensions.map(encodeExtension);
  const tbs = sequence([
    VERSION_V3,
    unsignedInteger(spec.serialNumber ?? buildSerialNumber()),
    algorithm,
    encodeName(spec.issuer),
    sequence([time(spec.notBefore), time(spec.notAfter)]),
    encodeName(spec.subject),
    spec.spkiDer,
    ...(extensions.length > 0 ? [tlv(0xa3, sequence(extensions))] : []),
  ]);
  // crypto.sign gives PKCS#1 v1.5 for RSA keys and a DER ECDSA-Sig-Value for EC keys: both what X.509 wants.
  const signature = sign('sha256', tbs, spec.signer);
  const der = sequence([tbs, algorithm, bitString(signature)]);
  return { der, pem: buildPem('CERTIFICATE', der) };
}

/** RFC 5280 §4.2.1.2 allows any unique value; a truncated SHA-256 of the whole SPKI is stable and cheap. */
export function buildKeyIdentifier(spkiDer: Buffer): Buffer {
  return createHash('sha256').update(spkiDer).digest().subarray(0, 20);
}

/** subjectAltName entry for a host: iPAddress for literal IPs (a dNSName would not match), else dNSName. */
export function buildAltName(host: string): AltName {
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

/** One RDN per attribute, organization first; UTF8String, since a PrintableString cannot hold '_' or '*'. */
function encodeName(name: NameSpec): Buffer {
  const rdns: Buffer[] = [];
  const add = (oid: string, value: string | undefined) => {
    if (value !== undefined) rdns.push(set([sequence([objectId(oid), utf8String(value)])]));
  };
  add(OID.organizationName, name.organization);
  add(OID.commonName, name.commonName);
  return sequence(rdns);
}

function encodeExtension(ext: Extension): Buffer {
  const { id, critical, value } = 'id' in ext ? ext : describeExtension(ext);
  return sequence([objectId(id), ...(critical ? [TRUE] : []), octetString(value)]);
}

function describeExtension(ext: Exclude<Extension, RawExtension>): RawExtension {
  const critical = 'critical' in ext && ext.critical === true;
  switch (ext.name) {
    case 'basicConstraints':
      return {
        id: OID.basicConstraints,
        critical,
        value: sequence([
          ...(ext.cA ? [TRUE] : []),
          ...(ext.pathLenConstraint === undefined ? [] : [smallInteger(ext.pathLenConstraint)]),
        ]),
      };
    case 'keyUsage':
      return { id: OID.keyUsage, critical, value: encodeKeyUsage(ext) };
    case 'extKeyUsage':
      return {
        id: OID.extKeyUsage,
        critical,
        value: sequence([
          ...(ext.serverAuth ? [objectId(OID.serverAuth)] : []),
          ...(ext.clientAuth ? [objectId(OID.clientAuth)] : []),
        ]),
      };
    case 'subjectAltName':
      return {
        id: OID.subjectAltName,
        critical,
        value: sequence(
          ext.altNames.map((n) =>
            n.type === 2 ? tlv(0x82, Buffer.from(n.value, 'ascii')) : tlv(0x87, ipAddressBytes(n.ip)),
          ),
        ),
      };
    case 'subjectKeyIdentifier':
      return { id: OID.subjectKeyIdentifier, critical: false, value: octetString(ext.keyIdentifier) };
    case 'authorityKeyIdentifier':
      return { id: OID.authorityKeyIdentifier, critical: false, value: sequence([tlv(0x80, ext.keyIdentifier)]) };
  }
}

/** A named BIT STRING: bit 0 is the first bit; DER drops trailing zero bits and counts them as unused. */
function encodeKeyUsage(ext: Extract<Extension, { name: 'keyUsage' }>): Buffer {
  const bits = [ext.digitalSignature, false, ext.keyEncipherment, false, false, ext.keyCertSign, ext.cRLSign];
  const last = bits.lastIndexOf(true);
  if (last < 0) return bitString(Buffer.alloc(0));
  let byte = 0;
  for (let i = 0; i <= last; i++) if (bits[i]) byte |= 0x80 >> i;
  return bitString(Buffer.from([byte]), 7 - last);
}

/** 16 random bytes, positive and minimally encoded (first byte 0x01–0x7f), as X.509 requires (≤ 20 octets). */
function buildSerialNumber(): Buffer {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f || 0x01;
  return bytes;
}
