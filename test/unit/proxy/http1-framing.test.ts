// HTTP/1.1 framing for the intercepting proxy: heads parsed strictly, body ends found for every framing.
import { describe, expect, it } from 'vitest';
import { createBodyTracker, FramingError, parseRequestHead, parseResponseHead } from '../../../src/proxy/http1-framing.js';

/** Feeds `body` in pieces of `step` bytes; returns how many bytes the tracker claimed and whether it finished. */
function feed(framing: Parameters<typeof createBodyTracker>[0], body: string, step = 1): { used: number; done: boolean } {
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
    const head = parseRequestHead('POST /v1/chat?x=1 HTTP/1.1\r\nHost: api.openai.com\r\nAuthorization: Bearer p\r\nContent-Length: 12\r\nX-A:  b ');
    expect(head).toMatchObject({ method: 'POST', target: '/v1/chat?x=1', version: 'HTTP/1.1', hasHost: true, upgrade: false });
    expect(head.headers).toEqual(['Host', 'api.openai.com', 'Authorization', 'Bearer p', 'Content-Length', '12', 'X-A', 'b']);
    expect(head.framing).toEqual({ kind: 'length', length: 12 });
  });

  it('knows bodiless, chunked and upgrade requests', () => {
    expect(parseRequestHead('GET / HTTP/1.1\r\nHost: h').framing).toEqual({ kind: 'none' });
    expect(parseRequestHead('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0').framing).toEqual({ kind: 'none' });
    expect(parseRequestHead('POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked').framing).toEqual({ kind: 'chunked' });
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
    expect(parseRequestHead('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 7, 7').framing).toEqual({ kind: 'length', length: 7 });
  });
});

describe('parseResponseHead', () => {
  it('derives the body framing per RFC 9112 §6.3', () => {
    expect(parseResponseHead('HTTP/1.1 200 OK\r\nContent-Length: 10', 'GET')).toEqual({ status: 200, framing: { kind: 'length', length: 10 } });
    expect(parseResponseHead('HTTP/1.1 200 OK\r\nContent-Length: 10', 'HEAD').framing).toEqual({ kind: 'none' });
    expect(parseResponseHead('HTTP/1.1 204 No Content', 'GET').framing).toEqual({ kind: 'none' });
    expect(parseResponseHead('HTTP/1.1 304 Not Modified\r\nContent-Length: 9', 'GET').framing).toEqual({ kind: 'none' });
    expect(parseResponseHead('HTTP/1.1 100 Continue', 'POST')).toEqual({ status: 100, framing: { kind: 'none' } });
    expect(parseResponseHead('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3', 'GET').framing).toEqual({ kind: 'chunked' });
    expect(parseResponseHead('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip', 'GET').framing).toEqual({ kind: 'close' });
    expect(parseResponseHead('HTTP/1.0 200 OK', 'GET').framing).toEqual({ kind: 'close' });
    expect(parseResponseHead('HTTP/1.1 200', 'GET').status).toBe(200);
    expect(() => parseResponseHead('HTTX/1.1 200 OK', 'GET')).toThrow(FramingError);
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

  it('never ends a close-delimited body, and a bodiless one is done at once', () => {
    const close = createBodyTracker({ kind: 'close' });
    expect(close.consume(Buffer.from('abc'), 1)).toBe(2);
    expect(close.done).toBe(false);
    expect(createBodyTracker({ kind: 'none' }).done).toBe(true);
  });
});
