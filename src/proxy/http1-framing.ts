// Just enough HTTP/1.1 (RFC 9112) for the intercepting proxy: parse request and response heads, and find where
// each message body ends (length, chunked, close). Pure; it never holds body bytes, it only counts them.
// It must be at least as strict as llhttp (Node's parser): any byte sequence two parsers could frame differently is
// refused, because the agent is hostile and the upstream may read leniently what this file lets through.

export type BodyFraming =
  | { kind: 'none' }
  | { kind: 'length'; length: number }
  | { kind: 'chunked' }
  | { kind: 'close' };

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
  /**
   * The upstream keeps the connection after this response (HTTP/1.1 without `Connection: close`, or 1.0 with
   * keep-alive).
   */
  keepAlive: boolean;
}

export class FramingError extends Error {}

const NO_BODY: BodyFraming = Object.freeze({ kind: 'none' });
const CLOSE_DELIMITED: BodyFraming = Object.freeze({ kind: 'close' });
const CHUNKED: BodyFraming = Object.freeze({ kind: 'chunked' });
/** Field lines in a head at most (the test's reference parser uses the same limit). */
export const MAX_HEADERS = 256;
const SP = 0x20;
const HTAB = 0x09;
const CR = 0x0d;
const LF = 0x0a;

/** tchar (RFC 9110 §5.6.2): the bytes of a method, a field name, a transfer coding, a chunk extension name. */
const TCHAR = buildByteSet("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
/** Bytes llhttp refuses in the authority of an absolute-form target; refusing them keeps the two in step. */
const NOT_IN_AUTHORITY = buildByteSet('"#<>\\^`{|}');

function buildByteSet(chars: string): Uint8Array {
  const set = new Uint8Array(256);
  for (let i = 0; i < chars.length; i++) set[chars.charCodeAt(i)] = 1;
  return set;
}

/**
 * Field-value bytes (RFC 9110 §5.5): VCHAR, obs-text, SP, HTAB. Every other control byte (NUL, CR, LF, DEL…) is
 * refused.
 */
function isFieldValueByte(c: number): boolean {
  return c >= SP ? c !== 0x7f : c === HTAB;
}

/** The largest request or response head accepted, without its final CRLFCRLF. */
export const MAX_HEAD_BYTES = 64 * 1024;
const CRLF2 = Buffer.from('\r\n\r\n');

/**
 * Where the next request head lies in `buf` from `offset`: empty lines before it are skipped (RFC 9112 §2.2) and
 * `end` is where its CRLFCRLF starts. 'incomplete' until that arrives, 'too-large' past MAX_HEAD_BYTES: the limit
 * holds however the bytes arrive, a whole oversized head in one read as much as one in pieces.
 */
export function locateRequestHead(
  buf: Buffer,
  offset = 0,
): { start: number; end: number } | 'incomplete' | 'too-large' {
  let start = offset;
  while (start + 1 < buf.length && buf[start] === 0x0d && buf[start + 1] === 0x0a) start += 2;
  const end = buf.indexOf(CRLF2, start);
  if (end === -1 ? buf.length - offset > MAX_HEAD_BYTES : end - start > MAX_HEAD_BYTES) return 'too-large';
  return end === -1 ? 'incomplete' : { start, end };
}

/** Parses a request head (the bytes before CRLFCRLF, as latin1). Throws FramingError on anything ambiguous. */
export function parseRequestHead(text: string): RequestHead {
  checkLineCount(text);
  const lineEnd = endOfLine(text, 0);
  // request-line = method SP request-target SP HTTP-version, one SP each and nothing else (RFC 9112 §3): a TAB or
  // a bare LF in the target is how a lenient upstream is made to read a different request line than this one.
  let sp1 = 0;
  while (sp1 < lineEnd && TCHAR[text.charCodeAt(sp1)] === 1) sp1++;
  if (sp1 === 0 || sp1 === lineEnd || text.charCodeAt(sp1) !== SP) throw new FramingError('malformed request line');
  let sp2 = sp1 + 1;
  for (let c = text.charCodeAt(sp2); sp2 < lineEnd && c > SP && c < 0x7f; c = text.charCodeAt(++sp2));
  if (sp2 === sp1 + 1 || sp2 === lineEnd || text.charCodeAt(sp2) !== SP)
    throw new FramingError('malformed request line');
  const method = text.slice(0, sp1);
  const target = text.slice(sp1 + 1, sp2);
  const version = text.slice(sp2 + 1, lineEnd);
  if (version !== 'HTTP/1.1' && version !== 'HTTP/1.0') throw new FramingError('malformed request line');
  if (!isRequestTarget(target)) throw new FramingError('malformed request target');
  // CONNECT switches the connection to a tunnel in any parser that follows it; inside an intercepted tunnel there is
  // nothing to connect to, and the bytes after it would be framed differently here and upstream.
  if (method === 'CONNECT') throw new FramingError('CONNECT inside an intercepted tunnel');
  const headers: string[] = [];
  for (let start = lineEnd + 2; start <= text.length; ) {
    const end = endOfLine(text, start);
    readFieldLine(text, start, end);
    headers.push(text.slice(start, fieldNameEnd), text.slice(fieldValueStart, fieldValueEnd));
    start = end + 2;
  }
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
        if (isNamed(name, 0, 4, 'host')) {
          if (hasHost) throw new FramingError('duplicate Host header');
          hasHost = true;
        }
        break;
      case 7:
        if (isNamed(name, 0, 7, 'upgrade')) hasUpgradeHeader = true;
        break;
      case 10:
        if (isNamed(name, 0, 10, 'connection')) connection += `,${headers[i + 1]!.toLowerCase()}`;
        break;
      case 14:
        if (isNamed(name, 0, 14, 'content-length')) contentLength = mergeContentLength(contentLength, headers[i + 1]!);
        break;
      case 17:
        if (isNamed(name, 0, 17, 'transfer-encoding')) {
          if (transferEncoding !== undefined) throw new FramingError('more than one Transfer-Encoding header');
          transferEncoding = headers[i + 1]!;
        }
        break;
    }
  }
  let framing: BodyFraming = NO_BODY;
  if (transferEncoding !== undefined) {
    // RFC 9112 §6.1/§6.3: with both, or with a coding a parser might read differently, the framing is ambiguous:
    // refuse rather than risk the upstream reading the body differently (request smuggling). A request needs no
    // coding but chunked, and HTTP/1.0 has no Transfer-Encoding at all.
    if (contentLength !== undefined) throw new FramingError('both Content-Length and Transfer-Encoding');
    if (version !== 'HTTP/1.1') throw new FramingError('Transfer-Encoding in an HTTP/1.0 request');
    if (transferEncoding.length !== 7 || transferEncoding.toLowerCase() !== 'chunked')
      throw new FramingError('Transfer-Encoding other than chunked');
    framing = CHUNKED;
  } else if (contentLength !== undefined && contentLength > 0) {
    framing = { kind: 'length', length: contentLength };
  }
  const upgrade = hasUpgradeHeader && /(^|,)[ \t]*upgrade[ \t]*(,|$)/.test(connection);
  return { method, target, version, headers, framing, upgrade, hasHost };
}

/**
 * origin-form (`/…`), absolute-form (`scheme://authority…`) or exactly `*` (RFC 9112 §3.2); the caller has checked
 * that every byte is VCHAR. Authority-form belongs to CONNECT, refused above.
 */
export function isRequestTarget(target: string): boolean {
  const first = target.charCodeAt(0);
  if (first === 0x2f) return true; // '/'
  if (target === '*') return true;
  let i = 0;
  // llhttp takes letters only in a scheme; anything it would refuse is refused here too.
  while (i < target.length && (target.charCodeAt(i) | 0x20) >= 0x61 && (target.charCodeAt(i) | 0x20) <= 0x7a) i++;
  if (i === 0 || !target.startsWith('://', i)) return false;
  i += 3;
  const authorityStart = i;
  for (; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c === 0x2f || c === 0x3f) break; // '/' or '?'
    if (NOT_IN_AUTHORITY[c] === 1) return false;
  }
  return i > authorityStart;
}

/** Parses a response head; the request method decides whether a body can follow (HEAD never has one). */
export function parseResponseHead(text: string, requestMethod: string | undefined): ResponseHead {
  checkLineCount(text);
  const lineEnd = endOfLine(text, 0);
  const status = parseStatusLine(text, lineEnd);
  const noBody = (status >= 100 && status < 200) || status === 204 || status === 304 || requestMethod === 'HEAD';
  // Every line is checked before any field is read (a malformed line is the error, whatever came before it); the
  // fields that frame the answer are noted on the way, then read in order. No string is made for the others.
  const fields = framingFields;
  fields.length = 0;
  for (let start = lineEnd + 2; start <= text.length; ) {
    const end = endOfLine(text, start);
    readFieldLine(text, start, end);
    const nameLength = fieldNameEnd - start;
    // A message that cannot have a body is not framed by Content-Length or Transfer-Encoding: they are not even read.
    const field =
      nameLength === 14 && !noBody && isNamed(text, start, fieldNameEnd, 'content-length')
        ? CONTENT_LENGTH
        : nameLength === 17 && !noBody && isNamed(text, start, fieldNameEnd, 'transfer-encoding')
          ? TRANSFER_ENCODING
          : nameLength === 10 && isNamed(text, start, fieldNameEnd, 'connection')
            ? CONNECTION
            : 0;
    if (field !== 0) fields.push(field, fieldValueStart, fieldValueEnd);
    start = end + 2;
  }
  let keepAlive = text.charCodeAt(7) === 0x31; // HTTP/1.1 persists by default, 1.0 only when it says so
  let contentLength: number | undefined;
  let transferEncoding: string | undefined;
  for (let i = 0; i < fields.length; i += 3) {
    const from = fields[i + 1]!;
    const to = fields[i + 2]!;
    if (fields[i] === CONTENT_LENGTH) {
      contentLength = mergeContentLength(contentLength, text.slice(from, to));
    } else if (fields[i] === TRANSFER_ENCODING) {
      const value = text.slice(from, to);
      transferEncoding = transferEncoding === undefined ? value : `${transferEncoding},${value}`;
    } else {
      const said = readConnectionTokens(text, from, to);
      if (said === SAYS_CLOSE) keepAlive = false;
      else if (said === SAYS_KEEP_ALIVE) keepAlive = true;
    }
  }
  if (noBody) return { status, framing: NO_BODY, keepAlive };
  // RFC 9112 §6.3: Transfer-Encoding wins over Content-Length; a non-chunked final coding reads to close.
  if (transferEncoding !== undefined) {
    const chunked = isChunkedLast(transferEncoding);
    return { status, framing: chunked ? CHUNKED : CLOSE_DELIMITED, keepAlive: keepAlive && chunked };
  }
  if (contentLength !== undefined)
    return { status, framing: contentLength === 0 ? NO_BODY : { kind: 'length', length: contentLength }, keepAlive };
  return { status, framing: CLOSE_DELIMITED, keepAlive: false };
}

const CONTENT_LENGTH = 1;
const TRANSFER_ENCODING = 2;
const CONNECTION = 3;
/** The framing fields of the response head being parsed: kind, value start, value end (reused: no array per head). */
const framingFields: number[] = [];
const SAYS_CLOSE = -1;
const SAYS_KEEP_ALIVE = 1;

/**
 * What a Connection value says of persistence: `close` among its comma-separated tokens wins, else `keep-alive`.
 * Tokens are compared without case, trimmed as String.prototype.trim would trim them (SP, HTAB and, in latin1, NBSP).
 */
function readConnectionTokens(text: string, from: number, to: number): number {
  let keepAlive = false;
  for (let at = from; at <= to; ) {
    let comma = text.indexOf(',', at);
    if (comma === -1 || comma > to) comma = to;
    let a = at;
    let b = comma;
    while (a < b && isTrimmed(text.charCodeAt(a))) a++;
    while (b > a && isTrimmed(text.charCodeAt(b - 1))) b--;
    if (isNamed(text, a, b, 'close')) return SAYS_CLOSE;
    if (isNamed(text, a, b, 'keep-alive')) keepAlive = true;
    at = comma + 1;
  }
  return keepAlive ? SAYS_KEEP_ALIVE : 0;
}

function isTrimmed(c: number): boolean {
  return c === SP || c === HTAB || c === 0xa0;
}

/** status-line = HTTP-version SP 3DIGIT [SP reason-phrase] (RFC 9112 §4), a code from 100 to 599: text[0, end). */
function parseStatusLine(text: string, end: number): number {
  if (
    end < 9 ||
    !text.startsWith('HTTP/1.') ||
    (text.charCodeAt(7) !== 0x30 && text.charCodeAt(7) !== 0x31) ||
    text.charCodeAt(8) !== SP
  ) {
    throw new FramingError('malformed status line');
  }
  let status = 0;
  for (let i = 9; i < 12; i++) {
    const digit = i < end ? text.charCodeAt(i) - 0x30 : -1;
    if (!(digit >= 0 && digit <= 9)) throw new FramingError('malformed status line');
    status = status * 10 + digit;
  }
  if (status < 100 || status > 599) throw new FramingError('status code out of range');
  if (end > 12) {
    if (text.charCodeAt(12) !== SP) throw new FramingError('malformed status line');
    for (let i = 13; i < end; i++)
      if (!isFieldValueByte(text.charCodeAt(i))) throw new FramingError('malformed reason phrase');
  }
  return status;
}

/**
 * At most MAX_HEADERS field lines after the first: counted before any line is read, as the limit is checked first.
 * Lines end in CRLF only (a CR or LF left inside a line is a control byte, refused where the line is read); a head
 * shorter than MAX_HEADERS + 1 CRLFs cannot hold too many, so it needs no count.
 */
function checkLineCount(text: string): void {
  if (text.length < 2 * (MAX_HEADERS + 1)) return;
  let lines = 1;
  for (let at = text.indexOf('\r\n'); at !== -1; at = text.indexOf('\r\n', at + 2)) {
    if (++lines > MAX_HEADERS + 1) throw new FramingError('too many header lines');
  }
}

/** Where the line that starts at `start` ends: its CRLF, or the end of the head. */
function endOfLine(text: string, start: number): number {
  const end = text.indexOf('\r\n', start);
  return end === -1 ? text.length : end;
}

// Where the field line readFieldLine last read has its name's end and its value (OWS trimmed). Module state rather
// than an object per line: a head is read a line at a time, and nothing else runs in between.
let fieldNameEnd = 0;
let fieldValueStart = 0;
let fieldValueEnd = 0;

/** Checks the field line text[start, end) and notes where its name and value are; throws FramingError if malformed. */
function readFieldLine(text: string, start: number, end: number): void {
  // field-line = field-name ":" OWS field-value OWS (RFC 9112 §5): no obs-fold, no space before the colon.
  let colon = start;
  while (colon < end && TCHAR[text.charCodeAt(colon)] === 1) colon++;
  if (colon === start || colon === end || text.charCodeAt(colon) !== 0x3a)
    throw new FramingError('malformed header line');
  // OWS is SP and HTAB only: String.trim() would also eat other control and Unicode space bytes.
  let from = colon + 1;
  let to = end;
  while (from < to && isOws(text.charCodeAt(from))) from++;
  while (to > from && isOws(text.charCodeAt(to - 1))) to--;
  for (let j = from; j < to; j++)
    if (!isFieldValueByte(text.charCodeAt(j))) throw new FramingError('control byte in a header value');
  // llhttp refuses an HTAB after a Content-Length or Transfer-Encoding value; so does this, or the two would frame
  // the body differently.
  const nameLength = colon - start;
  if (to < end && (nameLength === 14 || nameLength === 17) && hasTab(text, to, end)) {
    if (isNamed(text, start, colon, 'content-length') || isNamed(text, start, colon, 'transfer-encoding'))
      throw new FramingError('tab after a framing header value');
  }
  fieldNameEnd = colon;
  fieldValueStart = from;
  fieldValueEnd = to;
}

function hasTab(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (text.charCodeAt(i) === HTAB) return true;
  return false;
}

/**
 * Whether text[start, end) is `lower` in any case (ASCII letters only fold, as String.prototype.toLowerCase folds
 * them; no other latin1 character lower-cases to ASCII). No string is made.
 */
function isNamed(text: string, start: number, end: number, lower: string): boolean {
  if (end - start !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    let c = text.charCodeAt(start + i);
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}

function isFramingField(name: string): boolean {
  return isNamed(name, 0, name.length, 'content-length') || isNamed(name, 0, name.length, 'transfer-encoding');
}

function isOws(c: number): boolean {
  return c === SP || c === HTAB;
}

export function mergeContentLength(current: number | undefined, value: string): number {
  // A list of identical values is tolerated (RFC 9110 §8.6); anything else is refused. Digits only, no sign, at most
  // 15 of them (below 2^53, so the number is exact).
  let result = current;
  let i = 0;
  while (i <= value.length) {
    while (i < value.length && isOws(value.charCodeAt(i))) i++;
    let n = 0;
    const start = i;
    for (let c = value.charCodeAt(i); c >= 0x30 && c <= 0x39; c = value.charCodeAt(++i)) n = n * 10 + (c - 0x30);
    if (i === start || i - start > 15) throw new FramingError('invalid Content-Length');
    while (i < value.length && isOws(value.charCodeAt(i))) i++;
    if (i < value.length && value.charCodeAt(i) !== 0x2c) throw new FramingError('invalid Content-Length'); // ','
    if (result !== undefined && result !== n) throw new FramingError('conflicting Content-Length');
    result = n;
    i++;
  }
  return result!;
}

/** For responses: whether the last of the codings (a comma list of tokens, RFC 9110 §5.6.1) is chunked. */
export function isChunkedLast(transferEncoding: string): boolean {
  let last = '';
  for (const part of transferEncoding.split(',')) {
    let start = 0;
    let end = part.length;
    while (start < end && isOws(part.charCodeAt(start))) start++;
    while (end > start && isOws(part.charCodeAt(end - 1))) end--;
    if (start === end) continue; // empty list elements are allowed and ignored
    for (let j = start; j < end; j++) {
      // Parameters (`gzip;q=1`) cannot be part of chunked, so they only need to be printable.
      if (!isFieldValueByte(part.charCodeAt(j))) throw new FramingError('malformed Transfer-Encoding');
    }
    last = part.slice(start, end);
  }
  if (last === '') throw new FramingError('empty Transfer-Encoding');
  return last.length === 7 && last.toLowerCase() === 'chunked';
}

/**
 * Follows one message body through a byte stream. `consume` returns how many bytes from `start` belong to the
 * body; `done` turns true at its last byte. Chunked bodies are scanned for their size lines only.
 */
export interface BodyTracker {
  /**
   * `onData` hears which bytes are the body's content (for chunked bodies: not the size lines), and, with `trailer`
   * set, where a chunked body's trailer section is (field lines a server may fill like headers).
   */
  consume(buf: Buffer, start: number, onData?: (from: number, to: number, trailer?: boolean) => void): number;
  readonly done: boolean;
}

export function createBodyTracker(framing: BodyFraming): BodyTracker {
  switch (framing.kind) {
    case 'none':
      return { consume: () => 0, done: true };
    case 'close':
      return {
        consume: (buf, start, onData) => {
          onData?.(start, buf.length);
          return buf.length - start;
        },
        done: false,
      };
    case 'length':
      return createLengthTracker(framing.length);
    case 'chunked':
      return createChunkedTracker();
  }
}

function createLengthTracker(length: number): BodyTracker {
  return new LengthTracker(length);
}

/** A class, not an object literal with a getter: one is made per answer, and a literal's accessor is slow to make. */
class LengthTracker implements BodyTracker {
  constructor(private remaining: number) {}

  consume(buf: Buffer, start: number, onData?: (from: number, to: number) => void): number {
    const n = Math.min(this.remaining, buf.length - start);
    this.remaining -= n;
    if (n > 0) onData?.(start, start + n);
    return n;
  }

  get done(): boolean {
    return this.remaining === 0;
  }
}

enum Chunk {
  Size,
  ExtNameStart,
  ExtName,
  ExtValueStart,
  ExtToken,
  ExtQuoted,
  ExtQuotedPair,
  ExtQuotedEnd,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  TrailerStart,
  TrailerName,
  TrailerValue,
  TrailerLf,
  FinalLf,
  Done,
}

/** 13 hex digits are 2^52: every size stays an exact number, and no upstream needs a larger chunk. */
const MAX_CHUNK_SIZE_DIGITS = 13;

/**
 * chunked-body (RFC 9112 §7.1), CRLF only:
 *   chunk-size [ chunk-ext ] CRLF chunk-data CRLF … "0" [ chunk-ext ] CRLF *( field-line CRLF ) CRLF
 *   chunk-ext = *( ";" token [ "=" ( token / quoted-string ) ] )
 * The grammar allows BWS around ";" and "="; llhttp refuses it, and so does this, so no byte sequence is framed here
 * that an upstream built on llhttp would frame otherwise.
 */
function createChunkedTracker(): BodyTracker {
  let state = Chunk.Size;
  let size = 0;
  let digits = 0;
  let remaining = 0;
  // Enough of a trailer's name to recognise the framing fields (longer names are cut, and never match).
  let trailerName = '';
  let inTrailers = false;
  return {
    consume(buf, start, onData) {
      let i = start;
      // Where the trailer section starts in this buffer, once the last chunk's size line is read.
      let trailersFrom = inTrailers ? start : -1;
      while (i < buf.length && state !== Chunk.Done) {
        if (state === Chunk.Data) {
          const n = Math.min(remaining, buf.length - i);
          remaining -= n;
          if (n > 0) onData?.(i, i + n);
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
            } else if (digits > 0 && c === 0x3b) {
              state = Chunk.ExtNameStart; // ';'
            } else if (digits > 0 && c === CR) {
              state = Chunk.SizeLf;
            } else {
              throw new FramingError('malformed chunk size');
            }
            break;
          }
          case Chunk.ExtNameStart:
            if (TCHAR[c] !== 1) throw new FramingError('malformed chunk extension');
            state = Chunk.ExtName;
            break;
          case Chunk.ExtName:
          case Chunk.ExtToken:
            if (TCHAR[c] === 1) break;
            if (c === 0x3d && state === Chunk.ExtName)
              state = Chunk.ExtValueStart; // '='
            else state = endChunkExtensionPart(c);
            break;
          case Chunk.ExtValueStart:
            if (c === 0x22)
              state = Chunk.ExtQuoted; // '"'
            else if (TCHAR[c] === 1) state = Chunk.ExtToken;
            else throw new FramingError('malformed chunk extension');
            break;
          case Chunk.ExtQuoted:
            // qdtext = HTAB / SP / VCHAR except '"' and '\' / obs-text
            if (c === 0x22) state = Chunk.ExtQuotedEnd;
            else if (c === 0x5c) state = Chunk.ExtQuotedPair;
            else if (!isFieldValueByte(c)) throw new FramingError('control byte in a chunk extension');
            break;
          case Chunk.ExtQuotedPair:
            if (!isFieldValueByte(c)) throw new FramingError('control byte in a chunk extension');
            state = Chunk.ExtQuoted;
            break;
          case Chunk.ExtQuotedEnd:
            state = endChunkExtensionPart(c);
            break;
          case Chunk.SizeLf:
            if (c !== LF) throw new FramingError('malformed chunk size line');
            if (size === 0) {
              state = Chunk.TrailerStart;
              inTrailers = true;
              trailersFrom = i;
            } else {
              remaining = size;
              state = Chunk.Data;
            }
            size = 0;
            digits = 0;
            break;
          case Chunk.DataCr:
            if (c !== CR) throw new FramingError('chunk data longer than its size');
            state = Chunk.DataLf;
            break;
          case Chunk.DataLf:
            if (c !== LF) throw new FramingError('malformed chunk end');
            state = Chunk.Size;
            break;
          case Chunk.TrailerStart:
            // A trailer is a field line like any header: a name first (no obs-fold, no bare LF), or the final CRLF.
            if (c === CR) state = Chunk.FinalLf;
            else if (TCHAR[c] === 1) state = Chunk.TrailerName;
            else throw new FramingError('malformed trailer line');
            trailerName = String.fromCharCode(c);
            break;
          case Chunk.TrailerName:
            if (c === 0x3a) {
              // ':'. Framing fields never travel as trailers (RFC 9110 §6.5.1); a parser that merges trailers into
              // the head, or refuses them as llhttp does, would see another message than this one.
              if (isFramingField(trailerName)) throw new FramingError('framing header in trailers');
              state = Chunk.TrailerValue;
            } else if (TCHAR[c] !== 1) {
              throw new FramingError('malformed trailer name');
            } else if (trailerName.length < 18) {
              trailerName += String.fromCharCode(c);
            }
            break;
          case Chunk.TrailerValue:
            if (c === CR) state = Chunk.TrailerLf;
            else if (!isFieldValueByte(c)) throw new FramingError('control byte in a trailer');
            break;
          case Chunk.TrailerLf:
            if (c !== LF) throw new FramingError('malformed trailer line');
            state = Chunk.TrailerStart;
            break;
          case Chunk.FinalLf:
            if (c !== LF) throw new FramingError('malformed chunked body end');
            state = Chunk.Done;
            break;
        }
      }
      if (trailersFrom !== -1 && i > trailersFrom) onData?.(trailersFrom, i, true);
      if (state === Chunk.Done) inTrailers = false;
      return i - start;
    },
    get done() {
      return state === Chunk.Done;
    },
  };
}

/** After an extension name or value: another extension, or the end of the size line. */
function endChunkExtensionPart(c: number): Chunk {
  if (c === 0x3b) return Chunk.ExtNameStart; // ';'
  if (c === CR) return Chunk.SizeLf;
  throw new FramingError('malformed chunk extension');
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}
