// The DER writer behind every certificate the proxy issues, checked three ways: byte for byte against node-forge's
// encoder (what built these certificates before) on generated certificate specs, against Node's own X.509 parser,
// and, for IP addresses, against the WHATWG URL parser's reading of the same literal.
import { createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import fc from 'fast-check';
import forge from 'node-forge';
import { describe, expect, it } from 'vitest';
import {
  type AltName,
  buildCertificate,
  type CertificateSpec,
  type Extension,
  type NameSpec,
  OID,
} from '../../../src/tls/certificates.js';
import { findCertificateExtension, ipAddressBytes, objectId, octetString, readElement } from '../../../src/tls/der.js';
import { buildNameConstraintsExtension } from '../../../src/tls/name-constraints.js';

const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ecSpki = createPublicKey(ec.privateKey).export({ type: 'spki', format: 'der' });

/** The URL parser's canonical form of an IPv6 literal (an implementation independent of ours). */
function canonicalIpv6(ip: string): string {
  return new URL(`http://[${ip}]/`).hostname;
}

/** 16 octets written out as eight full groups: formatting, so the oracle shares no parsing with the code under test. */
function formatIpv6(bytes: Buffer): string {
  return Array.from({ length: 8 }, (_, i) => bytes.readUInt16BE(i * 2).toString(16)).join(':');
}

/** The TBSCertificate as node-forge lays it out (the code this module replaced, kept here as the reference). */
function forgeTbs(spec: CertificateSpec, serial: Buffer): Buffer {
  const { asn1, pki } = forge;
  const der = (node: forge.asn1.Asn1) => Buffer.from(asn1.toDer(node).getBytes(), 'binary');
  const raw = (b: Buffer) => asn1.fromDer(b.toString('binary'));
  const attrs = (name: NameSpec) => [
    ...(name.organization === undefined
      ? []
      : [{ name: 'organizationName', value: name.organization, valueTagClass: asn1.Type.UTF8 as never }]),
    ...(name.commonName === undefined
      ? []
      : [{ name: 'commonName', value: name.commonName, valueTagClass: asn1.Type.UTF8 as never }]),
  ];
  const toForge = (e: Extension): Record<string, unknown> => {
    if ('id' in e) return { id: e.id, critical: e.critical, value: e.value.toString('binary') };
    if (e.name === 'subjectKeyIdentifier')
      return {
        name: e.name,
        value: asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, e.keyIdentifier.toString('binary')),
      };
    if (e.name === 'authorityKeyIdentifier') return { name: e.name, keyIdentifier: e.keyIdentifier.toString('binary') };
    if (e.name === 'subjectAltName')
      return {
        ...e,
        altNames: e.altNames.map((n) =>
          n.type === 2 ? n : { type: 7, value: ipAddressBytes(n.ip).toString('binary') },
        ),
      };
    return { ...e };
  };
  const draft = pki.createCertificate();
  draft.setSubject(attrs(spec.subject));
  draft.setIssuer(attrs(spec.issuer));
  draft.setExtensions(spec.extensions.map(toForge));
  const time = (d: Date) =>
    d.getTime() < Date.UTC(2050, 0, 1)
      ? asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTCTIME, false, asn1.dateToUtcTime(d))
      : asn1.create(asn1.Class.UNIVERSAL, asn1.Type.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(d));
  const algorithm = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer('1.2.840.10045.4.3.2').getBytes()),
  ]);
  const tbs = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, asn1.integerToDer(2).getBytes()),
    ]),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, serial.toString('binary')),
    algorithm,
    pki.distinguishedNameToAsn1(draft.issuer),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [time(spec.notBefore), time(spec.notAfter)]),
    pki.distinguishedNameToAsn1(draft.subject),
    raw(spec.spkiDer),
    (pki as unknown as { certificateExtensionsToAsn1(e: unknown[]): forge.asn1.Asn1 }).certificateExtensionsToAsn1(
      draft.extensions,
    ),
  ]);
  return der(tbs);
}

const hostLabel = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?$/);
const hostName = fc.array(hostLabel, { minLength: 1, maxLength: 4 }).map((l) => l.join('.'));
const altName: fc.Arbitrary<AltName> = fc.oneof(
  hostName.map((value) => ({ type: 2 as const, value })),
  fc.ipV4().map((ip) => ({ type: 7 as const, ip })),
  fc.ipV6().map((ip) => ({ type: 7 as const, ip })),
);
const name: fc.Arbitrary<NameSpec> = fc.record(
  { organization: fc.string({ unit: 'grapheme', maxLength: 40 }), commonName: fc.string({ maxLength: 64 }) },
  { requiredKeys: [] },
);
const keyId = fc.uint8Array({ minLength: 1, maxLength: 32 }).map((a) => Buffer.from(a));
const extension: fc.Arbitrary<Extension> = fc.oneof(
  fc.record(
    {
      name: fc.constant('basicConstraints' as const),
      cA: fc.boolean(),
      critical: fc.boolean(),
      pathLenConstraint: fc.nat(300),
    },
    { requiredKeys: ['name', 'cA'] },
  ),
  fc.record(
    {
      name: fc.constant('keyUsage' as const),
      critical: fc.boolean(),
      digitalSignature: fc.boolean(),
      keyEncipherment: fc.boolean(),
      keyCertSign: fc.boolean(),
      cRLSign: fc.boolean(),
    },
    { requiredKeys: ['name'] },
  ),
  fc.record(
    {
      name: fc.constant('extKeyUsage' as const),
      critical: fc.boolean(),
      serverAuth: fc.boolean(),
      clientAuth: fc.boolean(),
    },
    { requiredKeys: ['name'] },
  ),
  fc.record({
    name: fc.constant('subjectAltName' as const),
    altNames: fc.array(altName, { minLength: 1, maxLength: 5 }),
  }),
  fc.record({ name: fc.constant('subjectKeyIdentifier' as const), keyIdentifier: keyId }),
  fc.record({ name: fc.constant('authorityKeyIdentifier' as const), keyIdentifier: keyId }),
  fc
    .record({
      dns: fc.array(hostName, { maxLength: 4 }),
      ips: fc.array(fc.oneof(fc.ipV4(), fc.ipV6()), { maxLength: 3 }),
    })
    .map((names) => buildNameConstraintsExtension(names)),
);
const date = fc.date({ min: new Date(Date.UTC(1950, 0, 1)), max: new Date(Date.UTC(2200, 0, 1)), noInvalidDate: true });
const serial = fc
  .uint8Array({ minLength: 1, maxLength: 20 })
  .map((a) => Buffer.from(a))
  .map((b) => {
    b[0] = b[0]! & 0x7f || 0x01;
    return b;
  });

describe('DER certificate writer', () => {
  it('lays out the TBSCertificate byte for byte as node-forge did, and Node reads back what was asked', () => {
    fc.assert(
      fc.property(
        name,
        name,
        date,
        date,
        fc.array(extension, { minLength: 1, maxLength: 8 }),
        serial,
        (subject, issuer, notBefore, notAfter, extensions, serialNumber) => {
          const spec: CertificateSpec = {
            subject,
            issuer,
            notBefore,
            notAfter,
            spkiDer: ecSpki,
            extensions,
            signer: ec.privateKey,
            serialNumber,
          };
          const built = buildCertificate(spec);
          // The certificate's first element is the TBSCertificate: its bytes, header included.
          const body = readElement(built.der, 0).content;
          const tbsDer = body.subarray(0, readElement(body, 0).end);
          expect(tbsDer.toString('hex')).toBe(forgeTbs(spec, serialNumber).toString('hex'));
          const cert = new X509Certificate(built.der);
          expect(cert.serialNumber.replace(/^0+/, '')).toBe(
            serialNumber.toString('hex').toUpperCase().replace(/^0+/, ''),
          );
          expect(cert.verify(createPublicKey(ec.privateKey))).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('encodes IP addresses as the URL parser reads them, dotted IPv4 tails included', () => {
    fc.assert(
      fc.property(fc.ipV4(), (ip) => {
        expect([...ipAddressBytes(ip)].join('.')).toBe(ip);
      }),
    );
    fc.assert(
      fc.property(fc.ipV6(), (ip) => {
        const bytes = ipAddressBytes(ip);
        expect(bytes.length).toBe(16);
        expect(canonicalIpv6(formatIpv6(bytes))).toBe(canonicalIpv6(ip));
      }),
      { numRuns: 2000 },
    );
    expect(ipAddressBytes('::ffff:10.1.2.3').toString('hex')).toBe('00000000000000000000ffff0a010203');
    expect(() => ipAddressBytes('example.com')).toThrow(/not an IP/);
  });

  it('encodes object identifiers with multi-byte arcs', () => {
    expect(objectId('1.2.840.113549.1.1.11').toString('hex')).toBe('06092a864886f70d01010b');
    expect(objectId('2.5.29.14').toString('hex')).toBe('0603551d0e');
    expect(() => objectId('1')).toThrow(/bad OID/);
  });

  it('finds an extension in a certificate, and refuses truncated or malformed input instead of reading past it', () => {
    const id = Buffer.from('0123456789abcdef0123', 'hex');
    const { der } = buildCertificate({
      subject: { commonName: 'x' },
      issuer: { commonName: 'x' },
      notBefore: new Date(),
      notAfter: new Date(Date.now() + 86_400_000),
      spkiDer: ecSpki,
      extensions: [
        { name: 'basicConstraints', cA: true, critical: true },
        { name: 'subjectKeyIdentifier', keyIdentifier: id },
      ],
      signer: ec.privateKey,
    });
    expect(findCertificateExtension(der, OID.subjectKeyIdentifier)?.equals(octetString(id))).toBe(true);
    expect(findCertificateExtension(der, OID.nameConstraints)).toBeUndefined();
    // Every truncation throws; no cut yields an answer read from beyond the bytes given.
    for (let cut = 0; cut < der.length; cut++)
      expect(() => findCertificateExtension(der.subarray(0, cut), OID.subjectKeyIdentifier)).toThrow();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          findCertificateExtension(Buffer.from(bytes), OID.subjectKeyIdentifier);
        } catch (err) {
          expect((err as Error).message).toMatch(/^DER: /);
        }
      }),
    );
  });
});
