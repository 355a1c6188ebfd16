// The authorization-code request with PKCE (RFC 7636, S256 only) and its `state`: random values and the URL the
// browser is sent to. Pure apart from the randomness; no I/O.
import { createHash, randomBytes } from 'node:crypto';

export interface PkcePair {
  /** SECRET until the code is exchanged: it proves the exchange comes from whoever started the login. */
  verifier: string;
  challenge: string;
}

/** 32 random bytes → a 43-character verifier, the shortest RFC 7636 §4.1 allows, with 256 bits of entropy. */
export function createPkcePair(): PkcePair {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier, 'ascii').digest('base64url') };
}

/** 256 random bits: `state` must be unguessable (at least 128 bits), or any web page could finish a login. */
export function createState(): string {
  return randomBytes(32).toString('base64url');
}

export interface AuthorizationRequest {
  authorizationUrl: string;
  clientId: string;
  redirectUri: string;
  scopes: string[];
  state: string;
  challenge: string;
}

/** The authorization URL's own query (e.g. Google's access_type=offline) is kept; ours replaces same-named ones. */
export function buildAuthorizationUrl(req: AuthorizationRequest): string {
  const url = new URL(req.authorizationUrl);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', req.clientId);
  url.searchParams.set('redirect_uri', req.redirectUri);
  if (req.scopes.length > 0) url.searchParams.set('scope', req.scopes.join(' '));
  url.searchParams.set('state', req.state);
  url.searchParams.set('code_challenge', req.challenge);
  url.searchParams.set('code_challenge_method', 'S256');
  return url.href;
}

/** The answer fields of a redirect URL pasted back by a person (headless login). */
export interface PastedAnswer {
  state?: string;
  code?: string;
  error?: string;
  error_description?: string;
  iss?: string;
}

/** Reads `state`, `code`, `error` and `iss` from the address the provider redirected the browser to. */
export function parsePastedRedirect(input: string): PastedAnswer {
  const text = input.trim();
  let params: URLSearchParams;
  try {
    params = new URL(text).searchParams;
  } catch {
    // A bare query ("code=…&state=…") is what some browsers show when the page failed to load.
    params = new URLSearchParams(text.startsWith('?') ? text.slice(1) : text);
  }
  const get = (name: string) => params.get(name) ?? undefined;
  return {
    state: get('state'),
    code: get('code'),
    error: get('error'),
    error_description: get('error_description'),
    iss: get('iss'),
  };
}
