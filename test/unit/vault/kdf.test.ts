// argon2id key derivation: deterministic for the same input and parameters, sensitive to each of them,
// and the default cost. The expensive default cost is checked as data, never run here.
import { describe, it, expect } from 'vitest';
import { randomBytes } from 'node:crypto';
import { buildKdfParams, deriveKey, DEFAULT_KDF, isKdfParams, type KdfParams } from '../../../src/vault/kdf.js';

const cheap = (overrides: Partial<KdfParams> = {}): KdfParams => ({
  ...buildKdfParams({ memory_kib: 1024, iterations: 1 }),
  ...overrides,
});

describe('buildKdfParams', () => {
  it('defaults to argon2id, m=65536 KiB, t=3, p=1 with a random 16-byte salt', () => {
    const params = buildKdfParams();
    expect(params).toMatchObject({ alg: 'argon2id', memory_kib: 65536, iterations: 3, parallelism: 1 });
    expect(Object.keys(params).sort()).toEqual(['alg', 'iterations', 'memory_kib', 'parallelism', 'salt']);
    expect(Buffer.from(params.salt, 'base64')).toHaveLength(16);
    expect(DEFAULT_KDF).toEqual({ memory_kib: 65536, iterations: 3, parallelism: 1 });
  });

  it('applies overrides but always draws a fresh salt', () => {
    const a = buildKdfParams({ memory_kib: 2048, iterations: 2 });
    const b = buildKdfParams({ memory_kib: 2048, iterations: 2 });
    expect(a).toMatchObject({ memory_kib: 2048, iterations: 2, parallelism: 1 });
    expect(a.salt).not.toBe(b.salt);
  });
});

describe('deriveKey', () => {
  it('is deterministic for the same secret and parameters, and yields 32 bytes', async () => {
    const params = cheap();
    const secret = randomBytes(32);
    const a = await deriveKey(secret, params);
    const b = await deriveKey(Buffer.from(secret), { ...params });
    expect(a).toHaveLength(32);
    expect(a.equals(b)).toBe(true);
  });

  it('gives a different key for a different salt', async () => {
    const params = cheap();
    const other = { ...params, salt: randomBytes(16).toString('base64') };
    expect((await deriveKey('passphrase', params)).equals(await deriveKey('passphrase', other))).toBe(false);
  });

  it('gives a different key for a different secret, memory or iteration count', async () => {
    const params = cheap();
    const base = await deriveKey('passphrase', params);
    expect(base.equals(await deriveKey('passphrase!', params))).toBe(false);
    expect(base.equals(await deriveKey('passphrase', { ...params, memory_kib: 2048 }))).toBe(false);
    expect(base.equals(await deriveKey('passphrase', { ...params, iterations: 2 }))).toBe(false);
  });

  it('treats a string secret as its UTF-8 bytes', async () => {
    const params = cheap();
    const text = 'pässwörd-🔑';
    expect((await deriveKey(text, params)).equals(await deriveKey(Buffer.from(text, 'utf8'), params))).toBe(true);
  });

  it('refuses an algorithm other than argon2id', async () => {
    const params = { ...cheap(), alg: 'scrypt' } as unknown as KdfParams;
    await expect(deriveKey('x', params)).rejects.toThrow(/unsupported KDF 'scrypt'/);
  });
});

describe('isKdfParams', () => {
  const good = cheap();
  it('accepts generated parameters', () => {
    expect(isKdfParams(good)).toBe(true);
    expect(isKdfParams(buildKdfParams())).toBe(true);
  });
  it.each<[string, unknown]>([
    ['null', null],
    ['an array', []],
    ['a string', 'argon2id'],
    ['another alg', { ...good, alg: 'argon2i' }],
    ['missing memory', { ...good, memory_kib: undefined }],
    ['fractional memory', { ...good, memory_kib: 1024.5 }],
    ['memory below 8 KiB', { ...good, memory_kib: 4 }],
    ['memory as a string', { ...good, memory_kib: '1024' }],
    ['zero iterations', { ...good, iterations: 0 }],
    ['zero parallelism', { ...good, parallelism: 0 }],
    ['a missing salt', { ...good, salt: undefined }],
    ['a numeric salt', { ...good, salt: 12345678 }],
    ['a short salt', { ...good, salt: Buffer.alloc(4).toString('base64') }],
  ])('rejects %s', (_label, value) => {
    expect(isKdfParams(value)).toBe(false);
  });
});
