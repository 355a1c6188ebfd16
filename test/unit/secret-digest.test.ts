// The one SHA-256 helper that audit lines, proxy tokens and stored secrets go through: the digests must be exactly
// what createHash gives (the audit chain's old lines and the stored token digests depend on them), whichever of
// Node's two APIs the helper uses.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { compareSecrets, digestSecret, sha256, sha256Base64url } from '../../src/secret-digest.js';

// Any UTF-16 code unit, lone surrogates included (an audit line carries an agent's path), and multi-unit graphemes.
const text = fc.oneof(
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 300 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
);

describe('sha256 and sha256Base64url', () => {
  afterEach(() => {
    vi.doUnmock('node:crypto');
    vi.resetModules();
  });

  it('give the same digests on a Node without crypto.hash (the createHash fallback)', async () => {
    vi.resetModules();
    vi.doMock('node:crypto', async (importOriginal) => {
      const real = await importOriginal<typeof import('node:crypto')>();
      return { ...real, hash: undefined, default: { ...real, hash: undefined } };
    });
    const fallback = await import('../../src/secret-digest.js');
    fc.assert(
      fc.property(text, fc.uint8Array({ maxLength: 300 }), (t, bytes) => {
        expect(fallback.sha256(t).equals(sha256(t))).toBe(true);
        expect(fallback.sha256Base64url(t)).toBe(sha256Base64url(t));
        expect(fallback.sha256(bytes).equals(sha256(bytes))).toBe(true);
        expect(fallback.sha256Base64url(bytes)).toBe(sha256Base64url(bytes));
      }),
      { numRuns: 300 },
    );
  });

  it('give createHash’s digest of the text as UTF-8, and of bytes as they are', () => {
    fc.assert(
      fc.property(text, fc.uint8Array({ maxLength: 300 }), (t, bytes) => {
        expect(sha256(t).equals(createHash('sha256').update(t, 'utf8').digest())).toBe(true);
        expect(sha256Base64url(t)).toBe(createHash('sha256').update(t, 'utf8').digest('base64url'));
        expect(sha256(bytes).equals(createHash('sha256').update(bytes).digest())).toBe(true);
        expect(sha256Base64url(bytes)).toBe(createHash('sha256').update(bytes).digest('base64url'));
        expect(digestSecret(t)).toBe(sha256Base64url(t));
      }),
      { numRuns: 1000 },
    );
  });

  it('returns a fresh Buffer each time (a caller may keep one digest while making the next)', () => {
    const a = sha256('token-a');
    const b = sha256('token-b');
    expect(a.equals(b)).toBe(false);
    expect(a.equals(createHash('sha256').update('token-a').digest())).toBe(true);
  });
});

describe('compareSecrets', () => {
  it('is true for the same secret only, whatever the lengths', () => {
    // Well-formed text: a lone surrogate and U+FFFD encode to the same UTF-8 (secrets here are ASCII tokens).
    const secret = fc.oneof(fc.string({ maxLength: 60 }), fc.string({ unit: 'grapheme', maxLength: 20 }));
    fc.assert(
      fc.property(secret, secret, (a, b) => {
        expect(compareSecrets(a, a)).toBe(true);
        expect(compareSecrets(a, b)).toBe(a === b);
        expect(compareSecrets(a, `${a}x`)).toBe(false);
      }),
      { numRuns: 500 },
    );
  });
});
