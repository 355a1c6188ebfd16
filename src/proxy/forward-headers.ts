// Rewrites header lists for the pooled plain-http path (RFC 9110 §7.6.1 hop-by-hop rules; the proxy's own
// headers never travel on). Pure; works on Node's flat rawHeaders arrays to keep case and order.

export interface ForwardRequestHeaders {
  /** Flat [name, value, name, value, …] as http.request accepts it. */
  headers: string[];
  /** A body follows (Content-Length > 0 or Transfer-Encoding). */
  hasBody: boolean;
}

export interface ForwardResponseHeaders {
  headers: string[];
  /** The body length is declared, so the head can wait for the first body bytes instead of being flushed alone. */
  hasLength: boolean;
}

// Hop-by-hop for every message. Transfer-Encoding is deliberately not here: node:http re-frames the body
// from it on each side. `expect` is answered by the proxy's own server (it sends 100 Continue itself).
const REQUEST_DROP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'te',
  'trailer',
  'upgrade',
  'expect',
]);
const RESPONSE_DROP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'trailer',
  'upgrade',
]);
const UPGRADE_KEEP = new Set(['connection', 'upgrade']);
const CONNECTION_TOKENS_IGNORED = new Set(['keep-alive', 'close', 'upgrade']);

/** Header-name lengths worth lower-casing; every other header is copied without a string allocation. */
const INTERESTING_LENGTHS = new Set(
  [...REQUEST_DROP, ...RESPONSE_DROP, 'host', 'content-length', 'transfer-encoding'].map((n) => n.length),
);

export function buildForwardRequestHeaders(
  rawHeaders: readonly string[],
  opts: { authority: string; upgrade?: boolean },
): ForwardRequestHeaders {
  const out: string[] = [];
  let hasHost = false;
  let hasBody = false;
  let connectionTokens: string[] | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const value = rawHeaders[i + 1]!;
    if (INTERESTING_LENGTHS.has(name.length)) {
      const lower = name.toLowerCase();
      if (lower === 'connection') connectionTokens = collectConnectionTokens(value, connectionTokens);
      if (REQUEST_DROP.has(lower) && !(opts.upgrade && UPGRADE_KEEP.has(lower))) continue;
      if (lower === 'host') hasHost = true;
      else if (lower === 'transfer-encoding') hasBody = true;
      else if (lower === 'content-length' && value.trim() !== '0') hasBody = true;
    }
    out.push(name, value);
  }
  if (!hasHost) out.unshift('Host', opts.authority);
  return { headers: connectionTokens ? dropConnectionTokens(out, connectionTokens) : out, hasBody };
}

export function buildForwardResponseHeaders(
  rawHeaders: readonly string[],
  opts: { upgrade?: boolean } = {},
): ForwardResponseHeaders {
  const out: string[] = [];
  let hasLength = false;
  let connectionTokens: string[] | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const value = rawHeaders[i + 1]!;
    if (INTERESTING_LENGTHS.has(name.length)) {
      const lower = name.toLowerCase();
      if (lower === 'connection') connectionTokens = collectConnectionTokens(value, connectionTokens);
      if (RESPONSE_DROP.has(lower) && !(opts.upgrade && UPGRADE_KEEP.has(lower))) continue;
      if (lower === 'content-length') hasLength = true;
    }
    out.push(name, value);
  }
  return { headers: connectionTokens ? dropConnectionTokens(out, connectionTokens) : out, hasLength };
}

/** Headers named in Connection are hop-by-hop too (RFC 9110 §7.6.1). */
function collectConnectionTokens(value: string, into: string[] | undefined): string[] | undefined {
  let tokens = into;
  for (const raw of value.split(',')) {
    const token = raw.trim().toLowerCase();
    if (token !== '' && !CONNECTION_TOKENS_IGNORED.has(token)) (tokens ??= []).push(token);
  }
  return tokens;
}

function dropConnectionTokens(headers: string[], tokens: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    if (!tokens.includes(headers[i]!.toLowerCase())) out.push(headers[i]!, headers[i + 1]!);
  }
  return out;
}
