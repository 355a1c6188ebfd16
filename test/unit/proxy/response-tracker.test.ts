// The response side of an intercepted connection on its own: where each response ends, whichever way the bytes are
// split, which request it answers, and when the connection is between messages.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FramingError } from '../../../src/proxy/http1-framing.js';
import {
  createResponseTracker,
  MAX_RESPONSE_HEAD_BYTES,
  type PendingRequest,
} from '../../../src/proxy/response-tracker.js';

/** Feeds `chunks` for the requests given; returns what the tracker reported and its state after each chunk. */
function track(requests: PendingRequest[], chunks: Buffer[]) {
  const pending = [...requests];
  const events: string[] = [];
  const idleAfter: boolean[] = [];
  const tracker = createResponseTracker({
    peekRequest: () => pending[0],
    onResponse: (head) => {
      const request = pending.shift();
      events.push(`${request?.method ?? 'unsolicited'} ${head.status}${head.keepAlive ? '' : ' close'}`);
    },
    onResponseEnd: () => events.push('end'),
  });
  for (const chunk of chunks) {
    tracker.scan(chunk);
    idleAfter.push(tracker.idle);
  }
  return { events, idleAfter, tracker };
}

const PIPELINE =
  'HTTP/1.1 100 Continue\r\n\r\n' +
  'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello' +
  'HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n' + // a HEAD answer: the length is not followed by a body
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nabcde\r\n0\r\nTrailer: 1\r\n\r\n' +
  'HTTP/1.1 204 No Content\r\n\r\n' +
  'HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n' +
  'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok';
const PIPELINE_REQUESTS: PendingRequest[] = ['POST', 'HEAD', 'GET', 'GET', 'GET', 'GET'].map((method) => ({
  method,
  upgrade: false,
}));
const PIPELINE_EVENTS = [
  'POST 200',
  'end',
  'HEAD 200',
  'end',
  'GET 200',
  'end',
  'GET 204',
  'end',
  'GET 304',
  'end',
  'GET 200 close',
  'end',
];

describe('createResponseTracker', () => {
  it('finds every response end in a pipeline: interim, length, HEAD, chunked with trailers, 204, 304, close', () => {
    const { events, idleAfter } = track(PIPELINE_REQUESTS, [Buffer.from(PIPELINE, 'latin1')]);
    expect(events).toEqual(PIPELINE_EVENTS);
    expect(idleAfter).toEqual([true]);
  });

  it('reports the same boundaries however the bytes are split', () => {
    const bytes = Buffer.from(PIPELINE, 'latin1');
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 40 }), (cuts) => {
        const points = [0, ...cuts.sort((a, b) => a - b), bytes.length];
        const chunks = points.slice(1).map((end, i) => bytes.subarray(points[i], end));
        expect(track(PIPELINE_REQUESTS, chunks).events).toEqual(PIPELINE_EVENTS);
      }),
      { numRuns: 200 },
    );
  });

  it('stops after each response when asked; the rest read later frames the same; heads come with text', () => {
    const pending = [...PIPELINE_REQUESTS];
    const events: string[] = [];
    const texts: string[] = [];
    const tracker = createResponseTracker({
      peekRequest: () => pending[0],
      onResponse: (head, text) => {
        const request = pending.shift();
        texts.push(text.split('\r\n')[0]!);
        events.push(`${request?.method ?? 'unsolicited'} ${head.status}${head.keepAlive ? '' : ' close'}`);
      },
      onResponseEnd: () => events.push('end'),
      stopAfterResponse: () => true,
    });
    let rest = Buffer.from(PIPELINE, 'latin1');
    const reads: number[] = [];
    while (rest.length > 0) {
      const n = tracker.scan(rest);
      expect(n).toBeGreaterThan(0);
      reads.push(n);
      rest = rest.subarray(n);
    }
    expect(events).toEqual(PIPELINE_EVENTS);
    expect(reads).toHaveLength(6);
    expect(texts[0]).toBe('HTTP/1.1 200 OK');
    expect(texts.at(-1)).toBe('HTTP/1.1 200 OK');
    expect(texts[3]).toBe('HTTP/1.1 204 No Content');
  });

  it('is between messages only at a boundary, never inside a head or a body', () => {
    const { idleAfter } = track(
      [{ method: 'GET', upgrade: false }],
      ['HTTP/1.1 200 OK\r\nContent-', 'Length: 4\r\n\r\n', 'ab', 'cd'].map((s) => Buffer.from(s)),
    );
    expect(idleAfter).toEqual([false, false, false, true]);
  });

  it('becomes a tunnel after a 101 to an upgrade request and reads nothing after it', () => {
    const { events, tracker } = track(
      [{ method: 'GET', upgrade: true }],
      [
        Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello'),
        Buffer.from('not http at all'),
      ],
    );
    expect(events).toEqual(['GET 101']);
    expect(tracker.mode).toBe('tunnel');
    expect(tracker.idle).toBe(false);
  });

  it('follows a close-delimited body to the end of the connection', () => {
    const { events, tracker } = track(
      [{ method: 'GET', upgrade: false }],
      [Buffer.from('HTTP/1.0 200 OK\r\n\r\nall of'), Buffer.from(' this')],
    );
    expect(events).toEqual(['GET 200 close']);
    expect(tracker.mode).toBe('body');
    expect(tracker.closeDelimited).toBe(true);
  });

  it('reports a response nobody asked for, so its connection is never reused', () => {
    const { events } = track([], [Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')]);
    expect(events).toEqual(['unsolicited 200', 'end']);
  });

  it('throws on a malformed head or one past the limit', () => {
    expect(() =>
      track([{ method: 'GET', upgrade: false }], [Buffer.from('HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n')]),
    ).toThrow(FramingError);
    const endless = Buffer.from(`HTTP/1.1 200 OK\r\nX: ${'a'.repeat(MAX_RESPONSE_HEAD_BYTES)}`);
    expect(() =>
      track([{ method: 'GET', upgrade: false }], [endless.subarray(0, 1000), endless.subarray(1000)]),
    ).toThrow(/too large/);
  });
});
