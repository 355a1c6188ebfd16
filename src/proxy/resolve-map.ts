// Parses AUTHSOME_PROXY_RESOLVE ("host:port=addr:port,…"): where the proxy really connects for a host:port.
// Pure; it only redirects the TCP connection, never the name used for SNI and certificate checks.
import { errors } from '../errors.js';

export interface ResolvedAddress {
  host: string;
  port: number;
}

/** Keyed `host:port` with the host lower-cased and without IPv6 brackets. */
export type ResolveMap = Map<string, ResolvedAddress>;

export function parseResolveMap(spec: string | undefined): ResolveMap {
  const map: ResolveMap = new Map();
  if (spec === undefined || spec.trim() === '') return map;
  for (const raw of spec.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    const eq = item.indexOf('=');
    const from = eq === -1 ? undefined : parseHostPort(item.slice(0, eq));
    const to = eq === -1 ? undefined : parseHostPort(item.slice(eq + 1));
    if (from === undefined || to === undefined) {
      throw errors.invalidInput(
        `AUTHSOME_PROXY_RESOLVE entry '${item}' is invalid.`,
        'Use host:port=address:port, for example api.openai.com:443=127.0.0.1:8443, separated by commas.',
      );
    }
    map.set(buildResolveKey(from.host, from.port), to);
  }
  return map;
}

export function buildResolveKey(host: string, port: number): string {
  return `${stripBrackets(host).toLowerCase()}:${port}`;
}

/** `host:port` or `[v6]:port`. */
export function parseHostPort(text: string): ResolvedAddress | undefined {
  const value = text.trim();
  let host: string;
  let portText: string;
  if (value.startsWith('[')) {
    const close = value.indexOf(']');
    if (close === -1 || value[close + 1] !== ':') return undefined;
    host = value.slice(1, close);
    portText = value.slice(close + 2);
  } else {
    const colon = value.lastIndexOf(':');
    if (colon === -1) return undefined;
    host = value.slice(0, colon);
    portText = value.slice(colon + 1);
    if (host.includes(':')) return undefined;
  }
  if (host === '' || !/^\d{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port < 1 || port > 65535) return undefined;
  return { host: host.toLowerCase(), port };
}

function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}
