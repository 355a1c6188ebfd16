// The agent's bytes on an intercepted connection that have not been relayed yet, and the step each calls for given
// where the request side is (between messages, in a body, holding after an upgrade request, a raw tunnel). It does
// no I/O and decides nothing about credentials; the connection writes, leases and plans what it is told to.
import { createBodyTracker, locateRequestHead, type BodyFraming, type BodyTracker } from './http1-framing.js';

/**
 * Between messages ('head'), inside a request body, holding bytes after an upgrade request until the upstream has
 * answered it, or a raw tunnel after a 101.
 */
export type RequestMode = 'head' | 'body' | 'hold' | 'tunnel';

/**
 * `wait`: nothing to do until more bytes come or the mode changes. `forward`: send `data` upstream. `forward-end`:
 * send `data` (it may be empty), and the body is whole: the request side is between messages again. `head`: a whole
 * head is buffered (`takeHead` once a lease is held). The rest end the connection: `bad-body` (`error` says why),
 * `head-too-large`.
 */
export type InputStep = 'wait' | 'forward' | 'forward-end' | 'head' | 'bad-body' | 'head-too-large';

/** Bytes the agent may send ahead while nothing can be relayed (a credential pending, an upgrade unanswered). */
export const MAX_BUFFERED_INPUT_BYTES = 1024 * 1024;

const EMPTY = Buffer.alloc(0);

export class RequestInput {
  /** A request said `Connection: close`: nothing after it is read (RFC 9112 §9.6). */
  closeRequested = false;
  /** What a `forward` or `forward-end` step sends. */
  data: Buffer = EMPTY;
  /** Why the body could not be parsed, after a `bad-body` step. */
  error = '';
  private buffered: Buffer | undefined;
  private body: BodyTracker | undefined;
  private current: RequestMode = 'head';
  private headStart = 0;
  private headEnd = 0;

  /** Where the request side is; the response side moves it too (a 101 opens a tunnel, any answer ends a hold). */
  get mode(): RequestMode {
    return this.current;
  }

  /** Whether bytes wait to be relayed. */
  get pending(): boolean {
    return this.buffered !== undefined;
  }

  /**
   * Keeps `chunk` for the next steps. `ignored` after a `Connection: close` request; `overflow` when more is
   * buffered than may be (holding bytes after an upgrade request the agent is not paused, so it could grow the
   * buffer without end).
   */
  append(chunk: Buffer): 'kept' | 'ignored' | 'overflow' {
    if (this.closeRequested && this.current === 'head') return 'ignored';
    this.buffered = this.buffered === undefined ? chunk : Buffer.concat([this.buffered, chunk]);
    return this.buffered.length > MAX_BUFFERED_INPUT_BYTES ? 'overflow' : 'kept';
  }

  /** A head with a body was sent: the bytes that follow are that body until its framing says it is whole. */
  startBody(framing: BodyFraming): void {
    this.body = createBodyTracker(framing);
    this.current = 'body';
  }

  /** An upgrade request without a body was sent: what follows waits until the upstream has answered it. */
  holdForUpgrade(): void {
    this.current = 'hold';
  }

  /** The upstream agreed to the upgrade (a 101): every byte from now on is the agent's own. */
  openTunnel(): void {
    this.current = 'tunnel';
  }

  /** The upgrade was answered without a 101: the held bytes are requests again. False when nothing was held. */
  endHold(): boolean {
    if (this.current !== 'hold') return false;
    this.current = 'head';
    return true;
  }

  next(): InputStep {
    const mode = this.current;
    // The last step's bytes are written by now: a large chunk is not kept alive until the next one.
    this.data = EMPTY;
    const input = this.buffered;
    if (input === undefined) return 'wait';
    if (mode === 'tunnel') {
      this.data = input;
      this.buffered = undefined;
      return 'forward';
    }
    if (mode === 'hold') return 'wait';
    if (mode === 'body') return this.consumeBody(input);
    if (this.closeRequested) {
      this.buffered = undefined;
      return 'wait';
    }
    const head = locateRequestHead(input);
    if (head === 'too-large') return 'head-too-large';
    if (head === 'incomplete') return 'wait';
    this.headStart = head.start;
    this.headEnd = head.end;
    return 'head';
  }

  /** The head the last `head` step found, as latin1 without its blank line; the bytes after it stay buffered. */
  takeHead(): string {
    const input = this.buffered!;
    const text = input.toString('latin1', this.headStart, this.headEnd);
    this.buffered = this.headEnd + 4 === input.length ? undefined : input.subarray(this.headEnd + 4);
    return text;
  }

  private consumeBody(input: Buffer): InputStep {
    const body = this.body!;
    let n: number;
    try {
      n = body.consume(input, 0);
    } catch (err) {
      this.error = (err as Error).message;
      return 'bad-body';
    }
    this.data = n === input.length ? input : input.subarray(0, n);
    this.buffered = n === input.length ? undefined : input.subarray(n);
    if (!body.done) return 'forward';
    this.body = undefined;
    this.current = 'head';
    return 'forward-end';
  }
}
