// Starting and finishing a browser login (SPEC §5 login): checks the provider and connection through the
// services, opens a login session, and mints the one-time URL that shows its form and signs the browser in.
import { errors } from '../errors.js';
import type { ServerDeps } from './deps.js';
import type { LoginSession } from './login-sessions.js';
import type { WebState } from './web-state.js';

export interface StartLoginInput {
  provider: string;
  connection?: string;
  force: boolean;
  origin: LoginSession['origin'];
  /** A new key for a connection that must exist already (implies force); nothing is deleted before it validates. */
  replace?: boolean;
}

export async function startLoginSession(deps: ServerDeps, web: WebState, input: StartLoginInput): Promise<LoginSession> {
  const { entry, connection, exists } = await deps.connections.describeLogin(input.provider, input.connection);
  const def = entry.definition;
  if (def.auth_type !== 'api_key') {
    throw errors.invalidInput(
      `${def.display_name} signs in with OAuth 2.0, which this version of authsome cannot do yet.`,
      'Use an API-key provider for now (for GitHub: github-pat).',
    );
  }
  if (input.replace && !exists) throw errors.connectionNotFound(def.name, connection);
  if (exists && !input.force && !input.replace) {
    throw errors.invalidInput(
      `${def.name} (${connection}) is already connected.`,
      input.origin === 'cli' ? 'Use --force to overwrite.' : 'Choose another connection name, or log that one out first.',
    );
  }
  const replace = input.replace === true;
  return web.logins.create({ provider: def.name, connection, force: input.force || replace, origin: input.origin, replace });
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
