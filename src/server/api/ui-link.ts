// POST /api/ui-link: a one-time URL that signs a browser into the dashboard (`authsome ui`).
import { Hono } from 'hono';
import type { ServerDeps } from '../deps.js';
import { buildDashboardUrl } from '../login-flow.js';
import type { WebState } from '../web-state.js';

export function createUiLinkApi(deps: ServerDeps, web: WebState): Hono {
  const api = new Hono();
  api.post('/', (c) => {
    const { url, expiresAt } = buildDashboardUrl(deps, web);
    return c.json({ url, expires_at: new Date(expiresAt).toISOString() });
  });
  return api;
}
