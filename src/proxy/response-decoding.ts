// Undoes the compression of an answer the secret scrubber must read (an upstream that ignored `Accept-Encoding:
// identity`), and relays it to the agent as identity, decoded and scrubbed as it arrives. Owns which codings can be
// undone, the head the agent gets instead, and the decoder pipeline with its backpressure; sockets stay the caller's.
import type { Transform, Writable } from 'node:stream';
import zlib from 'node:zlib';
import { createScrubber, type ScrubNeedle } from './secret-scrubber.js';

/**
 * The codings this proxy can undo. `deflate` is the zlib-wrapped form RFC 9110 names; a raw deflate stream fails to
 * decode and is refused like any other coding that cannot be read (compress, zstd).
 */
const DECODERS: Record<string, () => Transform> = {
  gzip: () => zlib.createGunzip(),
  'x-gzip': () => zlib.createGunzip(),
  deflate: () => zlib.createInflate(),
  br: () => zlib.createBrotliDecompress(),
};

/**
 * How the agent's copy of a decoded answer is framed: chunked, or (for an HTTP/1.0 answer, or one the upstream
 * ended by closing) by closing the connection after it.
 */
export type DecodedFraming = 'chunked' | 'close';

/**
 * The codings applied to the body of the response head `text` (the bytes before CRLFCRLF), in the order they were
 * applied: Content-Encoding, then any Transfer-Encoding but chunked. Empty when the body is identity.
 */
export function readBodyCodings(text: string): string[] {
  const codings: string[] = [];
  // Most answers name no coding at all: one scan instead of splitting every head into lines.
  if (!MENTIONS_CODING.test(text)) return codings;
  for (const line of text.split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).toLowerCase();
    if (name !== 'content-encoding' && name !== 'transfer-encoding') continue;
    for (const token of line.slice(colon + 1).split(',')) {
      const coding = token.trim().toLowerCase();
      if (coding !== '' && coding !== 'identity' && coding !== 'chunked') codings.push(coding);
    }
  }
  return codings;
}

/** Both field names end in `encoding`, and a field name is followed by its colon (whitespace tolerated here). */
const MENTIONS_CODING = /encoding[ \t]*:/i;

export function isDecodable(codings: readonly string[]): boolean {
  return codings.every((coding) => Object.hasOwn(DECODERS, coding));
}

/**
 * The head the agent gets for a decoded answer: the same status line and fields, without the codings and the length
 * of the compressed body; framed chunked, or closing the connection.
 */
export function buildDecodedHead(text: string, framing: DecodedFraming): string {
  const dropped = new Set(['content-encoding', 'content-length', 'transfer-encoding']);
  if (framing === 'close') for (const name of ['connection', 'keep-alive']) dropped.add(name);
  const [statusLine, ...fields] = text.split('\r\n');
  const kept = fields.filter((line) => !dropped.has(line.slice(0, line.indexOf(':')).toLowerCase()));
  kept.push(framing === 'chunked' ? 'Transfer-Encoding: chunked' : 'Connection: close');
  return `${statusLine}\r\n${kept.join('\r\n')}\r\n\r\n`;
}

export interface DecodedAnswerOptions {
  /** In the order applied (readBodyCodings); every one decodable. */
  codings: readonly string[];
  needles: readonly ScrubNeedle[];
  framing: DecodedFraming;
  /** The head to send first (already scrubbed); it waits for the first decoded byte, so a body that cannot be decoded
   * can still be answered with an error instead. */
  head: Buffer;
  /** The agent's socket; its backpressure pauses the decoder, and so the compressed input. */
  sink: Writable;
  /** The decoder takes more input again, after `write` returned false. */
  onReady(): void;
  /** A secret in the decoded body was overwritten. */
  onScrubbed(): void;
  /** The whole answer was handed to the sink, its end included. */
  onEnd(): void;
  /** The body cannot be decoded; `started` says whether the agent got any of the answer already. */
  onFail(started: boolean): void;
}

export interface DecodedAnswer {
  /** The compressed body's content bytes; false when the decoder is full (wait for onReady). */
  write(content: Buffer): boolean;
  /** The compressed body ended. */
  end(): void;
  /** Stops everything; no hook runs after this. */
  destroy(): void;
}

/**
 * Decodes as it arrives: each piece the decoder gives out is scrubbed and relayed at once (an SSE event the upstream
 * flushed reaches the agent before the stream ends). Decoding rather than re-encoding, so that no encoder has to be
 * flushed after every write to keep a stream live, and the agent's client has nothing to undo. Memory stays bounded
 * whatever the compression ratio: node:zlib stops inflating while its output is unread, and it is read only while the
 * agent's socket takes it.
 */
export function createDecodedAnswer(opts: DecodedAnswerOptions): DecodedAnswer {
  const { sink, framing } = opts;
  // Codings are undone in the reverse of the order they were applied.
  const stages = opts.codings.map((coding) => DECODERS[coding]!()).reverse();
  const first = stages[0]!;
  const last = stages.reduce((from, to) => from.pipe(to));
  const scrubber = createScrubber(opts.needles);
  let headSent = false;
  let waitingForSink = false;
  let done = false;

  const onSinkDrain = (): void => {
    waitingForSink = false;
    if (!done) last.resume();
  };

  function send(data: Buffer): void {
    if (!headSent) {
      headSent = true;
      sink.write(opts.head);
    }
    if (data.length === 0) return;
    const out =
      framing === 'chunked' ? Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, CRLF]) : data;
    if (!sink.write(out) && !waitingForSink) {
      waitingForSink = true;
      last.pause();
      sink.once('drain', onSinkDrain);
    }
  }

  function stop(): void {
    done = true;
    if (waitingForSink) sink.off('drain', onSinkDrain);
    for (const stage of stages) {
      stage.removeAllListeners('data');
      stage.removeAllListeners('end');
      stage.removeAllListeners('drain');
      // A stage destroyed may still report an error; it is ignored from now on.
      stage.on('error', () => undefined);
      stage.destroy();
    }
  }

  for (const stage of stages) {
    stage.on('error', () => {
      if (done) return;
      const started = headSent;
      stop();
      opts.onFail(started);
    });
  }
  first.on('drain', () => {
    if (!done) opts.onReady();
  });
  last.on('data', (decoded: Buffer) => {
    if (done) return;
    const before = scrubber.found;
    const clean = scrubber.push(decoded);
    if (scrubber.found > before) opts.onScrubbed();
    if (clean.length > 0) send(clean);
  });
  last.on('end', () => {
    if (done) return;
    send(scrubber.end());
    if (framing === 'chunked') sink.write(LAST_CHUNK);
    stop();
    opts.onEnd();
  });

  return {
    write: (content) => (done ? true : first.write(content)),
    end: () => {
      if (!done) first.end();
    },
    destroy: () => {
      if (!done) stop();
    },
  };
}

const CRLF = Buffer.from('\r\n');
const LAST_CHUNK = Buffer.from('0\r\n\r\n');
