// AES-256-GCM sealing: what goes in comes out, and any change to key, bytes or record id is refused.
import { describe, it, expect } from 'vitest';
import { randomBytes } from 'node:crypto';
import { isSealed, open, seal, type Sealed } from '../../../src/vault/seal.js';

const key = randomBytes(32);
const plaintext = Buffer.from('{"api_key":"sk-canary-0123456789abcdefghij"}', 'utf8');
const id = 'connection:openai:default';

/** Flips one bit of a base64 field, keeping its length. */
function flip(field: string, byte = 0): string {
  const bytes = Buffer.from(field, 'base64');
  bytes[byte] = bytes[byte]! ^ 0x01;
  return bytes.toString('base64');
}

describe('seal / open round trip', () => {
  it('opens what it sealed, with the same key and id', () => {
    const sealed = seal(key, plaintext, id);
    expect(open(key, sealed, id).equals(plaintext)).toBe(true);
  });

  it('round-trips an empty value and a large one', () => {
    expect(open(key, seal(key, Buffer.alloc(0), id), id).length).toBe(0);
    const big = randomBytes(256 * 1024);
    expect(open(key, seal(key, big, id), id).equals(big)).toBe(true);
  });

  it('produces a well-formed envelope: 12-byte IV, 16-byte tag, ciphertext as long as the plaintext', () => {
    const sealed = seal(key, plaintext, id);
    expect(isSealed(sealed)).toBe(true);
    expect(Buffer.from(sealed.iv, 'base64')).toHaveLength(12);
    expect(Buffer.from(sealed.tag, 'base64')).toHaveLength(16);
    expect(Buffer.from(sealed.data, 'base64')).toHaveLength(plaintext.length);
    expect(Buffer.from(sealed.data, 'base64').equals(plaintext)).toBe(false);
  });
});

describe('authentication failures', () => {
  const sealed = seal(key, plaintext, id);

  it('a wrong key fails', () => {
    expect(() => open(randomBytes(32), sealed, id)).toThrow();
  });

  it('altered ciphertext fails', () => {
    expect(() => open(key, { ...sealed, data: flip(sealed.data) }, id)).toThrow();
    expect(() => open(key, { ...sealed, data: flip(sealed.data, plaintext.length - 1) }, id)).toThrow();
  });

  it('an altered tag fails', () => {
    expect(() => open(key, { ...sealed, tag: flip(sealed.tag) }, id)).toThrow();
  });

  it('an altered IV fails', () => {
    expect(() => open(key, { ...sealed, iv: flip(sealed.iv) }, id)).toThrow();
  });

  it('a value sealed for one record id does not open as another (additional data)', () => {
    expect(() => open(key, sealed, 'connection:openai:team')).toThrow();
    expect(() => open(key, sealed, '')).toThrow();
  });
});

describe('IVs', () => {
  it('are fresh for every seal, so the same plaintext never seals the same way twice', () => {
    const seen = new Set<string>();
    const datas = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const s = seal(key, plaintext, id);
      seen.add(s.iv);
      datas.add(s.data);
    }
    expect(seen.size).toBe(200);
    expect(datas.size).toBe(200);
  });
});

describe('isSealed', () => {
  const good = seal(key, plaintext, id);
  it('accepts a sealed value', () => {
    expect(isSealed(good)).toBe(true);
  });
  it.each<[string, unknown]>([
    ['null', null],
    ['a string', 'abc'],
    ['missing tag', { iv: good.iv, data: good.data }],
    ['a numeric field', { ...good, data: 5 }],
    ['a short IV', { ...good, iv: Buffer.alloc(8).toString('base64') }],
    ['a short tag', { ...good, tag: Buffer.alloc(12).toString('base64') }],
  ])('rejects %s', (_label, value) => {
    expect(isSealed(value as Sealed)).toBe(false);
  });
});
