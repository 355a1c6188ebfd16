// What an intercepted request becomes on its way upstream: the target bound to the CONNECT authority (the agent
// cannot steer a credential to another Host or an absolute-form URL naming another host), a path with its dot
// segments resolved, and the request head rebuilt with the credential SET. Pure: no sockets, no secrets kept.
import type { CredentialHeader } from '../providers/headers.js';
import type { RequestHead } from './http1-framing.js';

/** The request target, resolved against the tunnel it arrived on. */
export interface TunnelTarget {
  /** Origin form with dot segments removed and `%2E` decoded: what is matched, audited and sent upstream. */
  path: string;
  /** The same path as a lenient server could read it (encoded or back slashes, `;` segment parameters). */
  lenientPath: string;
}

export class TargetError extends Error {}

/**
 * Resolves `head` for a tunnel to host:port. Throws TargetError when the request names another authority (its
 * Host header or an absolute-form target) or has a target that is no path at all.
 */
export function resolveTunnelTarget(head: RequestHead, host: string, port: number): TunnelTarget {
  let target = head.target;
  if (target === '*') {
    if (head.method !== 'OPTIONS') throw new TargetError("'*' is only a target for OPTIONS");
  } else if (target.charCodeAt(0) !== 47) {
    // Absolute form (RFC 9112 §3.2.2): accepted only when it names the tunnel's own authority.
    const absolute = /^https?:\/\/([^/?#]*)(.*)$/i.exec(target);
    if (absolute === null) throw new TargetError('the request target is neither a path nor an https URL');
    if (!isSameAuthority(absolute[1]!, host, port))
      throw new TargetError('the request URL names another host than the tunnel');
    const rest = absolute[2]!;
    target = rest === '' ? '/' : rest.charCodeAt(0) === 47 ? rest : `/${rest}`;
  }
  const hostHeader = findHeader(head.headers, 'host');
  if (hostHeader !== undefined && !isSameAuthority(hostHeader, host, port)) {
    throw new TargetError('the Host header names another host than the tunnel');
  }
  if (target === '*') return { path: '*', lenientPath: '*' };
  const cut = findQueryStart(target);
  const rawPath = target.slice(0, cut);
  const query = target.slice(cut);
  // The usual path has no escape, back slash or parameter: both readings are the path with its dot segments removed.
  if (!MAY_READ_DIFFERENTLY.test(rawPath)) {
    const path = removeDotSegments(rawPath);
    return { path: query === '' ? path : `${path}${query}`, lenientPath: path };
  }
  const path = removeDotSegments(rawPath.replace(/%2e/gi, '.'));
  const lenientPath = removeDotSegments(
    rawPath
      .replace(/%2e/gi, '.')
      .replace(/%2f|%5c|\\/gi, '/')
      .replace(/;[^/]*/g, ''),
  );
  return { path: `${path}${query}`, lenientPath };
}

/** What the slower reading below looks at: a percent escape, a back slash or a `;` parameter. */
const MAY_READ_DIFFERENTLY = /[%\\;]/;

/**
 * The head sent upstream: the method, the resolved origin-form path, the version; Host set to the tunnel's
 * authority; the credential SET (whatever the agent sent under its name, e.g. the placeholder, is dropped), with
 * no compression asked for (identity, no WebSocket extension); the proxy's own headers and (but for an upgrade)
 * Connection and Keep-Alive removed. Everything else passes in the agent's order and case.
 */
export function buildUpstreamHead(
  head: RequestHead,
  path: string,
  authority: string,
  credential?: CredentialHeader,
): string {
  const credentialName = credential?.name.toLowerCase();
  const credentialLength = credentialName?.length ?? -1;
  let out = `${head.method} ${path} ${head.version}\r\nHost: ${authority}\r\n`;
  const headers = head.headers;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    const length = name.length;
    if (length === 4 && name.toLowerCase() === 'host') continue;
    if (length === credentialLength && name.toLowerCase() === credentialName) continue;
    if (length === 19 && name.toLowerCase() === 'proxy-authorization') continue;
    if (length === 16 && name.toLowerCase() === 'proxy-connection') continue;
    // The upstream connection is the proxy's own, pooled and shared: the agent's Connection and Keep-Alive are
    // about its connection to the proxy. Only an upgrade needs its Connection: upgrade to reach the upstream.
    if (length === 10 && !head.upgrade && ['connection', 'keep-alive'].includes(name.toLowerCase())) continue;
    if (credential !== undefined) {
      // A placeholder in any other header (an SDK that also sends `Authorization: Bearer <placeholder>`) never
      // travels upstream beside the real credential.
      if (PLACEHOLDER_RE.test(headers[i + 1]!)) continue;
      // The answer is scanned for an echoed secret, which needs it uncompressed: ask for identity instead.
      if (length === 15 && name.toLowerCase() === 'accept-encoding') continue;
      // The same for a WebSocket's frames after the 101: an extension (permessage-deflate) would compress them, and
      // the tunnel's scanner reads frames as they come. Without the offer the server may not use one.
      if (length === 24 && name.toLowerCase() === 'sec-websocket-extensions') continue;
    }
    out += `${name}: ${headers[i + 1]!}\r\n`;
  }
  if (credential !== undefined) out += `Accept-Encoding: identity\r\n${credential.name}: ${credential.value}\r\n`;
  return `${out}\r\n`;
}

/** Every placeholder `run` hands out carries this mark (with or without separators: `ghp_authsomeproxymanaged…`). */
const PLACEHOLDER_RE = /authsome[-_]?proxy[-_]?managed/i;

/**
 * The agent asked to close its connection after this request (HTTP/1.1 `Connection: close`, or 1.0 without keep-alive).
 */
export function isCloseRequested(head: RequestHead): boolean {
  let close = head.version !== 'HTTP/1.1';
  const headers = head.headers;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    if (name.length !== 10 || name.toLowerCase() !== 'connection') continue;
    const tokens = headers[i + 1]!.toLowerCase()
      .split(',')
      .map((t) => t.trim());
    if (tokens.includes('close')) return true;
    if (tokens.includes('keep-alive')) close = false;
  }
  return close;
}

/** `host[:port]` as a Host header or URL authority writes it; the scheme's default port is left out. */
export function buildAuthority(host: string, port: number, defaultPort = 443): string {
  const name = host.includes(':') ? `[${host}]` : host;
  return port === defaultPort ? name : `${name}:${port}`;
}

/**
 * RFC 3986 §5.2.4 remove_dot_segments, on a path that starts with '/'. The result always starts with '/', so
 * `/api/../other` is `/other` and can never be matched against the `/api` prefix.
 */
export function removeDotSegments(path: string): string {
  if (!path.includes('.')) return path === '' ? '/' : path;
  const segments = path.split('/');
  const out: string[] = [];
  for (let i = 1; i < segments.length; i++) {
    const segment = segments[i]!;
    const last = i === segments.length - 1;
    if (segment === '.' || segment === '..') {
      if (segment === '..' && out.length > 0) out.pop();
      if (last) out.push('');
    } else {
      out.push(segment);
    }
  }
  return `/${out.join('/')}`;
}

/**
 * Whether `authority` (a Host header value or URL authority) names host:port. Case and a trailing dot do not
 * matter; a missing port means the same host on the tunnel's port; user info is never accepted.
 */
function isSameAuthority(authority: string, host: string, port: number): boolean {
  if (authority.includes('@')) return false;
  let name = authority;
  let named: number | undefined;
  const portMatch = /:(\d{1,5})$/.exec(authority);
  if (portMatch !== null && !(authority.startsWith('[') && !authority.slice(0, portMatch.index).endsWith(']'))) {
    name = authority.slice(0, portMatch.index);
    named = Number(portMatch[1]);
  }
  if (named !== undefined && named !== port) return false;
  return normalizeName(name) === normalizeName(host);
}

function normalizeName(host: string): string {
  let h = host.toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h.endsWith('.')) h = h.slice(0, -1);
  return h;
}

function findHeader(headers: string[], lowerName: string): string | undefined {
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) return headers[i + 1];
  }
  return undefined;
}

function findQueryStart(target: string): number {
  const q = target.indexOf('?');
  const h = target.indexOf('#');
  if (q === -1) return h === -1 ? target.length : h;
  return h === -1 ? q : Math.min(q, h);
}
