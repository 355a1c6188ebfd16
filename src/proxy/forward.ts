// Forwards plain http:// proxy requests (and their upgrades) through node:http with pooled keep-alive, streaming both
// ways, and writes their audit entries. It has no way to add a credential: plain http never gets one.
import http, { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { AuditEventName, AuditLog } from '../audit.js';
import { buildForwardRequestHeaders, buildForwardResponseHeaders } from './forward-headers.js';
import { PROXY_ANSWERS } from './proxy-answers.js';
import { buildUpstreamError, writeProxyError, writeRawProxyError } from './proxy-errors.js';
import type { UpstreamConnector } from './upstream.js';
import { buildAuthority } from './upstream-head.js';

export interface ForwardTarget {
  host: string;
  port: number;
  /** Request target in origin form (path and query). */
  path: string;
}

/** What the audit entry of this exchange says; status and ms are added when the upstream answers. */
export interface AuditPlan {
  event: AuditEventName;
  run: string;
  provider?: string;
  connection?: string;
  reason?: string;
}

export interface Forwarder {
  forwardRequest(req: IncomingMessage, res: ServerResponse, target: ForwardTarget, plan: AuditPlan | undefined): void;
  forwardUpgrade(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    target: ForwardTarget,
    plan: AuditPlan | undefined,
  ): void;
}

const CLIENT_CLOSED_STATUS = PROXY_ANSWERS.clientClosed.status;
const UPSTREAM_FAILED_STATUS = PROXY_ANSWERS.upstreamFailed.status;

export function createForwarder(deps: { connector: UpstreamConnector; audit: AuditLog }): Forwarder {
  const { connector, audit } = deps;

  function record(
    plan: AuditPlan | undefined,
    req: IncomingMessage,
    target: ForwardTarget,
    status: number,
    started: number,
  ): void {
    if (plan === undefined) return;
    audit.record(plan.event, {
      provider: plan.provider,
      connection: plan.connection,
      run: plan.run,
      method: req.method,
      host: target.host,
      path: stripQuery(target.path),
      status,
      ms: Math.round((performance.now() - started) * 10) / 10,
      reason: plan.reason,
    });
  }

  function openUpstream(req: IncomingMessage, target: ForwardTarget, headers: string[]): http.ClientRequest {
    const options: http.RequestOptions = {
      host: target.host,
      port: target.port,
      method: req.method,
      path: target.path,
      headers: headers as unknown as http.OutgoingHttpHeaders,
      agent: connector.httpAgent,
    };
    return http.request(options);
  }

  return {
    forwardRequest(req, res, target, plan) {
      const started = performance.now();
      const { headers, hasBody } = buildForwardRequestHeaders(req.rawHeaders, {
        authority: buildAuthority(target.host, target.port, 80),
      });
      let settled = false;
      const settle = (status: number): void => {
        if (settled) return;
        settled = true;
        record(plan, req, target, status, started);
      };

      const send = (retryOnStaleSocket: boolean): void => {
        const upstream = openUpstream(req, target, headers);
        upstream.on('response', (upRes) => {
          const status = upRes.statusCode ?? UPSTREAM_FAILED_STATUS;
          const response = buildForwardResponseHeaders(upRes.rawHeaders);
          res.writeHead(status, upRes.statusMessage, response.headers);
          // Without a declared length the body is a stream (SSE, chunked): the head goes now, not with the
          // first event. With one, the head rides in the same TLS record as the body.
          if (!response.hasLength) res.flushHeaders();
          settle(status);
          upRes.on('error', () => res.destroy());
          upRes.pipe(res);
        });
        upstream.on('error', (err) => {
          // A pooled socket the upstream closed while idle: safe to replay once when no body was sent.
          if (retryOnStaleSocket && upstream.reusedSocket && !hasBody && !res.headersSent && !res.destroyed) {
            send(false);
            return;
          }
          if (res.destroyed) {
            settle(CLIENT_CLOSED_STATUS);
            return;
          }
          settle(UPSTREAM_FAILED_STATUS);
          writeProxyError(res, 'upstreamFailed', buildUpstreamError(target.host, target.port, err));
        });
        res.once('close', () => {
          if (!res.writableFinished) upstream.destroy();
        });
        if (hasBody) req.pipe(upstream);
        else upstream.end();
      };
      send(true);
    },

    forwardUpgrade(req, socket, head, target, plan) {
      const started = performance.now();
      const { headers } = buildForwardRequestHeaders(req.rawHeaders, {
        authority: buildAuthority(target.host, target.port, 80),
        upgrade: true,
      });
      const upstream = openUpstream(req, target, headers);
      socket.on('error', () => upstream.destroy());
      upstream.on('upgrade', (upRes, upSocket, upHead) => {
        record(plan, req, target, upRes.statusCode ?? 101, started);
        const response = buildForwardResponseHeaders(upRes.rawHeaders, { upgrade: true });
        socket.write(buildResponseHead(upRes.statusCode ?? 101, upRes.statusMessage, response.headers));
        if (upHead.length > 0) socket.write(upHead);
        if (head.length > 0) upSocket.write(head);
        (upSocket as Socket).setNoDelay?.(true);
        upSocket.on('error', () => socket.destroy());
        socket.on('error', () => upSocket.destroy());
        upSocket.on('close', () => socket.destroy());
        socket.on('close', () => upSocket.destroy());
        upSocket.pipe(socket);
        socket.pipe(upSocket);
      });
      upstream.on('response', (upRes) => {
        // The upstream refused the upgrade: relay its answer, close-delimited, then hang up.
        record(plan, req, target, upRes.statusCode ?? UPSTREAM_FAILED_STATUS, started);
        const response = buildForwardResponseHeaders(upRes.rawHeaders);
        const kept: string[] = [];
        for (let i = 0; i < response.headers.length; i += 2) {
          const lower = response.headers[i]!.toLowerCase();
          if (lower !== 'content-length' && lower !== 'transfer-encoding')
            kept.push(response.headers[i]!, response.headers[i + 1]!);
        }
        kept.push('Connection', 'close');
        socket.write(buildResponseHead(upRes.statusCode ?? UPSTREAM_FAILED_STATUS, upRes.statusMessage, kept));
        upRes.pipe(socket);
      });
      upstream.on('error', (err) => {
        record(plan, req, target, UPSTREAM_FAILED_STATUS, started);
        writeRawProxyError(socket, 'upstreamFailed', buildUpstreamError(target.host, target.port, err));
      });
      upstream.end();
    },
  };
}

function buildResponseHead(status: number, message: string | undefined, headers: readonly string[]): string {
  let head = `HTTP/1.1 ${status} ${message || STATUS_CODES[status] || ''}\r\n`;
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return `${head}\r\n`;
}

function stripQuery(path: string): string {
  const q = path.indexOf('?');
  return q === -1 ? path : path.slice(0, q);
}
