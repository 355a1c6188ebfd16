// Opens every connection the proxy makes outward: TLS for intercepted tunnels (always verified against one prebuilt
// trust context, sessions resumed, pooled per host, port and address), raw TCP for blind tunnels, a keep-alive pool
// for plain http, all through AUTHSOME_PROXY_RESOLVE. It never adds, reads or logs a credential.
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { buildResolveKey, type ResolveMap } from './resolve-map.js';
import { createUpstreamPool, type UpstreamPool, type UpstreamPoolOptions } from './upstream-pool.js';

/**
 * Stream buffer size on both TLS sides of an intercepted connection. Node's 16 KiB default is one TLS record, so each
 * relayed record filled the other side's buffer: the relay paused the upstream and waited for 'drain' once per 16 KiB
 * of a large answer. Four records keep a streaming answer flowing and still bound what waits in memory.
 */
export const RELAY_HIGH_WATER_MARK = 64 * 1024;

export interface UpstreamConnector {
  /** Keep-alive pool per host for plain http:// requests. */
  httpAgent: http.Agent;
  /** A verified TLS connection (intercepted tunnels); resumes the host's last TLS session when it can. */
  connectTls(host: string, port: number): tls.TLSSocket;
  /** Pooled verified TLS connections for intercepted requests, shared by all tunnels and runs. */
  tlsPool: UpstreamPool;
  /** A raw TCP connection for blind tunnels (the resolve map applies here too). */
  connectTcp(host: string, port: number): net.Socket;
  close(): void;
}

export interface UpstreamConnectorOptions {
  resolveMap: ResolveMap;
  /** PEM certificates trusted on top of the system roots (NODE_EXTRA_CA_CERTS of the server; tests' CA). */
  upstreamCaCerts: string[];
  /** Limits of the TLS pool (tests make them small). */
  pool?: Pick<UpstreamPoolOptions, 'maxSocketsPerHost' | 'maxIdlePerHost' | 'maxIdleTotal' | 'idleTimeoutMs'>;
}

const ALPN_HTTP1 = ['http/1.1'];
/** Idle upstream sockets are dropped after this long, before most servers' own idle timeouts bite. */
const FREE_SOCKET_TIMEOUT_MS = 30_000;
const SESSION_CACHE_LIMIT = 1000;

export function createUpstreamConnector(opts: UpstreamConnectorOptions): UpstreamConnector {
  const { resolveMap } = opts;
  // Built once: a `ca` array per connection would re-parse ~140 roots each time.
  const secureContext =
    opts.upstreamCaCerts.length > 0
      ? tls.createSecureContext({ ca: [...tls.rootCertificates, ...opts.upstreamCaCerts] })
      : tls.createSecureContext();
  const agentOptions = {
    keepAlive: true,
    maxSockets: Infinity,
    maxFreeSockets: 256,
    scheduling: 'lifo' as const,
    timeout: FREE_SOCKET_TIMEOUT_MS,
  };

  const resolve = (host: string, port: number): { host: string; port: number } =>
    resolveMap.size === 0 ? { host, port } : (resolveMap.get(buildResolveKey(host, port)) ?? { host, port });

  // A resumed session skips the certificate chain: a cheaper handshake for every tunnel after the first to a host.
  // Keyed by the real host and port, so a session only ever resumes with the server it was verified against.
  const sessions = new Map<string, Buffer>();

  const httpAgent = new http.Agent(agentOptions);
  httpAgent.createConnection = (options: http.ClientRequestArgs): Duplex => {
    const address = resolve(String(options.host ?? 'localhost'), Number(options.port ?? 80));
    return net.connect({ host: address.host, port: address.port, noDelay: true });
  };

  const connectTls = (host: string, port: number): tls.TLSSocket => {
    const key = buildResolveKey(host, port);
    const address = resolve(host, port);
    const hostIsIp = net.isIP(host) !== 0;
    const redirected = address.host !== host;
    // highWaterMark is a documented tls.connect option that @types/node does not list.
    const options: tls.ConnectionOptions & { highWaterMark: number } = {
      host: address.host,
      port: address.port,
      // SNI and the certificate check always use the real name, whatever address the TCP connection went to.
      servername: hostIsIp ? undefined : host,
      ...(hostIsIp && redirected
        ? { checkServerIdentity: (_: string, cert: tls.PeerCertificate) => tls.checkServerIdentity(host, cert) }
        : {}),
      secureContext,
      ALPNProtocols: ALPN_HTTP1,
      session: sessions.get(key),
      highWaterMark: RELAY_HIGH_WATER_MARK,
    };
    const socket = tls.connect(options);
    // tls.connect ignores a noDelay option: without this a request head and its body sent as two writes wait
    // on Nagle and the peer's delayed ACK (40 ms).
    socket.setNoDelay(true);
    socket.on('session', (session: Buffer) => {
      if (sessions.size >= SESSION_CACHE_LIMIT) sessions.clear();
      sessions.set(key, session);
    });
    return socket;
  };

  const tlsPool = createUpstreamPool({
    ...opts.pool,
    connect: connectTls,
    // The real name decides SNI and the certificate check, the address where the socket goes: both must match.
    keyOf: (host, port) => {
      const address = resolve(host, port);
      return `${buildResolveKey(host, port)}>${buildResolveKey(address.host, address.port)}`;
    },
  });

  return {
    httpAgent,
    connectTls,
    tlsPool,
    connectTcp(host, port) {
      const address = resolve(host, port);
      return net.connect({ host: address.host, port: address.port, noDelay: true });
    },
    close() {
      tlsPool.close();
      httpAgent.destroy();
    },
  };
}
