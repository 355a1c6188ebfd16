// createApp: the Hono application and its middleware order. Host check first (every route, /health too),
// then no-store, then the bearer token on /api/* before any routing, then the routes.
import { Hono } from 'hono';
import { AppError, errors } from '../errors.js';
import type { ServerDeps } from './deps.js';
import { HTTP_STATUS } from './error-status.js';
import { createBearerGuard, createHostGuard, createNoStore } from './guards.js';
import { createConnectionsApi } from './api/connections.js';
import { createProvidersApi } from './api/providers.js';
import { createSystemApi } from './api/system.js';

export interface AppOptions {
  apiToken: string;
  allowedHosts: () => Set<string>;
}

export function createApp(deps: ServerDeps, options: AppOptions): Hono {
  const app = new Hono();
  app.use('*', createHostGuard(options.allowedHosts));
  app.use('*', createNoStore());

  app.get('/health', (c) => c.json({ status: 'ok', version: deps.version }));

  const api = new Hono();
  api.use('*', createBearerGuard(options.apiToken));
  api.route('/providers', createProvidersApi(deps));
  api.route('/', createConnectionsApi(deps));
  api.route('/', createSystemApi(deps));
  api.all('*', (c) => c.json(errors.notFound(`No API route ${c.req.method} ${c.req.path}.`).toJSON(), 404));
  app.route('/api', api);

  app.onError((err, c) => {
    const appError = err instanceof AppError ? err : undefined;
    if (!appError) process.stderr.write(`authsome: unexpected error on ${c.req.method} ${c.req.path}: ${err.stack ?? err}\n`);
    const shown = appError ?? errors.internal();
    return c.json(shown.toJSON(), HTTP_STATUS[shown.code] as 500);
  });
  app.notFound((c) => c.json(errors.notFound().toJSON(), 404));
  return app;
}
