// One intercepted CONNECT tunnel: the wiring between the agent's decrypted stream, the request side (request-input.ts,
// request-plan.ts: the credential set on each head that matches), the upstream connection leased from the pool while
// an exchange is under way (upstream-slot.ts) and the response side (response-relay.ts). It owns when the agent's
// connection is paused, ends or closes; it never buffers a body.

// Imported, not the global: globalThis.performance is a getter, read on every call (a request makes several).
import { performance } from 'node:perf_hooks';
import type tls from 'node:tls';
import type { AuditLog } from '../audit.js';
import { errors, type AppError } from '../errors.js';
import type { CredentialHeader } from '../providers/headers.js';
import type { ScopeEntry } from '../providers/routes.js';
import type { AuditPlan } from './forward.js';
import type { RequestHead } from './http1-framing.js';
import { PROXY_ANSWERS, type ProxyAnswer } from './proxy-answers.js';
import { buildUpstreamError, toAppError, writeRawProxyError } from './proxy-errors.js';
import { RequestInput } from './request-input.js';
import { isReplayable, isRetryableAfterRefresh, planRequest } from './request-plan.js';
import { ResponseRelay, type Exchange, type RelayLease } from './response-relay.js';
import { countRunEvent, type RunSession } from './run-sessions.js';
import { buildAuthority, buildUpstreamHead, isCloseRequested } from './upstream-head.js';
import { createUpstreamLease, type UpstreamLease } from './upstream-lease.js';
import type { PooledUpstream, UpstreamPool } from './upstream-pool.js';
import { UpstreamSlot } from './upstream-slot.js';

export interface InterceptTarget {
  host: string;
  port: number;
  session: RunSession;
}

export interface InterceptDeps {
  isLive(session: RunSession): boolean;
  resolveCredential(entry: ScopeEntry): Promise<CredentialHeader>;
  /** The header at once when there is nothing to wait for, else undefined (resolveCredential then decides). */
  peekCredential?(entry: ScopeEntry): CredentialHeader | undefined;
  /** After a 401 to an OAuth credential: a refreshed one to send the request with once more, or undefined. */
  refreshCredential?(entry: ScopeEntry, rejected: CredentialHeader): Promise<CredentialHeader | undefined>;
  audit: AuditLog;
  pool: UpstreamPool;
  /** false only to measure what scrubbing costs (the bench's baseline proxy): answers then go out unscanned. */
  scrubResponses?: boolean;
}

/** An agent's idle keep-alive connection is closed after this long (both sides), like a server would. */
const CLIENT_IDLE_MS = 65_000;

export function startInterception(client: tls.TLSSocket, target: InterceptTarget, deps: InterceptDeps): void {
  const authority = buildAuthority(target.host, target.port);
  const run = target.session.id;
  const exchanges: Exchange[] = [];
  const pausedBy = new Set<'credential' | 'upstream' | 'pool'>();
  /** The agent's bytes not relayed yet, and where the request side is. */
  const requests = new RequestInput();
  let awaitingCredential = false;
  /** A request said `Connection: close`: the connection ends after its response. */
  let endAfterResponse = false;
  /** The agent half-closed its connection: no more input will come. */
  let clientEnded = false;
  /** While one batch of input is written: what sends each lease's held writes (a head and its body in one record). */
  let batch: (() => void)[] | undefined;
  let closed = false;

  const pauseClient = (why: 'credential' | 'upstream' | 'pool'): void => {
    pausedBy.add(why);
    client.pause();
  };
  const resumeClient = (why: 'credential' | 'upstream' | 'pool'): void => {
    pausedBy.delete(why);
    if (pausedBy.size === 0 && !closed) client.resume();
  };

  function closeAll(): void {
    if (closed) return;
    closed = true;
    slot.stopWaiting();
    relay.stop();
    slot.end();
    client.destroy();
  }

  /** Answers the agent with a proxy error and closes, or just closes when a response is already under way. */
  function rejectAndClose(answer: ProxyAnswer, err: AppError): void {
    if (closed) return;
    const responding = exchanges.length > 0 || (slot.lease !== undefined && !slot.lease.tracker.idle);
    closed = true;
    slot.stopWaiting();
    slot.end();
    if (responding) client.destroy();
    else writeRawProxyError(client, answer, err);
  }

  /** Ends the agent's connection after the bytes already queued; the lease goes back if it can. */
  function finish(): void {
    closed = true;
    slot.stopWaiting();
    slot.end();
    client.end();
  }

  /** An answer that cannot be scanned, none of it sent yet: the agent gets a proxy error in its place. */
  function refuseAnswer(cause: 'unsupported' | 'corrupt'): void {
    if (closed) return;
    closed = true;
    slot.stopWaiting();
    if (slot.lease !== undefined) slot.lease.reusable = false;
    slot.end();
    const where = target.port === 443 ? target.host : authority;
    writeRawProxyError(client, 'answerNotScannable', errors.answerNotScannable(where, cause));
  }

  const slot = new UpstreamSlot({
    pool: deps.pool,
    host: target.host,
    port: target.port,
    openLease,
    // The lease's own response side is the slot's to look at.
    isQuiet: () => exchanges.length === 0 && requests.mode === 'head' && !awaitingCredential,
    isClosed: () => closed,
    pauseClient: () => pauseClient('pool'),
    resumeClient: () => resumeClient('pool'),
    runBatched: writeBatched,
  });

  function openLease(pooled: PooledUpstream): UpstreamLease {
    const current = createUpstreamLease(pooled, {
      client,
      pauseClient: () => pauseClient('upstream'),
      resumeClient: () => resumeClient('upstream'),
      onData: (chunk) => relay.onData(current, chunk),
      onGone: onUpstreamGone,
      response: {
        peekRequest: () => exchanges[0],
        onResponse: (head, text) => relay.onResponseHead(current, head, text),
        // The lease is looked at after the whole chunk (onResponseProgress), not in the middle of it.
        onResponseEnd: () => relay.onResponseEnd(),
        stopAfterResponse: () => relay.stopAfterResponse(),
      },
      currentBatch: () => batch,
    });
    return current;
  }

  const relay = new ResponseRelay({
    client,
    host: target.host,
    session: target.session,
    audit: deps.audit,
    ...(deps.refreshCredential === undefined ? {} : { refreshCredential: deps.refreshCredential.bind(deps) }),
    exchanges,
    relayHost: {
      isClosed: () => closed,
      currentLease: () => slot.lease,
      close: closeAll,
      finish,
      refuseAnswer,
      onAnswer,
      onProgress: onResponseProgress,
      holdRequests: () => {
        awaitingCredential = true;
        pauseClient('credential');
      },
      resumeRequests: () => {
        awaitingCredential = false;
        resumeClient('credential');
      },
      drainRequests: () => writeBatched(drainInput),
      retryRequest,
    },
  });

  function writeUpstream(data: Buffer | string): void {
    // Every caller holds a lease; without one there is nowhere safe to write (a pooled socket is someone else's).
    if (slot.lease === undefined) closeAll();
    else slot.lease.write(data);
  }

  /** Runs `fn` with every upstream write it makes held back until it returns, then sent together. */
  function writeBatched(fn: () => void): void {
    if (batch !== undefined) {
      fn();
      return;
    }
    batch = [];
    try {
      fn();
    } finally {
      const flushes = batch;
      batch = undefined;
      for (const flush of flushes) flush();
    }
  }

  const processInput = (): void => {
    writeBatched(drainInput);
    finishIfEnded();
  };

  /**
   * The agent has sent all it will (it half-closed): once every request it sent is answered, end its connection;
   * a request body it left unfinished, or a head it never completed, can never be, so those end it at once.
   */
  function finishIfEnded(): void {
    if (!clientEnded || closed) return;
    if (requests.mode === 'body' && !requests.pending) {
      closeAll();
      return;
    }
    if (exchanges.length > 0 || awaitingCredential || slot.waiting || requests.mode !== 'head') return;
    if ((slot.lease !== undefined && !slot.lease.tracker.idle) || relay.decodingAnswer) return;
    finish();
  }

  /** Relays or plans what the agent sent, as far as the request side can go now. */
  function drainInput(): void {
    while (requests.pending && !awaitingCredential && !closed) {
      switch (requests.next()) {
        case 'wait':
          return;
        case 'forward':
          writeUpstream(requests.data);
          break;
        case 'forward-end':
          if (requests.data.length > 0) writeUpstream(requests.data);
          slot.releaseIfDone();
          break;
        case 'bad-body':
          rejectAndClose(
            'badRequest',
            errors.invalidInput(`The request body could not be parsed (${requests.error}).`),
          );
          return;
        case 'head-too-large':
          rejectAndClose('headTooLarge', errors.invalidInput('The request head is too large.'));
          return;
        case 'head':
          // A connection is leased only for a whole head: an agent that sends half of one holds none.
          if (!slot.acquire(processInput)) return;
          handleRequestHead(requests.takeHead());
      }
    }
  }

  function handleRequestHead(text: string): void {
    const plan = planRequest(text, target, target.session, deps.isLive(target.session));
    if (plan.kind === 'refuse') {
      rejectAndClose(plan.answer, plan.error);
      return;
    }
    if (plan.kind === 'relay') {
      sendRequest(plan.head, plan.path, plan.audit);
      return;
    }
    const { head, path, entry } = plan;
    if (plan.kind === 'deny') {
      countRunEvent(target.session, entry.provider, 'denied');
      deps.audit.record('denied', {
        provider: entry.provider,
        connection: entry.connection,
        run,
        method: head.method,
        host: target.host,
        path,
        status: PROXY_ANSWERS.requestDenied.status,
        reason: plan.reason,
      });
      rejectAndClose('requestDenied', plan.error);
      return;
    }
    countRunEvent(target.session, entry.provider, 'injected');
    const ready = deps.peekCredential?.(entry);
    if (ready !== undefined) {
      // Sent in this turn: the drain loop goes on with its body and the requests behind it.
      sendRequest(head, path, plan.audit, ready, entry);
      return;
    }
    // Later bytes wait until this head is sent: requests must reach the upstream in order.
    awaitingCredential = true;
    pauseClient('credential');
    deps.resolveCredential(entry).then(
      (credential) => {
        if (closed) return;
        const send = (): void => {
          awaitingCredential = false;
          sendRequest(head, path, plan.audit, credential, entry);
          resumeClient('credential');
          drainInput();
        };
        // The lease may have ended meanwhile (the upstream closed it while idle): take another first.
        if (slot.acquire(send)) writeBatched(send);
      },
      (err: unknown) => {
        awaitingCredential = false;
        const appError = toAppError(err);
        deps.audit.record('inject', {
          provider: entry.provider,
          connection: entry.connection,
          run,
          method: head.method,
          host: target.host,
          path,
          status: PROXY_ANSWERS.credentialUnavailable.status,
          reason: `credential unavailable: ${appError.code}`,
        });
        rejectAndClose('credentialUnavailable', appError);
      },
    );
  }

  function sendRequest(
    head: RequestHead,
    path: string,
    plan: AuditPlan,
    credential?: CredentialHeader,
    entry?: ScopeEntry,
  ): void {
    if (credential !== undefined && deps.scrubResponses !== false) relay.watchForSecret(credential.secret);
    const out = buildUpstreamHead(head, path, authority, credential);
    const retryable = isReplayable(head);
    const closeAfter = isCloseRequested(head);
    exchanges.push({
      method: head.method,
      path,
      plan,
      started: performance.now(),
      upgrade: head.upgrade,
      responded: false,
      replay: retryable ? out : undefined,
      closeAfter,
      // Always set, undefined or not: every exchange has one shape (a spread made two).
      retry:
        credential !== undefined && deps.refreshCredential && isRetryableAfterRefresh(head, entry)
          ? { entry, head, credential }
          : undefined,
    });
    // An upgraded connection becomes the agent's own tunnel; an HTTP/1.0 one may close after its answer.
    if (head.upgrade || head.version !== 'HTTP/1.1') slot.lease!.reusable = false;
    writeUpstream(out);
    if (head.framing.kind !== 'none') requests.startBody(head.framing);
    else if (head.upgrade) requests.holdForUpgrade();
    if (closeAfter) requests.closeRequested = true;
  }

  /** The held 401's request goes once more with a refreshed credential, ahead of anything the agent sent since. */
  function retryRequest(exchange: Exchange, credential: CredentialHeader): void {
    const send = (): void => {
      awaitingCredential = false;
      sendRequest(exchange.retry!.head, exchange.path, exchange.plan, credential);
      resumeClient('credential');
      drainInput();
    };
    if (slot.acquire(send)) writeBatched(send);
  }

  /** `exchange` is answered: the agent's `Connection: close` and upgrades take effect. */
  function onAnswer(current: RelayLease, exchange: Exchange, status: number): void {
    if (exchange.closeAfter) endAfterResponse = true;
    if (status === 101 && exchange.upgrade) {
      current.reusable = false;
      requests.openTunnel();
      client.setTimeout(0);
      processInput();
      return;
    }
    if (exchange.upgrade && requests.endHold()) queueMicrotask(processInput);
  }

  /** After each upstream chunk: the lease is parked (or returned) once both sides are between messages. */
  function onResponseProgress(): void {
    if (endAfterResponse && exchanges.length === 0 && slot.lease!.tracker.idle) {
      // The agent asked for `Connection: close`: its last answer is out, end after the bytes already queued.
      closed = true;
      slot.stopWaiting();
      if (requests.mode === 'head') slot.end();
      else slot.lease?.socket.destroy();
      client.end();
      return;
    }
    slot.releaseIfDone();
    finishIfEnded();
  }

  function onUpstreamGone(err: Error | undefined): void {
    const gone = slot.drop();
    if (closed) return;
    const { tracker } = gone;
    if (relay.endDecodingOnClose(tracker)) return;
    if (tracker.mode === 'tunnel') {
      closeAll();
    } else if (tracker.mode === 'body' && tracker.closeDelimited) {
      // A close-delimited body ends with the connection: pass the end on, after the bytes already queued.
      relay.flushOnClose();
      closed = true;
      slot.stopWaiting();
      client.end();
    } else if (tracker.mode === 'body' || !tracker.idle || exchanges.some((e) => e.responded)) {
      closeAll(); // cut mid-response: the agent must see a truncated message, not a forged ending
    } else if (
      gone.reused &&
      requests.mode === 'head' &&
      exchanges.length > 0 &&
      exchanges.every((e) => e.replay !== undefined)
    ) {
      // A pooled connection the upstream closed while it sat idle: nothing reached a server that answered, so the
      // requests go again, once, on another connection.
      const replays = exchanges.map((e) => e.replay!);
      for (const exchange of exchanges) exchange.replay = undefined;
      const resend = (): void => {
        for (const head of replays) writeUpstream(head);
        drainInput();
      };
      if (slot.acquire(resend)) writeBatched(resend);
    } else if (exchanges.length > 0 || requests.mode === 'body') {
      const error = buildUpstreamError(
        target.host,
        target.port,
        err ?? Object.assign(new Error('closed'), { code: 'ECONNRESET' }),
      );
      for (const exchange of exchanges) relay.record(exchange, PROXY_ANSWERS.upstreamFailed.status);
      exchanges.length = 0;
      rejectAndClose('upstreamFailed', error);
    }
    // Otherwise the upstream closed an idle connection: the agent keeps its own, and the next request leases another.
  }

  client.on('data', (chunk: Buffer) => {
    const kept = requests.append(chunk);
    if (kept === 'ignored') return;
    if (kept === 'overflow') {
      rejectAndClose('inputOverflow', errors.invalidInput('Too much data arrived before the proxy could relay it.'));
      return;
    }
    processInput();
  });
  // The CONNECT socket comes from node:http, which allows half-open connections, and the TLS layer inherits that:
  // without this an agent that hung up would keep its TLS state and upstream lease until the idle timeout.
  client.on('end', () => {
    if (closed) return;
    clientEnded = true;
    if (requests.mode === 'tunnel') closeAll();
    else finishIfEnded();
  });
  client.on('error', closeAll);
  client.on('close', closeAll);
  // A connection closed by another path (closed set first) still stops its decoder.
  client.on('close', () => relay.stop());
  client.setTimeout(CLIENT_IDLE_MS, () => {
    if (exchanges.length === 0 && requests.mode === 'head' && (slot.lease === undefined || slot.lease.tracker.idle))
      closeAll();
  });
  // Connect now: the upstream handshake runs while the agent's own handshake with the proxy completes.
  deps.pool.prewarm(target.host, target.port);
}
