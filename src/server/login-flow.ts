// Starting and finishing a browser login: checks the provider and connection through the
// services, opens a login session, and mints the one-time URL that shows its form and signs the browser in.
import { errors, isAppError } from '../errors.js';
import type { OAuthClient } from '../connections/service.js';
import type { AuthorizationAnswer } from '../oauth/oauth-login.js';
import type { PendingAuthorization } from '../oauth/pending-authorizations.js';
import { parseBaseUrl, resolveOAuthEndpoints } from '../oauth/endpoints.js';
import type { Flow } from '../providers/schema.js';
import type { ServerDeps } from './deps.js';
import { OAUTH_SUBMITTER, type LoginSession, type OAuthLoginOptions } from './login-sessions.js';
import type { WebState } from './web-state.js';

export interface StartLoginInput {
  provider: string;
  connection?: string;
  force: boolean;
  origin: LoginSession['origin'];
  /** A new key for a connection that must exist already (implies force); nothing is deleted before it validates. */
  replace?: boolean;
  /** OAuth only (login --flow, --scopes, --base-url); refused for an API-key provider. */
  flow?: string;
  scopes?: string[];
  baseUrl?: string;
}

/** The flows this version completes; the others are refused with a clear error rather than started and abandoned. */
const SUPPORTED_FLOWS: Flow[] = ['pkce', 'device_code', 'dcr_pkce'];

export async function startLoginSession(
  deps: ServerDeps,
  web: WebState,
  input: StartLoginInput,
): Promise<LoginSession> {
  const { entry, connection, exists } = await deps.connections.describeLogin(input.provider, input.connection);
  const def = entry.definition;
  if (input.replace && (!exists || def.auth_type !== 'api_key')) throw errors.connectionNotFound(def.name, connection);
  const oauth = buildOAuthOptions(def, input);
  if (exists && !input.force && !input.replace) {
    throw errors.invalidInput(
      `${def.name} (${connection}) is already connected.`,
      input.origin === 'cli'
        ? 'Use --force to overwrite.'
        : 'Choose another connection name, or log that one out first.',
    );
  }
  const replace = input.replace === true;
  const session = web.logins.create({
    provider: def.name,
    connection,
    force: input.force || replace,
    origin: input.origin,
    replace,
    ...(oauth ? { oauth } : {}),
  });
  // A device login starts at once when the client is known; otherwise the CLI asks for it and calls startDeviceLogin.
  if (oauth?.flow === 'device_code' && deps.connections.loadOAuthClient(def.name))
    await startDeviceLogin(deps, web, session);
  else if (oauth?.flow === 'device_code' && input.origin === 'web') {
    web.logins.cancel(session.id);
    throw errors.oauthClientMissing(def.display_name, def.name);
  }
  return session;
}

/**
 * Requests the device code for a login session and polls in the background until the person approves, denies or
 * the code expires; the session ends accordingly (the CLI long-polls it). A failure to start ends the session too.
 */
export async function startDeviceLogin(
  deps: ServerDeps,
  web: WebState,
  session: LoginSession,
  client?: OAuthClient,
): Promise<void> {
  let login: Awaited<ReturnType<ServerDeps['oauth']['startDevice']>>;
  try {
    login = await deps.oauth.startDevice({
      provider: session.provider,
      connection: session.connection,
      force: session.force,
      ...(client ? { client } : {}),
      scopes: session.oauth?.scopes,
      baseUrl: session.oauth?.baseUrl,
      loginSessionId: session.id,
    });
  } catch (err) {
    web.logins.cancel(session.id);
    throw err;
  }
  session.device = {
    user_code: login.user_code,
    verification_uri: login.verification_uri,
    ...(login.verification_uri_complete ? { verification_uri_complete: login.verification_uri_complete } : {}),
  };
  // The session waits as long as the code is valid (GitHub's live 15 minutes), not the form's 5 minutes.
  session.expiresAt = Math.max(session.expiresAt, login.expiresAt);
  login.completion.then(
    (result) => (result.stored ? web.logins.complete(session.id, OAUTH_SUBMITTER) : web.logins.cancel(session.id)),
    (err: unknown) => {
      // A cancelled poll belongs to a session that was cancelled already.
      if (isAppError(err) && err.code === 'CANCELLED') return;
      web.logins.fail(session.id, isAppError(err) ? err : errors.internal());
    },
  );
}

function buildOAuthOptions(
  def: Awaited<ReturnType<ServerDeps['connections']['describeLogin']>>['entry']['definition'],
  input: StartLoginInput,
): OAuthLoginOptions | undefined {
  if (def.auth_type !== 'oauth2') {
    const given =
      input.flow !== undefined
        ? '--flow'
        : input.scopes !== undefined
          ? '--scopes'
          : input.baseUrl !== undefined
            ? '--base-url'
            : undefined;
    if (given)
      throw errors.usage(
        `${given} is for OAuth providers; ${def.display_name} uses an API key.`,
        `Run 'authsome login ${def.name}' without ${given}.`,
      );
    return undefined;
  }
  // A page-started login signs in through this browser when the provider allows it, whatever the default flow.
  const browserFlow =
    input.origin === 'web' && input.flow === undefined && def.flow === 'device_code' && def.oauth?.authorization_url
      ? 'pkce'
      : undefined;
  const flow = (input.flow ?? browserFlow ?? def.flow) as Flow;
  if (!['pkce', 'device_code', 'dcr_pkce'].includes(flow)) {
    throw errors.usage(`Unknown flow '${input.flow}'.`, 'Use --flow pkce, --flow device_code or --flow dcr_pkce.');
  }
  if (!SUPPORTED_FLOWS.includes(flow)) {
    throw errors.usage(
      `The ${flow} flow is not available in this version of authsome yet.`,
      def.oauth?.authorization_url
        ? `Use --flow pkce to sign in through the browser.`
        : `Use an API-key provider for ${def.display_name} for now.`,
    );
  }
  if ((flow === 'pkce' || flow === 'dcr_pkce') && !def.oauth?.authorization_url) {
    throw errors.usage(
      `${def.display_name} has no authorization_url, so the ${flow} flow cannot be used.`,
      `Run 'authsome login ${def.name}' without --flow.`,
    );
  }
  const scopes = input.scopes?.filter(Boolean);
  const baseUrl = input.baseUrl !== undefined ? parseBaseUrl(input.baseUrl) : undefined;
  // A definition that needs a base URL is refused now, in the terminal, not after the browser has opened.
  resolveOAuthEndpoints(def, baseUrl);
  return {
    flow: flow as OAuthLoginOptions['flow'],
    ...(scopes && scopes.length > 0 ? { scopes } : {}),
    ...(baseUrl !== undefined ? { baseUrl } : {}),
  };
}

/** The exact redirect URI to register with the provider: the server's own loopback address, never the page host. */
export function buildRedirectUri(deps: ServerDeps): string {
  return `http://127.0.0.1:${deps.info().port}/auth/callback`;
}

/** The one-time URL of a login session's form: valid as long as the session itself, and once. */
export function buildLoginUrl(_deps: ServerDeps, web: WebState, session: LoginSession): string {
  const path = `/login/${session.id}`;
  const { token } = web.tokens.issue({ path, loginSessionId: session.id, ttlMs: session.expiresAt - Date.now() });
  return `${web.pageOrigin()}${path}?token=${token}`;
}

/** The one-time URL that signs a browser into the dashboard (`authsome ui`). */
export function buildDashboardUrl(_deps: ServerDeps, web: WebState): { url: string; expiresAt: number } {
  const { token, expiresAt } = web.tokens.issue({ path: '/' });
  return { url: `${web.pageOrigin()}/?token=${token}`, expiresAt };
}

/**
 * Finishes an authorization-code login from the provider's answer (the redirect, or its URL pasted in a terminal)
 * and ends the login session with the outcome, so the waiting CLI sees it. Throws what went wrong.
 */
export async function finishAuthorization(
  deps: ServerDeps,
  web: WebState,
  pending: PendingAuthorization,
  answer: AuthorizationAnswer,
): Promise<LoginSession> {
  const session = web.logins.get(pending.loginSessionId);
  if (session?.state !== 'pending') throw errors.loginLinkEnded(pending.provider, session?.state ?? 'expired');
  try {
    const result = await deps.oauth.finishPkce(pending, answer);
    if (!result.stored) {
      web.logins.cancel(session.id);
      throw errors.invalidInput(
        `${session.provider} (${session.connection}) was connected meanwhile; nothing was changed.`,
        'Use --force to overwrite it.',
      );
    }
  } catch (err) {
    // The waiting CLI prints the same error the page shows.
    web.logins.fail(session.id, isAppError(err) ? err : errors.internal());
    throw err;
  }
  web.logins.complete(session.id, OAUTH_SUBMITTER);
  return session;
}

/** Starts the authorization-code flow for a login session; returns the URL the browser must open. */
export async function startAuthorization(
  deps: ServerDeps,
  session: LoginSession,
  input: { client?: OAuthClient; scopes?: string[] },
): Promise<string> {
  const { authorizationUrl } = await deps.oauth.startPkce({
    flow: session.oauth?.flow === 'dcr_pkce' ? 'dcr_pkce' : 'pkce',
    provider: session.provider,
    connection: session.connection,
    force: session.force,
    ...(input.client ? { client: input.client } : {}),
    scopes: input.scopes && input.scopes.length > 0 ? input.scopes : session.oauth?.scopes,
    baseUrl: session.oauth?.baseUrl,
    redirectUri: buildRedirectUri(deps),
    loginSessionId: session.id,
    expiresAt: session.expiresAt,
  });
  return authorizationUrl;
}
