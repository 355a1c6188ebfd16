// Request guards shared by every route: the Host allowlist (defeats DNS rebinding), no-store caching, security
// headers, the bearer token of /api/*, and for the pages: their own host, Origin, session cookie and CSRF token
//. Each is a plain Hono middleware; a refusal is rendered by the caller's `refuse`.
import { compareSecrets } from '../secret-digest.js';
import type { Context, MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import { errors } from '../errors.js';
import type { BrowserSessions } from './browser-sessions.js';
import { HTTP_STATUS } from './error-status.js';
import { LOOPBACK_HOSTNAMES, PAGE_HOSTNAME } from './page-host.js';
import type { WebEnv } from './web-state.js';

export function createHostGuard(getAllowed: () => Set<string>): MiddlewareHandler {
  return async (c, next) => {
    const host = (c.req.header('host') ?? '').toLowerCase();
    if (!getAllowed().has(host)) {
      // Answered before the header middleware runs, so it sets the same protective headers itself.
      return c.text(
        'Forbidden: this server only answers requests addressed to 127.0.0.1, localhost or authsome.localhost.\n',
        403,
        {
          'cache-control': 'no-store',
          ...SECURITY_HEADERS,
        },
      );
    }
    await next();
  };
}

/**
 * A page requested by a loopback name goes to the same path and query on the pages' own host, where its cookie
 * lives; a one-time token in the query travels along unredeemed. Never for /api or /health, which the CLI
 * reaches on 127.0.0.1 (this runs only for the pages).
 */
export function createPageHostRedirect(pageOrigin: () => string): MiddlewareHandler {
  return async (c, next) => {
    const origin = pageOrigin();
    const host = (c.req.header('host') ?? '').toLowerCase();
    const hostname = host.slice(0, host.lastIndexOf(':'));
    if (!origin.startsWith(`http://${PAGE_HOSTNAME}:`) || !LOOPBACK_HOSTNAMES.has(hostname)) return next();
    const url = new URL(c.req.url);
    // 303 for anything but GET/HEAD: a form post is not replayed on the other host, it becomes a plain GET.
    return c.redirect(
      `${origin}${url.pathname}${url.search}`,
      c.req.method === 'GET' || c.req.method === 'HEAD' ? 302 : 303,
    );
  };
}

export function createNoStore(): MiddlewareHandler {
  return async (c, next) => {
    await next();
    c.header('Cache-Control', 'no-store');
  };
}

/** /api/* accepts only `Authorization: Bearer <token>`; cookies are never consulted here. */
export function createBearerGuard(token: string): MiddlewareHandler {
  return async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const match = /^Bearer ([^\s]+)$/i.exec(header);
    if (!match || !compareSecrets(match[1]!, token)) {
      const err = errors.unauthorized('Missing or invalid API token.');
      return c.json(err.toJSON(), HTTP_STATUS.UNAUTHORIZED as 401, { 'www-authenticate': 'Bearer realm="authsome"' });
    }
    await next();
  };
}

/**
 * Only our own files run, style and load (no inline script or style, no third-party origin), nothing frames the
 * pages, and forms post only back here.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "object-src 'none'",
].join('; ');

/** The headers every answer carries, the Host guard's refusal included. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'X-Content-Type-Options': 'nosniff',
  // No URL of ours ever reaches another site in a Referer. Not 'no-referrer': under that policy browsers send
  // `Origin: null` on every form POST (Fetch §4.1), and the Origin check below could not tell us from a stranger.
  'Referrer-Policy': 'same-origin',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

export function createSecurityHeaders(): MiddlewareHandler {
  return async (c, next) => {
    await next();
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) c.header(name, value);
  };
}

export type RefusalKind = 'session' | 'csrf' | 'origin';
export type Refuse = (c: Context<WebEnv>, kind: RefusalKind) => Response;

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** A state-changing request carrying an Origin (or Sec-Fetch-Site) must come from this very origin. */
export function createOriginGuard(refuse: Refuse): MiddlewareHandler<WebEnv> {
  return async (c, next) => {
    if (SAFE_METHODS.has(c.req.method)) return next();
    const origin = c.req.header('origin');
    const own = `http://${(c.req.header('host') ?? '').toLowerCase()}`;
    if (origin !== undefined && origin.toLowerCase() !== own) return refuse(c, 'origin');
    const site = c.req.header('sec-fetch-site');
    if (site !== undefined && site !== 'same-origin' && site !== 'none') return refuse(c, 'origin');
    await next();
  };
}

/** Pages need the browser session cookie; the /api bearer token is no session, in a cookie or anywhere else. */
export function createSessionGuard(
  sessions: BrowserSessions,
  cookieName: () => string,
  refuse: Refuse,
): MiddlewareHandler<WebEnv> {
  return async (c, next) => {
    const session = sessions.lookup(getCookie(c, cookieName()));
    if (!session) return refuse(c, 'session');
    c.set('session', session);
    await next();
  };
}

/**
 * Every state-changing page request carries the session's CSRF token: the X-CSRF-Token header (htmx) and/or the
 * `_csrf` form field (plain forms). Each one present must equal the session's token, and the field may appear
 * only once: a form parser that keeps the first or the last of two must never decide which one was checked.
 */
export function createCsrfGuard(sessions: BrowserSessions, refuse: Refuse): MiddlewareHandler<WebEnv> {
  return async (c, next) => {
    if (SAFE_METHODS.has(c.req.method)) return next();
    const session = c.get('session');
    const presented: (string | undefined)[] = [];
    const header = c.req.header('x-csrf-token');
    if (header !== undefined) presented.push(header);
    const type = c.req.header('content-type') ?? '';
    if (type.startsWith('application/x-www-form-urlencoded') || type.startsWith('multipart/form-data')) {
      // `all`: a repeated field comes back as an array, which is never a token (nor is a file).
      const field = (await c.req.parseBody({ all: true }))._csrf;
      if (field !== undefined) presented.push(typeof field === 'string' ? field : undefined);
    }
    if (presented.length === 0 || !presented.every((value) => sessions.checkCsrf(session, value)))
      return refuse(c, 'csrf');
    await next();
  };
}
