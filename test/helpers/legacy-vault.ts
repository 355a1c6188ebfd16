// A vault.json exactly as versions before the integrity seal wrote it (no `integrity` field, the data key wrapped
// with 'authsome:data-key' as its additional data), for the migration tests. Built from the vault's own KDF and
// seal so it is the real format, not a hand-written imitation.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { buildKdfParams, deriveKey } from '../../src/vault/kdf.js';
import { seal } from '../../src/vault/seal.js';

export interface LegacyVaultOptions {
  vaultPath: string;
  records: Record<string, unknown>;
  /** keyfile mode: the 32-byte master.key is written here. */
  masterKeyPath?: string;
  /** passphrase mode instead of keyfile mode. */
  passphrase?: string;
  kdf?: { memory_kib?: number; iterations?: number };
}

export async function writeLegacyVault(options: LegacyVaultOptions): Promise<void> {
  const dataKey = randomBytes(32);
  const kdf = buildKdfParams(options.kdf ?? { memory_kib: 1024, iterations: 1 });
  let secret: Buffer | string;
  if (options.passphrase !== undefined) {
    secret = options.passphrase;
  } else {
    secret = randomBytes(32);
    writeFileSync(options.masterKeyPath!, secret, { mode: 0o600 });
  }
  const kek = await deriveKey(secret, kdf);
  const records = Object.fromEntries(
    Object.entries(options.records).map(([id, value]) => [
      id,
      seal(dataKey, Buffer.from(JSON.stringify(value), 'utf8'), id),
    ]),
  );
  const file = {
    version: 1,
    mode: options.passphrase !== undefined ? 'passphrase' : 'keyfile',
    kdf,
    key: seal(kek, dataKey, 'authsome:data-key'),
    records,
  };
  writeFileSync(options.vaultPath, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
}
