// /activity: the audit log, newest first, updating live. The list polls /activity/feed?since=<revision> every
// two seconds; an unchanged log answers 204 (htmx keeps the page as it is) without reading the file. The state of
// the log's hash chain is checked on each page load only (it reads the whole log), not on every poll.
import { Hono } from 'hono';
import type { ServerDeps } from '../deps.js';
import type { Renderer } from '../render.js';
import type { WebEnv, WebState } from '../web-state.js';

const SHOWN = 200;

export function createActivityRoutes(deps: ServerDeps, web: WebState, render: Renderer): Hono<WebEnv> {
  const app = new Hono<WebEnv>();
  const load = async () => ({ revision: web.auditRevision(), entries: (await deps.audit.readRecent(SHOWN)).reverse() });

  app.get('/activity', async (c) => {
    const data = { ...(await load()), chain: await deps.auditChain.verify() };
    return render.page(c, 'activity', { title: 'Activity', nav: 'activity', data });
  });

  app.get('/activity/feed', async (c) => {
    if (c.req.query('since') === String(web.auditRevision())) return c.body(null, 204);
    return render.fragment(c, 'activity-feed', await load());
  });
  return app;
}
