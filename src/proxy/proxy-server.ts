// The MITM proxy listener: authenticates every request and CONNECT against a run session, blind-
// tunnels hosts no route matches, terminates TLS for the rest (intercept.ts takes it from there) and forwards plain
// http:// requests without credentials. It never sees a secret except on its way into a request head.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { isIP, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import type { AuditLog } from '../audit.js';
import { errors } from '../errors.js';
import type { CredentialHeader } from '../providers/headers.js';
import { shouldIntercept, type ScopeEntry } from '../providers/routes.js';
import type { CertificateAuthority, LeafIssuer } from './ca.js';
import { createForwarder, type AuditPlan, type ForwardTarget } from './forward.js';
import { startInterception, type InterceptDeps } from './intercept.js';
import {
  buildProxyAuthError,
  buildUpstreamError,
  buildUpstreamReason,
  writeProxyError,
  writeRawProxyError,
} from './proxy-errors.js';
import { parseHostPort, type ResolveMap } from './resolve-map.js';
import type { RunSession, RunSessionRegistry } from './run-sessions.js';
import { createUpstreamConnector, RELAY_HIGH_WATER_MARK, type UpstreamConnectorOptions } from './upstream.js';

export { parseResolveMap } from './resolve-map.js';

export interface ProxyServerOptions {
  /** Loopback by default; anything else exposes the credentials to the network. */
  host?: string;
  port?: number;
  /** The stable CA: it serves the runs that have no CA of their own (--stable-ca). */
  ca: CertificateAuthority;
  /** The run's own CA, when it has one: its children trust that CA only, so no other may sign their leaves. */
  selectAuthority?(session: RunSession): LeafIssuer | undefined;
  sessions: RunSessionRegistry;
  resolveCredential(entry: ScopeEntry): Promise<CredentialHeader>;
  /**
   * The same header at once when nothing has to be waited for (an API key in an unlocked vault), else undefined and
   * resolveCredential is asked: the usual request then goes upstream in the turn it arrived in.
   */
  peekCredential?(entry: ScopeEntry): CredentialHeader | undefined;
  /** After a 401 to an OAuth credential: a refreshed one to try once more, or undefined. */
  refreshCredential?(entry: ScopeEntry, rejected: CredentialHeader): Promise<CredentialHeader | undefined>;
  audit: AuditLog;
  resolveMap?: ResolveMap;
  upstreamCaCerts?: string[];
  /** Limits of the upstream connection pool (tests make them small). */
  pool?: UpstreamConnectorOptions['pool'];
  /**
   * The authsome server's own web port (known once it listens). A run never reaches it through the proxy: a
   * sandboxed child, whose only way out is the proxy, could otherwise talk to the server that holds the vault.
   */
  serverPort?: () => number | undefined;
  /** Never false in authsome: only the bench turns the key scrubber off, to show what it costs. */
  scrubResponses?: boolean;
}

export interface ProxyServer {
  port: number;
  close(): Promise<void>;
}

// Pre-encoded ALPN list: the agent is offered HTTP/1.1 only, the proxy does not speak h2.
const ALPN_HTTP1 = Buffer.from([8, ...Buffer.from('http/1.1')]);
const CONNECT_ESTABLISHED = 'HTTP/1.1 200 Connection Established\r\n\r\n';
const PLAIN_HTTP_REASON = 'plain_http: credentials are only added to https requests';
const SERVER_REFUSED_MESSAGE = 'The authsome server cannot be reached through the proxy.';
const HTTP_SERVER_OPTIONS: http.ServerOptions = {
  // Streams (SSE, uploads) may run for minutes: no whole-request deadline. Idle agents keep their sockets a minute.
  requestTimeout: 0,
  headersTimeout: 60_000,
  keepAliveTimeout: 65_000,
  noDelay: true,
};

export async function createProxyServer(opts: ProxyServerOptions): Promise<ProxyServer> {
  const connector = createUpstreamConnector({
    resolveMap: opts.resolveMap ?? new Map(),
    upstreamCaCerts: opts.upstreamCaCerts ?? [],
    pool: opts.pool,
  });
  const forwarder = createForwarder({ connector, audit: opts.audit });
  const { sessions, ca } = opts;
  /** Sockets taken over from node:http (CONNECT), their TLS layers and tunnel upstreams, so close() can end them. */
  const tracked = new Set<Duplex>();

  const track = (socket: Duplex): void => {
    tracked.add(socket);
    socket.once('close', () => tracked.delete(socket));
  };

  const isLive = (session: RunSession): boolean => sessions.get(session.id) === session;

  /** Whether host:port names the authsome server itself (loopback in any spelling, on its web port). */
  const isServerItself = (host: string, port: number): boolean => port === opts.serverPort?.() && isLoopbackHost(host);

  const interceptDeps: InterceptDeps = {
    isLive,
    resolveCredential: (entry) => opts.resolveCredential(entry),
    ...(opts.peekCredential ? { peekCredential: (entry) => opts.peekCredential!(entry) } : {}),
    ...(opts.refreshCredential
      ? { refreshCredential: (entry, rejected) => opts.refreshCredential!(entry, rejected) }
      : {}),
    audit: opts.audit,
    pool: connector.tlsPool,
    ...(opts.scrubResponses === false ? { scrubResponses: false } : {}),
  };

  const server = http.createServer(HTTP_SERVER_OPTIONS);

  server.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    track(socket);
    socket.on('error', () => socket.destroy());
    const session = sessions.authenticate(req.headers['proxy-authorization']);
    if (session === undefined) {
      writeRawProxyError(socket, 'proxyAuthRequired', buildProxyAuthError());
      return;
    }
    const target = parseHostPort(req.url ?? '');
    if (target === undefined) {
      writeRawProxyError(socket, 'badRequest', errors.invalidInput('CONNECT needs a host:port target.'));
      return;
    }
    if (isServerItself(target.host, target.port)) {
      writeRawProxyError(socket, 'serverRefused', errors.forbidden(SERVER_REFUSED_MESSAGE));
      return;
    }
    socket.setNoDelay(true);
    if (!shouldIntercept(session.routes, target.host, target.port)) {
      openTunnel(socket, head, target.host, target.port);
      return;
    }
    let secureContext: tls.SecureContext;
    try {
      secureContext = (opts.selectAuthority?.(session) ?? ca).getLeafContext(target.host);
    } catch {
      writeRawProxyError(
        socket,
        'certificateFailed',
        errors.internal(`Could not make a certificate for ${target.host}.`),
      );
      return;
    }
    socket.write(CONNECT_ESTABLISHED);
    if (head.length > 0) socket.unshift(head);
    // The TLSSocket constructor passes highWaterMark on to its streams (as tls.connect does); the types omit it.
    const tlsOptions: tls.TLSSocketOptions & { highWaterMark: number } = {
      isServer: true,
      secureContext,
      ALPNProtocols: ALPN_HTTP1,
      highWaterMark: RELAY_HIGH_WATER_MARK,
    };
    const tlsSocket = new tls.TLSSocket(socket, tlsOptions);
    track(tlsSocket);
    // Handshake failures (an agent that does not trust the CA) end this connection only; so does everything after.
    startInterception(tlsSocket, { host: target.host, port: target.port, session }, interceptDeps);
  });

  function openTunnel(socket: Socket, head: Buffer, host: string, port: number): void {
    const upstream = connector.connectTcp(host, port);
    track(upstream);
    let connected = false;
    upstream.once('connect', () => {
      // A name the check above could not see through (one that resolves to 127.0.0.1, 0.0.0.0, 2130706433): the
      // address actually reached decides.
      if (isServerItself(upstream.remoteAddress ?? '', upstream.remotePort ?? 0)) {
        upstream.destroy();
        writeRawProxyError(socket, 'serverRefused', errors.forbidden(SERVER_REFUSED_MESSAGE));
        return;
      }
      connected = true;
      socket.write(CONNECT_ESTABLISHED);
      if (head.length > 0) upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.on('error', (err) => {
      if (connected) socket.destroy();
      else
        writeRawProxyError(
          socket,
          'upstreamFailed',
          buildUpstreamError(host, port, err),
          buildUpstreamReason(host, port, err),
        );
    });
    upstream.on('close', () => socket.destroy());
    socket.on('close', () => upstream.destroy());
  }

  // Absolute-form requests on the listener itself: plain http://, forwarded without any credential.
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const session = sessions.authenticate(req.headers['proxy-authorization']);
    if (session === undefined) {
      writeProxyError(res, 'proxyAuthRequired', buildProxyAuthError());
      return;
    }
    const target = parsePlainHttpTarget(req.url);
    if (target === undefined) {
      writeProxyError(
        res,
        'badRequest',
        errors.invalidInput(
          'The authsome proxy forwards absolute http:// URLs and CONNECT tunnels only.',
          'Set HTTPS_PROXY/HTTP_PROXY to the proxy URL instead of calling it directly.',
        ),
      );
      return;
    }
    if (isServerItself(target.host, target.port)) {
      writeProxyError(res, 'serverRefused', errors.forbidden(SERVER_REFUSED_MESSAGE));
      return;
    }
    forwarder.forwardRequest(req, res, target, buildPlainPlan(session, target));
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    track(socket);
    const session = sessions.authenticate(req.headers['proxy-authorization']);
    if (session === undefined) {
      writeRawProxyError(socket, 'proxyAuthRequired', buildProxyAuthError());
      return;
    }
    const target = parsePlainHttpTarget(req.url);
    if (target === undefined) {
      writeRawProxyError(
        socket,
        'badRequest',
        errors.invalidInput('The authsome proxy forwards absolute http:// URLs and CONNECT tunnels only.'),
      );
      return;
    }
    if (isServerItself(target.host, target.port)) {
      writeRawProxyError(socket, 'serverRefused', errors.forbidden(SERVER_REFUSED_MESSAGE));
      return;
    }
    forwarder.forwardUpgrade(req, socket, head, target, buildPlainPlan(session, target));
  });
  server.on('clientError', (_err: Error, socket: Duplex) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;

  return {
    port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      for (const socket of tracked) socket.destroy();
      connector.close();
      await closed;
    },
  };
}

/** Plain http is audited only where a credential would have applied over https: that is the surprising case. */
function buildPlainPlan(session: RunSession, target: ForwardTarget): AuditPlan | undefined {
  const matched =
    shouldIntercept(session.routes, target.host, 443) || shouldIntercept(session.routes, target.host, target.port);
  return matched ? { event: 'no_match', run: session.id, reason: PLAIN_HTTP_REASON } : undefined;
}

/**
 * Loopback in the spellings a client can reach it by: localhost (and its subdomains, RFC 6761), 127.0.0.0/8 in any
 * IPv4 notation the URL parser accepts (2130706433, 0x7f.1), ::1, IPv4-mapped 127/8, and 0.0.0.0 / :: (Linux connects
 * those to the local host).
 */
export function isLoopbackHost(rawHost: string): boolean {
  const host = rawHost
    .toLowerCase()
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '');
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  // The WHATWG parser normalises every numeric IPv4 form and compresses IPv6 (an IPv4-mapped address to hex).
  let canonical: string;
  try {
    canonical = new URL(isIP(host) === 6 ? `http://[${host}]/` : `http://${host}/`).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return false;
  }
  if (isIP(canonical) === 4) return canonical.startsWith('127.') || canonical === '0.0.0.0';
  if (isIP(canonical) === 6)
    return canonical === '::1' || canonical === '::' || /^::ffff:7f[0-9a-f]{2}:/.test(canonical);
  return false;
}

function parsePlainHttpTarget(url: string | undefined): ForwardTarget | undefined {
  if (url === undefined || !/^http:\/\//i.test(url)) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  const host = parsed.hostname.startsWith('[') ? parsed.hostname.slice(1, -1) : parsed.hostname;
  return { host, port: parsed.port ? Number(parsed.port) : 80, path: `${parsed.pathname}${parsed.search}` };
}
