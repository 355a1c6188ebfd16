// Decoding a compressed answer for the scrubber: however the compressed bytes are split, the agent gets the same
// identity body, chunked, with the secret masked; a body that cannot be decoded is reported before anything is sent;
// a zip bomb is inflated only as fast as the agent reads.
import { Writable } from 'node:stream';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildDecodedHead,
  createDecodedAnswer,
  isDecodable,
  readBodyCodings,
  type DecodedFraming,
} from '../../../src/proxy/response-decoding.js';
import { buildScrubNeedles } from '../../../src/proxy/secret-scrubber.js';
import { dechunk, splitAt } from '../../helpers/bytes.js';

const SECRET = 'sk-proj-REALKEY_0123456789abcdef';
const HEAD = Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');

/** A sink that keeps what it is given; with `hold`, it takes nothing more after the first write (an agent that
 * stopped reading) until `release`. */
function createSink(hold = false) {
  const pieces: Buffer[] = [];
  let waiting: (() => void) | undefined;
  const sink = new Writable({
    highWaterMark: 16 * 1024,
    write(chunk: Buffer, _encoding, callback) {
      pieces.push(chunk);
      if (hold) waiting = () => callback();
      else callback();
    },
  });
  return { sink, release: () => waiting?.(), received: () => Buffer.concat(pieces) };
}

interface Outcome {
  received: Buffer;
  failed?: boolean;
  started?: boolean;
  scrubbed: number;
}

/** Feeds `compressed` in the pieces given, and waits for the answer's end (or failure). */
function decode(
  codings: readonly string[],
  pieces: Buffer[],
  framing: DecodedFraming = 'chunked',
  secret = SECRET,
): Promise<Outcome> {
  const { sink, received } = createSink();
  let scrubbed = 0;
  return new Promise((resolve) => {
    const answer = createDecodedAnswer({
      codings,
      needles: buildScrubNeedles(secret),
      framing,
      head: HEAD,
      sink,
      onReady: () => undefined,
      onScrubbed: () => scrubbed++,
      onEnd: () => resolve({ received: received(), scrubbed }),
      onFail: (started) => resolve({ received: received(), failed: true, started, scrubbed }),
    });
    for (const piece of pieces) answer.write(piece);
    answer.end();
  });
}

const COMPRESSORS: Record<string, (data: Buffer) => Buffer> = {
  gzip: (data) => zlib.gzipSync(data),
  deflate: (data) => zlib.deflateSync(data),
  br: (data) => zlib.brotliCompressSync(data),
};

describe('readBodyCodings / isDecodable', () => {
  it('finds the same codings with its quick check as by reading every field, whatever the head holds', () => {
    // Every field read, as the function did before it skipped heads that name no coding.
    const readAll = (text: string): string[] =>
      text
        .split('\r\n')
        .slice(1)
        .filter((line) => /^(content|transfer)-encoding$/i.test(line.slice(0, line.indexOf(':'))))
        .flatMap((line) => line.slice(line.indexOf(':') + 1).split(','))
        .map((token) => token.trim().toLowerCase())
        .filter((c) => c !== '' && c !== 'identity' && c !== 'chunked');
    const field = fc.constantFrom(
      'Content-Encoding: gzip',
      'content-encoding:br',
      'CONTENT-ENCODING: gzip, br',
      'Transfer-Encoding: chunked',
      'transfer-encoding: gzip, chunked',
      'X-Note: the encoding is fine',
      'X-Content-Encoding: zstd',
      'Content-Type: application/json',
      'Content-Length: 12',
    );
    fc.assert(
      fc.property(fc.array(field, { maxLength: 6 }), (fields) => {
        const text = ['HTTP/1.1 200 OK', ...fields].join('\r\n');
        expect(readBodyCodings(text)).toEqual(readAll(text));
      }),
      { numRuns: 300 },
    );
  });

  it('lists Content-Encoding, then transfer codings but chunked, in the order applied; identity is none', () => {
    expect(readBodyCodings('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3')).toEqual([]);
    expect(readBodyCodings('HTTP/1.1 200 OK\r\ncontent-encoding: identity')).toEqual([]);
    expect(readBodyCodings('HTTP/1.1 200 OK\r\nContent-Encoding: GZIP, br\r\nContent-Encoding: deflate')).toEqual([
      'gzip',
      'br',
      'deflate',
    ]);
    expect(readBodyCodings('HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nTransfer-Encoding: gzip, chunked')).toEqual([
      'br',
      'gzip',
    ]);
    expect(isDecodable(['gzip', 'x-gzip', 'deflate', 'br'])).toBe(true);
    for (const coding of ['zstd', 'compress', 'toString', '__proto__'])
      expect(isDecodable(['gzip', coding]), coding).toBe(false);
  });
});

describe('buildDecodedHead', () => {
  const text = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Encoding: gzip\r\nContent-Length: 42\r\nX-A: 1';
  it('drops the codings and the length, and says chunked', () => {
    expect(buildDecodedHead(text, 'chunked')).toBe(
      'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-A: 1\r\nTransfer-Encoding: chunked\r\n\r\n',
    );
  });
  it('for an answer ended by closing: no keep-alive, Connection: close', () => {
    expect(buildDecodedHead('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Encoding: br', 'close')).toBe(
      'HTTP/1.0 200 OK\r\nConnection: close\r\n\r\n',
    );
  });
});

describe('createDecodedAnswer', () => {
  it('any split of a gzip, deflate, br or listed stream decodes to the same bytes, secret masked', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(['gzip'], ['deflate'], ['br'], ['gzip', 'br'], ['br', 'deflate', 'gzip']),
        fc.uint8Array({ maxLength: 400 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        async (codings, noise, cuts) => {
          const plain = Buffer.concat([Buffer.from(noise), Buffer.from(`key=${SECRET};`), Buffer.from(noise)]);
          const compressed = codings.reduce<Buffer>((data, coding) => COMPRESSORS[coding]!(data), plain);
          const { received, failed, scrubbed } = await decode(codings, splitAt(compressed, cuts));
          expect(failed).toBeUndefined();
          expect(received.subarray(0, HEAD.length).equals(HEAD)).toBe(true);
          const body = dechunk(received.subarray(HEAD.length));
          expect(body.length).toBe(plain.length);
          expect(body.includes(SECRET)).toBe(false);
          expect(scrubbed).toBeGreaterThan(0);
          // Everything but the secret is the plain text, byte for byte.
          const at = plain.indexOf(`key=${SECRET}`);
          expect(body.subarray(0, at + 4).equals(plain.subarray(0, at + 4))).toBe(true);
          expect(body.subarray(at + 4 + SECRET.length).equals(plain.subarray(at + 4 + SECRET.length))).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('closing framing relays the identity bytes as they are, with no chunk lines', async () => {
    const { received } = await decode(['gzip'], [zlib.gzipSync('hello')], 'close');
    expect(received.toString('latin1')).toBe(`${HEAD.toString('latin1')}hello`);
  });

  it('an empty compressed body gives the head and an empty chunked body', async () => {
    const { received } = await decode(['gzip'], [zlib.gzipSync('')]);
    expect(received.toString('latin1')).toBe(`${HEAD.toString('latin1')}0\r\n\r\n`);
  });

  it('a corrupt or truncated stream fails before anything is sent: the caller can still answer an error', async () => {
    const corrupt = Buffer.concat([zlib.gzipSync('').subarray(0, 10), Buffer.from([0xff]), Buffer.from(SECRET)]);
    const headerOnly = zlib.gzipSync(`x ${SECRET}`).subarray(0, 10);
    for (const pieces of [[corrupt], [headerOnly], [Buffer.from(SECRET)]]) {
      const outcome = await decode(['gzip'], pieces);
      expect(outcome).toMatchObject({ failed: true, started: false });
      expect(outcome.received.length).toBe(0);
    }
  });

  it('a stream cut after some output fails as started (the caller hangs up); the secret never shows', async () => {
    const whole = zlib.gzipSync(`some text first, then ${SECRET} and more`);
    const outcome = await decode(['gzip'], [whole.subarray(0, whole.length - 12)]);
    expect(outcome).toMatchObject({ failed: true, started: true });
    expect(outcome.received.includes(SECRET)).toBe(false);
  });

  it('a zip bomb is inflated only as fast as the agent reads: nothing piles up while it reads nothing', async () => {
    const total = 16 * 1024 * 1024;
    const bomb = zlib.gzipSync(Buffer.alloc(total, 0x61));
    const { sink, release } = createSink(true);
    let ended = false;
    const answer = createDecodedAnswer({
      codings: ['gzip'],
      needles: buildScrubNeedles(SECRET),
      framing: 'close',
      head: HEAD,
      sink,
      onReady: () => undefined,
      onScrubbed: () => undefined,
      onEnd: () => {
        ended = true;
      },
      onFail: () => undefined,
    });
    answer.write(bomb);
    answer.end();
    // The clock is the same inflation without a reader in the way: once it is done, an answer that ignored the
    // agent's backpressure would have queued megabytes for it.
    await new Promise<void>((resolve, reject) =>
      zlib.gunzip(bomb, (err, out) => (err ? reject(err) : out.length === total ? resolve() : reject())),
    );
    expect(ended).toBe(false);
    expect(sink.writableLength).toBeLessThan(256 * 1024);
    answer.destroy();
    release();
  });
});
