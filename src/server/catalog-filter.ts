// The catalog's search and filters: pure, so the page and its htmx fragment agree.
import type { ConnectionSummary } from '../connections/service.js';
import type { ProviderEntry } from '../providers/registry.js';

export const CATALOG_FILTERS = ['all', 'connected', 'api_key', 'oauth2'] as const;
export type CatalogFilter = (typeof CATALOG_FILTERS)[number];

export interface CatalogCard {
  name: string;
  display_name: string;
  description: string;
  auth_type: string;
  flow: string;
  source: ProviderEntry['source'];
  connections: ConnectionSummary[];
  connected: boolean;
}

export interface CatalogQuery {
  q: string;
  show: CatalogFilter;
}

export function parseCatalogQuery(q: string | undefined, show: string | undefined): CatalogQuery {
  return {
    q: (q ?? '').trim().slice(0, 100),
    show: (CATALOG_FILTERS as readonly string[]).includes(show ?? '') ? (show as CatalogFilter) : 'all',
  };
}

export function buildCatalogCards(
  entries: ProviderEntry[],
  connectionsOf: (name: string) => ConnectionSummary[],
): CatalogCard[] {
  return entries.map(({ definition: d, source }) => {
    const connections = connectionsOf(d.name);
    return {
      name: d.name,
      display_name: d.display_name,
      description: d.description ?? '',
      auth_type: d.auth_type,
      flow: d.flow,
      source,
      connections,
      connected: connections.some((c) => c.status === 'connected'),
    };
  });
}

export function filterCatalog(cards: CatalogCard[], { q, show }: CatalogQuery): CatalogCard[] {
  const words = q.toLowerCase().split(/\s+/).filter(Boolean);
  return cards.filter((card) => {
    if (show === 'connected' && card.connections.length === 0) return false;
    if ((show === 'api_key' || show === 'oauth2') && card.auth_type !== show) return false;
    const text = `${card.name} ${card.display_name} ${card.description}`.toLowerCase();
    return words.every((w) => text.includes(w));
  });
}

export function countCatalog(cards: CatalogCard[]): Record<CatalogFilter, number> {
  return {
    all: cards.length,
    connected: cards.filter((c) => c.connections.length > 0).length,
    api_key: cards.filter((c) => c.auth_type === 'api_key').length,
    oauth2: cards.filter((c) => c.auth_type === 'oauth2').length,
  };
}
