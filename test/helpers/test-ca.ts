// A throwaway CA and server certificate for test upstreams (api.openai.com and friends), built with node-forge.
// Independent of src/proxy/ca.ts on purpose: the upstream's trust must not come from the code under test.
import { writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import forge from 'node-forge';

export interface TestCa {
  /** PEM of the test root. */
  caCert: string;
  /** PEM certificate for every name given, signed by the root. */
  cert: string;
  key: string;
  /** Writes ca.pem, cert.pem and key.pem into dir; returns their paths. */
  writeFiles(dir: string): Promise<{ caPath: string; certPath: string; keyPath: string }>;
}

const DAY_MS = 24 * 60 * 60 * 1000;

export function createTestCa(names: string[] = ['api.openai.com', 'localhost', '127.0.0.1']): TestCa {
  // forge uses Node's native key generation when it is available (usePureJavaScript is left alone).
  const caKeys = forge.pki.rsa.generateKeyPair({ bits: 2048, e: 0x10001 });
  const caCert = forge.pki.createCertificate();
  caCert.publicKey = caKeys.publicKey;
  caCert.serialNumber = '01';
  caCert.validity.notBefore = new Date(Date.now() - DAY_MS);
  caCert.validity.notAfter = new Date(Date.now() + 365 * DAY_MS);
  const caName = [{ name: 'commonName', value: 'authsome test upstream CA' }];
  caCert.setSubject(caName);
  caCert.setIssuer(caName);
  caCert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  caCert.sign(caKeys.privateKey, forge.md.sha256.create());

  const keys = forge.pki.rsa.generateKeyPair({ bits: 2048, e: 0x10001 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = '02';
  cert.validity.notBefore = new Date(Date.now() - DAY_MS);
  cert.validity.notAfter = new Date(Date.now() + 30 * DAY_MS);
  cert.setSubject([{ name: 'commonName', value: names[0] ?? 'localhost' }]);
  cert.setIssuer(caName);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: names.map((n) => (isIP(n) ? { type: 7, ip: n } : { type: 2, value: n })) },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKeys.privateKey, forge.md.sha256.create());

  const out = {
    caCert: forge.pki.certificateToPem(caCert),
    cert: forge.pki.certificateToPem(cert),
    key: forge.pki.privateKeyToPem(keys.privateKey),
  };
  return {
    ...out,
    async writeFiles(dir) {
      const paths = { caPath: join(dir, 'ca.pem'), certPath: join(dir, 'cert.pem'), keyPath: join(dir, 'key.pem') };
      await writeFile(paths.caPath, out.caCert, { mode: 0o600 });
      await writeFile(paths.certPath, out.cert, { mode: 0o600 });
      await writeFile(paths.keyPath, out.key, { mode: 0o600 });
      return paths;
    },
  };
}
