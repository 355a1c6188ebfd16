// A provider's OAuth endpoints for one connection: `{base_url}` replaced by the connection's base URL (login
// --base-url) or the definition's `oauth.base_url`, trailing '/' stripped. Pure.
import { errors } from '../errors.js';
import type { OAuthSpec, ProviderDefinition } from '../providers/schema.js';

export interface OAuthEndpoints {
  authorization_url?: string;
  token_url: string;
  revocation_url?: string;
  device_authorization_url?: string;
  registration_endpoint?: string;
}

/** A base URL given on the command line: http(s), no query, fragment or credentials; trailing '/' dropped. */
export function parseBaseUrl(input: string): string {
  let url: URL;
  try {
    url = new URL(input.trim());
  } catch {
    throw errors.usage(
      `'${input}' is not a valid base URL.`,
      'Give the full URL of the server, e.g. --base-url https://github.example.com',
    );
  }
  if (
    (url.protocol !== 'https:' && url.protocol !== 'http:') ||
    url.search ||
    url.hash ||
    url.username ||
    url.password
  ) {
    throw errors.usage(
      `'${input}' is not a valid base URL.`,
      'Use an http(s) URL without a query, fragment or credentials, e.g. https://gitlab.example.com',
    );
  }
  return url.href.replace(/\/+$/, '');
}

export function resolveOAuthEndpoints(def: ProviderDefinition, baseUrl?: string): OAuthEndpoints {
  const spec = def.oauth as OAuthSpec;
  const base = (baseUrl ?? spec.base_url)?.replace(/\/+$/, '');
  const expand = (template: string | undefined): string | undefined => {
    if (!template) return undefined;
    if (!template.includes('{base_url}')) return template;
    if (base === undefined) {
      throw errors.usage(
        `${def.display_name} needs the base URL of your server.`,
        `Run 'authsome login ${def.name} --base-url https://<your server>'.`,
      );
    }
    return template.replace(/\{base_url\}/g, base);
  };
  return {
    authorization_url: expand(spec.authorization_url),
    token_url: expand(spec.token_url)!,
    revocation_url: expand(spec.revocation_url),
    device_authorization_url: expand(spec.device_authorization_url),
    registration_endpoint: expand(def.registration?.registration_endpoint),
  };
}
