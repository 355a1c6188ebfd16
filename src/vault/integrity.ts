// The vault's integrity seal: an HMAC over the whole file's sealed contents and a write counter, so a record
// deleted, added, or put back from an older copy of vault.json is detected although each record still opens.
// It never sees a plaintext; its key is derived from the data key and never used for anything else.
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { Sealed } from './seal.js';
import type { KdfParams } from './kdf.js';

export interface IntegritySeal {
  /** Bumped on every write, so two writes of the same records never carry the same seal. */
  generation: number;
  /** base64 HMAC-SHA256 */
  mac: string;
}

/** What the seal covers: everything in vault.json except the ciphertexts, which their GCM tags stand for. */
export interface SealedContents {
  version: number;
  mode: string;
  kdf: KdfParams;
  key: Sealed;
  records: Record<string, Sealed>;
}

// HKDF with its own label: the data key seals records with AES-GCM and must not also be an HMAC key.
const INTEGRITY_KEY_INFO = 'authsome:vault-integrity:v1';

export function deriveIntegrityKey(dataKey: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', dataKey, Buffer.alloc(0), INTEGRITY_KEY_INFO, 32));
}

/** JSON of arrays of strings and numbers has one spelling, so the MAC input is the same on every machine. */
function buildMacInput(contents: SealedContents, generation: number): string {
  const { kdf, key } = contents;
  const records = Object.keys(contents.records)
    .sort()
    .map((id) => [id, contents.records[id]!.iv, contents.records[id]!.tag]);
  return JSON.stringify([
    INTEGRITY_KEY_INFO,
    contents.version,
    generation,
    contents.mode,
    [kdf.alg, kdf.memory_kib, kdf.iterations, kdf.parallelism, kdf.salt],
    [key.iv, key.tag],
    records,
  ]);
}

export function buildIntegritySeal(integrityKey: Buffer, contents: SealedContents, generation: number): IntegritySeal {
  const mac = createHmac('sha256', integrityKey).update(buildMacInput(contents, generation), 'utf8').digest();
  return { generation, mac: mac.toString('base64') };
}

export function verifyIntegritySeal(integrityKey: Buffer, contents: SealedContents, seal: IntegritySeal): boolean {
  const expected = Buffer.from(buildIntegritySeal(integrityKey, contents, seal.generation).mac, 'base64');
  const actual = Buffer.from(seal.mac, 'base64');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

export function isIntegritySeal(value: unknown): value is IntegritySeal {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  return (
    Number.isSafeInteger(v.generation) &&
    (v.generation as number) >= 0 &&
    typeof v.mac === 'string' &&
    Buffer.from(v.mac, 'base64').length === 32
  );
}
