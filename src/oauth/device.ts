// The device authorization grant (RFC 8628): ask for a device code and user code, then poll the token endpoint at
// the interval the provider set, +5 s after each `slow_down` (§3.5), until the person approves, denies, or the code
// expires. The waiting is injected (`sleep`, `now`), so tests run it without real 5-second pauses.
import { errors, isAppError } from '../errors.js';
import {
  cleanText,
  parseJsonAnswer,
  postToEndpoint,
  requestToken,
  type BodyFormat,
  type ClientCredentials,
  type TokenCallContext,
  type TokenClient,
  type TokenSet,
} from './token-client.js';

export const DEVICE_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:device_code';
/** RFC 8628 §3.2: without `interval`, clients wait 5 seconds between polls; §3.5: `slow_down` adds 5 seconds. */
const DEFAULT_INTERVAL_S = 5;
const SLOW_DOWN_STEP_MS = 5_000;
/**
 * A device code is waited for an hour at most (GitHub's and Microsoft's live 15 minutes, Google's 30): a longer or
 * absurd expires_in from the provider would keep the poll and its login session alive, or make no date at all.
 */
export const MAX_DEVICE_CODE_S = 3600;

export interface DeviceAuthorization {
  /** SECRET: whoever holds it can collect the tokens once the person approves. */
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete?: string;
  expires_in: number;
  interval: number;
}

export interface DevicePolling {
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  now(): number;
  signal: AbortSignal;
}

export async function requestDeviceAuthorization(
  client: TokenClient,
  ctx: TokenCallContext,
  credentials: ClientCredentials,
  scopes: string[],
  format: BodyFormat,
): Promise<DeviceAuthorization> {
  const { status, type, text } = await postToEndpoint(
    client,
    ctx,
    credentials,
    scopes.length > 0 ? { scope: scopes.join(' ') } : {},
    format,
  );
  const body = parseJsonAnswer(ctx, status, type, text);
  if (status < 200 || status >= 300)
    throw errors.oauthBadResponse(ctx.displayName, ctx.provider, `HTTP ${status} without an OAuth error code`);
  const bad = (detail: string) => errors.oauthBadResponse(ctx.displayName, ctx.provider, detail);
  if (typeof body.device_code !== 'string' || body.device_code === '')
    throw bad('the device authorization has no device_code');
  if (typeof body.user_code !== 'string' || body.user_code === '')
    throw bad('the device authorization has no user_code');
  // Google names it verification_url (an early draft's spelling).
  const uri = body.verification_uri ?? body.verification_url;
  if (!isWebUrl(uri)) throw bad('the device authorization has no http(s) verification_uri');
  const expiresIn = Number(body.expires_in);
  if (!Number.isFinite(expiresIn) || expiresIn <= 0) throw bad('expires_in is not a positive number of seconds');
  const interval = body.interval === undefined ? DEFAULT_INTERVAL_S : Number(body.interval);
  if (!Number.isFinite(interval) || interval < 0) throw bad('interval is not a number of seconds');
  return {
    device_code: body.device_code,
    user_code: cleanText(body.user_code),
    verification_uri: uri as string,
    // Opened in a browser: only an http(s) URL, never another scheme a hostile provider might send.
    ...(isWebUrl(body.verification_uri_complete)
      ? { verification_uri_complete: body.verification_uri_complete as string }
      : {}),
    expires_in: Math.min(expiresIn, MAX_DEVICE_CODE_S),
    interval: Math.max(interval, 1),
  };
}

/** Polls until tokens come, or throws: access_denied, expired_token (or our own deadline), cancelled, other errors. */
export async function pollDeviceToken(
  client: TokenClient,
  ctx: TokenCallContext,
  credentials: ClientCredentials,
  device: DeviceAuthorization,
  format: BodyFormat,
  polling: DevicePolling,
): Promise<TokenSet> {
  const deadline = polling.now() + device.expires_in * 1000;
  let intervalMs = device.interval * 1000;
  for (;;) {
    await polling.sleep(intervalMs, polling.signal);
    if (polling.signal.aborted) throw errors.cancelled();
    if (polling.now() >= deadline) throw errors.deviceCodeExpired(ctx.displayName, ctx.provider);
    try {
      return await requestToken(
        client,
        ctx,
        credentials,
        { grant_type: DEVICE_GRANT_TYPE, device_code: device.device_code },
        format,
      );
    } catch (err) {
      if (polling.signal.aborted) throw errors.cancelled();
      if (!isAppError(err) || err.code !== 'OAUTH_FAILED') throw err;
      if (err.detail === 'authorization_pending') continue;
      if (err.detail === 'slow_down') {
        intervalMs += SLOW_DOWN_STEP_MS;
        continue;
      }
      if (err.detail === 'access_denied') throw errors.oauthDenied(ctx.displayName, ctx.provider);
      if (err.detail === 'expired_token') throw errors.deviceCodeExpired(ctx.displayName, ctx.provider);
      throw err;
    }
  }
}

/** A timer that ends early (without error) when the signal aborts. */
export function sleepWithSignal(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

function isWebUrl(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}
