// Secrets are compared and looked up by their SHA-256 digest: a map keyed by digest never holds a usable token (a
// heap dump reveals nothing), and equal-length digests compare in constant time whatever the inputs' lengths.
import { createHash, timingSafeEqual } from 'node:crypto';

/** SHA-256 of a secret, base64url: the key under which a token, cookie or session secret is stored. */
export function digestSecret(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('base64url');
}

/** Constant-time comparison of two secrets of any length (hash first, so lengths do not leak). */
export function compareSecrets(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b) && presented.length === expected.length;
}
