// Starting and finishing a browser login (SPEC §5 login): checks the provider and connection through the
// services, opens a login session, and mints the one-time URL that shows its form and signs the browser in.
import { errors } from '../errors.js';
import { parseBaseUrl, resolveOAuthEndpoints } from '../oauth/endpoints.js';
import type { Flow } from '../providers/schema.js';
import type { ServerDeps } from './deps.js';
import type { LoginSession, OAuthLoginOptions } from './login-sessions.js';
import type { WebState } from './web-state.js';

export interface StartLoginInput {
  provider: string;
  connection?: string;
  force: boolean;
  origin: LoginSession['origin'];
  /** OAuth only (login --flow, --scopes, --base-url); refused for an API-key provider. */
  flow?: string;
  scopes?: string[];
  baseUrl?: string;
}

/** The flows this version completes; the others are refused with a clear error rather than started and abandoned. */
const SUPPORTED_FLOWS: Flow[] = ['pkce'];

export async function startLoginSession(deps: ServerDeps, web: WebState, input: StartLoginInput): Promise<LoginSession> {
  const { entry, connection, exists } = await deps.connections.describeLogin(input.provider, input.connection);
  const def = entry.definition;
  const oauth = buildOAuthOptions(def, input);
  if (exists && !input.force) {
    throw errors.invalidInput(
      `${def.name} (${connection}) is already connected.`,
      input.origin === 'cli' ? 'Use --force to overwrite.' : 'Choose another connection name, or log that one out first.',
    );
  }
  return web.logins.create({ provider: def.name, connection, force: input.force, origin: input.origin, ...(oauth ? { oauth } : {}) });
}

function buildOAuthOptions(
  def: Awaited<ReturnType<ServerDeps['connections']['describeLogin']>>['entry']['definition'],
  input: StartLoginInput,
): OAuthLoginOptions | undefined {
  if (def.auth_type !== 'oauth2') {
    const given = input.flow !== undefined ? '--flow' : input.scopes !== undefined ? '--scopes' : input.baseUrl !== undefined ? '--base-url' : undefined;
    if (given) throw errors.usage(`${given} is for OAuth providers; ${def.display_name} uses an API key.`, `Run 'authsome login ${def.name}' without ${given}.`);
    return undefined;
  }
  const flow = (input.flow ?? def.flow) as Flow;
  if (!['pkce', 'device_code', 'dcr_pkce'].includes(flow)) {
    throw errors.usage(`Unknown flow '${input.flow}'.`, 'Use --flow pkce, --flow device_code or --flow dcr_pkce.');
  }
  if (!SUPPORTED_FLOWS.includes(flow)) {
    throw errors.usage(
      `The ${flow} flow is not available in this version of authsome yet.`,
      def.oauth?.authorization_url ? `Use --flow pkce to sign in through the browser.` : `Use an API-key provider for ${def.display_name} for now.`,
    );
  }
  if (flow === 'pkce' && !def.oauth?.authorization_url) {
    throw errors.usage(`${def.display_name} has no authorization_url, so the pkce flow cannot be used.`, `Run 'authsome login ${def.name}' without --flow.`);
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
export function buildLoginUrl(deps: ServerDeps, web: WebState, session: LoginSession): string {
  const path = `/login/${session.id}`;
  const { token } = web.tokens.issue({ path, loginSessionId: session.id, ttlMs: session.expiresAt - Date.now() });
  return `${web.pageOrigin()}${path}?token=${token}`;
}

/** The one-time URL that signs a browser into the dashboard (`authsome ui`). */
export function buildDashboardUrl(deps: ServerDeps, web: WebState): { url: string; expiresAt: number } {
  const { token, expiresAt } = web.tokens.issue({ path: '/' });
  return { url: `${web.pageOrigin()}/?token=${token}`, expiresAt };
}
