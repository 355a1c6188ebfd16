// How the proxy reports its own failures: an AppError as a JSON body with
// `x-authsome-error: 1`, so agents can tell it from the upstream's answer. Messages never carry a secret or a query.
// The body has the shape the OpenAI, Anthropic and most REST SDKs print (`error.message`), so an agent's own error
// output names the cause instead of a bare status.
import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { errors, isAppError, type AppError } from '../errors.js';
import { PROXY_ANSWERS, type ProxyAnswer, type ProxyAnswerSpec } from './proxy-answers.js';

const PROXY_AUTHENTICATE = 'Basic realm="authsome"';

export function buildProxyAuthError(): AppError {
  return errors.unauthorized(
    "Proxy authentication required: this proxy only serves processes started with 'authsome run -- <command>'.",
  );
}

/** Anything thrown while serving a request becomes an AppError; foreign errors are not echoed (they may hold data). */
export function toAppError(err: unknown): AppError {
  return isAppError(err) ? err : errors.internal('The authsome proxy failed to handle the request.');
}

/**
 * `{"type": "error", "error": {"type", "code", "message", "hint"}}`: the message carries the hint too, because it is
 * the one field every SDK shows.
 */
export function buildProxyErrorBody(err: AppError): string {
  const message = `authsome proxy: ${err.message}${err.hint ? ` ${err.hint}` : ''}`;
  const error = {
    type: 'authsome_proxy_error',
    code: err.code.toLowerCase(),
    message,
    ...(err.hint ? { hint: err.hint } : {}),
  };
  return JSON.stringify({ type: 'error', error });
}

export function writeProxyError(res: ServerResponse, answer: ProxyAnswer, err: AppError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const spec: ProxyAnswerSpec = PROXY_ANSWERS[answer];
  const body = buildProxyErrorBody(err);
  const headers: Record<string, string | number> = {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'x-authsome-error': '1',
    'cache-control': 'no-store',
  };
  if (spec.challenge) {
    headers['proxy-authenticate'] = PROXY_AUTHENTICATE;
    // The connection is not reused after a refusal: the agent must come back with a valid session.
    headers.connection = 'close';
    res.shouldKeepAlive = false;
  }
  res.writeHead(spec.status, spec.phrase, headers);
  res.end(body);
}

/**
 * For sockets no http.ServerResponse owns (CONNECT before the tunnel, upgrades): writes, then closes. `reason`
 * replaces the status line's phrase: clients such as curl show only that line for a failed CONNECT.
 */
export function writeRawProxyError(socket: Duplex, answer: ProxyAnswer, err: AppError, reason?: string): void {
  if (socket.destroyed || !socket.writable) {
    socket.destroy();
    return;
  }
  const spec: ProxyAnswerSpec = PROXY_ANSWERS[answer];
  const body = buildProxyErrorBody(err);
  const phrase = reason === undefined ? spec.phrase : reason.replace(/[^\x20-\x7e]/g, '?');
  const lines = [
    `HTTP/1.1 ${spec.status} ${phrase}`,
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'x-authsome-error: 1',
    'Cache-Control: no-store',
    'Connection: close',
  ];
  if (spec.challenge) lines.push(`Proxy-Authenticate: ${PROXY_AUTHENTICATE}`);
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
}

/** The 502 for a failed upstream exchange, worded by failure class; names the host, never the path. */
export function buildUpstreamError(host: string, port: number, err: unknown): AppError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? 'UNKNOWN';
  const where = port === 443 || port === 80 ? host : `${host}:${port}`;
  if (TLS_VERIFY_CODES.has(code)) {
    return errors.upstream(
      `The TLS certificate of ${where} is not trusted (${code}).`,
      'If the server uses a private CA, add it to NODE_EXTRA_CA_CERTS of the authsome server and restart it.',
    );
  }
  const cause = CONNECT_FAILURES[code];
  if (cause !== undefined)
    return errors.upstream(
      `${cause(where)} (${code}).`,
      'Check the network connection and the host name; AUTHSOME_PROXY_RESOLVE may redirect it.',
    );
  return errors.upstream(
    `The request to ${where} failed (${code}).`,
    'Retry the request; if it keeps failing, see the authsome server log.',
  );
}

/** The short status-line phrase for a failed CONNECT, e.g. `Bad Gateway (could not resolve api.example.com)`. */
export function buildUpstreamReason(host: string, port: number, err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? 'UNKNOWN';
  const where = port === 443 || port === 80 ? host : `${host}:${port}`;
  const cause = CONNECT_FAILURES[code]?.(where) ?? `the connection to ${where} failed`;
  return `${PROXY_ANSWERS.upstreamFailed.phrase} (${cause.charAt(0).toLowerCase()}${cause.slice(1)})`;
}

const CONNECT_FAILURES: Record<string, (where: string) => string> = {
  ENOTFOUND: (where) => `Could not resolve ${where.replace(/:\d+$/, '')}`,
  EAI_AGAIN: (where) => `Could not resolve ${where.replace(/:\d+$/, '')} (DNS did not answer)`,
  ECONNREFUSED: (where) => `Connection refused by ${where}`,
  ETIMEDOUT: (where) => `Timed out connecting to ${where}`,
  EHOSTUNREACH: (where) => `No route to ${where}`,
  ENETUNREACH: (where) => `Network unreachable for ${where}`,
  ECONNRESET: (where) => `${where} closed the connection unexpectedly`,
  EPIPE: (where) => `${where} closed the connection unexpectedly`,
};

const TLS_VERIFY_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'HOSTNAME_MISMATCH',
]);
