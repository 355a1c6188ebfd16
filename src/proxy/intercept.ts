// One intercepted CONNECT tunnel (SPEC §7): reads the agent's requests off the decrypted stream, sets the credential
// on each request head that matches, and relays everything else byte for byte over one upstream connection of its
// own. It never buffers a body and never rewrites a response; it parses only what it needs to find message ends.
import type tls from 'node:tls';
import type { AuditLog } from '../audit.js';
import { errors, type AppError } from '../errors.js';
import type { CredentialHeader } from '../providers/headers.js';
import { buildAmbiguityReason, matchRoute, type ScopeEntry } from '../providers/routes.js';
import type { AuditPlan } from './forward.js';
import { createBodyTracker, parseRequestHead, parseResponseHead, type BodyTracker, type RequestHead } from './http1-framing.js';
import {
  buildProxyAuthError,
  buildUpstreamError,
  PROXY_AUTH_STATUS,
  toAppError,
  UPSTREAM_ERROR_STATUS,
  writeRawProxyError,
} from './proxy-errors.js';
import type { RunSession } from './run-sessions.js';
import { buildAuthority, buildUpstreamHead, resolveTunnelTarget, type TunnelTarget } from './upstream-head.js';

export interface InterceptTarget {
  host: string;
  port: number;
  session: RunSession;
}

export interface InterceptDeps {
  isLive(session: RunSession): boolean;
  resolveCredential(entry: ScopeEntry): Promise<CredentialHeader>;
  audit: AuditLog;
  connectUpstream(host: string, port: number): tls.TLSSocket;
}

/** A request sent upstream whose response has not started yet. */
interface Exchange {
  method: string;
  path: string;
  plan: AuditPlan;
  started: number;
  upgrade: boolean;
  /** Some of its response already went to the agent, so an error can no longer be reported as a response. */
  responded: boolean;
}

const CRLF2 = Buffer.from('\r\n\r\n');
const MAX_HEAD_BYTES = 64 * 1024;
/** Bytes the agent may send ahead while nothing can be relayed (a credential pending, an upgrade unanswered). */
const MAX_BUFFERED_INPUT_BYTES = 1024 * 1024;
/** An agent's idle keep-alive connection is closed after this long (both sides), like a server would. */
const CLIENT_IDLE_MS = 65_000;

export function startInterception(client: tls.TLSSocket, target: InterceptTarget, deps: InterceptDeps): void {
  const authority = buildAuthority(target.host, target.port);
  const run = target.session.id;
  const exchanges: Exchange[] = [];
  const pausedBy = new Set<'credential' | 'upstream'>();
  let upstream: tls.TLSSocket | undefined;
  let input: Buffer | undefined;
  // Request side: between messages ('head'), inside a request body, holding bytes after an upgrade request until
  // the upstream has answered it, or a raw tunnel after a 101.
  let requestMode: 'head' | 'body' | 'hold' | 'tunnel' = 'head';
  let requestBody: BodyTracker | undefined;
  let awaitingCredential = false;
  // Response side: waiting for a head, inside a body, or a raw tunnel after a 101.
  let responseMode: 'head' | 'body' | 'tunnel' = 'head';
  let responseBody: BodyTracker | undefined;
  let responseCloseDelimited = false;
  let partialResponseHead: Buffer | undefined;
  let upstreamDrainPending = false;
  let clientDrainPending = false;
  let closed = false;

  const pauseClient = (why: 'credential' | 'upstream'): void => {
    pausedBy.add(why);
    client.pause();
  };
  const resumeClient = (why: 'credential' | 'upstream'): void => {
    pausedBy.delete(why);
    if (pausedBy.size === 0 && !closed) client.resume();
  };

  function closeAll(): void {
    if (closed) return;
    closed = true;
    upstream?.destroy();
    client.destroy();
  }

  /** Answers the agent with a proxy error and closes, or just closes when a response is already under way. */
  function rejectAndClose(status: number, err: AppError): void {
    if (closed) return;
    closed = true;
    upstream?.destroy();
    if (exchanges.length > 0 || responseMode !== 'head' || partialResponseHead !== undefined) client.destroy();
    else writeRawProxyError(client, status, err);
  }

  function record(exchange: Exchange, status: number): void {
    const { plan } = exchange;
    deps.audit.record(plan.event, {
      provider: plan.provider,
      connection: plan.connection,
      run: plan.run,
      method: exchange.method,
      host: target.host,
      path: exchange.path,
      status,
      ms: Math.round((performance.now() - exchange.started) * 10) / 10,
      reason: plan.reason,
    });
  }

  function ensureUpstream(): tls.TLSSocket {
    if (upstream !== undefined) return upstream;
    const socket = deps.connectUpstream(target.host, target.port);
    upstream = socket;
    responseMode = 'head';
    responseBody = undefined;
    partialResponseHead = undefined;
    socket.on('data', (chunk: Buffer) => onUpstreamData(socket, chunk));
    socket.on('error', (err) => onUpstreamGone(socket, err));
    socket.on('close', () => onUpstreamGone(socket, undefined));
    return socket;
  }

  function writeUpstream(data: Buffer | string): void {
    const socket = ensureUpstream();
    const ok = typeof data === 'string' ? socket.write(data, 'latin1') : socket.write(data);
    if (!ok && !upstreamDrainPending) {
      upstreamDrainPending = true;
      pauseClient('upstream');
      socket.once('drain', () => {
        upstreamDrainPending = false;
        resumeClient('upstream');
      });
    }
  }

  function processInput(): void {
    // A head and the body bytes that came with it leave in one write (one TLS record, one syscall).
    const corked = upstream;
    corked?.cork();
    try {
      drainInput();
    } finally {
      corked?.uncork();
    }
  }

  function drainInput(): void {
    while (input !== undefined && !awaitingCredential && !closed) {
      if (requestMode === 'tunnel') {
        const data = input;
        input = undefined;
        writeUpstream(data);
        return;
      }
      if (requestMode === 'hold') return;
      if (requestMode === 'body') {
        let n: number;
        try {
          n = requestBody!.consume(input, 0);
        } catch (err) {
          rejectAndClose(400, errors.invalidInput(`The request body could not be parsed (${(err as Error).message}).`));
          return;
        }
        const data = n === input.length ? input : input.subarray(0, n);
        input = n === input.length ? undefined : input.subarray(n);
        if (n > 0) writeUpstream(data);
        if (requestBody!.done) {
          requestMode = 'head';
          requestBody = undefined;
        }
        continue;
      }
      // Empty lines before a request line are ignored (RFC 9112 §2.2).
      let start = 0;
      while (start + 1 < input.length && input[start] === 0x0d && input[start + 1] === 0x0a) start += 2;
      const end = input.indexOf(CRLF2, start);
      // The limit holds however the bytes arrive: a whole oversized head in one read is as large as one in pieces.
      if (end === -1 ? input.length > MAX_HEAD_BYTES : end - start > MAX_HEAD_BYTES) {
        rejectAndClose(431, errors.invalidInput('The request head is too large.'));
        return;
      }
      if (end === -1) return;
      const text = input.toString('latin1', start, end);
      input = end + 4 === input.length ? undefined : input.subarray(end + 4);
      handleRequestHead(text);
    }
  }

  function handleRequestHead(text: string): void {
    let head: RequestHead;
    try {
      head = parseRequestHead(text);
    } catch (err) {
      rejectAndClose(400, errors.invalidInput(`The request could not be parsed (${(err as Error).message}).`));
      return;
    }
    // A connection outlives nothing: once its run has ended, the next request is refused.
    if (!deps.isLive(target.session)) {
      rejectAndClose(PROXY_AUTH_STATUS, buildProxyAuthError());
      return;
    }
    let resolved: TunnelTarget;
    try {
      resolved = resolveTunnelTarget(head, target.host, target.port);
    } catch (err) {
      rejectAndClose(400, errors.invalidInput(`The request was refused: ${(err as Error).message}.`));
      return;
    }
    const { path } = resolved;
    const match = matchRoute(target.session.routes, target.host, target.port, path);
    // A server that decodes %2F, treats '\\' as '/' or drops ';' parameters may read another path than the one
    // matched: the credential goes only where both readings agree.
    if (match.kind === 'inject' && resolved.lenientPath !== path && matchRoute(target.session.routes, target.host, target.port, resolved.lenientPath) !== match) {
      rejectAndClose(400, errors.invalidInput('The request was refused: its path reads differently once encoded slashes or dot segments are decoded.'));
      return;
    }
    if (match.kind !== 'inject') {
      const plan: AuditPlan =
        match.kind === 'ambiguous'
          ? { event: 'ambiguous', run, reason: buildAmbiguityReason(match.candidates) }
          : { event: 'no_match', run, reason: match.reason };
      sendRequest(head, path, plan);
      return;
    }
    const { entry } = match;
    const plan: AuditPlan = { event: 'inject', run, provider: entry.provider, connection: entry.connection };
    // Later bytes wait until this head is sent: requests must reach the upstream in order.
    awaitingCredential = true;
    pauseClient('credential');
    deps.resolveCredential(entry).then(
      (credential) => {
        awaitingCredential = false;
        if (closed) return;
        // The head and whatever body already arrived leave together, as in processInput.
        const socket = ensureUpstream();
        socket.cork();
        try {
          sendRequest(head, path, plan, credential);
          resumeClient('credential');
          drainInput();
        } finally {
          socket.uncork();
        }
      },
      (err: unknown) => {
        const appError = toAppError(err);
        deps.audit.record('inject', {
          provider: entry.provider,
          connection: entry.connection,
          run,
          method: head.method,
          host: target.host,
          path,
          status: UPSTREAM_ERROR_STATUS,
          reason: `credential unavailable: ${appError.code}`,
        });
        rejectAndClose(UPSTREAM_ERROR_STATUS, appError);
      },
    );
  }

  function sendRequest(head: RequestHead, path: string, plan: AuditPlan, credential?: CredentialHeader): void {
    const out = buildUpstreamHead(head, path, authority, credential);
    exchanges.push({ method: head.method, path, plan, started: performance.now(), upgrade: head.upgrade, responded: false });
    writeUpstream(out);
    if (head.framing.kind !== 'none') {
      requestMode = 'body';
      requestBody = createBodyTracker(head.framing);
    } else if (head.upgrade) {
      requestMode = 'hold';
    }
  }

  function onUpstreamData(socket: tls.TLSSocket, chunk: Buffer): void {
    if (socket !== upstream || closed) return;
    if (responseMode === 'head' && exchanges.length > 0) exchanges[0]!.responded = true;
    // Relay first, inspect after: the agent gets every byte (an SSE event, a 101) the moment it arrives.
    if (!client.write(chunk) && !clientDrainPending) {
      clientDrainPending = true;
      socket.pause();
      client.once('drain', () => {
        clientDrainPending = false;
        socket.resume();
      });
    }
    if (responseMode === 'tunnel') return;
    try {
      scanResponse(chunk);
    } catch {
      // The upstream's framing is broken: the agent cannot be told which bytes were a response. Hang up.
      closeAll();
    }
  }

  function scanResponse(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length && !closed) {
      if (responseMode === 'tunnel') return;
      if (responseMode === 'body') {
        offset += responseBody!.consume(chunk, offset);
        if (responseBody!.done) finishResponse();
        continue;
      }
      const previous = partialResponseHead?.length ?? 0;
      const data = partialResponseHead === undefined ? chunk.subarray(offset) : Buffer.concat([partialResponseHead, chunk.subarray(offset)]);
      const end = data.indexOf(CRLF2);
      if (end === -1) {
        if (data.length > MAX_HEAD_BYTES) throw new Error('response head too large');
        partialResponseHead = data;
        return;
      }
      partialResponseHead = undefined;
      offset += end + 4 - previous;
      onResponseHead(data.toString('latin1', 0, end));
    }
  }

  function onResponseHead(text: string): void {
    const exchange = exchanges[0];
    const head = parseResponseHead(text, exchange?.method);
    if (head.status === 101 && exchange?.upgrade) {
      exchanges.shift();
      record(exchange, 101);
      responseMode = 'tunnel';
      requestMode = 'tunnel';
      client.setTimeout(0);
      processInput();
      return;
    }
    // Interim responses (100 Continue, 103) pass through; the final one follows on the same exchange.
    if (head.status < 200) return;
    if (exchange !== undefined) {
      exchanges.shift();
      record(exchange, head.status);
      if (exchange.upgrade && requestMode === 'hold') {
        requestMode = 'head';
        queueMicrotask(processInput);
      }
    }
    if (head.framing.kind === 'none') {
      finishResponse();
    } else {
      responseMode = 'body';
      responseBody = createBodyTracker(head.framing);
      responseCloseDelimited = head.framing.kind === 'close';
    }
  }

  function finishResponse(): void {
    responseMode = 'head';
    responseBody = undefined;
    responseCloseDelimited = false;
  }

  function onUpstreamGone(socket: tls.TLSSocket, err: Error | undefined): void {
    if (socket !== upstream) return;
    upstream = undefined;
    if (closed) return;
    if (upstreamDrainPending) {
      // That socket will never drain now; the next one starts with an empty buffer.
      upstreamDrainPending = false;
      resumeClient('upstream');
    }
    if (responseMode === 'tunnel') {
      closeAll();
    } else if (responseMode === 'body' && responseCloseDelimited) {
      // A close-delimited body ends with the connection: pass the end on, after the bytes already queued.
      closed = true;
      client.end();
    } else if (responseMode === 'body' || partialResponseHead !== undefined || exchanges.some((e) => e.responded)) {
      closeAll(); // cut mid-response: the agent must see a truncated message, not a forged ending
    } else if (exchanges.length > 0 || requestMode === 'body') {
      const error = buildUpstreamError(target.host, target.port, err ?? Object.assign(new Error('closed'), { code: 'ECONNRESET' }));
      for (const exchange of exchanges) record(exchange, UPSTREAM_ERROR_STATUS);
      exchanges.length = 0;
      rejectAndClose(UPSTREAM_ERROR_STATUS, error);
    }
    // Otherwise the upstream closed an idle connection: the agent keeps its own, and the next request reconnects.
  }

  client.on('data', (chunk: Buffer) => {
    input = input === undefined ? chunk : Buffer.concat([input, chunk]);
    // Waiting for a credential the client is paused; holding bytes after an upgrade request it is not, so an agent
    // could grow this buffer without end. Past the limit the connection is refused.
    if (input.length > MAX_BUFFERED_INPUT_BYTES) {
      rejectAndClose(400, errors.invalidInput('Too much data arrived before the proxy could relay it.'));
      return;
    }
    processInput();
  });
  client.on('error', closeAll);
  client.on('close', closeAll);
  client.setTimeout(CLIENT_IDLE_MS, () => {
    if (exchanges.length === 0 && responseMode === 'head' && requestMode === 'head') closeAll();
  });
  // Connect now: the upstream handshake runs while the agent's own handshake with the proxy completes.
  ensureUpstream();
}
