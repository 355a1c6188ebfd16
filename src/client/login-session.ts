// The CLI's side of a login session on the server: waiting for it to end (the long-poll every login path shares:
// the browser form, the OAuth callback, the device flow), cancelling it, and what its end means for the command.
// No terminal here: the spinner, the keys typed and Ctrl-C belong to the login command.
import { errors, parseAppError } from '../errors.js';
import type { ApiClient } from './api-client.js';

export interface LoginSessionReply {
  id: string;
  url: string;
  state: 'pending' | 'completed' | 'cancelled' | 'expired' | 'failed';
  /** An OAuth login: it ends at the provider, so there is no key to paste in the terminal. */
  oauth?: boolean;
  flow?: string;
  /** At creation of an OAuth session: whether the provider's client id is stored already. */
  has_client?: boolean;
  /** A device login under way (RFC 8628): the code to enter, and where. */
  device?: { user_code: string; verification_uri: string; verification_uri_complete?: string };
  /** Why a failed login failed (an OAuth answer refused, a token endpoint down…), in the catalogue's JSON form. */
  error?: unknown;
  provider: string;
  connection: string;
  expires_at: string;
}

export interface LoginResult {
  provider: string;
  connection: string;
  stored: boolean;
}

/** Each long-poll call waits this long at most (under the HTTP client's 30 s timeout and the server's 25 s cap). */
export const LOGIN_POLL_WAIT_MS = 20_000;
/**
 * How long past the session's `expires_at` the CLI still asks: the server answers `expired` at that time itself, so
 * this only ends a wait on a server that never says so.
 */
const EXPIRY_GRACE_MS = 5_000;

export interface LoginWaitOptions {
  /** Gives up waiting: the wait rejects with `Cancelled.` and the call in flight is dropped. */
  signal?: AbortSignal;
  /** How long one call may park on the server. */
  pollWaitMs?: number;
  now?: () => number;
}

/**
 * Long-polls the session until it leaves `pending` and returns how it ended: the result of a completed login, or
 * the catalogue's error for a cancelled, expired or failed one. The server answers "still pending" when a call's
 * wait runs out; that is asked again until the session's deadline (which a device login may move on).
 */
export async function waitForLogin(
  api: ApiClient,
  session: Pick<LoginSessionReply, 'id' | 'provider' | 'expires_at'>,
  options: LoginWaitOptions = {},
): Promise<LoginResult> {
  const { signal, pollWaitMs = LOGIN_POLL_WAIT_MS, now = Date.now } = options;
  let deadline = Date.parse(session.expires_at) + EXPIRY_GRACE_MS;
  for (;;) {
    const left = deadline - now();
    if (!(left > 0)) throw errors.loginTimedOut(session.provider);
    const path = `/login-sessions/${session.id}?wait=${Math.min(pollWaitMs, left)}`;
    const state = await api.call<LoginSessionReply>('GET', path, undefined, { signal });
    if (state.state !== 'pending') return settleLogin(state);
    deadline = Date.parse(state.expires_at) + EXPIRY_GRACE_MS;
  }
}

/**
 * Cancels a waiting login on the server. What the server reports wins: a login completed a moment before the
 * cancel is a result, anything else (an unreachable server included) is `Cancelled.`
 */
export async function cancelLogin(api: ApiClient, sessionId: string): Promise<LoginResult> {
  const state = await api
    .call<LoginSessionReply>('POST', `/login-sessions/${sessionId}/cancel`, {})
    .catch(() => undefined);
  if (state?.state === 'completed') return settleLogin(state);
  throw errors.cancelled();
}

/** A login session that left `pending`: the result, or the error that ended it. */
export function settleLogin(state: LoginSessionReply): LoginResult {
  if (state.state === 'completed') return { provider: state.provider, connection: state.connection, stored: true };
  if (state.state === 'cancelled') throw errors.loginCancelledInBrowser(state.provider);
  if (state.state === 'expired') throw errors.loginTimedOut(state.provider);
  if (state.state === 'failed') throw parseAppError(state.error) ?? errors.internal('The login failed.');
  throw errors.internal('The login is still pending.');
}
