// /api/login-sessions: the CLI's side of a browser login. Create one (→ the one-time form URL), wait for it
// (long-poll, ≤ 25 s a call), or cancel it (Ctrl-C). The form itself is a page: routes/login.ts.
import { Hono, type Context } from 'hono';
import { errors } from '../../errors.js';
import type { ServerDeps } from '../deps.js';
import { describePeer, refuseSecretsToRuns } from '../peer-process.js';
import { parsePastedRedirect } from '../../oauth/pkce.js';
import {
  buildLoginUrl,
  finishAuthorization,
  startAuthorization,
  startDeviceLogin,
  startLoginSession,
} from '../login-flow.js';
import { TERMINAL_SUBMITTER, type LoginSession } from '../login-sessions.js';
import type { WebState } from '../web-state.js';
import { optionalBoolean, optionalString, readJsonBody, requireString } from './body.js';

const MAX_WAIT_MS = 25_000;

function describe(session: LoginSession) {
  return {
    id: session.id,
    state: session.state,
    provider: session.provider,
    connection: session.connection,
    expires_at: new Date(session.expiresAt).toISOString(),
    ...(session.oauth ? { oauth: true, flow: session.oauth.flow } : {}),
    ...(session.device ? { device: session.device } : {}),
    ...(session.error ? { error: session.error.toJSON() } : {}),
  };
}

function optionalScopes(body: Record<string, unknown>): string[] | undefined {
  const v = body.scopes;
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string' && s !== '' && !/\s/.test(s))) {
    throw errors.usage("'scopes' must be a list of scope names without spaces.");
  }
  return v as string[];
}

export function createLoginSessionsApi(deps: ServerDeps, web: WebState): Hono {
  const api = new Hono();

  // What a login session's steps store (a key, an OAuth client, the account a sign-in lands on) is the person's to
  // choose: a live run's process that learnt a session's id must not put its own key or account in their place.
  const refuseToRuns = (c: Context, id: string) =>
    refuseSecretsToRuns({ ...describePeer(c, deps), action: 'store-key', provider: web.logins.get(id)?.provider });

  api.post('/', async (c) => {
    const body = await readJsonBody(c);
    // The login URL also signs the browser in to the dashboard, where a key can be revealed.
    await refuseSecretsToRuns({
      ...describePeer(c, deps),
      action: 'sign-in',
      provider: optionalString(body, 'provider'),
    });
    const session = await startLoginSession(deps, web, {
      provider: requireString(body, 'provider'),
      connection: optionalString(body, 'connection'),
      force: optionalBoolean(body, 'force'),
      origin: 'cli',
      flow: optionalString(body, 'flow'),
      scopes: optionalScopes(body),
      baseUrl: optionalString(body, 'base_url'),
    });
    // has_client: whether a headless sign-in must ask for the OAuth client id first.
    const oauth = session.oauth ? { has_client: deps.connections.loadOAuthClient(session.provider) !== undefined } : {};
    return c.json({ ...describe(session), ...oauth, url: buildLoginUrl(deps, web, session) }, 201);
  });

  api.get('/:id', async (c) => {
    const wait = Math.min(Math.max(Number(c.req.query('wait') ?? 0) || 0, 0), MAX_WAIT_MS);
    const session = await web.logins.waitForEnd(c.req.param('id'), wait);
    if (!session) throw errors.notFound('No such login session (the server may have restarted).');
    return c.json(describe(session));
  });

  // The key typed or pasted on the terminal while the CLI waits for the browser: whichever side comes first wins.
  // A key the provider's pattern refuses is an error and leaves the session pending (the form still works).
  api.post('/:id/key', async (c) => {
    const body = await readJsonBody(c);
    await refuseToRuns(c, c.req.param('id'));
    const session = web.logins.get(c.req.param('id'));
    if (!session) throw errors.notFound('No such login session (the server may have restarted).');
    if (session.state !== 'pending') return c.json(describe(session));
    const result = await deps.connections.loginWithApiKey({
      provider: session.provider,
      connection: session.connection,
      apiKey: typeof body.api_key === 'string' ? body.api_key : '',
      force: session.force,
    });
    if (!result.stored) web.logins.cancel(session.id);
    else web.logins.complete(session.id, TERMINAL_SUBMITTER);
    return c.json(describe(session));
  });

  // The OAuth client of a device login, asked for on the terminal the first time (later logins reuse the stored one).
  api.post('/:id/client', async (c) => {
    const body = await readJsonBody(c);
    await refuseToRuns(c, c.req.param('id'));
    const session = web.logins.get(c.req.param('id'));
    if (!session) throw errors.notFound('No such login session (the server may have restarted).');
    if (session.state !== 'pending' || session.oauth?.flow !== 'device_code' || session.device)
      return c.json(describe(session));
    const clientSecret = optionalString(body, 'client_secret');
    await startDeviceLogin(deps, web, session, {
      client_id: requireString(body, 'client_id').trim(),
      ...(clientSecret ? { client_secret: clientSecret } : {}),
    });
    return c.json(describe(session));
  });

  // Headless sign-in, step 1: the authorization URL to open in a browser elsewhere (client and scopes as on the form).
  api.post('/:id/authorize', async (c) => {
    const body = await readJsonBody(c);
    await refuseToRuns(c, c.req.param('id'));
    const session = web.logins.get(c.req.param('id'));
    if (!session) throw errors.notFound('No such login session (the server may have restarted).');
    if (session.state !== 'pending' || !session.oauth)
      throw errors.usage('This login session does not take an OAuth sign-in.');
    const clientId = optionalString(body, 'client_id')?.trim();
    const clientSecret = optionalString(body, 'client_secret');
    const url = await startAuthorization(
      deps,
      session,
      clientId ? { client: { client_id: clientId, ...(clientSecret ? { client_secret: clientSecret } : {}) } } : {},
    );
    return c.json({ ...describe(session), authorization_url: url });
  });

  // Step 2: the address the provider redirected that browser to, pasted in the terminal. Its state must be one this
  // very session is waiting for.
  api.post('/:id/redirect', async (c) => {
    const body = await readJsonBody(c);
    await refuseToRuns(c, c.req.param('id'));
    const session = web.logins.get(c.req.param('id'));
    if (!session) throw errors.notFound('No such login session (the server may have restarted).');
    const answer = parsePastedRedirect(requireString(body, 'url'));
    const pending = deps.oauth.takeAuthorization(answer.state ?? '', session.id);
    await finishAuthorization(deps, web, pending, answer);
    return c.json(describe(session));
  });

  api.post('/:id/cancel', (c) => {
    const session = web.logins.cancel(c.req.param('id'));
    deps.oauth.forgetSession(c.req.param('id'));
    if (!session) throw errors.notFound('No such login session (the server may have restarted).');
    return c.json(describe(session));
  });

  return api;
}
