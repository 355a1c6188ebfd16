// The response side of one intercepted connection: each upstream chunk goes to the agent, scanned for every
// credential injected on the connection; a compressed answer is decoded to be scanned, and a 401 to an OAuth request
// is held while a refreshed token is tried. What that means for the connection goes back through RelayHost.

// Imported, not the global: globalThis.performance is a getter, read on every call (a request makes several).
import { performance } from 'node:perf_hooks';
import type { Writable } from 'node:stream';
import type { AuditLog } from '../audit.js';
import type { CredentialHeader } from '../providers/headers.js';
import type { ScopeEntry } from '../providers/routes.js';
import type { AuditPlan } from './forward.js';
import type { RequestHead, ResponseHead } from './http1-framing.js';
import { PROXY_ANSWERS } from './proxy-answers.js';
import {
  buildDecodedHead,
  createDecodedAnswer,
  isDecodable,
  readBodyCodings,
  type DecodedAnswer,
  type DecodedFraming,
} from './response-decoding.js';
import type { ResponseTracker } from './response-tracker.js';
import { countRunEvent, type RunSession } from './run-sessions.js';
import { buildScrubNeedles, createScrubber, type ScrubNeedle, type Scrubber } from './secret-scrubber.js';
import type { UpstreamLease } from './upstream-lease.js';

/** A request sent upstream whose response has not started yet. */
export interface Exchange {
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
  retry?: { entry: ScopeEntry; head: RequestHead; credential: CredentialHeader } | undefined;
}

/** What the relay uses of the upstream lease: its response side, and the agent's side of its backpressure. */
export type RelayLease = Pick<UpstreamLease, 'tracker' | 'reusable' | 'relay' | 'pauseReading' | 'resumeReading'>;

/** What the relay asks of the interception around it. */
export interface RelayHost {
  /** The agent's connection is closed, or closing: nothing more is relayed. */
  isClosed(): boolean;
  /** The lease held now, if any (the upstream may have gone since a chunk arrived). */
  currentLease(): RelayLease | undefined;
  /** Hangs up on the agent at once: it must see a truncated message, not a forged ending. */
  close(): void;
  /** Ends the agent's connection after the bytes queued: a decoded answer without a length is out. */
  finish(): void;
  /** Answers the agent with a proxy error in place of an answer none of which was sent, and closes. */
  refuseAnswer(cause: 'unsupported' | 'corrupt'): void;
  /** `exchange` is answered with `status` (a held 401 once it is released): closes and upgrades follow from it. */
  onAnswer(current: RelayLease, exchange: Exchange, status: number): void;
  /** A chunk, or a decoded answer, is handled: both sides may be between messages now. */
  onProgress(): void;
  /** The agent's next requests wait (a held 401's request may go first), then go on. */
  holdRequests(): void;
  resumeRequests(): void;
  /** Relays what the agent sent while its requests waited. */
  drainRequests(): void;
  /** Sends the held 401's request once more with `credential`; the agent's requests resume after it. */
  retryRequest(exchange: Exchange, credential: CredentialHeader): void;
}

export interface ResponseRelayOptions {
  /** The agent's side; a decoded answer is written to it directly. */
  client: Writable;
  host: string;
  session: RunSession;
  audit: AuditLog;
  /** After a 401 to an OAuth credential: a refreshed one to send the request with once more, or undefined. */
  refreshCredential?(entry: ScopeEntry, rejected: CredentialHeader): Promise<CredentialHeader | undefined>;
  /** The requests sent whose answers are owed, oldest first: the interception adds, the relay takes each answered. */
  exchanges: Exchange[];
  relayHost: RelayHost;
}

/** A 401 answer held back (not relayed) while a refreshed token is tried; relayed after all when none is. */
interface HeldAnswer {
  exchange: Exchange;
  /** Where the 401's head starts in the chunk it arrived in. */
  from: number;
  chunks: Buffer[];
  bytes: number;
}

/** The chunk being scanned: its content ranges, and where the head of an answer to decode lies in it. */
interface ScanState {
  content: [number, number][];
  partialHeadBefore: boolean;
  decode?: { from: number; to: number; refused: boolean };
}

/** A held 401 larger than this is passed on as it is, without the retry. */
export const MAX_HELD_ANSWER_BYTES = 64 * 1024;

export class ResponseRelay {
  // Answers on this connection are scanned for every secret injected on it: an upstream that echoes the credential
  // back (a debug endpoint, an error quoting the header) must not hand it to the agent.
  private readonly scrubbedSecrets = new Set<string>();
  private readonly needles: ScrubNeedle[] = [];
  private scrubber: Scrubber | undefined;
  /** A 401 to an OAuth request, held while a refresh is tried. */
  private held: HeldAnswer | undefined;
  private scanning: ScanState | undefined;
  /**
   * A compressed answer being decoded for the scrubber; `ending` once its upstream body is over, while the decoder
   * still gives out the rest. Upstream chunks after it wait in `deferred`: a later answer must not overtake it.
   */
  private decoding: { answer: DecodedAnswer; ending: boolean; closeAfter: boolean } | undefined;
  private readonly deferred: Buffer[] = [];
  /** Answers seen in the chunk being relayed, audited after it: exchange, status, when its head arrived. */
  private answered: [Exchange, number, number][] = [];
  /** The start of a response head not yet whole: held back, as its answer may need another head. */
  private partialHead: Buffer | undefined;
  /** The provider whose answer is being relayed, and whether that answer had a secret overwritten already. */
  private answering: { provider: string; recorded: boolean } | undefined;
  private readonly client: Writable;
  private readonly exchanges: Exchange[];
  private readonly host: RelayHost;

  constructor(private readonly opts: ResponseRelayOptions) {
    this.client = opts.client;
    this.exchanges = opts.exchanges;
    this.host = opts.relayHost;
  }

  /** A decoded answer is still on its way to the agent. */
  get decodingAnswer(): boolean {
    return this.decoding !== undefined;
  }

  /** Each chunk from the upstream. */
  onData(current: RelayLease, chunk: Buffer): void {
    if (this.host.isClosed()) return;
    if (this.isDecoderEnding() || this.deferred.length > 0) {
      // A decoded answer is still on its way to the agent: what came after it waits its turn.
      this.deferred.push(chunk);
      current.pauseReading('order');
      return;
    }
    this.readUpstream(current, chunk);
  }

  /** The tracker's: the current response's body ended. */
  onResponseEnd(): void {
    if (this.decoding !== undefined) this.decoding.ending = true;
  }

  /** The tracker's: the bytes after a decoded answer wait until the decoder has given out all of it. */
  stopAfterResponse(): boolean {
    return this.isDecoderEnding();
  }

  /** Scans later answers for `secret` too (each secret once per connection). */
  watchForSecret(secret: string): void {
    if (this.scrubbedSecrets.has(secret)) return;
    this.scrubbedSecrets.add(secret);
    this.needles.push(...buildScrubNeedles(secret));
    // What the old scanner still holds goes first: those bytes came before anything the new one will see.
    const held = this.scrubber?.end();
    if (held !== undefined && held.length > 0) this.host.currentLease()?.relay(held);
    this.scrubber = createScrubber(this.needles);
  }

  /**
   * The upstream closed while a decoded answer was under way. True when that answer settles it: the decoder gives
   * out the rest and the agent's connection ends after it, or (cut mid-body) the agent was hung up on.
   */
  endDecodingOnClose(tracker: ResponseTracker): boolean {
    const { decoding } = this;
    if (decoding === undefined) return false;
    if (tracker.mode === 'body' && tracker.closeDelimited) {
      // The close ends the compressed body: the decoder gives out the rest, then the agent's connection ends.
      decoding.ending = true;
      decoding.answer.end();
    } else if (!decoding.ending) {
      this.host.close(); // cut mid-body: the agent must see a truncated message, not a forged ending
      return true;
    }
    // The answer is whole: it goes out, and the connection ends after it.
    decoding.closeAfter = true;
    return true;
  }

  /** A close-delimited answer ended with the upstream's close: what the scanner held goes to the agent. */
  flushOnClose(): void {
    const held = this.scrubber?.end();
    if (held !== undefined && held.length > 0) this.client.write(held);
  }

  /** The agent's connection is gone: the decoder stops, and nothing waits for it. */
  stop(): void {
    this.decoding?.answer.destroy();
    this.decoding = undefined;
    this.deferred.length = 0;
  }

  /** Audits `exchange` as answered with `status`, after `answeredAt` (now unless given). */
  record(exchange: Exchange, status: number, answeredAt = performance.now()): void {
    const { plan } = exchange;
    this.opts.audit.record(plan.event, {
      provider: plan.provider,
      connection: plan.connection,
      run: plan.run,
      method: exchange.method,
      host: this.opts.host,
      path: exchange.path,
      status,
      ms: Math.round((answeredAt - exchange.started) * 10) / 10,
      reason: plan.reason,
    });
  }

  /** After each upstream chunk: what the scanner held goes out at an answer's end, then the interception looks. */
  progress(): void {
    // A decoded answer still under way: the progress is looked at once it is out.
    if (this.host.isClosed() || this.decoding !== undefined) return;
    if (this.host.currentLease()?.tracker.idle) this.flushScrubber();
    this.host.onProgress();
  }

  /** The tracker's: a final response head arrived for the oldest exchange (or for none). */
  onResponseHead(current: RelayLease, head: ResponseHead, text: string): void {
    const exchange = this.exchanges.shift();
    if (!head.keepAlive) current.reusable = false;
    // With a secret to watch for, a compressed body is decoded to be scanned (the upstream was asked for identity,
    // but may not have listened); one that cannot be decoded is refused. HEAD, 204, 304 and 1xx have no body.
    const { scanning } = this;
    const codings = scanning === undefined || head.framing.kind === 'none' ? [] : readBodyCodings(text);
    const decodable = isDecodable(codings);
    if (exchange === undefined) {
      // An answer nobody asked for: this connection's framing can no longer be trusted for anyone else.
      current.reusable = false;
      if (codings.length > 0) this.planDecoding(current, head, text, codings, decodable, true);
      return;
    }
    // Audited once the chunk is relayed: building the entry is not on the way to the agent.
    const status = decodable ? head.status : PROXY_ANSWERS.answerNotScannable.status;
    this.answered.push([exchange, status, performance.now()]);
    this.answering =
      exchange.plan.provider === undefined ? undefined : { provider: exchange.plan.provider, recorded: false };
    if (codings.length > 0) {
      // A compressed 401 is decoded and passed on, not held for a retry: the hold relays the bytes as they came.
      this.planDecoding(current, head, text, codings, decodable, exchange.closeAfter);
    } else if (
      // A 401 to a request that may go once more is held back, when it is the last answer owed and its head began in
      // this chunk (so none of it has reached the agent yet) and its end can be found.
      head.status === 401 &&
      exchange.retry !== undefined &&
      this.exchanges.length === 0 &&
      scanning !== undefined &&
      !scanning.partialHeadBefore &&
      head.framing.kind !== 'close' &&
      scanning.content.length > 0
    ) {
      this.held = { exchange, from: scanning.content[scanning.content.length - 1]![0], chunks: [], bytes: 0 };
      // The agent's next request waits: the retried one must reach the upstream first, in order.
      this.host.holdRequests();
      return;
    }
    this.host.onAnswer(current, exchange, head.status);
  }

  // A method, not an inline test: the decoder's hooks change `decoding` behind the compiler's back.
  private isDecoderEnding(): boolean {
    return this.decoding?.ending === true;
  }

  private readUpstream(current: RelayLease, chunk: Buffer): void {
    try {
      this.relayUpstream(current, chunk);
    } finally {
      this.recordAnswered();
    }
  }

  /** Audits the answers whose heads the last chunk held, in order. */
  private recordAnswered(): void {
    const { answered } = this;
    if (answered.length === 0) return;
    this.answered = [];
    for (const [exchange, status, at] of answered) this.record(exchange, status, at);
  }

  private relayUpstream(current: RelayLease, chunk: Buffer): void {
    const { exchanges } = this;
    if (current.tracker.mode === 'head' && exchanges.length > 0) exchanges[0]!.responded = true;
    if (this.scrubber === undefined) {
      // Relay first, inspect after: the agent gets every byte (an SSE event, a 101) the moment it arrives.
      current.relay(chunk);
      if (current.tracker.mode === 'tunnel') return;
      if (this.scanResponse(current, chunk) < 0) return;
    } else {
      // With a secret to watch for, the framing is read first: the scrubber looks at content only (a secret split by
      // a chunk-size line is still found), and holds back only what could be the start of one.
      const provider = exchanges[0]?.plan.provider;
      const content: [number, number][] = [];
      const tunnel = current.tracker.mode === 'tunnel';
      const holding = this.held !== undefined;
      const continuing = this.decoding !== undefined;
      const pending = this.partialHead;
      this.partialHead = undefined;
      this.scanning = { content, partialHeadBefore: current.tracker.mode === 'head' && !current.tracker.idle };
      const end = tunnel ? chunk.length : this.scanResponse(current, chunk, content);
      const { decode } = this.scanning;
      this.scanning = undefined;
      if (end < 0) return;
      // Read after the scan: the answer heads it found may have changed them.
      const { held, scrubber } = this;
      if (continuing) {
        this.feedDecoder(current, chunk, content, 0, end);
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
          this.partialHead =
            pending !== undefined && from === 0 ? Buffer.concat([pending, chunk]) : chunk.subarray(from);
          if (from === 0) prefix = undefined;
        }
        if (cut > 0 || prefix !== undefined) {
          const before = scrubber.found;
          let part = cut === chunk.length ? chunk : chunk.subarray(0, cut);
          // All of the chunk goes (the usual case): its ranges serve as they are, read only.
          let ranges =
            cut === chunk.length
              ? content
              : content.filter(([a]) => a < cut).map(([a, b]): [number, number] => [a, Math.min(b, cut)]);
          if (prefix !== undefined) {
            const n = prefix.length;
            part = Buffer.concat([prefix, part]);
            ranges = [[0, n], ...ranges.map(([a, b]): [number, number] => [a + n, b + n])];
          }
          current.relay(scrubber.push(part, tunnel ? undefined : ranges));
          if (scrubber.found > before) this.noteScrubbed(provider ?? this.answering?.provider);
        }
        if (held !== undefined && cut < chunk.length) {
          held.chunks.push(chunk.subarray(cut));
          held.bytes += chunk.length - cut;
        }
        if (decode !== undefined) {
          // What the scanner holds came before the decoded answer.
          this.flushScrubber();
          if (decode.refused) {
            this.host.refuseAnswer('unsupported');
            return;
          }
          this.feedDecoder(current, chunk, content, decode.to, end);
        }
      }
      if (this.decoding?.ending === true) {
        this.decoding.answer.end();
        if (end < chunk.length) this.deferred.unshift(chunk.subarray(end));
        current.pauseReading('order');
        return;
      }
      if (tunnel) return;
      if (held !== undefined && (current.tracker.idle || held.bytes > MAX_HELD_ANSWER_BYTES)) {
        this.settleHeldAnswer(current);
        return;
      }
    }
    this.progress();
  }

  /**
   * Follows the response framing over `chunk`: how many bytes of it were read (fewer after a decoded answer's end),
   * or -1 (and the connection closed) when it is broken.
   */
  private scanResponse(current: RelayLease, chunk: Buffer, content?: [number, number][]): number {
    // Trailers are scanned like headers, but are not the compressed body: a decoded answer drops them (its chunked
    // copy ends without any), so they never reach its decoder.
    const onContent =
      content === undefined
        ? undefined
        : (from: number, to: number, trailer?: boolean): void => {
            if (trailer !== true || this.decoding === undefined) content.push([from, to]);
          };
    try {
      return current.tracker.scan(chunk, onContent);
    } catch {
      // The upstream's framing is broken: the agent cannot be told which bytes were a response. Hang up.
      current.reusable = false;
      this.host.close();
      return -1;
    }
  }

  /** The content bytes of `chunk` between `from` and `to` go to the decoder; a full decoder pauses the upstream. */
  private feedDecoder(
    current: RelayLease,
    chunk: Buffer,
    content: readonly [number, number][],
    from: number,
    to: number,
  ): void {
    for (const [a, b] of content) {
      const start = Math.max(a, from);
      const stop = Math.min(b, to);
      if (stop > start && !this.decoding!.answer.write(chunk.subarray(start, stop))) current.pauseReading('decoder');
    }
  }

  /** Marks where the head of a compressed answer lies in the chunk scanned (it is not relayed), and decodes it. */
  private planDecoding(
    current: RelayLease,
    head: ResponseHead,
    text: string,
    codings: string[],
    decodable: boolean,
    closeAfter: boolean,
  ): void {
    const scanning = this.scanning!;
    const [from, to] = scanning.content[scanning.content.length - 1]!;
    scanning.decode = { from, to, refused: !decodable };
    if (decodable) this.startDecoding(current, head, text, codings, closeAfter);
  }

  /**
   * Starts decoding the answer whose head is `text`. The agent's copy is chunked, or ends with the connection when
   * that ends after it anyway (the upstream's body ends so, either side asked to close, an HTTP/1.0 request, which
   * leaves the lease unfit for reuse) or chunked cannot be used (an HTTP/1.0 answer).
   */
  private startDecoding(
    current: RelayLease,
    head: ResponseHead,
    text: string,
    codings: string[],
    closeAfter: boolean,
  ): void {
    const provider = this.answering?.provider;
    const closing = closeAfter || !current.reusable || head.framing.kind === 'close' || text.startsWith('HTTP/1.0');
    const framing: DecodedFraming = closing ? 'close' : 'chunked';
    const headScrubber = createScrubber(this.needles);
    const decodedHead = Buffer.from(buildDecodedHead(text, framing), 'latin1');
    const scrubbedHead = Buffer.concat([headScrubber.push(decodedHead), headScrubber.end()]);
    if (headScrubber.found > 0) this.noteScrubbed(provider);
    const answer = createDecodedAnswer({
      codings,
      // A copy: a secret injected later adds needles for later answers, not this scanner's.
      needles: [...this.needles],
      framing,
      head: scrubbedHead,
      sink: this.client,
      onReady: () => current.resumeReading('decoder'),
      onScrubbed: () => this.noteScrubbed(provider),
      onEnd: () => this.finishDecoding(current),
      onFail: (started) => {
        this.decoding = undefined;
        this.deferred.length = 0;
        if (started) this.host.close();
        else this.host.refuseAnswer('corrupt');
      },
    });
    this.decoding = { answer, ending: false, closeAfter: framing === 'close' };
  }

  /** The decoded answer is out: the bytes that came after it are read now, in order. */
  private finishDecoding(current: RelayLease): void {
    const finished = this.decoding!;
    this.decoding = undefined;
    if (this.host.isClosed()) return;
    const { deferred } = this;
    if (finished.closeAfter) {
      // The agent's copy had no length: the connection's end is its end.
      deferred.length = 0;
      this.host.finish();
      return;
    }
    current.resumeReading('decoder');
    current.resumeReading('order');
    if (deferred.length === 0) this.progress();
    while (
      deferred.length > 0 &&
      !this.isDecoderEnding() &&
      !this.host.isClosed() &&
      this.host.currentLease() === current
    )
      this.readUpstream(current, deferred.shift()!);
  }

  /**
   * A held 401 is whole (or too large to hold): try a refreshed token and send the request once more; when there is
   * none, or the answer was too large, the agent gets the 401 as it came.
   */
  private settleHeldAnswer(current: RelayLease): void {
    const answer = this.held!;
    this.held = undefined;
    const retry = answer.exchange.retry!;
    const { host } = this;
    const passOn = (): void => {
      if (host.isClosed()) return;
      const { scrubber } = this;
      for (const chunk of answer.chunks) current.relay(scrubber === undefined ? chunk : scrubber.push(chunk));
      host.onAnswer(current, answer.exchange, 401);
      host.resumeRequests();
      this.progress();
      host.drainRequests();
    };
    host.holdRequests();
    const { opts } = this;
    if (answer.bytes > MAX_HELD_ANSWER_BYTES || !current.tracker.idle || opts.refreshCredential === undefined) {
      passOn();
      return;
    }
    opts.refreshCredential(retry.entry, retry.credential).then(
      (fresh) => {
        if (host.isClosed()) return;
        if (fresh === undefined) passOn();
        else host.retryRequest(answer.exchange, fresh);
      },
      () => passOn(),
    );
  }

  /** A chunk had a secret overwritten: counted for the run and audited, once per answer. */
  private noteScrubbed(provider: string | undefined): void {
    if (provider === undefined) return;
    const { answering } = this;
    if (answering !== undefined && answering.provider === provider) {
      if (answering.recorded) return;
      answering.recorded = true;
    }
    countRunEvent(this.opts.session, provider, 'scrubbed');
    this.recordAnswered(); // the answer's own line comes first
    this.opts.audit.record('secret_in_response', {
      provider,
      run: this.opts.session.id,
      host: this.opts.host,
      reason: 'the answer contained the credential; the agent got a mask in its place',
    });
  }

  /** At the end of an answer the scanner gives back what it held (an answer may end with a secret's first bytes). */
  private flushScrubber(): void {
    const held = this.scrubber?.end();
    if (held !== undefined && held.length > 0) this.host.currentLease()?.relay(held);
  }
}
