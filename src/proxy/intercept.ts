// One intercepted CONNECT tunnel: reads the agent's requests off the decrypted stream, sets the credential
// on each request head that matches, and relays everything else byte for byte over an upstream connection leased
// from the pool for as long as an exchange is under way. It never buffers a body and never rewrites a response; it
// parses only what it needs to find message ends (the response side is response-tracker.ts).
import type tls from 'node:tls';
import type { AuditLog } from '../audit.js';
import { errors, type AppError } from '../errors.js';
import type { CredentialHeader } from '../providers/headers.js';
import type { ScopeEntry } from '../providers/routes.js';
import type { AuditPlan } from './forward.js';
import type { RequestHead, ResponseHead } from './http1-framing.js';
import { PROXY_ANSWERS, type ProxyAnswer } from './proxy-answers.js';
import { buildUpstreamError, toAppError, writeRawProxyError } from './proxy-errors.js';
import { RequestInput, type RequestMode } from './request-input.js';
import { isReplayable, isRetryableAfterRefresh, planRequest } from './request-plan.js';
import { countRunEvent, type RunSession } from './run-sessions.js';
import { buildScrubNeedles, createScrubber, type ScrubNeedle, type Scrubber } from './secret-scrubber.js';
import { buildAuthority, buildUpstreamHead, isCloseRequested } from './upstream-head.js';
import { createUpstreamLease, type UpstreamLease } from './upstream-lease.js';
import type { PooledUpstream, UpstreamPool } from './upstream-pool.js';

export interface InterceptTarget {
  host: string;
  port: number;
  session: RunSession;
}

export interface InterceptDeps {
  isLive(session: RunSession): boolean;
  resolveCredential(entry: ScopeEntry): Promise<CredentialHeader>;
  /** After a 401 to an OAuth credential: a refreshed one to send the request with once more, or undefined. */
  refreshCredential?(entry: ScopeEntry, rejected: CredentialHeader): Promise<CredentialHeader | undefined>;
  audit: AuditLog;
  pool: UpstreamPool;
  /** false only to measure what scrubbing costs (the bench's baseline proxy): answers then go out unscanned. */
  scrubResponses?: boolean;
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
  /** The head as sent, kept only for a request that may be sent again (idempotent, no body) and only once. */
  replay: string | undefined;
  /** The agent asked to close its connection after this response. */
  closeAfter: boolean;
  /** Set on a first attempt that may be sent once more after a 401 (OAuth, idempotent, no body). */
  retry?: { entry: ScopeEntry; head: RequestHead; credential: CredentialHeader };
}

/** A 401 answer held back (not relayed) while a refreshed token is tried; relayed after all when none is. */
interface HeldAnswer {
  exchange: Exchange;
  /** Where the 401's head starts in the chunk it arrived in. */
  from: number;
  chunks: Buffer[];
  bytes: number;
}

/** A held 401 larger than this is passed on as it is, without the retry. */
const MAX_HELD_ANSWER_BYTES = 64 * 1024;

/** An agent's idle keep-alive connection is closed after this long (both sides), like a server would. */
const CLIENT_IDLE_MS = 65_000;

export function startInterception(client: tls.TLSSocket, target: InterceptTarget, deps: InterceptDeps): void {
  const authority = buildAuthority(target.host, target.port);
  const run = target.session.id;
  const exchanges: Exchange[] = [];
  const pausedBy = new Set<'credential' | 'upstream' | 'pool'>();
  let lease: UpstreamLease | undefined;
  let cancelWait: (() => void) | undefined;
  /** The agent's bytes not relayed yet; the mode is here because the response side moves it too (101, upgrades). */
  const requests = new RequestInput();
  let requestMode: RequestMode = 'head';
  let awaitingCredential = false;
  /** A request said `Connection: close`: the connection ends after its response. */
  let endAfterResponse = false;
  /** The agent half-closed its connection: no more input will come. */
  let clientEnded = false;
  /** Sockets corked while one batch of input is written (a head and its body leave in one TLS record). */
  let corked: tls.TLSSocket[] | undefined;
  let closed = false;
  // Answers on this connection are scanned for every secret injected on it: an upstream that echoes the credential
  // back (a debug endpoint, an error quoting the header) must not hand it to the agent.
  const scrubbedSecrets = new Set<string>();
  const needles: ScrubNeedle[] = [];
  let scrubber: Scrubber | undefined;
  /** A 401 to an OAuth request, held while a refresh is tried; and what the chunk being scanned looked like. */
  let held: HeldAnswer | undefined;
  let scanning: { content: [number, number][]; partialHeadBefore: boolean } | undefined;
  /** The provider whose answer is being relayed, and whether that answer had a secret overwritten already. */
  let answering: { provider: string; recorded: boolean } | undefined;

  const pauseClient = (why: 'credential' | 'upstream' | 'pool'): void => {
    pausedBy.add(why);
    client.pause();
  };
  const resumeClient = (why: 'credential' | 'upstream' | 'pool'): void => {
    pausedBy.delete(why);
    if (pausedBy.size === 0 && !closed) client.resume();
  };

  /** Between messages on both sides: the lease can go back to the pool. */
  const isBetweenMessages = (): boolean =>
    exchanges.length === 0 &&
    requestMode === 'head' &&
    !awaitingCredential &&
    (lease === undefined || lease.tracker.idle);

  /** Ends the lease: back to the pool when nothing is half-sent or half-read, closed otherwise. */
  function endLease(): void {
    if (lease === undefined) return;
    const { socket, reusable } = lease;
    const clean = isBetweenMessages();
    lease.detach();
    lease = undefined;
    if (clean) deps.pool.release(socket, reusable);
    else socket.destroy();
  }

  function stopWaiting(): void {
    cancelWait?.();
    cancelWait = undefined;
  }

  function closeAll(): void {
    if (closed) return;
    closed = true;
    stopWaiting();
    endLease();
    client.destroy();
  }

  /** Answers the agent with a proxy error and closes, or just closes when a response is already under way. */
  function rejectAndClose(answer: ProxyAnswer, err: AppError): void {
    if (closed) return;
    const responding = exchanges.length > 0 || (lease !== undefined && !lease.tracker.idle);
    closed = true;
    stopWaiting();
    endLease();
    if (responding) client.destroy();
    else writeRawProxyError(client, answer, err);
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

  /**
   * Makes sure a lease is held. True when it is; false when the host is at its connection limit: the agent is
   * paused and `then` runs once a connection is handed over.
   */
  function leaseUpstream(then: () => void): boolean {
    if (lease !== undefined) {
      if (lease.parked) {
        lease.parked = false;
        deps.pool.unpark(lease.socket);
      }
      return true;
    }
    if (cancelWait !== undefined) return false;
    const pooled = deps.pool.acquire(target.host, target.port);
    if (pooled !== undefined) {
      attach(pooled);
      return true;
    }
    pauseClient('pool');
    cancelWait = deps.pool.wait(target.host, target.port, (handed) => {
      cancelWait = undefined;
      if (closed) {
        deps.pool.release(handed.socket, true);
        return;
      }
      attach(handed);
      resumeClient('pool');
      writeBatched(then);
    });
    return false;
  }

  function attach(pooled: PooledUpstream): void {
    const current = createUpstreamLease(pooled, {
      client,
      pauseClient: () => pauseClient('upstream'),
      resumeClient: () => resumeClient('upstream'),
      onData: (chunk) => onUpstreamData(current, chunk),
      onGone: onUpstreamGone,
      response: {
        peekRequest: () => exchanges[0],
        onResponse: (head) => onResponseHead(current, head),
        // The lease is looked at after the whole chunk (handleResponseProgress), not in the middle of it.
        onResponseEnd: () => undefined,
      },
      currentBatch: () => corked,
    });
    lease = current;
  }

  function onUpstreamData(current: UpstreamLease, chunk: Buffer): void {
    if (closed) return;
    if (current.tracker.mode === 'head' && exchanges.length > 0) exchanges[0]!.responded = true;
    if (scrubber === undefined) {
      // Relay first, inspect after: the agent gets every byte (an SSE event, a 101) the moment it arrives.
      current.relay(chunk);
      if (current.tracker.mode === 'tunnel') return;
      if (!scanResponse(current, chunk)) return;
    } else {
      // With a secret to watch for, the framing is read first: the scrubber looks at content only (a secret split by
      // a chunk-size line is still found), and holds back only what could be the start of one.
      const provider = exchanges[0]?.plan.provider;
      const content: [number, number][] = [];
      const tunnel = current.tracker.mode === 'tunnel';
      const holding = held !== undefined;
      scanning = { content, partialHeadBefore: current.tracker.mode === 'head' && !current.tracker.idle };
      const scanned = tunnel || scanResponse(current, chunk, content);
      scanning = undefined;
      if (!scanned) return;
      // Bytes of a held 401 wait; what came before it in the chunk goes on.
      const cut = held === undefined ? chunk.length : holding ? 0 : held.from;
      if (cut > 0) {
        const before = scrubber.found;
        const part = cut === chunk.length ? chunk : chunk.subarray(0, cut);
        const ranges = content.filter(([a]) => a < cut).map(([a, b]): [number, number] => [a, Math.min(b, cut)]);
        current.relay(scrubber.push(part, tunnel ? undefined : ranges));
        if (scrubber.found > before) noteScrubbed(provider ?? answering?.provider);
      }
      if (held !== undefined && cut < chunk.length) {
        held.chunks.push(chunk.subarray(cut));
        held.bytes += chunk.length - cut;
      }
      if (tunnel) return;
      if (held !== undefined && (current.tracker.idle || held.bytes > MAX_HELD_ANSWER_BYTES)) {
        settleHeldAnswer(current);
        return;
      }
    }
    handleResponseProgress();
  }

  /** Follows the response framing over `chunk`; false (and the connection closed) when it is broken. */
  function scanResponse(current: UpstreamLease, chunk: Buffer, content?: [number, number][]): boolean {
    try {
      current.tracker.scan(chunk, content === undefined ? undefined : (from, to) => content.push([from, to]));
      return true;
    } catch {
      // The upstream's framing is broken: the agent cannot be told which bytes were a response. Hang up.
      current.reusable = false;
      closeAll();
      return false;
    }
  }

  /**
   * A held 401 is whole (or too large to hold): try a refreshed token and send the request once more; when there is
   * none, or the answer was too large, the agent gets the 401 as it came.
   */
  function settleHeldAnswer(current: UpstreamLease): void {
    const answer = held!;
    held = undefined;
    const retry = answer.exchange.retry!;
    const passOn = (): void => {
      if (closed) return;
      for (const chunk of answer.chunks) current.relay(scrubber === undefined ? chunk : scrubber.push(chunk));
      if (answer.exchange.closeAfter) endAfterResponse = true;
      awaitingCredential = false;
      resumeClient('credential');
      handleResponseProgress();
      writeBatched(drainInput);
    };
    awaitingCredential = true;
    pauseClient('credential');
    if (answer.bytes > MAX_HELD_ANSWER_BYTES || !current.tracker.idle || deps.refreshCredential === undefined) {
      passOn();
      return;
    }
    deps.refreshCredential(retry.entry, retry.credential).then(
      (fresh) => {
        if (closed) return;
        if (fresh === undefined) {
          passOn();
          return;
        }
        const send = (): void => {
          awaitingCredential = false;
          sendRequest(retry.head, answer.exchange.path, answer.exchange.plan, fresh);
          resumeClient('credential');
          drainInput();
        };
        if (leaseUpstream(send)) writeBatched(send);
      },
      () => passOn(),
    );
  }

  /** Scans later answers for `secret` too (each secret once per connection). */
  function watchForSecret(secret: string): void {
    if (scrubbedSecrets.has(secret)) return;
    scrubbedSecrets.add(secret);
    needles.push(...buildScrubNeedles(secret));
    // What the old scanner still holds goes first: those bytes came before anything the new one will see.
    const held = scrubber?.end();
    if (held !== undefined && held.length > 0) lease?.relay(held);
    scrubber = createScrubber(needles);
  }

  /** A chunk had a secret overwritten: counted for the run and audited, once per answer. */
  function noteScrubbed(provider: string | undefined): void {
    if (provider === undefined) return;
    if (answering !== undefined && answering.provider === provider) {
      if (answering.recorded) return;
      answering.recorded = true;
    }
    countRunEvent(target.session, provider, 'scrubbed');
    deps.audit.record('secret_in_response', {
      provider,
      run,
      host: target.host,
      reason: 'the answer contained the credential; the agent got a mask in its place',
    });
  }

  /** At the end of an answer the scanner gives back what it held (an answer may end with a secret's first bytes). */
  function flushScrubber(): void {
    const held = scrubber?.end();
    if (held !== undefined && held.length > 0) lease?.relay(held);
  }

  function writeUpstream(data: Buffer | string): void {
    // Every caller holds a lease; without one there is nowhere safe to write (a pooled socket is someone else's).
    if (lease === undefined) closeAll();
    else lease.write(data);
  }

  /** Runs `fn` with every upstream write it makes held back until it returns, then sent together. */
  function writeBatched(fn: () => void): void {
    if (corked !== undefined) {
      fn();
      return;
    }
    corked = [];
    try {
      fn();
    } finally {
      const sockets = corked;
      corked = undefined;
      for (const socket of sockets) socket.uncork();
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
    if (requestMode === 'body' && !requests.pending) {
      closeAll();
      return;
    }
    if (exchanges.length > 0 || awaitingCredential || cancelWait !== undefined || requestMode !== 'head') return;
    if (lease !== undefined && !lease.tracker.idle) return;
    closed = true;
    stopWaiting();
    endLease();
    client.end();
  }

  /** Relays or plans what the agent sent, as far as the request side can go now. */
  function drainInput(): void {
    while (requests.pending && !awaitingCredential && !closed) {
      switch (requests.next(requestMode)) {
        case 'wait':
          return;
        case 'forward':
          writeUpstream(requests.data);
          break;
        case 'forward-end':
          if (requests.data.length > 0) writeUpstream(requests.data);
          requestMode = 'head';
          releaseIfDone();
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
          if (!leaseUpstream(processInput)) return;
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
        if (leaseUpstream(send)) writeBatched(send);
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
    if (credential !== undefined && deps.scrubResponses !== false) watchForSecret(credential.secret);
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
      ...(credential !== undefined && deps.refreshCredential && isRetryableAfterRefresh(head, entry)
        ? { retry: { entry, head, credential } }
        : {}),
    });
    // An upgraded connection becomes the agent's own tunnel; an HTTP/1.0 one may close after its answer.
    if (head.upgrade || head.version !== 'HTTP/1.1') lease!.reusable = false;
    writeUpstream(out);
    if (head.framing.kind !== 'none') {
      requestMode = 'body';
      requests.startBody(head.framing);
    } else if (head.upgrade) {
      requestMode = 'hold';
    }
    if (closeAfter) requests.closeRequested = true;
  }

  function onResponseHead(current: UpstreamLease, head: ResponseHead): void {
    const exchange = exchanges.shift();
    if (!head.keepAlive) current.reusable = false;
    if (exchange === undefined) {
      // An answer nobody asked for: this connection's framing can no longer be trusted for anyone else.
      current.reusable = false;
      return;
    }
    record(exchange, head.status);
    answering =
      exchange.plan.provider === undefined ? undefined : { provider: exchange.plan.provider, recorded: false };
    // A 401 to a request that may go once more is held back, when it is the last answer owed and its head began in
    // this chunk (so none of it has reached the agent yet) and its end can be found.
    if (
      head.status === 401 &&
      exchange.retry !== undefined &&
      exchanges.length === 0 &&
      scanning !== undefined &&
      !scanning.partialHeadBefore &&
      head.framing.kind !== 'close' &&
      scanning.content.length > 0
    ) {
      held = { exchange, from: scanning.content[scanning.content.length - 1]![0], chunks: [], bytes: 0 };
      // The agent's next request waits: the retried one must reach the upstream first, in order.
      awaitingCredential = true;
      pauseClient('credential');
      return;
    }
    if (exchange.closeAfter) endAfterResponse = true;
    if (head.status === 101 && exchange.upgrade) {
      current.reusable = false;
      requestMode = 'tunnel';
      client.setTimeout(0);
      processInput();
      return;
    }
    if (exchange.upgrade && requestMode === 'hold') {
      requestMode = 'head';
      queueMicrotask(processInput);
    }
  }

  /** After each upstream chunk: the lease is parked (or returned) once both sides are between messages. */
  function handleResponseProgress(): void {
    if (closed) return;
    if (lease?.tracker.idle) flushScrubber();
    if (endAfterResponse && exchanges.length === 0 && lease!.tracker.idle) {
      // The agent asked for `Connection: close`: its last answer is out, end after the bytes already queued.
      closed = true;
      stopWaiting();
      if (requestMode === 'head') endLease();
      else lease?.socket.destroy();
      client.end();
      return;
    }
    releaseIfDone();
    finishIfEnded();
  }

  /**
   * Between messages the agent keeps its connection parked: its next request skips the pool, and the pool takes it
   * back as soon as another request for the host would have to wait. One unfit for reuse is closed at once.
   */
  function releaseIfDone(): void {
    const current = lease;
    if (current === undefined || current.parked || !isBetweenMessages() || current.tracker.mode !== 'head') return;
    if (!current.reusable) {
      endLease();
      return;
    }
    current.reused = true;
    const parked = deps.pool.park(current.socket, () => {
      if (lease === current && current.parked && isBetweenMessages()) endLease();
    });
    if (parked) current.parked = true;
    else endLease();
  }

  function onUpstreamGone(err: Error | undefined): void {
    const gone = lease!;
    gone.detach();
    lease = undefined;
    gone.socket.destroy();
    if (closed) return;
    const { tracker } = gone;
    if (tracker.mode === 'tunnel') {
      closeAll();
    } else if (tracker.mode === 'body' && tracker.closeDelimited) {
      // A close-delimited body ends with the connection: pass the end on, after the bytes already queued.
      const held = scrubber?.end();
      if (held !== undefined && held.length > 0) client.write(held);
      closed = true;
      stopWaiting();
      client.end();
    } else if (tracker.mode === 'body' || !tracker.idle || exchanges.some((e) => e.responded)) {
      closeAll(); // cut mid-response: the agent must see a truncated message, not a forged ending
    } else if (
      gone.reused &&
      requestMode === 'head' &&
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
      if (leaseUpstream(resend)) writeBatched(resend);
    } else if (exchanges.length > 0 || requestMode === 'body') {
      const error = buildUpstreamError(
        target.host,
        target.port,
        err ?? Object.assign(new Error('closed'), { code: 'ECONNRESET' }),
      );
      for (const exchange of exchanges) record(exchange, PROXY_ANSWERS.upstreamFailed.status);
      exchanges.length = 0;
      rejectAndClose('upstreamFailed', error);
    }
    // Otherwise the upstream closed an idle connection: the agent keeps its own, and the next request leases another.
  }

  client.on('data', (chunk: Buffer) => {
    const kept = requests.append(chunk, requestMode);
    if (kept === 'ignored') return;
    if (kept === 'overflow') {
      rejectAndClose('inputOverflow', errors.invalidInput('Too much data arrived before the proxy could relay it.'));
      return;
    }
    processInput();
  });
  // The CONNECT socket comes from node:http, which allows half-open connections, and the TLS layer inherits that: without
  // this an agent that hung up would keep its TLS state and upstream lease until the idle timeout.
  client.on('end', () => {
    if (closed) return;
    clientEnded = true;
    if (requestMode === 'tunnel') closeAll();
    else finishIfEnded();
  });
  client.on('error', closeAll);
  client.on('close', closeAll);
  client.setTimeout(CLIENT_IDLE_MS, () => {
    if (exchanges.length === 0 && requestMode === 'head' && (lease === undefined || lease.tracker.idle)) closeAll();
  });
  // Connect now: the upstream handshake runs while the agent's own handshake with the proxy completes.
  deps.pool.prewarm(target.host, target.port);
}
