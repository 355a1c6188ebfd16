// The names the server answers to: loopback names for the CLI's /api, and the pages' own host, on which the
// browser's cookie lives. Pure.

/**
 * The pages' own host name. Browsers resolve every *.localhost name to loopback themselves (RFC 6761 §6.3), and a
 * cookie set for it stays with it: cookies ignore ports, so a cookie set for 127.0.0.1 would also be sent to any
 * other service a local user or an agent runs on 127.0.0.1.
 */
export const PAGE_HOSTNAME = 'authsome.localhost';
export const LOOPBACK_HOSTNAMES = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** The Host values a request may carry: loopback names and the pages' own name, with the server's real port. */
export function buildAllowedHosts(port: number, extraHost?: string): Set<string> {
  const hosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `${PAGE_HOSTNAME}:${port}`]);
  if (extraHost) hosts.add(`${extraHost.includes(':') ? `[${extraHost}]` : extraHost}:${port}`.toLowerCase());
  return hosts;
}

/**
 * Where the pages live: http://authsome.localhost:<port> for a server on loopback, else the server's own URL
 * (a server bound to another address with --host is not on loopback, so *.localhost would not reach it).
 */
export function buildPageOrigin(serverUrl: string): string {
  const url = new URL(serverUrl);
  return LOOPBACK_HOSTNAMES.has(url.hostname) ? `http://${PAGE_HOSTNAME}:${url.port}` : url.origin;
}
