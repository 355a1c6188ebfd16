// Request guards shared by every route: the Host allowlist (defeats DNS rebinding), no-store caching, and
// the bearer token of /api/*. Each is a plain Hono middleware.
import { timingSafeEqual, createHash } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { errors } from '../errors.js';
import { HTTP_STATUS } from './error-status.js';

/** The Host values a request may carry: loopback names with the server's real port (SPEC §10). */
export function buildAllowedHosts(port: number, extraHost?: string): Set<string> {
  const hosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]);
  if (extraHost) hosts.add(`${extraHost.includes(':') ? `[${extraHost}]` : extraHost}:${port}`.toLowerCase());
  return hosts;
}

export function createHostGuard(getAllowed: () => Set<string>): MiddlewareHandler {
  return async (c, next) => {
    const host = (c.req.header('host') ?? '').toLowerCase();
    if (!getAllowed().has(host)) {
      return c.text('Forbidden: this server only answers requests addressed to 127.0.0.1 or localhost.\n', 403, {
        'cache-control': 'no-store',
      });
    }
    await next();
  };
}

export function createNoStore(): MiddlewareHandler {
  return async (c, next) => {
    await next();
    c.header('Cache-Control', 'no-store');
  };
}

/** Constant-time comparison of two secrets of any length (hash first, so lengths do not leak). */
export function compareSecrets(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b) && presented.length === expected.length;
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
