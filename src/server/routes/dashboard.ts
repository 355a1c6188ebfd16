// GET /: the dashboard: connected providers, counts, recent activity, and where to start when empty.
import { Hono } from 'hono';
import type { ServerDeps } from '../deps.js';
import type { Renderer } from '../render.js';
import type { WebEnv } from '../web-state.js';

const RECENT = 8;

export function createDashboardRoutes(deps: ServerDeps, render: Renderer): Hono<WebEnv> {
  const app = new Hono<WebEnv>();
  app.get('/', async (c) => {
    const { rows, warnings } = await deps.connections.list();
    const connected = rows.filter((r) => r.connections.length > 0);
    const recent = (await deps.audit.readRecent(RECENT)).reverse();
    const stats = {
      providers: rows.length,
      connectedProviders: connected.filter((r) => r.connections.some((x) => x.status === 'connected')).length,
      connections: connected.reduce((n, r) => n + r.connections.length, 0),
      custom: rows.filter((r) => r.source === 'custom').length,
    };
    return render.page(c, 'dashboard', {
      title: 'Dashboard',
      nav: 'dashboard',
      data: { connected, stats, recent, warnings },
    });
  });
  return app;
}
