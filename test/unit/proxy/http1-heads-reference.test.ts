// The head parsers read a head in place (no array of lines, no string per field they do not need). This checks them
// against the straightforward reading they replaced, kept here as the reference: split into CRLF lines, every field
// line parsed into a name and a value string, names compared lower-cased, Connection tokens split and trimmed. On
// any head, the two give the same result or both refuse it with the same FramingError message.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  FramingError,
  isChunkedLast,
  isRequestTarget,
  MAX_HEADERS,
  mergeContentLength,
  parseRequestHead,
  parseResponseHead,
  type BodyFraming,
  type RequestHead,
  type ResponseHead,
} from '../../../src/proxy/http1-framing.js';

const TCHAR = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]$/;
const isFieldValueChar = (c: number): boolean => (c >= 0x20 ? c !== 0x7f : c === 0x09);
const isOws = (c: number): boolean => c === 0x20 || c === 0x09;

function referenceLines(text: string): string[] {
  const lines = text.split('\r\n');
  if (lines.length > MAX_HEADERS + 1) throw new FramingError('too many header lines');
  return lines;
}

function referenceFields(lines: string[]): string[] {
  const headers: string[] = [];
  for (const line of lines.slice(1)) {
    let colon = 0;
    while (colon < line.length && TCHAR.test(line[colon]!)) colon++;
    if (colon === 0 || line[colon] !== ':') throw new FramingError('malformed header line');
    let start = colon + 1;
    let end = line.length;
    while (start < end && isOws(line.charCodeAt(start))) start++;
    while (end > start && isOws(line.charCodeAt(end - 1))) end--;
    for (let j = start; j < end; j++)
      if (!isFieldValueChar(line.charCodeAt(j))) throw new FramingError('control byte in a header value');
    const name = line.slice(0, colon).toLowerCase();
    if (line.slice(end).includes('\t') && (name === 'content-length' || name === 'transfer-encoding'))
      throw new FramingError('tab after a framing header value');
    headers.push(line.slice(0, colon), line.slice(start, end));
  }
  return headers;
}

function referenceRequestHead(text: string): RequestHead {
  const lines = referenceLines(text);
  const line = lines[0]!;
  const match = /^([^ ]*) ([^ ]*) (.*)$/s.exec(line);
  const [method, target, version] = match === null ? ['', '', ''] : [match[1]!, match[2]!, match[3]!];
  if (method === '' || ![...method].every((c) => TCHAR.test(c))) throw new FramingError('malformed request line');
  if (target === '' || ![...target].every((c) => c > ' ' && c < '\x7f'))
    throw new FramingError('malformed request line');
  if (version !== 'HTTP/1.1' && version !== 'HTTP/1.0') throw new FramingError('malformed request line');
  if (!isRequestTarget(target)) throw new FramingError('malformed request target');
  if (method === 'CONNECT') throw new FramingError('CONNECT inside an intercepted tunnel');
  const headers = referenceFields(lines);
  let contentLength: number | undefined;
  let transferEncoding: string | undefined;
  let connection = '';
  let upgradeHeader = false;
  let hasHost = false;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!.toLowerCase();
    const value = headers[i + 1]!;
    if (name === 'host') {
      if (hasHost) throw new FramingError('duplicate Host header');
      hasHost = true;
    } else if (name === 'upgrade') upgradeHeader = true;
    else if (name === 'connection') connection += `,${value.toLowerCase()}`;
    else if (name === 'content-length') contentLength = mergeContentLength(contentLength, value);
    else if (name === 'transfer-encoding') {
      if (transferEncoding !== undefined) throw new FramingError('more than one Transfer-Encoding header');
      transferEncoding = value;
    }
  }
  let framing: BodyFraming = { kind: 'none' };
  if (transferEncoding !== undefined) {
    if (contentLength !== undefined) throw new FramingError('both Content-Length and Transfer-Encoding');
    if (version !== 'HTTP/1.1') throw new FramingError('Transfer-Encoding in an HTTP/1.0 request');
    if (transferEncoding.toLowerCase() !== 'chunked') throw new FramingError('Transfer-Encoding other than chunked');
    framing = { kind: 'chunked' };
  } else if (contentLength !== undefined && contentLength > 0) {
    framing = { kind: 'length', length: contentLength };
  }
  const upgrade = upgradeHeader && /(^|,)[ \t]*upgrade[ \t]*(,|$)/.test(connection);
  return { method, target, version, headers, framing, upgrade, hasHost };
}

function referenceResponseHead(text: string, method: string | undefined): ResponseHead {
  const lines = referenceLines(text);
  const line = lines[0]!;
  if (!/^HTTP\/1\.[01] /.test(line)) throw new FramingError('malformed status line');
  if (!/^\d{3}$/.test(line.slice(9, 12))) throw new FramingError('malformed status line');
  const status = Number(line.slice(9, 12));
  if (status < 100 || status > 599) throw new FramingError('status code out of range');
  if (line.length > 12) {
    if (line[12] !== ' ') throw new FramingError('malformed status line');
    for (let i = 13; i < line.length; i++)
      if (!isFieldValueChar(line.charCodeAt(i))) throw new FramingError('malformed reason phrase');
  }
  const headers = referenceFields(lines);
  const noBody = status < 200 || status === 204 || status === 304 || method === 'HEAD';
  let keepAlive = line[7] === '1';
  let contentLength: number | undefined;
  let transferEncoding: string | undefined;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!.toLowerCase();
    const value = headers[i + 1]!;
    if (name === 'content-length' && !noBody) contentLength = mergeContentLength(contentLength, value);
    else if (name === 'transfer-encoding' && !noBody)
      transferEncoding = transferEncoding === undefined ? value : `${transferEncoding},${value}`;
    else if (name === 'connection') {
      const tokens = value
        .toLowerCase()
        .split(',')
        .map((t) => t.trim());
      if (tokens.includes('close')) keepAlive = false;
      else if (tokens.includes('keep-alive')) keepAlive = true;
    }
  }
  if (noBody) return { status, framing: { kind: 'none' }, keepAlive };
  if (transferEncoding !== undefined) {
    const chunked = isChunkedLast(transferEncoding);
    return { status, framing: chunked ? { kind: 'chunked' } : { kind: 'close' }, keepAlive: keepAlive && chunked };
  }
  if (contentLength !== undefined)
    return {
      status,
      framing: contentLength === 0 ? { kind: 'none' } : { kind: 'length', length: contentLength },
      keepAlive,
    };
  return { status, framing: { kind: 'close' }, keepAlive: false };
}

type Outcome<T> = { ok: T } | { refused: string };

function outcome<T>(parse: () => T): Outcome<T> {
  try {
    return { ok: parse() };
  } catch (err) {
    if (!(err instanceof FramingError)) throw err;
    return { refused: err.message };
  }
}

// Heads built from pieces that matter to the parsers (framing names in any case, OWS, tabs, NBSP, stray CR and LF,
// control bytes, commas), so that most runs reach the field logic and many are refused somewhere along the way.
const NAMES = [
  'Content-Length',
  'content-length',
  'CONTENT-LENGTH',
  'Transfer-Encoding',
  'transfer-encoding',
  'Connection',
  'connection',
  'Host',
  'host',
  'Upgrade',
  'Keep-Alive',
  'X-Test',
  'Content-Lengt^',
  'Transfer~Encoding',
  'Connectio~',
  'Hos~',
  'a',
  '',
  'Bad Name',
  'X\x7fY',
];
const VALUES = [
  '0',
  '10',
  '10, 10',
  '10,11',
  ' 5 ',
  '\t5\t',
  '5\t',
  '+5',
  '0x10',
  '',
  'chunked',
  'CHUNKED',
  'gzip, chunked',
  'chunked, gzip',
  'gzip',
  ',',
  'close',
  'Close',
  'keep-alive',
  'Keep-Alive, close',
  'keep-alive\xa0',
  '\xa0close',
  'upgrade',
  'Upgrade, keep-alive',
  'websocket',
  'api.example.test',
  'v\xe9',
  'a\rb',
  'a\nb',
  'a\x00b',
  'a\x7fb',
  ' \t ',
];
/** Mostly a line joined from one choice per position, now and then `other` (anything at all). */
const lineOf = (positions: string[][], other: fc.Arbitrary<string>): fc.Arbitrary<string> =>
  fc.oneof(
    {
      weight: 6,
      arbitrary: fc.tuple(...positions.map((choices) => fc.constantFrom(...choices))).map((p) => p.join('')),
    },
    { weight: 1, arbitrary: other },
  );
const fieldLine = lineOf(
  [NAMES, [':', ': ', ':\t', ' :', ''], VALUES, ['', ' ', '\t', ' \t']],
  fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)), maxLength: 12 }),
);
const requestLine = lineOf(
  [
    ['GET', 'POST', 'CONNECT', 'G\tT', ''],
    [' ', '  ', '\t'],
    ['/v1/models', '*', 'https://api.example.test/x', 'http://a/b', '/a b', '', 'mailto:x'],
    [' ', '  '],
    ['HTTP/1.1', 'HTTP/1.0', 'HTTP/2', 'http/1.1', 'HTTP/1.1 '],
  ],
  fc.string({ maxLength: 20 }),
);
const statusLine = lineOf(
  [
    ['HTTP/1.1', 'HTTP/1.0', 'HTTP/1.2', 'HTTP/2.0', 'HTTP/1.'],
    [' ', '  ', ''],
    ['200', '204', '304', '101', '100', '099', '600', '20', '2x0', '401'],
    ['', ' OK', ' ', 'OK', ' Ok\te\xe9', ' a\rb', '\tOK'],
  ],
  fc.string({ maxLength: 16 }),
);
const head = (first: fc.Arbitrary<string>) =>
  fc.tuple(first, fc.array(fieldLine, { maxLength: 8 })).map(([line, fields]) => [line, ...fields].join('\r\n'));

describe('the in-place head parsers read every head as the line-by-line reference does', () => {
  it('request heads: the same head or the same refusal', () => {
    fc.assert(
      fc.property(head(requestLine), (text) => {
        expect(
          outcome(() => parseRequestHead(text)),
          JSON.stringify(text),
        ).toEqual(outcome(() => referenceRequestHead(text)));
      }),
      { numRuns: 3000 },
    );
  });

  it('response heads: the same status, framing and keep-alive, or the same refusal, for any request method', () => {
    fc.assert(
      fc.property(head(statusLine), fc.constantFrom('GET', 'HEAD', 'POST', undefined), (text, method) => {
        expect(
          outcome(() => parseResponseHead(text, method)),
          JSON.stringify(text),
        ).toEqual(outcome(() => referenceResponseHead(text, method)));
      }),
      { numRuns: 3000 },
    );
  });

  it('every Connection value, with every framing field and status, keeps or drops the connection alike', () => {
    let compared = 0;
    for (const status of ['HTTP/1.1 200 OK', 'HTTP/1.0 200 OK', 'HTTP/1.1 204 No Content', 'HTTP/1.0 304 Not Modified'])
      for (const framing of ['Content-Length: 10', 'Transfer-Encoding: chunked', 'Content-Length: 0', 'X-None: 1'])
        for (const name of ['Connection', 'CONNECTION'])
          for (const value of VALUES)
            for (const method of ['GET', 'HEAD']) {
              const text = `${status}\r\n${framing}\r\n${name}: ${value}`;
              const expected = outcome(() => referenceResponseHead(text, method));
              expect(
                outcome(() => parseResponseHead(text, method)),
                JSON.stringify(text),
              ).toEqual(expected);
              if ('ok' in expected) compared++;
            }
    // Most of them are heads the parser accepts: the comparison is about keep-alive, not refusals.
    expect(compared).toBeGreaterThan(700);
  });

  it('the line limit is checked first and counted exactly, with short lines and with empty ones', () => {
    for (const count of [MAX_HEADERS - 1, MAX_HEADERS, MAX_HEADERS + 1]) {
      for (const line of ['a:', 'X-Field: value', '', 'bad line']) {
        const fields = Array.from({ length: count }, () => line);
        const request = ['GET / HTTP/1.1', ...fields].join('\r\n');
        const response = ['HTTP/1.1 200 OK', ...fields].join('\r\n');
        expect(outcome(() => parseRequestHead(request))).toEqual(outcome(() => referenceRequestHead(request)));
        expect(outcome(() => parseResponseHead(response, 'GET'))).toEqual(
          outcome(() => referenceResponseHead(response, 'GET')),
        );
      }
    }
    expect(() =>
      parseResponseHead(['HTTP/1.1 200 OK', ...Array(MAX_HEADERS + 1).fill('a:')].join('\r\n'), 'GET'),
    ).toThrow('too many header lines');
  });
});
