// The integrity seal on its own: its key is derived (never the data key itself), and the MAC changes with every
// part of the file it covers but not with the order records happen to be listed in.
import { describe, it, expect } from 'vitest';
import { createHmac, randomBytes } from 'node:crypto';
import {
  buildIntegritySeal,
  deriveIntegrityKey,
  isIntegritySeal,
  verifyIntegritySeal,
  type SealedContents,
} from '../../../src/vault/integrity.js';
import { buildKdfParams } from '../../../src/vault/kdf.js';
import { seal } from '../../../src/vault/seal.js';

const dataKey = randomBytes(32);
const macKey = deriveIntegrityKey(dataKey);

function buildContents(): SealedContents {
  return {
    version: 1,
    mode: 'keyfile',
    kdf: buildKdfParams({ memory_kib: 1024, iterations: 1 }),
    key: seal(randomBytes(32), dataKey, 'authsome:data-key:sealed-vault'),
    records: {
      'connection:openai:default': seal(dataKey, Buffer.from('{"api_key":"a"}'), 'connection:openai:default'),
      'ca:key': seal(dataKey, Buffer.from('"PEM"'), 'ca:key'),
    },
  };
}

describe('deriveIntegrityKey', () => {
  it('is a 32-byte key of its own, stable for one data key and different for another', () => {
    expect(macKey).toHaveLength(32);
    expect(macKey.equals(dataKey)).toBe(false);
    expect(deriveIntegrityKey(Buffer.from(dataKey)).equals(macKey)).toBe(true);
    expect(deriveIntegrityKey(randomBytes(32)).equals(macKey)).toBe(false);
  });
});

describe('buildIntegritySeal / verifyIntegritySeal', () => {
  const contents = buildContents();
  const sealed = buildIntegritySeal(macKey, contents, 7);

  it('verifies what it sealed, whatever order the records are listed in', () => {
    expect(sealed.generation).toBe(7);
    expect(isIntegritySeal(sealed)).toBe(true);
    expect(verifyIntegritySeal(macKey, contents, sealed)).toBe(true);
    const reordered = { ...contents, records: Object.fromEntries(Object.entries(contents.records).reverse()) };
    expect(verifyIntegritySeal(macKey, reordered, sealed)).toBe(true);
  });

  it('a seal made with the data key itself does not verify', () => {
    const withDataKey = buildIntegritySeal(dataKey, contents, 7);
    expect(verifyIntegritySeal(macKey, contents, withDataKey)).toBe(false);
    const plainHmac = createHmac('sha256', dataKey).update(JSON.stringify(contents)).digest('base64');
    expect(verifyIntegritySeal(macKey, contents, { generation: 7, mac: plainHmac })).toBe(false);
  });

  it.each<[string, (c: SealedContents) => SealedContents]>([
    ['a record removed', (c) => ({ ...c, records: { 'ca:key': c.records['ca:key']! } })],
    ['a record added', (c) => ({ ...c, records: { ...c.records, extra: c.records['ca:key']! } })],
    [
      'a record resealed (new IV and tag)',
      (c) => ({ ...c, records: { ...c.records, 'ca:key': seal(dataKey, Buffer.from('"PEM"'), 'ca:key') } }),
    ],
    [
      'a record renamed',
      (c) => ({
        ...c,
        records: {
          'connection:openai:default': c.records['connection:openai:default']!,
          'ca:key2': c.records['ca:key']!,
        },
      }),
    ],
    ['the mode', (c) => ({ ...c, mode: 'passphrase' })],
    ['the KDF salt', (c) => ({ ...c, kdf: { ...c.kdf, salt: randomBytes(16).toString('base64') } })],
    ['the wrapped key', (c) => ({ ...c, key: seal(randomBytes(32), dataKey, 'authsome:data-key:sealed-vault') })],
  ])('does not verify with %s', (_label, change) => {
    expect(verifyIntegritySeal(macKey, change(contents), sealed)).toBe(false);
  });

  it('does not verify with another generation, another key, or a truncated MAC', () => {
    expect(verifyIntegritySeal(macKey, contents, { ...sealed, generation: 8 })).toBe(false);
    expect(verifyIntegritySeal(deriveIntegrityKey(randomBytes(32)), contents, sealed)).toBe(false);
    expect(
      verifyIntegritySeal(macKey, contents, {
        ...sealed,
        mac: Buffer.from(sealed.mac, 'base64').subarray(0, 16).toString('base64'),
      }),
    ).toBe(false);
  });
});

describe('isIntegritySeal', () => {
  it.each<[string, unknown]>([
    ['null', null],
    ['an array', []],
    ['a negative generation', { generation: -1, mac: Buffer.alloc(32).toString('base64') }],
    ['a fractional generation', { generation: 1.5, mac: Buffer.alloc(32).toString('base64') }],
    ['a short MAC', { generation: 1, mac: Buffer.alloc(16).toString('base64') }],
    ['a missing MAC', { generation: 1 }],
  ])('rejects %s', (_label, value) => {
    expect(isIntegritySeal(value)).toBe(false);
  });
});
