// argon2id key derivation. The parameters travel inside vault.json so they can be raised later
// without locking anyone out; this module never picks them silently for an existing vault.
import { randomBytes } from 'node:crypto';
import argon2 from 'argon2';

export interface KdfParams {
  alg: 'argon2id';
  memory_kib: number;
  iterations: number;
  parallelism: number;
  /** base64 */
  salt: string;
}

export const DEFAULT_KDF = { memory_kib: 65536, iterations: 3, parallelism: 1 } as const;

export function buildKdfParams(overrides: Partial<Omit<KdfParams, 'alg' | 'salt'>> = {}): KdfParams {
  return { alg: 'argon2id', ...DEFAULT_KDF, ...overrides, salt: randomBytes(16).toString('base64') };
}

/** Derives the 32-byte key-encryption key from the master secret (key file bytes or passphrase). */
export async function deriveKey(secret: Buffer | string, params: KdfParams): Promise<Buffer> {
  if (params.alg !== 'argon2id') throw new Error(`unsupported KDF '${String(params.alg)}'`);
  return argon2.hash(secret, {
    type: argon2.argon2id,
    memoryCost: params.memory_kib,
    timeCost: params.iterations,
    parallelism: params.parallelism,
    salt: Buffer.from(params.salt, 'base64'),
    hashLength: 32,
    raw: true,
  });
}

export function isKdfParams(value: unknown): value is KdfParams {
  if (!value || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return (
    v.alg === 'argon2id' &&
    Number.isInteger(v.memory_kib) &&
    (v.memory_kib as number) >= 8 &&
    Number.isInteger(v.iterations) &&
    (v.iterations as number) >= 1 &&
    Number.isInteger(v.parallelism) &&
    (v.parallelism as number) >= 1 &&
    typeof v.salt === 'string' &&
    Buffer.from(v.salt, 'base64').length >= 8
  );
}
