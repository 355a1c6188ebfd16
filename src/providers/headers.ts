// Turns a provider definition and a secret into the one header the proxy sets. Pure: it formats the
// secret and nothing else; it must never log it, keep it or put it in an error message.
import { errors } from '../errors.js';
import type { ProviderDefinition } from './schema.js';

export interface CredentialHeader {
  name: string;
  /** SECRET */
  value: string;
  /** SECRET: the key or token itself, for the proxy to recognise it in an answer that echoes it back. */
  secret: string;
}

// Field-value characters allowed by RFC 9110 §5.5 (visible ASCII, obs-text, SP and HTAB). Anything else would
// either be refused by node:http or, worse, split the header block.
const HEADER_VALUE_RE = /^[\t\x20-\x7e\x80-\xff]*$/;

export function buildCredentialHeader(def: ProviderDefinition, secret: string): CredentialHeader {
  if (!HEADER_VALUE_RE.test(secret)) {
    throw errors.invalidKey(
      def.display_name,
      "The stored credential contains characters that cannot be sent in an HTTP header. Run 'authsome " +
        `login ${def.name} --force'.`,
      undefined,
    );
  }
  // OAuth connections always send a bearer token, whatever an api_key block might say.
  if (def.auth_type === 'oauth2') return { name: 'Authorization', value: `Bearer ${secret}`, secret };
  const spec = def.api_key;
  const name = spec?.header_name ?? 'Authorization';
  if (spec?.header_format === 'basic') {
    // HTTP Basic with the key as user name and an empty password (RFC 7617), e.g. Ashby.
    return { name, value: `Basic ${Buffer.from(`${secret}:`, 'utf8').toString('base64')}`, secret };
  }
  const prefix = spec === undefined ? 'Bearer' : spec.header_prefix;
  return { name, value: prefix === null || prefix === '' ? secret : `${prefix} ${secret}`, secret };
}
