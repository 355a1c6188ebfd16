// Keyed digests of stored secrets, so that `run` can keep an inherited environment variable whose value IS a stored
// secret (an old `export`, a pasted key) away from its child without the secrets leaving the server: the server
// sends HMAC-SHA256 digests under a fresh random salt per run, and the CLI digests its own variables to compare.
import { createHmac } from 'node:crypto';

/** HMAC-SHA256(salt, value), base64url. The salt is single-use, so a digest is worthless outside its run. */
export function digestSecretValue(salt: string, value: string): string {
  return createHmac('sha256', salt).update(value).digest('base64url');
}

/** Names of the variables whose value (as is, or without surrounding white space) has one of `digests`. */
export function findSecretVariables(
  env: Readonly<Record<string, string | undefined>>,
  salt: string,
  digests: readonly string[],
): string[] {
  if (digests.length === 0) return [];
  const known = new Set(digests);
  const names: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    // Keys are long; short values (flags, paths of a few characters) cannot be one and need no HMAC.
    if (value === undefined || value.trim().length < 8) continue;
    if (known.has(digestSecretValue(salt, value)) || known.has(digestSecretValue(salt, value.trim()))) names.push(name);
  }
  return names;
}
