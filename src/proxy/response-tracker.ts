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
  let mode: ResponseMode = 'head';
  let body: BodyTracker | undefined;
  let closeDelimited = false;
  let partialHead: Buffer | undefined;
  let stop = false;

  function endResponse(): void {
    mode = 'head';
    body = undefined;
    closeDelimited = false;
    events.onResponseEnd();
    stop = events.stopAfterResponse?.() === true;
  }

  function onHead(text: string): void {
    const request = events.peekRequest();
    const head = parseResponseHead(text, request?.method);
    if (head.status === 101 && request?.upgrade === true) {
      mode = 'tunnel';
      events.onResponse(head, text);
      return;
    }
    // Interim responses (100 Continue, 103) pass through; the final one follows for the same request.
    if (head.status < 200) return;
    events.onResponse(head, text);
    if (head.framing.kind === 'none') {
      endResponse();
    } else {
      mode = 'body';
      body = createBodyTracker(head.framing);
      closeDelimited = head.framing.kind === 'close';
    }
  }

  return {
    scan(chunk, onContent) {
      let offset = 0;
      stop = false;
      while (offset < chunk.length && !stop) {
        if (mode === 'tunnel') {
          onContent?.(offset, chunk.length);
          return chunk.length;
        }
        if (mode === 'body') {
          offset += body!.consume(chunk, offset, onContent);
          if (body!.done) endResponse();
          continue;
        }
        const previous = partialHead?.length ?? 0;
        const data =
          partialHead === undefined ? chunk.subarray(offset) : Buffer.concat([partialHead, chunk.subarray(offset)]);
        const end = data.indexOf(CRLF2);
        if (end === -1) {
          if (data.length > MAX_RESPONSE_HEAD_BYTES) throw new Error('response head too large');
          partialHead = data;
          onContent?.(offset, chunk.length);
          return chunk.length;
        }
        partialHead = undefined;
        onContent?.(offset, offset + end + 4 - previous);
        offset += end + 4 - previous;
        onHead(data.toString('latin1', 0, end));
      }
      return offset;
    },
    get mode() {
      return mode;
    },
    get closeDelimited() {
      return closeDelimited;
    },
    get idle() {
      return mode === 'head' && partialHead === undefined;
    },
  };
}
