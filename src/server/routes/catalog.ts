// GET /providers: the catalog with live search and filters. The same URL answers the whole page, or only the
// result list when htmx swaps #catalog-results (the filters stay as the person left them).
import { Hono } from 'hono';
import { buildCatalogCards, countCatalog, filterCatalog, parseCatalogQuery } from '../catalog-filter.js';
import type { ServerDeps } from '../deps.js';
import { isHtmx, type Renderer } from '../render.js';
import type { WebEnv } from '../web-state.js';

export function createCatalogRoutes(deps: ServerDeps, render: Renderer): Hono<WebEnv> {
  const app = new Hono<WebEnv>();
  app.get('/providers', async (c) => {
    const query = parseCatalogQuery(c.req.query('q'), c.req.query('show'));
    const { entries, warnings } = await deps.registry.list();
    const cards = buildCatalogCards(entries, deps.connections.connectionsOf);
    const data = { query, cards: filterCatalog(cards, query), counts: countCatalog(cards), warnings };
    if (isHtmx(c) && c.req.header('hx-target') === 'catalog-results')
      return render.fragment(c, 'catalog-results', data);
    return render.page(c, 'catalog', { title: 'Providers', nav: 'providers', data });
  });
  return app;
}
