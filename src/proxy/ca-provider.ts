// The authsome CA on demand: its key lives in the vault (record `ca:key`), so it can only be loaded once the
// vault is unlocked. The proxy gets a stable handle now; the CA itself is made or loaded by the first run.
import type tls from 'node:tls';
import { writeFileAtomic } from '../atomic-file.js';
import type { Vault } from '../vault/vault.js';
import { buildCaBundle, createCertificateAuthority, type CaStats, type CertificateAuthority } from './ca.js';

export const CA_KEY_RECORD = 'ca:key';

export interface CaProvider {
  /** Loads or creates the CA (and writes ca.pem and the combined bundle); throws when the vault is locked. */
  ensure(): Promise<CertificateAuthority>;
  /** Delegates to the CA once ensure() has run; intercepted hosts only exist after a run session did. */
  readonly authority: CertificateAuthority;
}

export function createCaProvider(opts: { vault: Vault; certPath: string; bundlePath: string }): CaProvider {
  let ready: CertificateAuthority | undefined;
  let pending: Promise<CertificateAuthority> | undefined;
  const emptyStats: CaStats = { leafKeysGenerated: 0, issuersMinted: 0, leavesMinted: 0, cachedLeaves: 0 };

  const authority: CertificateAuthority = {
    get certPem() {
      return ready?.certPem ?? '';
    },
    certPath: opts.certPath,
    get stats() {
      return ready?.stats ?? emptyStats;
    },
    getLeafContext(host: string): tls.SecureContext {
      if (!ready) throw new Error('the authsome CA is not loaded yet');
      return ready.getLeafContext(host);
    },
  };

  return {
    authority,
    ensure() {
      if (ready) return Promise.resolve(ready);
      pending ??= (async () => {
        const ca = await createCertificateAuthority({
          keyStore: {
            load: async () => opts.vault.get<string>(CA_KEY_RECORD),
            save: (pem) => opts.vault.put(CA_KEY_RECORD, pem),
          },
          certPath: opts.certPath,
        });
        await writeFileAtomic(opts.bundlePath, buildCaBundle(ca.certPem));
        ready = ca;
        return ca;
      })().finally(() => {
        pending = undefined;
      });
      return pending;
    },
  };
}
