// createApp: the Hono application and its middleware order. Host check first (every route, /health too),
// then no-store and the security headers, then the bearer token and the body limit on /api/* before any
// routing, the static files, and last the browser pages with their own guards (session, Origin, CSRF: routes/pages.ts).
import { Hono } from 'hono';
import { errors } from '../errors.js';
import type { ServerDeps } from './deps.js';
import { createBodyLimit } from './body-limit.js';
import { HTTP_STATUS, toShownError } from './error-status.js';
import { createBearerGuard, createHostGuard, createNoStore, createSecurityHeaders } from './guards.js';
import { createConnectionsApi } from './api/connections.js';
import { createLoginSessionsApi } from './api/login-sessions.js';
import { createProvidersApi } from './api/providers.js';
import { createSystemApi } from './api/system.js';
import { createRunSessionsApi } from './api/run-sessions.js';
import { createUiLinkApi } from './api/ui-link.js';
import { createOAuthCallbackRoutes } from './routes/oauth-callback.js';
import { createPages } from './routes/pages.js';
import { createStaticRoutes } from './routes/static.js';
import { createWebState, type WebOptions, type WebState } from './web-state.js';

export interface AppOptions {
  apiToken: string;
  allowedHosts: () => Set<string>;
  web?: WebOptions;
}

export function createApp(deps: ServerDeps, options: AppOptions): Hono & { web: WebState } {
  const app = new Hono();
  const web = createWebState(deps, options.web);
  app.use('*', createHostGuard(options.allowedHosts));
  app.use('*', createNoStore());
  app.use('*', createSecurityHeaders());

  app.get('/health', (c) => c.json({ status: 'ok', version: deps.version }));

  const api = new Hono();
  api.use('*', createBearerGuard(options.apiToken));
  api.use(
    '*',
    createBodyLimit((c, err) => c.json(err.toJSON(), HTTP_STATUS[err.code] as 413)),
  );
  // What a CLI command did is in the audit log by the time it exits (entries are otherwise written a tick later).
  api.use('*', async (_c, next) => {
    await next();
    await deps.audit.flush();
  });
  api.route('/providers', createProvidersApi(deps));
  api.route('/run-sessions', createRunSessionsApi(deps));
  api.route('/login-sessions', createLoginSessionsApi(deps, web));
  api.route('/ui-link', createUiLinkApi(deps, web));
  api.route('/', createConnectionsApi(deps));
  api.route('/', createSystemApi(deps, web));
  api.all('*', (c) => c.json(errors.notFound(`No API route ${c.req.method} ${c.req.path}.`).toJSON(), 404));
  app.route('/api', api);

  app.route('/static', createStaticRoutes());
  // Before the pages: the provider's redirect lands on 127.0.0.1 and must not be sent to the page host.
  app.route('/', createOAuthCallbackRoutes(deps, web));
  // Last: the pages' guards are registered for '/*' and must only ever see requests nothing above answered.
  app.route('/', createPages(deps, web));

  app.onError((err, c) => {
    const shown = toShownError(err, c.req.method, c.req.path);
    return c.json(shown.toJSON(), HTTP_STATUS[shown.code] as 500);
  });
  app.notFound((c) => c.json(errors.notFound().toJSON(), 404));
  return Object.assign(app, { web });
}
