// Calls to a provider's token endpoint (RFC 6749 §4.1.3 code exchange, §6 refresh) and the checks on its answer.
// The HTTP client is injected (the composition root passes Node's global fetch): core code opens no sockets itself.
import { errors } from '../errors.js';

/** The part of the WHATWG fetch API this module uses, so a test or the runtime can hand in any implementation. */
export type FetchLike = (
  url: string,
  init: {
    method: 'GET' | 'POST';
    headers: Record<string, string>;
    body?: string;
    redirect: 'error';
    signal: AbortSignal;
  },
) => Promise<{ status: number; headers: { get(name: string): string | null }; text(): Promise<string> }>;

/** A validated token response. Every field but the scopes is SECRET or derived from one. */
export interface TokenSet {
  /** SECRET */
  access_token: string;
  /** SECRET */
  refresh_token?: string;
  token_type?: string;
  /** Seconds from the answer, as the provider said. */
  expires_in?: number;
  /** Granted scopes when the provider says (RFC 6749 §5.1); else the caller keeps the requested ones. */
  scopes?: string[];
}

export interface TokenClient {
  fetch: FetchLike;
  /** Per call; a token endpoint that hangs must not hold a login (or a proxied request) forever. */
  timeoutMs?: number;
}

export interface ClientCredentials {
  client_id: string;
  /** SECRET */
  client_secret?: string;
}

export interface TokenCallContext {
  provider: string;
  displayName: string;
  tokenUrl: string;
}

export const DEFAULT_TIMEOUT_MS = 20_000;
/**
 * The longest lifetime taken from a provider: a bigger expires_in (or 1e300, which is no date at all) counts as a year,
 * so a hostile or broken answer can neither fail every later use nor keep a token from ever being refreshed.
 */
export const MAX_EXPIRES_IN_S = 365 * 24 * 3600;
const MAX_DETAIL = 160;

export function exchangeCode(
  client: TokenClient,
  ctx: TokenCallContext,
  credentials: ClientCredentials,
  input: { code: string; redirectUri: string; verifier: string },
): Promise<TokenSet> {
  return requestToken(client, ctx, credentials, {
    grant_type: 'authorization_code',
    code: input.code,
    redirect_uri: input.redirectUri,
    code_verifier: input.verifier,
  });
}

export function refreshAccessToken(
  client: TokenClient,
  ctx: TokenCallContext,
  credentials: ClientCredentials,
  refreshToken: string,
): Promise<TokenSet> {
  return requestToken(client, ctx, credentials, { grant_type: 'refresh_token', refresh_token: refreshToken });
}

/** How a provider wants its POST bodies: form-encoded (RFC 6749), or JSON (`device_token_request: "json"`). */
export type BodyFormat = 'oauth2_form' | 'json';

/**
 * One POST to a provider endpoint. `Accept: application/json` because GitHub answers form-encoded otherwise; the
 * client secret goes in the body (client_secret_post), which GitHub, Google, Slack and most others accept. Redirects
 * are refused: a code, verifier or secret must never be re-posted to wherever a redirect points.
 */
export async function postToEndpoint(
  client: TokenClient,
  ctx: TokenCallContext,
  credentials: ClientCredentials,
  params: Record<string, string>,
  format: BodyFormat = 'oauth2_form',
): Promise<{ status: number; type: string; text: string }> {
  const fields: Record<string, string> = { ...params, client_id: credentials.client_id };
  if (credentials.client_secret) fields.client_secret = credentials.client_secret;
  const host = safeHost(ctx.tokenUrl);
  try {
    const res = await client.fetch(ctx.tokenUrl, {
      method: 'POST',
      headers: {
        'content-type': format === 'json' ? 'application/json' : 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body: format === 'json' ? JSON.stringify(fields) : new URLSearchParams(fields).toString(),
      redirect: 'error',
      signal: AbortSignal.timeout(client.timeoutMs ?? DEFAULT_TIMEOUT_MS),
    });
    return { status: res.status, type: (res.headers.get('content-type') ?? '').toLowerCase(), text: await res.text() };
  } catch (err) {
    throw errors.oauthUnreachable(ctx.displayName, host, describeFetchFailure(err));
  }
}

export async function requestToken(
  client: TokenClient,
  ctx: TokenCallContext,
  credentials: ClientCredentials,
  params: Record<string, string>,
  format: BodyFormat = 'oauth2_form',
): Promise<TokenSet> {
  const { status, type, text } = await postToEndpoint(client, ctx, credentials, params, format);
  return parseTokenResponse(ctx, status, type, text);
}

/** RFC 6749 §5.1 (success) and §5.2 (error), checked field by field; nothing from the body is echoed but codes. */
export function parseTokenResponse(
  ctx: Pick<TokenCallContext, 'provider' | 'displayName'>,
  status: number,
  contentType: string,
  text: string,
): TokenSet {
  const body = parseJsonAnswer(ctx, status, contentType, text);
  if (status < 200 || status >= 300)
    throw errors.oauthBadResponse(ctx.displayName, ctx.provider, `HTTP ${status} without an OAuth error code`);
  if (typeof body.access_token !== 'string' || body.access_token === '') {
    throw errors.oauthBadResponse(ctx.displayName, ctx.provider, 'the answer has no access_token');
  }
  // authsome always sends `Authorization: Bearer <token>`; a token of another type would be sent wrongly.
  if (
    body.token_type !== undefined &&
    (typeof body.token_type !== 'string' || body.token_type.toLowerCase() !== 'bearer')
  ) {
    throw errors.oauthBadResponse(
      ctx.displayName,
      ctx.provider,
      `token_type '${cleanText(String(body.token_type))}' is not Bearer`,
    );
  }
  const out: TokenSet = { access_token: body.access_token };
  if (typeof body.token_type === 'string') out.token_type = body.token_type;
  if (body.refresh_token !== undefined && body.refresh_token !== null) {
    if (typeof body.refresh_token !== 'string' || body.refresh_token === '') {
      throw errors.oauthBadResponse(ctx.displayName, ctx.provider, 'refresh_token is not a string');
    }
    out.refresh_token = body.refresh_token;
  }
  if (body.expires_in !== undefined && body.expires_in !== null) {
    // Some providers send the number as a string ("3600").
    const seconds =
      typeof body.expires_in === 'string' && /^\d+$/.test(body.expires_in) ? Number(body.expires_in) : body.expires_in;
    if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0) {
      throw errors.oauthBadResponse(ctx.displayName, ctx.provider, 'expires_in is not a positive number of seconds');
    }
    out.expires_in = Math.min(seconds, MAX_EXPIRES_IN_S);
  }
  if (typeof body.scope === 'string' && body.scope.trim() !== '') {
    // Space-separated per RFC 6749 §3.3; GitHub separates with commas.
    out.scopes = body.scope.split(/[\s,]+/).filter(Boolean);
  }
  return out;
}

/**
 * A JSON object from a provider endpoint, or the error it carries (RFC 6749 §5.2; the AppError's `detail` is the
 * bare error code, for callers that act on it, e.g. device-code polling).
 */
export function parseJsonAnswer(
  ctx: Pick<TokenCallContext, 'provider' | 'displayName'>,
  status: number,
  contentType: string,
  text: string,
): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    const what = contentType.includes('html')
      ? 'an HTML page'
      : contentType
        ? `'${cleanText(contentType.split(';')[0]!)}'`
        : 'a body that is not JSON';
    throw errors.oauthBadResponse(ctx.displayName, ctx.provider, `HTTP ${status} with ${what} instead of JSON`);
  }
  const body =
    typeof json === 'object' && json !== null && !Array.isArray(json) ? (json as Record<string, unknown>) : undefined;
  if (!body)
    throw errors.oauthBadResponse(ctx.displayName, ctx.provider, `HTTP ${status} with JSON that is not an object`);
  // GitHub answers errors with status 200 and an `error` field, so the field decides, not only the status.
  if (typeof body.error === 'string' && body.error !== '') {
    const description = typeof body.error_description === 'string' ? cleanText(body.error_description) : undefined;
    throw errors.oauthTokenRefused(ctx.displayName, ctx.provider, cleanText(body.error), description);
  }
  return body;
}

/** Text from the provider, safe for a terminal and a page: no control characters, bounded length. */
export function cleanText(value: string): string {
  const flat = value.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').trim();
  return flat.length > MAX_DETAIL ? `${flat.slice(0, MAX_DETAIL)}…` : flat;
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

export function describeFetchFailure(err: unknown): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return 'no answer in time';
  const cause = err instanceof Error ? (err.cause as { code?: string; message?: string } | undefined) : undefined;
  if (cause?.code) return cause.code;
  if (cause?.message) return cleanText(cause.message);
  return err instanceof Error ? cleanText(err.message) : 'unknown error';
}
