// Decides which in-scope connection, if any, gets its credential on a request to host:port/path.
// Pure and precomputed once per run: it never sees a secret, never does I/O, and never guesses on a tie.
import type { ProviderDefinition } from './schema.js';

export interface ScopeEntry {
  provider: string;
  connection: string;
  definition: ProviderDefinition;
  /** The connection's own base URL (login --base-url); it wins over oauth.base_url for `{base_url}`. */
  baseUrl?: string;
}

export type RouteMatch =
  | { kind: 'inject'; entry: ScopeEntry }
  | { kind: 'ambiguous'; candidates: ScopeEntry[] }
  | { kind: 'none'; reason: 'no_route' | 'oauth_endpoint' };

interface Route {
  entry: ScopeEntry;
  /** Exact-host matchers outrank regex matchers; within a class the longer path prefix wins. */
  rank: number;
  /** '' matches every path; otherwise a segment-boundary prefix such as '/api'. */
  prefix: string;
  /** Preallocated result, so a hit costs no allocation. */
  match: RouteMatch;
}

interface HostRoute extends Route {
  port: number;
}

interface RegexRoute extends Route {
  pattern: RegExp;
  port: number;
}

interface OAuthEndpoint {
  port: number;
  path: string;
}

/** Everything matchRoute needs for one host:port, computed on first use. */
interface HostView {
  routes: Route[];
  oauthPaths: string[];
}

export interface RouteTable {
  readonly entries: readonly ScopeEntry[];
  readonly exact: ReadonlyMap<string, readonly HostRoute[]>;
  readonly regex: readonly RegexRoute[];
  readonly oauth: ReadonlyMap<string, readonly OAuthEndpoint[]>;
  /** Memo by `host:port`; hosts come from the agent, so it is bounded. */
  readonly views: Map<string, HostView>;
}

/** A matcher without a port is an https API: it matches port 443 only, never some other service on the host. */
export const DEFAULT_API_PORT = 443;
const EXACT_RANK = 1 << 20;
const VIEW_CACHE_LIMIT = 4096;
const NO_ROUTE: RouteMatch = Object.freeze({ kind: 'none', reason: 'no_route' });
const OAUTH_ENDPOINT: RouteMatch = Object.freeze({ kind: 'none', reason: 'oauth_endpoint' });

export function buildRouteTable(scope: ScopeEntry[]): RouteTable {
  const exact = new Map<string, HostRoute[]>();
  const regex: RegexRoute[] = [];
  const oauth = new Map<string, OAuthEndpoint[]>();
  for (const entry of scope) {
    const match: RouteMatch = Object.freeze({ kind: 'inject', entry });
    for (const m of entry.definition.matchers) {
      if (m.kind === 'host') {
        const host = normalizeHost(m.host);
        const list = exact.get(host) ?? [];
        list.push({
          entry,
          rank: EXACT_RANK + m.pathPrefix.length,
          prefix: m.pathPrefix,
          match,
          port: m.port ?? DEFAULT_API_PORT,
        });
        exact.set(host, list);
      } else {
        regex.push({ entry, rank: 0, prefix: '', match, pattern: m.pattern, port: DEFAULT_API_PORT });
      }
    }
    for (const endpoint of buildOAuthEndpoints(entry)) {
      const list = oauth.get(endpoint.host) ?? [];
      list.push({ port: endpoint.port, path: endpoint.path });
      oauth.set(endpoint.host, list);
    }
  }
  return { entries: scope, exact, regex, oauth, views: new Map() };
}

/** CONNECT decision: true when some route could match this host on some path, so the tunnel must be opened. */
export function shouldIntercept(table: RouteTable, host: string, port: number): boolean {
  return selectHostView(table, host, port).routes.length > 0;
}

export function matchRoute(table: RouteTable, host: string, port: number, path: string): RouteMatch {
  const view = selectHostView(table, host, port);
  if (view.routes.length === 0) return NO_ROUTE;
  const cleanPath = stripQuery(path);
  for (const oauthPath of view.oauthPaths) {
    if (isOAuthPath(cleanPath, oauthPath)) return OAUTH_ENDPOINT;
  }
  let best: Route | undefined;
  let tied: ScopeEntry[] | undefined;
  for (const route of view.routes) {
    if (best !== undefined && route.rank < best.rank) break;
    if (!isUnderPrefix(cleanPath, route.prefix)) continue;
    if (best === undefined) {
      best = route;
    } else if (route.entry !== best.entry && !tied?.includes(route.entry)) {
      (tied ??= [best.entry]).push(route.entry);
    }
  }
  if (best === undefined) return NO_ROUTE;
  if (tied !== undefined) return { kind: 'ambiguous', candidates: tied };
  return best.match;
}

function selectHostView(table: RouteTable, host: string, port: number): HostView {
  const key = `${host}:${port}`;
  let view = table.views.get(key);
  if (view === undefined) {
    if (table.views.size >= VIEW_CACHE_LIMIT) table.views.clear();
    view = buildHostView(table, normalizeHost(host), port);
    table.views.set(key, view);
  }
  return view;
}

function buildHostView(table: RouteTable, host: string, port: number): HostView {
  if (!isHostName(host)) return NO_VIEW;
  const routes: Route[] = [];
  for (const route of table.exact.get(host) ?? []) if (route.port === port) routes.push(route);
  for (const route of table.regex) if (route.port === port && route.pattern.test(host)) routes.push(route);
  routes.sort((a, b) => b.rank - a.rank);
  const oauthPaths = (table.oauth.get(host) ?? []).filter((e) => e.port === port).map((e) => e.path);
  return { routes, oauthPaths };
}

/**
 * A DNS name (letters, digits, '-', '_' in non-empty labels) or an IP literal without a zone ID. Anything else a
 * CONNECT authority may carry (user info, '/', '?', '%', a zone ID that ends in the provider's domain) would let a
 * suffix regex match text that is not a host in that domain: Node takes `::1%x.googleapis.com` for an IP address and
 * checks the upstream's certificate against the address, not the name the route matched.
 */
function isHostName(host: string): boolean {
  return HOST_NAME.test(host) || (host.includes(':') && IPV6_LITERAL.test(host));
}

const HOST_NAME = /^[a-z0-9_-]+(?:\.[a-z0-9_-]+)*$/;
const IPV6_LITERAL = /^[0-9a-f:.]+$/;
const NO_VIEW: HostView = Object.freeze({ routes: [], oauthPaths: [] });

/** Lower-case, without IPv6 brackets or the root label's trailing dot, as matchers are stored. */
function normalizeHost(host: string): string {
  let h = host.toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h.endsWith('.')) h = h.slice(0, -1);
  return h;
}

function stripQuery(path: string): string {
  const q = path.indexOf('?');
  const h = path.indexOf('#');
  const cut = q === -1 ? h : h === -1 ? q : Math.min(q, h);
  return cut === -1 ? path : path.slice(0, cut);
}

/** `/api` matches `/api` and `/api/x`, never `/apix`. */
function isUnderPrefix(path: string, prefix: string): boolean {
  if (prefix === '') return true;
  if (!path.startsWith(prefix)) return false;
  return path.length === prefix.length || path.charCodeAt(prefix.length) === 47; // '/'
}

/** An OAuth endpoint covers its own path and anything below it (revocation URLs often append an id). */
function isOAuthPath(path: string, endpointPath: string): boolean {
  if (endpointPath === '') return path === '' || path === '/';
  const trimmed = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  return isUnderPrefix(trimmed, endpointPath);
}

function buildOAuthEndpoints(entry: ScopeEntry): { host: string; port: number; path: string }[] {
  const oauth = entry.definition.oauth;
  if (oauth === undefined) return [];
  const base = (entry.baseUrl ?? oauth.base_url)?.replace(/\/+$/, '');
  const out: { host: string; port: number; path: string }[] = [];
  for (const template of [
    oauth.authorization_url,
    oauth.token_url,
    oauth.revocation_url,
    oauth.device_authorization_url,
  ]) {
    if (!template) continue;
    if (template.includes('{base_url}') && base === undefined) continue;
    let url: URL;
    try {
      url = new URL(base === undefined ? template : template.replace(/\{base_url\}/g, base));
    } catch {
      continue;
    }
    const port = url.port ? Number(url.port) : url.protocol === 'http:' ? 80 : 443;
    out.push({ host: normalizeHost(url.hostname), port, path: url.pathname.replace(/\/+$/, '') });
  }
  return out;
}

/** Stable human text for an ambiguous match, for the audit log's `reason`. */
export function buildAmbiguityReason(candidates: readonly ScopeEntry[]): string {
  const names = candidates.map((c) => `${c.provider} (${c.connection})`).join(', ');
  return `ambiguous: ${names} match this request with the same priority; no credential was added`;
}
