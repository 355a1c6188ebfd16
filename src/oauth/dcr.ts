// Dynamic client registration (RFC 7591) for `dcr_pkce` providers: find the registration endpoint (the definition's,
// or RFC 8414 / OpenID discovery at the authorization server's origin), register authsome as a public native client
// with its loopback redirect URI, and return the client to store. The HTTP client is injected.
import { errors } from '../errors.js';
import type { OAuthClient } from '../connections/service.js';
import {
  cleanText,
  describeFetchFailure,
  DEFAULT_TIMEOUT_MS,
  parseJsonAnswer,
  type TokenClient,
} from './token-client.js';

export interface RegistrationContext {
  provider: string;
  displayName: string;
}

/** RFC 8414 §3 first, then OpenID Connect Discovery: the two places servers publish `registration_endpoint`. */
export async function discoverRegistrationEndpoint(
  client: TokenClient,
  ctx: RegistrationContext,
  issuerUrl: string,
): Promise<string> {
  const origin = new URL(issuerUrl).origin;
  for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
    const res = await send(client, ctx, `${origin}${path}`, 'GET');
    if (res.status !== 200) continue;
    let body: unknown;
    try {
      body = JSON.parse(res.text);
    } catch {
      continue;
    }
    const endpoint = (body as { registration_endpoint?: unknown } | null)?.registration_endpoint;
    if (typeof endpoint === 'string' && /^https?:\/\//.test(endpoint)) return endpoint;
  }
  throw errors.oauthBadResponse(
    ctx.displayName,
    ctx.provider,
    `no registration_endpoint in its discovery documents at ${origin}`,
  );
}

export async function registerClient(
  client: TokenClient,
  ctx: RegistrationContext,
  endpoint: string,
  input: { redirectUri: string; scopes: string[] },
): Promise<OAuthClient> {
  const metadata = {
    client_name: 'authsome',
    application_type: 'native',
    redirect_uris: [input.redirectUri],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    // A public client: PKCE protects the code, and there is no secret to keep.
    token_endpoint_auth_method: 'none',
    ...(input.scopes.length > 0 ? { scope: input.scopes.join(' ') } : {}),
  };
  const res = await send(client, ctx, endpoint, 'POST', JSON.stringify(metadata));
  const body = parseJsonAnswer(ctx, res.status, res.type, res.text);
  if (res.status !== 201 && res.status !== 200)
    throw errors.oauthBadResponse(
      ctx.displayName,
      ctx.provider,
      `the client registration was answered with HTTP ${res.status}`,
    );
  if (typeof body.client_id !== 'string' || body.client_id === '')
    throw errors.oauthBadResponse(ctx.displayName, ctx.provider, 'the client registration has no client_id');
  return {
    client_id: cleanText(body.client_id),
    ...(typeof body.client_secret === 'string' && body.client_secret !== ''
      ? { client_secret: body.client_secret }
      : {}),
  };
}

async function send(
  client: TokenClient,
  ctx: RegistrationContext,
  url: string,
  method: 'GET' | 'POST',
  body?: string,
): Promise<{ status: number; type: string; text: string }> {
  try {
    const res = await client.fetch(url, {
      method,
      headers: { accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body } : {}),
      redirect: 'error',
      signal: AbortSignal.timeout(client.timeoutMs ?? DEFAULT_TIMEOUT_MS),
    });
    return { status: res.status, type: (res.headers.get('content-type') ?? '').toLowerCase(), text: await res.text() };
  } catch (err) {
    throw errors.oauthUnreachable(ctx.displayName, new URL(url).host, describeFetchFailure(err));
  }
}
