// /login/:session: the browser form of `authsome login`. A rejected key re-renders the form with
// the catalogue's message next to the field (422, swapped by htmx, or a full page without JavaScript); the key
// itself is never echoed back. Success ends the login session, which wakes the waiting CLI; a "Replace key" started
// from a provider page goes back to that page with a one-time message instead. For an OAuth provider the form takes
// the client (once per provider) and scopes, and sends the browser on to the provider.
import type { Context } from 'hono';
import { Hono } from 'hono';
import { AppError } from '../../errors.js';
import type { ServerDeps } from '../deps.js';
import { buildHtmlPattern } from '../format.js';
import { buildRedirectUri, startAuthorization } from '../login-flow.js';
import type { LoginSession } from '../login-sessions.js';
import { isHtmx, redirect, type Renderer } from '../render.js';
import type { WebEnv, WebState } from '../web-state.js';
import { buildLoginCommand, buildLoginLinkNotice } from './sign-in.js';

export function createLoginRoutes(deps: ServerDeps, web: WebState, render: Renderer): Hono<WebEnv> {
  const app = new Hono<WebEnv>();

  async function renderOAuthForm(c: Context<WebEnv>, session: LoginSession, error?: AppError, scopes?: string) {
    const d = (await deps.registry.get(session.provider)).definition;
    const client = deps.connections.loadOAuthClient(d.name);
    const login = {
      id: session.id,
      provider: d.name,
      connection: session.connection,
      force: session.force,
      display_name: d.display_name,
      description: d.description ?? '',
      docs_url: d.docs_url,
      redirect_uri: buildRedirectUri(deps),
      // dcr_pkce: authsome registers its own client; nothing to enter.
      dcr: session.oauth?.flow === 'dcr_pkce',
      client_id: client?.client_id ?? '',
      has_secret: client?.client_secret !== undefined,
      scopes: scopes ?? (session.oauth?.scopes ?? d.oauth?.scopes ?? []).join(' '),
    };
    const data = { login, error: error ? { message: error.message, hint: error.hint } : undefined };
    return render.page(c, 'login-oauth', { title: `Log in to ${d.display_name}`, data, status: error ? 422 : 200 });
  }

  /** Stores the client (when entered) and sends the browser to the provider's authorization URL. */
  async function startOAuth(c: Context<WebEnv>, session: LoginSession) {
    const body = await c.req.parseBody();
    const field = (name: string) => (typeof body[name] === 'string' ? (body[name] as string).trim() : '');
    const stored = deps.connections.loadOAuthClient(session.provider);
    const clientId = field('client_id');
    const secret = field('client_secret');
    // An unchanged client id with an empty secret keeps the stored secret; a new client id brings its own (or none).
    const client =
      clientId === ''
        ? undefined
        : clientId === stored?.client_id && secret === ''
          ? stored
          : { client_id: clientId, ...(secret ? { client_secret: secret } : {}) };
    const scopes = field('scopes')
      .split(/[\s,]+/)
      .filter(Boolean);
    try {
      const authorizationUrl = await startAuthorization(deps, session, { ...(client ? { client } : {}), scopes });
      // htmx navigates itself; a plain form cannot be redirected to another origin (CSP form-action), so it gets a
      // link.
      if (isHtmx(c)) {
        c.header('HX-Redirect', authorizationUrl);
        return c.body(null, 200);
      }
      const d = (await deps.registry.get(session.provider)).definition;
      return render.page(c, 'oauth-continue', {
        title: `Continue to ${d.display_name}`,
        data: { go: { display_name: d.display_name, url: authorizationUrl } },
      });
    } catch (err) {
      if (err instanceof AppError && (err.code === 'USAGE' || err.code === 'INVALID_INPUT'))
        return renderOAuthForm(c, session, err, scopes.join(' '));
      throw err;
    }
  }

  async function renderForm(c: Context<WebEnv>, session: LoginSession, error?: AppError) {
    if (session.device) {
      const d = (await deps.registry.get(session.provider)).definition;
      const device = {
        id: session.id,
        display_name: d.display_name,
        provider: d.name,
        connection: session.connection,
        ...session.device,
      };
      return render.page(c, 'login-device', { title: `Log in to ${d.display_name}`, data: { device } });
    }
    if (session.oauth) return renderOAuthForm(c, session, error);
    const d = (await deps.registry.get(session.provider)).definition;
    const login = {
      id: session.id,
      provider: d.name,
      connection: session.connection,
      force: session.force,
      origin: session.origin,
      replace: session.replace,
      display_name: d.display_name,
      description: d.description ?? '',
      docs_url: d.docs_url,
      pattern: buildHtmlPattern(d.api_key?.key_pattern),
      hint: d.api_key?.key_pattern_hint,
      expiresAt: new Date(session.expiresAt).toISOString(),
      command: buildLoginCommand(session),
    };
    const data = { login, error: error ? { message: error.message, hint: error.hint } : undefined };
    const title = session.replace ? `Replace the ${d.display_name} key` : `Log in to ${d.display_name}`;
    return render.page(c, 'login', { title, data, status: error ? 422 : 200 });
  }

  function renderDone(c: Context<WebEnv>, session: LoginSession) {
    return render.page(c, 'login-done', {
      title: 'Logged in',
      data: { done: { provider: session.provider, connection: session.connection, origin: session.origin } },
    });
  }

  const ended = (c: Context<WebEnv>, session: LoginSession | undefined) =>
    render.notice(c, buildLoginLinkNotice(session), 410);

  app.get('/login/:id', async (c) => {
    const session = web.logins.get(c.req.param('id'));
    if (session?.state !== 'pending') return ended(c, session);
    return renderForm(c, session);
  });

  app.post('/login/:id', async (c) => {
    const session = web.logins.get(c.req.param('id'));
    if (session?.state !== 'pending') return ended(c, session);
    if (session.device) return renderForm(c, session);
    if (session.oauth) return startOAuth(c, session);
    const body = await c.req.parseBody();
    try {
      const result = await deps.connections.loginWithApiKey({
        provider: session.provider,
        connection: session.connection,
        apiKey: typeof body.api_key === 'string' ? body.api_key : '',
        force: session.force,
      });
      if (!result.stored) {
        web.logins.cancel(session.id);
        return render.notice(
          c,
          {
            title: 'Already connected',
            message: `${session.provider} (${session.connection}) was connected meanwhile; nothing was changed.`,
            tone: 'warn',
          },
          409,
        );
      }
    } catch (err) {
      if (err instanceof AppError && err.code === 'INVALID_KEY') return renderForm(c, session, err);
      throw err;
    }
    web.logins.complete(session.id, c.get('session').key);
    if (session.replace) {
      c.get('session').flash = { kind: 'ok', text: `Replaced the key of ${session.provider} (${session.connection}).` };
      return redirect(c, `/providers/${encodeURIComponent(session.provider)}`);
    }
    if (!isHtmx(c)) return redirect(c, `/login/${session.id}/done`);
    c.header('HX-Push-Url', `/login/${session.id}/done`);
    return renderDone(c, session);
  });

  app.get('/login/:id/done', (c) => {
    const session = web.logins.get(c.req.param('id'));
    if (session?.state !== 'completed' || session.completedBy !== c.get('session').key) return ended(c, session);
    return renderDone(c, session);
  });

  app.post('/login/:id/cancel', (c) => {
    const session = web.logins.cancel(c.req.param('id'));
    deps.oauth.forgetSession(c.req.param('id'));
    if (session?.origin === 'web') return redirect(c, `/providers/${session.provider}`);
    return ended(c, session);
  });

  return app;
}
