// Follows the upstream's side of one intercepted connection: where each response head and body ends, which request
// it answers, and when the connection is between messages (so it can go back to the pool). Pure: it sees the bytes
// after they were relayed, never holds a body, and never writes anything.
import {
  createBodyTracker,
  MAX_HEAD_BYTES,
  parseResponseHead,
  type BodyTracker,
  type ResponseHead,
} from './http1-framing.js';

/** What the tracker needs to know of the oldest request still waiting for its response. */
export interface PendingRequest {
  method: string;
  upgrade: boolean;
}

export interface ResponseEvents {
  /** The oldest request waiting, or undefined when none is (an unsolicited response). */
  peekRequest(): PendingRequest | undefined;
  /**
   * A final response head (status ≥ 200, or a 101 to an upgrade) arrived: the oldest request is answered. `text` is
   * the head as received, before its CRLFCRLF.
   */
  onResponse(head: ResponseHead, text: string): void;
  /** The current response's body ended: the connection is between messages again. */
  onResponseEnd(): void;
  /** Asked after each response's end: true stops `scan` right there (its caller wants the bytes after it later). */
  stopAfterResponse?(): boolean;
}

export type ResponseMode = 'head' | 'body' | 'tunnel';

export interface ResponseTracker {
  /**
   * Reads one chunk; throws FramingError (or Error on an oversized head) when the framing is broken. `onContent`
   * hears which bytes are heads, body content or (`trailer` set) a chunked body's trailers, not the rest of the
   * chunked framing, for the secret scrubber. Returns how many bytes it read: all of them, unless onResponseEnd
   * asked it to stop after a response.
   */
  scan(chunk: Buffer, onContent?: (from: number, to: number, trailer?: boolean) => void): number;
  readonly mode: ResponseMode;
  /** The current body lasts until the connection closes. */
  readonly closeDelimited: boolean;
  /** Between messages: no head or body half read. */
  readonly idle: boolean;
}

const CRLF2 = Buffer.from('\r\n\r\n');
export const MAX_RESPONSE_HEAD_BYTES = MAX_HEAD_BYTES;

export function createResponseTracker(events: ResponseEvents): ResponseTracker {
  return new Tracker(events);
}

/**
 * A class, not an object literal with getters: the relay reads `mode` and `idle` several times per chunk, and a
 * literal's own accessors made each of those reads a generic property lookup.
 */
class Tracker implements ResponseTracker {
  mode: ResponseMode = 'head';
  closeDelimited = false;
  private body: BodyTracker | undefined;
  private partialHead: Buffer | undefined;
  private stop = false;

  constructor(private readonly events: ResponseEvents) {}

  get idle(): boolean {
    return this.mode === 'head' && this.partialHead === undefined;
  }

  private endResponse(): void {
    this.mode = 'head';
    this.body = undefined;
    this.closeDelimited = false;
    this.events.onResponseEnd();
    this.stop = this.events.stopAfterResponse?.() === true;
  }

  private onHead(text: string): void {
    const { events } = this;
    const request = events.peekRequest();
    const head = parseResponseHead(text, request?.method);
    if (head.status === 101 && request?.upgrade === true) {
      this.mode = 'tunnel';
      events.onResponse(head, text);
      return;
    }
    // Interim responses (100 Continue, 103) pass through; the final one follows for the same request.
    if (head.status < 200) return;
    events.onResponse(head, text);
    if (head.framing.kind === 'none') {
      this.endResponse();
    } else {
      this.mode = 'body';
      this.body = createBodyTracker(head.framing);
      this.closeDelimited = head.framing.kind === 'close';
    }
  }

  scan(chunk: Buffer, onContent?: (from: number, to: number, trailer?: boolean) => void): number {
    let offset = 0;
    this.stop = false;
    while (offset < chunk.length && !this.stop) {
      if (this.mode === 'tunnel') {
        onContent?.(offset, chunk.length);
        return chunk.length;
      }
      if (this.mode === 'body') {
        const body = this.body!;
        offset += body.consume(chunk, offset, onContent);
        if (body.done) this.endResponse();
        continue;
      }
      const { partialHead } = this;
      const previous = partialHead?.length ?? 0;
      const data =
        partialHead === undefined ? chunk.subarray(offset) : Buffer.concat([partialHead, chunk.subarray(offset)]);
      const end = data.indexOf(CRLF2);
      if (end === -1) {
        if (data.length > MAX_RESPONSE_HEAD_BYTES) throw new Error('response head too large');
        this.partialHead = data;
        onContent?.(offset, chunk.length);
        return chunk.length;
      }
      this.partialHead = undefined;
      onContent?.(offset, offset + end + 4 - previous);
      offset += end + 4 - previous;
      this.onHead(data.toString('latin1', 0, end));
    }
    return offset;
  }
}
