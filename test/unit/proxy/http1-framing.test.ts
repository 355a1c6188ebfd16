// HTTP/1.1 framing for the intercepting proxy: heads parsed strictly, body ends found for every framing.
import { describe, expect, it } from 'vitest';
import {
  createBodyTracker,
  FramingError,
  locateRequestHead,
  MAX_HEAD_BYTES,
  parseRequestHead,
  parseResponseHead,
} from '../../../src/proxy/http1-framing.js';

/** Feeds `body` in pieces of `step` bytes; returns how many bytes the tracker claimed and whether it finished. */
function feed(
  framing: Parameters<typeof createBodyTracker>[0],
  body: string,
  step = 1,
): { used: number; done: boolean } {
  const tracker = createBodyTracker(framing);
  const buf = Buffer.from(body, 'latin1');
  let used = 0;
  for (let i = 0; i < buf.length && !tracker.done; i += step) {
    const piece = buf.subarray(i, Math.min(buf.length, i + step));
    used += tracker.consume(piece, 0);
    if (used < i + piece.length && !tracker.done) throw new Error('tracker stopped early without finishing');
  }
  return { used, done: tracker.done };
}

describe('parseRequestHead', () => {
  it('parses method, target, version and headers in order and case', () => {
    const head = parseRequestHead(
      'POST /v1/chat?x=1 HTTP/1.1\r\nHost: api.openai.com\r\nAuthorization: Bearer p\r\nContent-Length: 12\r\nX-A:  b ',
    );
    expect(head).toMatchObject({
      method: 'POST',
      target: '/v1/chat?x=1',
      version: 'HTTP/1.1',
      hasHost: true,
      upgrade: false,
    });
    expect(head.headers).toEqual([
      'Host',
      'api.openai.com',
      'Authorization',
      'Bearer p',
      'Content-Length',
      '12',
      'X-A',
      'b',
    ]);
    expect(head.framing).toEqual({ kind: 'length', length: 12 });
  });

  it('knows bodiless, chunked and upgrade requests', () => {
    expect(parseRequestHead('GET / HTTP/1.1\r\nHost: h').framing).toEqual({ kind: 'none' });
    expect(parseRequestHead('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0').framing).toEqual({ kind: 'none' });
    expect(parseRequestHead('POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked').framing).toEqual({
      kind: 'chunked',
    });
    const ws = parseRequestHead('GET /ws HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket');
    expect(ws.upgrade).toBe(true);
    expect(parseRequestHead('GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket').upgrade).toBe(false);
    expect(parseRequestHead('GET http://x/ HTTP/1.0').hasHost).toBe(false);
  });

  it('refuses ambiguous framing (request smuggling) and malformed heads', () => {
    const bad = [
      'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked',
      'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip',
      'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6',
      'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1',
      'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1e3',
      'GET / HTTP/1.1\r\nHost: a\r\nHost: b',
      'GET / HTTP/1.1\r\nHost: h\r\n folded: value',
      'GET / HTTP/1.1\r\nHost : h',
      'GET / HTTP/1.1\r\nNoColon',
      'GET / HTTP/1.1\r\nX: a\nY: b',
      'GET /a b HTTP/1.1',
      'GET / HTTP/2.0',
      'GET',
    ];
    for (const text of bad) expect(() => parseRequestHead(text), JSON.stringify(text)).toThrow(FramingError);
    expect(parseRequestHead('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 7, 7').framing).toEqual({
      kind: 'length',
      length: 7,
    });
  });
});

/** Asserts each head is refused; the message names the case that slipped through. */
function expectRefused(parse: (text: string) => unknown, texts: string[]): void {
  for (const text of texts) expect(() => parse(text), JSON.stringify(text)).toThrow(FramingError);
}

describe('parseRequestHead is at least as strict as llhttp', () => {
  const requestHead = (text: string) => parseRequestHead(text);

  it('takes a request line of exactly method SP target SP version, the target visible ASCII only', () => {
    expect(parseRequestHead('GET /a/b?c=d&e="f"{}|^~ HTTP/1.0').target).toBe('/a/b?c=d&e="f"{}|^~');
    expect(parseRequestHead('OPTIONS * HTTP/1.1').target).toBe('*');
    expect(parseRequestHead('GET https://api.openai.com:443/v1?x HTTP/1.1').target).toBe(
      'https://api.openai.com:443/v1?x',
    );
    expectRefused(requestHead, [
      'POST /v1/echo\tHTTP/1.1', // the observed smuggling request line
      'GET /a\tb HTTP/1.1',
      'GET /a\x00b HTTP/1.1',
      'GET /a\x7fb HTTP/1.1',
      'GET /a\xe9 HTTP/1.1',
      'GET /a\rb HTTP/1.1',
      'GET /a\nb HTTP/1.1',
      'GET  / HTTP/1.1',
      'GET /  HTTP/1.1',
      'GET / HTTP/1.1 ',
      ' GET / HTTP/1.1',
      'GET\t/ HTTP/1.1',
      'GET / HTTP/1.2',
      'GET / http/1.1',
      'GET / HTTP/1.1x',
      'G(T / HTTP/1.1',
      'GET abc HTTP/1.1',
      'GET *x HTTP/1.1',
      'GET http:/x HTTP/1.1',
      'GET 1http://x/ HTTP/1.1',
      'GET http:// HTTP/1.1',
      'GET http://a"b/ HTTP/1.1',
      'CONNECT api.openai.com:443 HTTP/1.1',
    ]);
  });

  it('takes field lines of token ":" OWS value OWS, OWS being SP and HTAB only, and no control byte in a value', () => {
    const head = parseRequestHead('GET / HTTP/1.1\r\nX-A:\t v \t\r\nX-B:\r\nX-C: caf\xe9 "q" \t tab');
    expect(head.headers).toEqual(['X-A', 'v', 'X-B', '', 'X-C', 'caf\xe9 "q" \t tab']);
    expectRefused(requestHead, [
      'GET / HTTP/1.1\r\nX: a\x00b',
      'GET / HTTP/1.1\r\nX: a\x01',
      'GET / HTTP/1.1\r\nX: a\x1fb',
      'GET / HTTP/1.1\r\nX: a\x7fb',
      'GET / HTTP/1.1\r\nX: a\rb',
      'GET / HTTP/1.1\r\nX: a\r',
      'GET / HTTP/1.1\r\nX: a\n',
      'GET / HTTP/1.1\r\nX: \x0bchunked',
      'GET / HTTP/1.1\r\nX\t: a',
      'GET / HTTP/1.1\r\nX : a',
      'GET / HTTP/1.1\r\n: a',
      'GET / HTTP/1.1\r\nX(: a',
      'GET / HTTP/1.1\r\nX\xe9: a',
      'GET / HTTP/1.1\r\n\tfolded: a',
      'GET / HTTP/1.1\nHost: h',
      'GET / HTTP/1.1\rHost: h',
    ]);
  });

  it('frames a body by chunked alone on HTTP/1.1, and by Content-Length of plain digits', () => {
    expect(parseRequestHead('POST / HTTP/1.1\r\nTransfer-Encoding: Chunked').framing).toEqual({ kind: 'chunked' });
    expect(parseRequestHead('POST / HTTP/1.1\r\nTransfer-Encoding:\tchunked ').framing).toEqual({ kind: 'chunked' });
    expect(parseRequestHead('POST / HTTP/1.0\r\nContent-Length: 000000000000003').framing).toEqual({
      kind: 'length',
      length: 3,
    });
    expect(parseRequestHead('POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3,3').framing).toEqual({
      kind: 'length',
      length: 3,
    });
    const te = 'POST / HTTP/1.1\r\nTransfer-Encoding: ';
    const cl = 'POST / HTTP/1.1\r\nContent-Length: ';
    expectRefused(requestHead, [
      `${te}gzip, chunked`,
      `${te}chunked, chunked`,
      `${te}chunked,`,
      `${te}xchunked`,
      `${te}chunked\xa0`,
      `${te}\x0bchunked`,
      `${te}chunked;q=1`,
      `${te}`,
      `${te}chunked\r\nTransfer-Encoding: chunked`,
      `${te}chunked\t`,
      `${cl}5\t`,
      `${cl}5 \t `,
      'POST / HTTP/1.0\r\nTransfer-Encoding: chunked',
      `${cl}+5`,
      `${cl}5 5`,
      `${cl}0x5`,
      `${cl}5,`,
      `${cl}`,
      `${cl}1234567890123456`,
      `${cl}\x0b5`,
    ]);
  });
});

describe('parseResponseHead', () => {
  it('derives the body framing per RFC 9112 §6.3', () => {
    expect(parseResponseHead('HTTP/1.1 200 OK\r\nContent-Length: 10', 'GET')).toEqual({
      status: 200,
      framing: { kind: 'length', length: 10 },
      keepAlive: true,
    });
    expect(parseResponseHead('HTTP/1.1 200 OK\r\nContent-Length: 10', 'HEAD').framing).toEqual({ kind: 'none' });
    expect(parseResponseHead('HTTP/1.1 204 No Content', 'GET').framing).toEqual({ kind: 'none' });
    expect(parseResponseHead('HTTP/1.1 304 Not Modified\r\nContent-Length: 9', 'GET').framing).toEqual({
      kind: 'none',
    });
    expect(parseResponseHead('HTTP/1.1 100 Continue', 'POST')).toEqual({
      status: 100,
      framing: { kind: 'none' },
      keepAlive: true,
    });
    expect(
      parseResponseHead('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3', 'GET').framing,
    ).toEqual({ kind: 'chunked' });
    expect(parseResponseHead('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip', 'GET').framing).toEqual({ kind: 'close' });
    expect(parseResponseHead('HTTP/1.0 200 OK', 'GET').framing).toEqual({ kind: 'close' });
    expect(parseResponseHead('HTTP/1.1 200', 'GET').status).toBe(200);
    expect(() => parseResponseHead('HTTX/1.1 200 OK', 'GET')).toThrow(FramingError);
  });
});

describe('locateRequestHead', () => {
  const at = (text: string, offset = 0) => locateRequestHead(Buffer.from(text, 'latin1'), offset);

  it('skips empty lines before a head and finds its end', () => {
    expect(at('\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\nrest')).toEqual({ start: 4, end: 27 });
    expect(at('xxGET / HTTP/1.1\r\n\r\n', 2)).toEqual({ start: 2, end: 16 });
    expect(at('GET / HTTP/1.1\r\nHost: a\r\n')).toBe('incomplete');
  });

  it('refuses a head over 64 KiB whether it arrived whole or is still arriving', () => {
    const big = `GET / HTTP/1.1\r\nX: ${'a'.repeat(MAX_HEAD_BYTES)}`;
    expect(at(`${big}\r\n\r\n`)).toBe('too-large');
    expect(at(big)).toBe('too-large');
  });
});

describe('parseResponseHead keepAlive', () => {
  it('tells whether the upstream keeps the connection after this response', () => {
    expect(parseResponseHead('HTTP/1.1 200 OK\r\nContent-Length: 0', 'GET').keepAlive).toBe(true);
    expect(
      parseResponseHead('HTTP/1.1 200 OK\r\nConnection: Keep-Alive, close\r\nContent-Length: 0', 'GET').keepAlive,
    ).toBe(false);
    expect(parseResponseHead('HTTP/1.1 204 No Content\r\nConnection: close', 'GET').keepAlive).toBe(false);
    expect(parseResponseHead('HTTP/1.0 200 OK\r\nContent-Length: 0', 'GET').keepAlive).toBe(false);
    expect(parseResponseHead('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0', 'GET').keepAlive).toBe(
      true,
    );
    // A body that ends at close, or an unknown final coding, leaves nothing to reuse.
    expect(parseResponseHead('HTTP/1.1 200 OK', 'GET').keepAlive).toBe(false);
    expect(parseResponseHead('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip', 'GET').keepAlive).toBe(false);
  });
});

describe('parseResponseHead is as strict as parseRequestHead (the upstream may be hostile too)', () => {
  const responseHead = (text: string) => parseResponseHead(text, 'GET');

  it('takes HTTP/1.x, a status from 100 to 599 and a printable reason', () => {
    expect(parseResponseHead('HTTP/1.0 599 Odd \t reason\xe9', 'GET').status).toBe(599);
    expect(parseResponseHead('HTTP/1.1 200 ', 'GET').status).toBe(200);
    expectRefused(responseHead, [
      'HTTP/1.1 099 Low',
      'HTTP/1.1 600 High',
      'HTTP/1.1 20 OK',
      'HTTP/1.1 2000 OK',
      'HTTP/1.1 +20 OK',
      'HTTP/1.1  200 OK',
      'HTTP/1.1\t200 OK',
      'HTTP/1.2 200 OK',
      'HTTP/1.1 200\tOK',
      'HTTP/1.1 200 O\x00K',
      'HTTP/1.1 200 OK\nContent-Length: 0',
      'HTTP/1.1 200 OK\r\nContent-Length: 1\x00',
      'HTTP/1.1 200 OK\r\nContent-Length : 1',
      'HTTP/1.1 200 OK\r\n folded: 1',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\x0b',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: ,',
    ]);
  });
});

describe('body trackers', () => {
  it('counts a Content-Length body exactly, however it is split', () => {
    expect(feed({ kind: 'length', length: 5 }, 'helloNEXT', 1)).toEqual({ used: 5, done: true });
    expect(feed({ kind: 'length', length: 5 }, 'helloNEXT', 9)).toEqual({ used: 5, done: true });
  });

  it('finds the end of a chunked body, with extensions and trailers, split at every byte', () => {
    const body = '5;ext=1\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Trailer: 1\r\n\r\n';
    for (const step of [1, 2, 3, 7, body.length + 10]) {
      expect(feed({ kind: 'chunked' }, `${body}GET / HTTP/1.1`, step)).toEqual({ used: body.length, done: true });
    }
    expect(feed({ kind: 'chunked' }, '0\r\n\r\nrest', 1)).toEqual({ used: 5, done: true });
  });

  it('refuses malformed chunked bodies', () => {
    for (const body of ['x\r\n', '5\r\nhelloX\r\n', '5\nhello\r\n', '0\r\n\n', '11111111111111111\r\n']) {
      expect(() => feed({ kind: 'chunked' }, body, 1), JSON.stringify(body)).toThrow(FramingError);
    }
  });

  it('takes chunk extensions of RFC 9112 grammar, trailers as field lines, and sizes of up to 13 hex digits', () => {
    for (const body of [
      '2;a\r\nhi\r\n0\r\n\r\n',
      '2;a=b;c="x y\\"\t\xe9";d\r\nhi\r\n0;z=1\r\n\r\n',
      '000000000002\r\nhi\r\n0\r\n\r\n',
      '2\r\nhi\r\n0\r\nX-T:\tv \r\nY:\r\n\r\n',
    ]) {
      expect(feed({ kind: 'chunked' }, `${body}NEXT`, 1), JSON.stringify(body)).toEqual({
        used: body.length,
        done: true,
      });
    }
  });

  it('refuses every bare CR or LF, control byte or stray whitespace in sizes, extensions and trailers', () => {
    for (const body of [
      '2\nhi\r\n0\r\n\r\n',
      '2\r\rhi\r\n0\r\n\r\n',
      '2\r\nhi\n0\r\n\r\n',
      '2\r\nhi\r\r\n0\r\n\r\n',
      '2 \r\nhi\r\n0\r\n\r\n',
      '2\t;a\r\nhi\r\n0\r\n\r\n',
      '2; a\r\nhi\r\n0\r\n\r\n',
      '2;a =b\r\nhi\r\n0\r\n\r\n',
      '2;a= b\r\nhi\r\n0\r\n\r\n',
      '2;\r\nhi\r\n0\r\n\r\n',
      '2;=b\r\nhi\r\n0\r\n\r\n',
      '2;a=\r\nhi\r\n0\r\n\r\n',
      '2;a\nhi\r\n0\r\n\r\n',
      '2;a\x00\r\nhi\r\n0\r\n\r\n',
      '2;a="b\x00"\r\nhi\r\n0\r\n\r\n',
      '2;a="b\r\n"\r\nhi\r\n0\r\n\r\n',
      '2;a="b"c\r\nhi\r\n0\r\n\r\n',
      '2;a=b"c"\r\nhi\r\n0\r\n\r\n',
      '0\r\nX: y\n\r\n',
      '0\r\nX: y\r\r\n\r\n',
      '0\r\nX: a\x00b\r\n\r\n',
      '0\r\nX: a\x7f\r\n\r\n',
      '0\r\nX y\r\n\r\n',
      '0\r\n: y\r\n\r\n',
      '0\r\n folded\r\n\r\n',
      '0\r\nContent-Length: 3\r\n\r\n',
      '0\r\ntransfer-encoding: chunked\r\n\r\n',
      '0\r\n\r\r',
      '00000000000002\r\nhi\r\n0\r\n\r\n',
      '-2\r\nhi\r\n0\r\n\r\n',
      '0x2\r\nhi\r\n0\r\n\r\n',
    ]) {
      expect(() => feed({ kind: 'chunked' }, body, 1), JSON.stringify(body)).toThrow(FramingError);
    }
  });

  it('never ends a close-delimited body, and a bodiless one is done at once', () => {
    const close = createBodyTracker({ kind: 'close' });
    expect(close.consume(Buffer.from('abc'), 1)).toBe(2);
    expect(close.done).toBe(false);
    expect(createBodyTracker({ kind: 'none' }).done).toBe(true);
  });
});
