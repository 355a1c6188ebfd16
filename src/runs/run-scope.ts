// Which connection of which provider a run may use: the default connection of every provider that
// has one, `--connection p=name` overrides, `--only` narrows. Pure over the listing; no secret involved.
import { errors } from '../errors.js';
import { buildPlaceholder } from '../providers/placeholder.js';
import type { ProviderEntry } from '../providers/registry.js';
import type { ScopeEntry } from '../providers/routes.js';

export interface RunScopeRequest {
  only?: string[];
  connections?: Record<string, string>;
}

export interface ProviderConnections {
  entry: ProviderEntry;
  /** Connection names, the default first. */
  connections: string[];
  baseUrls?: Record<string, string | undefined>;
}

export interface RunScope {
  scope: ScopeEntry[];
  /** Providers named in --only that have no connection (they get nothing). */
  skipped: string[];
  /** Env var names of the providers in scope, for the placeholders. */
  placeholders: string[];
  /** The placeholder each of those variables holds: shaped like the provider's keys (first provider wins a name). */
  placeholderValues: Record<string, string>;
}

export function buildRunScope(providers: ProviderConnections[], request: RunScopeRequest): RunScope {
  const byName = new Map(providers.map((p) => [p.entry.definition.name, p]));
  for (const name of [...(request.only ?? []), ...Object.keys(request.connections ?? {})]) {
    if (!byName.has(name)) throw errors.providerNotFound(name);
  }
  const wanted = request.only ? new Set(request.only) : undefined;
  const scope: ScopeEntry[] = [];
  const skipped: string[] = [];
  for (const p of providers) {
    const name = p.entry.definition.name;
    if (wanted && !wanted.has(name)) continue;
    const chosen = request.connections?.[name];
    if (chosen !== undefined && !p.connections.includes(chosen)) throw errors.connectionNotFound(name, chosen);
    const connection = chosen ?? p.connections[0];
    if (connection === undefined) {
      if (wanted) skipped.push(name);
      continue;
    }
    const baseUrl = p.baseUrls?.[connection];
    scope.push({ provider: name, connection, definition: p.entry.definition, ...(baseUrl ? { baseUrl } : {}) });
  }
  const placeholders = [...new Set(scope.flatMap((e) => e.definition.exports.map((v) => v.env)))];
  const placeholderValues: Record<string, string> = {};
  for (const { definition } of scope) {
    for (const v of definition.exports) {
      // Only an API key has a known shape; tokens and URLs get the bare mark.
      placeholderValues[v.env] ??= buildPlaceholder(v.source === 'api_key' ? definition.keyPattern : undefined);
    }
  }
  return { scope, skipped, placeholders, placeholderValues };
}
