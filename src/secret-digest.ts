// Secrets are compared and looked up by their SHA-256 digest: a map keyed by digest never holds a usable token (a
// heap dump reveals nothing), and equal-length digests compare in constant time whatever the inputs' lengths.
// It also holds a one-shot SHA-256 helper (audit lines, proxy tokens).
import * as crypto from 'node:crypto';

// The one-shot crypto.hash (Node 20.12+) where there is one. The proxy hashes an audit line per request and a token
// per CONNECT: warm, createHash's object costs twice the hashing itself; on a process that sat idle the first call
// took ~75 µs against ~48 µs.
const oneShot = typeof crypto.hash === 'function';

/** SHA-256 of text (as UTF-8) or bytes. */
export function sha256(data: string | Uint8Array): Buffer {
  return oneShot ? crypto.hash('sha256', data, 'buffer') : crypto.createHash('sha256').update(data).digest();
}

/** SHA-256 of text (as UTF-8) or bytes, base64url. */
export function sha256Base64url(data: string | Uint8Array): string {
  return oneShot
    ? crypto.hash('sha256', data, 'base64url')
    : crypto.createHash('sha256').update(data).digest('base64url');
}

/** SHA-256 of a secret, base64url: the key under which a token, cookie or session secret is stored. */
export function digestSecret(value: string): string {
  return sha256Base64url(value);
}

/** Constant-time comparison of two secrets of any length (hash first, so lengths do not leak). */
export function compareSecrets(presented: string, expected: string): boolean {
  return crypto.timingSafeEqual(sha256(presented), sha256(expected)) && presented.length === expected.length;
}
