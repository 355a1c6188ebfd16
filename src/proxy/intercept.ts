// One intercepted CONNECT tunnel: reads the agent's requests off the decrypted stream, sets the credential
// on each request head that matches, and relays everything else byte for byte over an upstream connection leased
// from the pool for as long as an exchange is under way. It never buffers a body; it rewrites a response only to
// decode a compressed one that must be scanned for the credential (response-decoding.ts), and parses only what it
// needs to find message ends (the response side is response-tracker.ts).
import type tls from 'node:tls';
import type { AuditLog } from '../audit.js';
import { errors, type AppError } from '../errors.js';
import type { CredentialHeader } from '../providers/headers.js';
import type { ScopeEntry } from '../providers/routes.js';
import type { AuditPlan } from './forward.js';
import type { RequestHead, ResponseHead } from './http1-framing.js';
import { PROXY_ANSWERS, type ProxyAnswer } from './proxy-answers.js';
import { buildUpstreamError, toAppError, writeRawProxyError } from './proxy-errors.js';
import { RequestInput } from './request-input.js';
import { isReplayable, isRetryableAfterRefresh, planRequest } from './request-plan.js';
import {
  buildDecodedHead,
  createDecodedAnswer,
  isDecodable,
  readBodyCodings,
  type DecodedAnswer,
  type DecodedFraming,
} from './response-decoding.js';
import { countRunEvent, type RunSession } from './run-sessions.js';
import { buildScrubNeedles, createScrubber, type ScrubNeedle, type Scrubber } from './secret-scrubber.js';
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
  /** The agent's bytes not relayed yet, and where the request side is. */
  const requests = new RequestInput();
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
  /** The chunk being scanned: its content ranges, and where the head of an answer to decode lies in it. */
  let scanning:
    | {
        content: [number, number][];
        partialHeadBefore: boolean;
        decode?: { from: number; to: number; refused: boolean };
      }
    | undefined;
  /**
   * A compressed answer being decoded for the scrubber; `ending` once its upstream body is over, while the decoder
   * still gives out the rest. Upstream chunks after it wait in `deferred`: a later answer must not overtake it.
   */
  let decoding: { answer: DecodedAnswer; ending: boolean; closeAfter: boolean } | undefined;
  const deferred: Buffer[] = [];
  // A function, not an inline test: the decoder's hooks change `decoding` behind the compiler's back.
  const isDecoderEnding = (): boolean => decoding?.ending === true;
  /** The start of a response head not yet whole: held back, as its answer may need another head. */
  let partialHead: Buffer | undefined;
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

  function stopDecoding(): void {
    decoding?.answer.destroy();
    decoding = undefined;
    deferred.length = 0;
  }

  function closeAll(): void {
    if (closed) return;
    closed = true;
    slot.stopWaiting();
    stopDecoding();
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
      onData: (chunk) => onUpstreamData(current, chunk),
      onGone: onUpstreamGone,
      response: {
        peekRequest: () => exchanges[0],
        onResponse: (head, text) => onResponseHead(current, head, text),
        // The lease is looked at after the whole chunk (handleResponseProgress), not in the middle of it.
        onResponseEnd: () => {
          if (decoding !== undefined) decoding.ending = true;
        },
        // The bytes after a decoded answer wait until the decoder has given out all of it.
        stopAfterResponse: () => decoding?.ending === true,
      },
      currentBatch: () => corked,
    });
    return current;
  }

  function onUpstreamData(current: UpstreamLease, chunk: Buffer): void {
    if (closed) return;
    if (isDecoderEnding() || deferred.length > 0) {
      // A decoded answer is still on its way to the agent: what came after it waits its turn.
      deferred.push(chunk);
      current.pauseReading('order');
      return;
    }
    readUpstream(current, chunk);
  }

  function readUpstream(current: UpstreamLease, chunk: Buffer): void {
    if (current.tracker.mode === 'head' && exchanges.length > 0) exchanges[0]!.responded = true;
    if (scrubber === undefined) {
      // Relay first, inspect after: the agent gets every byte (an SSE event, a 101) the moment it arrives.
      current.relay(chunk);
      if (current.tracker.mode === 'tunnel') return;
      if (scanResponse(current, chunk) < 0) return;
    } else {
      // With a secret to watch for, the framing is read first: the scrubber looks at content only (a secret split by
      // a chunk-size line is still found), and holds back only what could be the start of one.
      const provider = exchanges[0]?.plan.provider;
      const content: [number, number][] = [];
      const tunnel = current.tracker.mode === 'tunnel';
      const holding = held !== undefined;
      const continuing = decoding !== undefined;
      const pending = partialHead;
      partialHead = undefined;
      scanning = { content, partialHeadBefore: current.tracker.mode === 'head' && !current.tracker.idle };
      const end = tunnel ? chunk.length : scanResponse(current, chunk, content);
      const { decode } = scanning;
      scanning = undefined;
      if (end < 0) return;
      if (continuing) {
        feedDecoder(current, chunk, content, 0, end);
      } else {
        // Bytes of a held 401 wait; what came before it in the chunk goes on. So do a head not yet whole, and the
        // head of an answer to decode (the agent gets another head for it).
        let cut = held === undefined ? chunk.length : holding ? 0 : held.from;
        // The earlier bytes of the first head completed in this chunk, unless they are still partial or replaced.
        let prefix = decode?.from === 0 ? undefined : pending;
        if (decode !== undefined) {
          cut = Math.min(cut, decode.from);
        } else if (held === undefined && !tunnel && current.tracker.mode === 'head' && !current.tracker.idle) {
          const from = content[content.length - 1]![0];
          cut = Math.min(cut, from);
          partialHead = pending !== undefined && from === 0 ? Buffer.concat([pending, chunk]) : chunk.subarray(from);
          if (from === 0) prefix = undefined;
        }
        if (cut > 0 || prefix !== undefined) {
          const before = scrubber.found;
          let part = cut === chunk.length ? chunk : chunk.subarray(0, cut);
          let ranges = content.filter(([a]) => a < cut).map(([a, b]): [number, number] => [a, Math.min(b, cut)]);
          if (prefix !== undefined) {
            const n = prefix.length;
            part = Buffer.concat([prefix, part]);
            ranges = [[0, n], ...ranges.map(([a, b]): [number, number] => [a + n, b + n])];
          }
          current.relay(scrubber.push(part, tunnel ? undefined : ranges));
          if (scrubber.found > before) noteScrubbed(provider ?? answering?.provider);
        }
        if (held !== undefined && cut < chunk.length) {
          held.chunks.push(chunk.subarray(cut));
          held.bytes += chunk.length - cut;
        }
        if (decode !== undefined) {
          // What the scanner holds came before the decoded answer.
          flushScrubber();
          if (decode.refused) {
            refuseAnswer('unsupported');
            return;
          }
          feedDecoder(current, chunk, content, decode.to, end);
        }
      }
      if (decoding?.ending === true) {
        decoding.answer.end();
        if (end < chunk.length) deferred.unshift(chunk.subarray(end));
        current.pauseReading('order');
        return;
      }
      if (tunnel) return;
      if (held !== undefined && (current.tracker.idle || held.bytes > MAX_HELD_ANSWER_BYTES)) {
        settleHeldAnswer(current);
        return;
      }
    }
    handleResponseProgress();
  }

  /**
   * Follows the response framing over `chunk`: how many bytes of it were read (fewer after a decoded answer's end),
   * or -1 (and the connection closed) when it is broken.
   */
  function scanResponse(current: UpstreamLease, chunk: Buffer, content?: [number, number][]): number {
    try {
      return current.tracker.scan(chunk, content === undefined ? undefined : (from, to) => content.push([from, to]));
    } catch {
      // The upstream's framing is broken: the agent cannot be told which bytes were a response. Hang up.
      current.reusable = false;
      closeAll();
      return -1;
    }
  }

  /** The content bytes of `chunk` between `from` and `to` go to the decoder; a full decoder pauses the upstream. */
  function feedDecoder(
    current: UpstreamLease,
    chunk: Buffer,
    content: readonly [number, number][],
    from: number,
    to: number,
  ): void {
    for (const [a, b] of content) {
      const start = Math.max(a, from);
      const stop = Math.min(b, to);
      if (stop > start && !decoding!.answer.write(chunk.subarray(start, stop))) current.pauseReading('decoder');
    }
  }

  /** Marks where the head of a compressed answer lies in the chunk scanned (it is not relayed), and decodes it. */
  function planDecoding(
    current: UpstreamLease,
    head: ResponseHead,
    text: string,
    codings: string[],
    decodable: boolean,
    closeAfter: boolean,
  ): void {
    const [from, to] = scanning!.content[scanning!.content.length - 1]!;
    scanning!.decode = { from, to, refused: !decodable };
    if (decodable) startDecoding(current, head, text, codings, closeAfter);
  }

  /**
   * Starts decoding the answer whose head is `text`. The agent's copy is chunked, or ends with the connection when
   * that ends after it anyway (the upstream's body ends so, either side asked to close, an HTTP/1.0 request, which
   * leaves the lease unfit for reuse) or chunked cannot be used (an HTTP/1.0 answer).
   */
  function startDecoding(
    current: UpstreamLease,
    head: ResponseHead,
    text: string,
    codings: string[],
    closeAfter: boolean,
  ): void {
    const provider = answering?.provider;
    const closing = closeAfter || !current.reusable || head.framing.kind === 'close' || text.startsWith('HTTP/1.0');
    const framing: DecodedFraming = closing ? 'close' : 'chunked';
    const headScrubber = createScrubber(needles);
    const decodedHead = Buffer.from(buildDecodedHead(text, framing), 'latin1');
    const scrubbedHead = Buffer.concat([headScrubber.push(decodedHead), headScrubber.end()]);
    if (headScrubber.found > 0) noteScrubbed(provider);
    const answer = createDecodedAnswer({
      codings,
      // A copy: a secret injected later adds needles for later answers, not this scanner's.
      needles: [...needles],
      framing,
      head: scrubbedHead,
      sink: client,
      onReady: () => current.resumeReading('decoder'),
      onScrubbed: () => noteScrubbed(provider),
      onEnd: () => finishDecoding(current),
      onFail: (started) => {
        decoding = undefined;
        deferred.length = 0;
        if (started) closeAll();
        else refuseAnswer('corrupt');
      },
    });
    decoding = { answer, ending: false, closeAfter: framing === 'close' };
  }

  /** The decoded answer is out: the bytes that came after it are read now, in order. */
  function finishDecoding(current: UpstreamLease): void {
    const finished = decoding!;
    decoding = undefined;
    if (closed) return;
    if (finished.closeAfter) {
      // The agent's copy had no length: the connection's end is its end.
      deferred.length = 0;
      closed = true;
      slot.stopWaiting();
      slot.end();
      client.end();
      return;
    }
    current.resumeReading('decoder');
    current.resumeReading('order');
    if (deferred.length === 0) handleResponseProgress();
    while (deferred.length > 0 && !isDecoderEnding() && !closed && slot.lease === current)
      readUpstream(current, deferred.shift()!);
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
        if (slot.acquire(send)) writeBatched(send);
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
    if (held !== undefined && held.length > 0) slot.lease?.relay(held);
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
    if (held !== undefined && held.length > 0) slot.lease?.relay(held);
  }

  function writeUpstream(data: Buffer | string): void {
    // Every caller holds a lease; without one there is nowhere safe to write (a pooled socket is someone else's).
    if (slot.lease === undefined) closeAll();
    else slot.lease.write(data);
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
    if (requests.mode === 'body' && !requests.pending) {
      closeAll();
      return;
    }
    if (exchanges.length > 0 || awaitingCredential || slot.waiting || requests.mode !== 'head') return;
    if ((slot.lease !== undefined && !slot.lease.tracker.idle) || decoding !== undefined) return;
    closed = true;
    slot.stopWaiting();
    slot.end();
    client.end();
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
    if (head.upgrade || head.version !== 'HTTP/1.1') slot.lease!.reusable = false;
    writeUpstream(out);
    if (head.framing.kind !== 'none') requests.startBody(head.framing);
    else if (head.upgrade) requests.holdForUpgrade();
    if (closeAfter) requests.closeRequested = true;
  }

  function onResponseHead(current: UpstreamLease, head: ResponseHead, text: string): void {
    const exchange = exchanges.shift();
    if (!head.keepAlive) current.reusable = false;
    // With a secret to watch for, a compressed body is decoded to be scanned (the upstream was asked for identity,
    // but may not have listened); one that cannot be decoded is refused. HEAD, 204, 304 and 1xx have no body.
    const codings = scanning === undefined || head.framing.kind === 'none' ? [] : readBodyCodings(text);
    const decodable = isDecodable(codings);
    if (exchange === undefined) {
      // An answer nobody asked for: this connection's framing can no longer be trusted for anyone else.
      current.reusable = false;
      if (codings.length > 0) planDecoding(current, head, text, codings, decodable, true);
      return;
    }
    record(exchange, decodable ? head.status : PROXY_ANSWERS.answerNotScannable.status);
    answering =
      exchange.plan.provider === undefined ? undefined : { provider: exchange.plan.provider, recorded: false };
    if (codings.length > 0) {
      // A compressed 401 is decoded and passed on, not held for a retry: the hold relays the bytes as they came.
      planDecoding(current, head, text, codings, decodable, exchange.closeAfter);
    } else if (
      // A 401 to a request that may go once more is held back, when it is the last answer owed and its head began in
      // this chunk (so none of it has reached the agent yet) and its end can be found.
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
      requests.openTunnel();
      client.setTimeout(0);
      processInput();
      return;
    }
    if (exchange.upgrade && requests.endHold()) queueMicrotask(processInput);
  }

  /** After each upstream chunk: the lease is parked (or returned) once both sides are between messages. */
  function handleResponseProgress(): void {
    // A decoded answer still under way: the progress is looked at once it is out.
    if (closed || decoding !== undefined) return;
    if (slot.lease?.tracker.idle) flushScrubber();
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
    if (decoding !== undefined) {
      if (tracker.mode === 'body' && tracker.closeDelimited) {
        // The close ends the compressed body: the decoder gives out the rest, then the agent's connection ends.
        decoding.ending = true;
        decoding.answer.end();
      } else if (!decoding.ending) {
        closeAll(); // cut mid-body: the agent must see a truncated message, not a forged ending
        return;
      }
      // The answer is whole: it goes out, and the connection ends after it.
      decoding.closeAfter = true;
      return;
    }
    if (tracker.mode === 'tunnel') {
      closeAll();
    } else if (tracker.mode === 'body' && tracker.closeDelimited) {
      // A close-delimited body ends with the connection: pass the end on, after the bytes already queued.
      const held = scrubber?.end();
      if (held !== undefined && held.length > 0) client.write(held);
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
      for (const exchange of exchanges) record(exchange, PROXY_ANSWERS.upstreamFailed.status);
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
  // The CONNECT socket comes from node:http, which allows half-open connections, and the TLS layer inherits that: without
  // this an agent that hung up would keep its TLS state and upstream lease until the idle timeout.
  client.on('end', () => {
    if (closed) return;
    clientEnded = true;
    if (requests.mode === 'tunnel') closeAll();
    else finishIfEnded();
  });
  client.on('error', closeAll);
  client.on('close', closeAll);
  // A connection closed by another path (closed set first) still stops its decoder.
  client.on('close', stopDecoding);
  client.setTimeout(CLIENT_IDLE_MS, () => {
    if (exchanges.length === 0 && requests.mode === 'head' && (slot.lease === undefined || slot.lease.tracker.idle))
      closeAll();
  });
  // Connect now: the upstream handshake runs while the agent's own handshake with the proxy completes.
  deps.pool.prewarm(target.host, target.port);
}
