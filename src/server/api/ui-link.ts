// POST /api/ui-link: a one-time URL that signs a browser into the dashboard (`authsome ui`).
import { Hono } from 'hono';
import type { ServerDeps } from '../deps.js';
import { describePeer, refuseSecretsToRuns } from '../peer-process.js';
import { buildDashboardUrl } from '../login-flow.js';
import type { WebState } from '../web-state.js';

export function createUiLinkApi(deps: ServerDeps, web: WebState): Hono {
  const api = new Hono();
  api.post('/', async (c) => {
    // A signed-in browser can reveal a key: a live run's process gets no link, as it gets no key.
    await refuseSecretsToRuns({ ...describePeer(c, deps), action: 'sign-in' });
    const { url, expiresAt } = buildDashboardUrl(deps, web);
    return c.json({ url, expires_at: new Date(expiresAt).toISOString() });
  });
  return api;
}
