// Just enough HTTP/1.1 (RFC 9112) for the intercepting proxy: parse request and response heads, and find where
// each message body ends (length, chunked, close). Pure; it never holds body bytes, it only counts them.

export type BodyFraming = { kind: 'none' } | { kind: 'length'; length: number } | { kind: 'chunked' } | { kind: 'close' };

export interface RequestHead {
  method: string;
  /** As sent: origin form (/path?q), absolute form, or `*`. */
  target: string;
  version: string;
  /** Flat [name, value, …] in the order and case the client sent. */
  headers: string[];
  framing: BodyFraming;
  /** Connection: upgrade with an Upgrade header (WebSocket). */
  upgrade: boolean;
  hasHost: boolean;
}

export interface ResponseHead {
  status: number;
  framing: BodyFraming;
}

export class FramingError extends Error {}

const NO_BODY: BodyFraming = Object.freeze({ kind: 'none' });
const CLOSE_DELIMITED: BodyFraming = Object.freeze({ kind: 'close' });
const CHUNKED: BodyFraming = Object.freeze({ kind: 'chunked' });
const TOKEN_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const MAX_HEADERS = 256;

/** Parses a request head (the bytes before CRLFCRLF, as latin1). Throws FramingError on anything ambiguous. */
export function parseRequestHead(text: string): RequestHead {
  const lines = splitHeadLines(text);
  const requestLine = lines[0]!;
  const sp1 = requestLine.indexOf(' ');
  const sp2 = requestLine.lastIndexOf(' ');
  if (sp1 <= 0 || sp2 === sp1) throw new FramingError('malformed request line');
  const method = requestLine.slice(0, sp1);
  const target = requestLine.slice(sp1 + 1, sp2);
  const version = requestLine.slice(sp2 + 1);
  if (!TOKEN_RE.test(method) || target === '' || target.includes(' ') || !/^HTTP\/1\.[01]$/.test(version)) {
    throw new FramingError('malformed request line');
  }
  const headers = parseHeaderLines(lines);
  let contentLength: number | undefined;
  let transferEncoding: string | undefined;
  let connection = '';
  let hasUpgradeHeader = false;
  let hasHost = false;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    // Only a handful of names matter for framing; compare by length first to skip the rest cheaply.
    switch (name.length) {
      case 4:
        if (name.toLowerCase() === 'host') {
          if (hasHost) throw new FramingError('duplicate Host header');
          hasHost = true;
        }
        break;
      case 7:
        if (name.toLowerCase() === 'upgrade') hasUpgradeHeader = true;
        break;
      case 10:
        if (name.toLowerCase() === 'connection') connection += `,${headers[i + 1]!.toLowerCase()}`;
        break;
      case 14:
        if (name.toLowerCase() === 'content-length') contentLength = mergeContentLength(contentLength, headers[i + 1]!);
        break;
      case 17:
        if (name.toLowerCase() === 'transfer-encoding') transferEncoding = transferEncoding === undefined ? headers[i + 1]! : `${transferEncoding},${headers[i + 1]!}`;
        break;
    }
  }
  let framing: BodyFraming = NO_BODY;
  if (transferEncoding !== undefined) {
    // RFC 9112 §6.1/§6.3: with both, or with a final coding other than chunked, the framing is ambiguous: refuse
    // rather than risk the upstream reading the body differently (request smuggling).
    if (contentLength !== undefined) throw new FramingError('both Content-Length and Transfer-Encoding');
    if (!isChunkedLast(transferEncoding)) throw new FramingError('Transfer-Encoding without final chunked');
    framing = CHUNKED;
  } else if (contentLength !== undefined && contentLength > 0) {
    framing = { kind: 'length', length: contentLength };
  }
  const upgrade = hasUpgradeHeader && /(^|,)\s*upgrade\s*(,|$)/.test(connection);
  return { method, target, version, headers, framing, upgrade, hasHost };
}

/** Parses a response head; the request method decides whether a body can follow (HEAD never has one). */
export function parseResponseHead(text: string, requestMethod: string | undefined): ResponseHead {
  const lines = splitHeadLines(text);
  const statusLine = lines[0]!;
  if (!/^HTTP\/1\.[01] \d{3}( |$)/.test(statusLine)) throw new FramingError('malformed status line');
  const status = Number(statusLine.slice(9, 12));
  const headers = parseHeaderLines(lines);
  if ((status >= 100 && status < 200) || status === 204 || status === 304 || requestMethod === 'HEAD') return { status, framing: NO_BODY };
  let contentLength: number | undefined;
  let transferEncoding: string | undefined;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    if (name.length === 14 && name.toLowerCase() === 'content-length') contentLength = mergeContentLength(contentLength, headers[i + 1]!);
    else if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') {
      transferEncoding = transferEncoding === undefined ? headers[i + 1]! : `${transferEncoding},${headers[i + 1]!}`;
    }
  }
  // RFC 9112 §6.3: Transfer-Encoding wins over Content-Length; a non-chunked final coding reads to close.
  if (transferEncoding !== undefined) return { status, framing: isChunkedLast(transferEncoding) ? CHUNKED : CLOSE_DELIMITED };
  if (contentLength !== undefined) return { status, framing: contentLength === 0 ? NO_BODY : { kind: 'length', length: contentLength } };
  return { status, framing: CLOSE_DELIMITED };
}

function splitHeadLines(text: string): string[] {
  const lines = text.split('\r\n');
  if (lines.length > MAX_HEADERS + 1) throw new FramingError('too many header lines');
  return lines;
}

function parseHeaderLines(lines: string[]): string[] {
  const headers: string[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    // No obs-fold, no bare LF, no space before the colon (RFC 9112 §5.1, §5.2).
    if (colon <= 0 || line.includes('\n') || line.includes('\r')) throw new FramingError('malformed header line');
    const name = line.slice(0, colon);
    if (!TOKEN_RE.test(name)) throw new FramingError('malformed header name');
    headers.push(name, line.slice(colon + 1).trim());
  }
  return headers;
}

function mergeContentLength(current: number | undefined, value: string): number {
  // A list of identical values is tolerated (RFC 9110 §8.6); anything else is refused.
  let result = current;
  for (const part of value.split(',')) {
    const v = part.trim();
    if (!/^\d{1,15}$/.test(v)) throw new FramingError('invalid Content-Length');
    const n = Number(v);
    if (result !== undefined && result !== n) throw new FramingError('conflicting Content-Length');
    result = n;
  }
  return result!;
}

function isChunkedLast(transferEncoding: string): boolean {
  const codings = transferEncoding.split(',').map((c) => c.trim().toLowerCase()).filter((c) => c !== '');
  return codings.length > 0 && codings[codings.length - 1] === 'chunked';
}

/**
 * Follows one message body through a byte stream. `consume` returns how many bytes from `start` belong to the
 * body; `done` turns true at its last byte. Chunked bodies are scanned for their size lines only.
 */
export interface BodyTracker {
  consume(buf: Buffer, start: number): number;
  readonly done: boolean;
}

export function createBodyTracker(framing: BodyFraming): BodyTracker {
  switch (framing.kind) {
    case 'none':
      return { consume: () => 0, done: true };
    case 'close':
      return { consume: (buf, start) => buf.length - start, done: false };
    case 'length':
      return createLengthTracker(framing.length);
    case 'chunked':
      return createChunkedTracker();
  }
}

function createLengthTracker(length: number): BodyTracker {
  let remaining = length;
  return {
    consume(buf, start) {
      const n = Math.min(remaining, buf.length - start);
      remaining -= n;
      return n;
    },
    get done() {
      return remaining === 0;
    },
  };
}

const enum Chunk {
  Size,
  Extension,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  TrailerStart,
  TrailerLine,
  TrailerLf,
  FinalLf,
  Done,
}

const MAX_CHUNK_SIZE_DIGITS = 16;

function createChunkedTracker(): BodyTracker {
  let state = Chunk.Size;
  let size = 0;
  let digits = 0;
  let remaining = 0;
  return {
    consume(buf, start) {
      let i = start;
      while (i < buf.length && state !== Chunk.Done) {
        if (state === Chunk.Data) {
          const n = Math.min(remaining, buf.length - i);
          remaining -= n;
          i += n;
          if (remaining === 0) state = Chunk.DataCr;
          continue;
        }
        const c = buf[i++]!;
        switch (state) {
          case Chunk.Size: {
            const hex = hexValue(c);
            if (hex >= 0) {
              if (++digits > MAX_CHUNK_SIZE_DIGITS) throw new FramingError('chunk size too large');
              size = size * 16 + hex;
            } else if (digits > 0 && (c === 0x3b || c === 0x20 || c === 0x09)) {
              state = Chunk.Extension; // chunk extensions are ignored (RFC 9112 §7.1.1)
            } else if (digits > 0 && c === 0x0d) {
              state = Chunk.SizeLf;
            } else {
              throw new FramingError('malformed chunk size');
            }
            break;
          }
          case Chunk.Extension:
            if (c === 0x0d) state = Chunk.SizeLf;
            else if (c === 0x0a) throw new FramingError('bare LF in chunk extension');
            break;
          case Chunk.SizeLf:
            if (c !== 0x0a) throw new FramingError('malformed chunk size line');
            if (size === 0) {
              state = Chunk.TrailerStart;
            } else {
              remaining = size;
              state = Chunk.Data;
            }
            size = 0;
            digits = 0;
            break;
          case Chunk.DataCr:
            if (c !== 0x0d) throw new FramingError('chunk data longer than its size');
            state = Chunk.DataLf;
            break;
          case Chunk.DataLf:
            if (c !== 0x0a) throw new FramingError('malformed chunk end');
            state = Chunk.Size;
            break;
          case Chunk.TrailerStart:
            state = c === 0x0d ? Chunk.FinalLf : Chunk.TrailerLine;
            if (c === 0x0a) throw new FramingError('bare LF in trailer');
            break;
          case Chunk.TrailerLine:
            if (c === 0x0d) state = Chunk.TrailerLf;
            break;
          case Chunk.TrailerLf:
            if (c !== 0x0a) throw new FramingError('malformed trailer line');
            state = Chunk.TrailerStart;
            break;
          case Chunk.FinalLf:
            if (c !== 0x0a) throw new FramingError('malformed chunked body end');
            state = Chunk.Done;
            break;
        }
      }
      return i - start;
    },
    get done() {
      return state === Chunk.Done;
    },
  };
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}
