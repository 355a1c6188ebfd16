// Differential test of the proxy's HTTP/1 framing against llhttp (Node's own parser, strict mode): whatever the
// proxy accepts, llhttp accepts too and frames the same way. The proxy may be stricter, never more lenient.
import http from 'node:http';
import net from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createBodyTracker,
  FramingError,
  locateRequestHead,
  MAX_HEAD_BYTES,
  parseRequestHead,
  type BodyFraming,
} from '../../../src/proxy/http1-framing.js';
import { isCloseRequested } from '../../../src/proxy/upstream-head.js';

interface Message {
  method: string;
  url: string;
  /** [lower-case name, value, …]: node:http keeps the case, the comparison does not need it. */
  headers: string[];
  /** The payload, chunked coding removed, as latin1. */
  body: string;
}

interface ProxyView {
  messages: Message[];
  /**
   * How the bytes ended: after a whole message, inside one, at a refusal, at an upgrade (the proxy then holds), or
   * after a request that asked to close the connection (the proxy reads nothing after it).
   */
  end: 'clean' | 'incomplete' | 'refused' | 'upgrade' | 'close';
  /** Per message: it carried Content-Length more than once (identical values, which the proxy tolerates). */
  repeatedLength: boolean[];
}

interface LlhttpView {
  messages: Message[];
  /** llhttp's error code (HPE_…) when it refused the stream. */
  error?: string;
}

/** Frames a byte stream the way the intercepting engine does (drainInput in intercept.ts): heads, then bodies. */
function frameLikeProxy(bytes: Buffer): ProxyView {
  const view: ProxyView = { messages: [], end: 'clean', repeatedLength: [] };
  let offset = 0;
  while (offset < bytes.length) {
    // The same function intercept.ts calls to find a head: empty lines skipped, the 64 KiB limit applied.
    const located = locateRequestHead(bytes, offset);
    if (located === 'too-large') return { ...view, end: 'refused' };
    if (located === 'incomplete') return isOnlyEmptyLines(bytes, offset) ? view : { ...view, end: 'incomplete' };
    const { start, end } = located;
    let head;
    try {
      head = parseRequestHead(bytes.toString('latin1', start, end));
    } catch (err) {
      if (!(err instanceof FramingError)) throw err;
      return { ...view, end: 'refused' };
    }
    offset = end + 4;
    const tracker = createBodyTracker(head.framing);
    let used: number;
    try {
      used = tracker.consume(bytes, offset);
    } catch (err) {
      if (!(err instanceof FramingError)) throw err;
      return { ...view, end: 'refused' };
    }
    if (!tracker.done) return { ...view, end: 'incomplete' };
    const headers: string[] = [];
    for (let i = 0; i < head.headers.length; i += 2) headers.push(head.headers[i]!.toLowerCase(), head.headers[i + 1]!);
    const body = decodeBody(head.framing, bytes.subarray(offset, offset + used));
    offset += used;
    view.messages.push({ method: head.method, url: head.target, headers, body });
    const lengths = headers.filter((_, i) => i % 2 === 0 && headers[i] === 'content-length');
    view.repeatedLength.push(
      lengths.length > 1 ||
        headers.some((v, i) => i % 2 === 1 && headers[i - 1] === 'content-length' && v.includes(',')),
    );
    if (head.upgrade) return { ...view, end: 'upgrade' };
    if (isCloseRequested(head)) return { ...view, end: 'close' };
  }
  return view;
}

function isOnlyEmptyLines(bytes: Buffer, offset: number): boolean {
  for (let i = offset; i < bytes.length; i += 2) if (bytes[i] !== 0x0d || bytes[i + 1] !== 0x0a) return false;
  return true;
}

/** The payload of a body the proxy's tracker accepted (so the chunked syntax is already known to be valid). */
function decodeBody(framing: BodyFraming, raw: Buffer): string {
  if (framing.kind !== 'chunked') return raw.toString('latin1');
  let out = '';
  let i = 0;
  for (;;) {
    const lineEnd = raw.indexOf('\r\n', i);
    const size = Number.parseInt(raw.toString('latin1', i, lineEnd).split(';')[0]!, 16);
    if (size === 0) return out;
    out += raw.toString('latin1', lineEnd + 2, lineEnd + 2 + size);
    i = lineEnd + 2 + size + 2;
  }
}

/** One node:http server (llhttp, strict: no insecureHTTPParser) that records what it framed on each connection. */
function startLlhttpServer(): Promise<{ server: http.Server; frame(bytes: Buffer): Promise<LlhttpView> }> {
  // No Host requirement and a head limit above the proxy's: only llhttp's framing rules are under test.
  const server = http.createServer({ requireHostHeader: false, maxHeaderSize: 2 * MAX_HEAD_BYTES });
  const views = new Map<number, LlhttpView>();
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const view = views.get(req.socket.remotePort!)!;
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const headers: string[] = [];
      for (let i = 0; i < req.rawHeaders.length; i += 2)
        headers.push(req.rawHeaders[i]!.toLowerCase(), req.rawHeaders[i + 1]!);
      view.messages.push({
        method: req.method!,
        url: req.url!,
        headers,
        body: Buffer.concat(chunks).toString('latin1'),
      });
      res.end();
    });
  };
  server.on('request', onRequest);
  // node:http answers an Expect it does not know with 417 before llhttp's framing shows; take it as a request.
  server.on('checkExpectation', onRequest);
  server.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => {
    const view = views.get(socket.remotePort!);
    if (view !== undefined) view.error ??= err.code;
    socket.destroy();
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      resolve({
        server,
        frame: (bytes) =>
          new Promise((done, fail) => {
            const socket = net.connect(port, '127.0.0.1');
            const view: LlhttpView = { messages: [] };
            const timer = setTimeout(() => {
              socket.destroy();
              fail(new Error('node:http neither answered nor closed'));
            }, 10_000);
            socket.on('connect', () => {
              views.set(socket.localPort!, view);
              // Everything at once, then end of input: llhttp frames what it has and reports a message cut short.
              socket.end(bytes);
            });
            socket.on('data', () => undefined);
            socket.on('error', () => undefined);
            socket.on('close', () => {
              clearTimeout(timer);
              views.delete(socket.localPort!);
              done(view);
            });
          }),
      });
    });
  });
}

/**
 * Where llhttp may stop before the proxy does without either framing a byte differently: it knows only a fixed list
 * of methods, refuses a repeated Content-Length even when the values agree, and refuses any byte after a message
 * that closes the connection (the message before, where both agreed, ended that connection). The proxy relays
 * these; every parser that reads them at all reads them the same way.
 */
function isFramingNeutralRefusal(error: string | undefined, proxy: ProxyView, index: number): boolean {
  const message = proxy.messages[index]!;
  if (error === 'HPE_INVALID_METHOD') return !http.METHODS.includes(message.method);
  if (error === 'HPE_UNEXPECTED_CONTENT_LENGTH' || error === 'HPE_INVALID_CONTENT_LENGTH')
    return proxy.repeatedLength[index]!;
  if (error === 'HPE_CLOSED_CONNECTION') return index > 0;
  return false;
}

const NEXT = 'GET /next HTTP/1.1\r\nHost: h\r\n\r\n';
const POST = 'POST /v1/echo HTTP/1.1\r\nHost: h\r\n';
/** Known request smuggling vectors and their well-formed neighbours; each is followed by a pipelined request. */
const CORPUS = [
  'GET /v1/models?x=1 HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n\r\n',
  `${POST}Content-Length: 5\r\n\r\nhello`,
  `${POST}Transfer-Encoding: chunked\r\n\r\n5;ext=1;q="a \\"b"\r\nhello\r\n0\r\nX-T: v\r\n\r\n`,
  `${POST}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
  `${POST}Transfer-Encoding: chunked\r\nContent-Length: 30\r\n\r\n0\r\n\r\n`,
  `${POST}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`,
  `${POST}Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n`,
  `${POST}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
  `${POST}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n`,
  `${POST}Transfer-Encoding:\tchunked \r\n\r\n0\r\n\r\n`,
  `${POST}Transfer-Encoding\t: chunked\r\n\r\n0\r\n\r\n`,
  `${POST}X: y\r\n Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
  `${POST}Content-Length: 3\nX: y\r\n\r\nabc`,
  `${POST}Content-Length: 3\rX: y\r\n\r\nabc`,
  `${POST}X: a\x00b\r\nContent-Length: 3\r\n\r\nabc`,
  `${POST}X: a\x0bb\x7f\r\nContent-Length: 3\r\n\r\nabc`,
  'POST /v1/echo\tHTTP/1.1\nHost:h\nContent-Length:40\nX:y HTTP/1.1\r\nHost: h\r\n\r\n',
  'GET /a\tb HTTP/1.1\r\nHost: h\r\n\r\n',
  `${POST}Transfer-Encoding: chunked\r\n\r\n0000000000003\r\nabc\r\n0\r\n\r\n`,
  `${POST}Transfer-Encoding: chunked\r\n\r\n00000000000000000003\r\nabc\r\n0\r\n\r\n`,
  `${POST}Transfer-Encoding: chunked\r\n\r\n3;a=b;c\r\nabc\r\n0;d="x"\r\nT: 1\r\nU:2\r\n\r\n`,
  `${POST}Transfer-Encoding: chunked\r\n\r\n3 ;a\r\nabc\r\n0\r\n\r\n`,
  `${POST}Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX: y\nGET /smuggled HTTP/1.1\r\n\r\n`,
  `${POST}Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nContent-Length: 3\r\n\r\n`,
  `${POST}Transfer-Encoding: chunked\t\r\n\r\n0\r\n\r\n`,
  `${POST}Content-Length: 3\t\r\n\r\nabc`,
  `${POST}Transfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n`,
  `${POST}Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc`,
  `${POST}Content-Length: 3, 3\r\n\r\nabc`,
  `${POST}Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd`,
  `${POST}Content-Length: +3\r\n\r\nabc`,
  `${POST}Content-Length: 3 \r\n\r\nabc`,
  'POST / HTTP/1.0\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
  'POST / HTTP/1.0\r\nHost: h\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\nabc',
  'GET / HTTP/1.0\r\n\r\n',
  '\r\n\r\nGET /a?b=c#d HTTP/1.1\r\nHost: h\r\n\r\n',
  'GET http://h/abs HTTP/1.1\r\nHost: h\r\n\r\n',
  'OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n',
  'PUT /x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc',
  'DELETE /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n',
].map((request) => request + NEXT);

/** Bytes that move a parser's idea of where things end; inserted or swapped in at random places. */
const SNIPPETS = [
  '\t',
  ' ',
  '\n',
  '\r',
  '\r\n',
  '\x00',
  '\x0b',
  '\x0c',
  '\x7f',
  '\x80',
  '\xa0',
  ';',
  ',',
  '"',
  ':',
  '=',
  '\\',
  '0',
  'f',
  '\r\n ',
  'chunked',
  'Transfer-Encoding: chunked\r\n',
  'Content-Length: 3\r\n',
];

/** Where parsers disagree most: beside a delimiter. `near` picks the n-th delimiter byte instead of any position. */
const DELIMITERS = '\r\n: ;,=';

type Mutation =
  | { kind: 'insert' | 'replace'; at: number; text: string; near: boolean }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'repeat-line'; at: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constantFrom('insert' as const, 'replace' as const),
    at: fc.nat(),
    text: fc.constantFrom(...SNIPPETS),
    near: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ kind: fc.constant('repeat-line' as const), at: fc.nat() }),
);

function applyMutation(text: string, m: Mutation): string {
  const at =
    m.kind !== 'delete' && m.kind !== 'repeat-line' && m.near ? findDelimiter(text, m.at) : m.at % (text.length + 1);
  switch (m.kind) {
    case 'insert':
      return text.slice(0, at) + m.text + text.slice(at);
    case 'replace':
      return text.slice(0, at) + m.text + text.slice(at + 1);
    case 'delete':
      return text.slice(0, at) + text.slice(at + m.length);
    case 'repeat-line': {
      const lineStart = text.lastIndexOf('\r\n', at) + 2;
      const lineEnd = text.indexOf('\r\n', at);
      if (lineEnd === -1) return text;
      return text.slice(0, lineEnd + 2) + text.slice(lineStart, lineEnd + 2) + text.slice(lineEnd + 2);
    }
  }
}

function findDelimiter(text: string, n: number): number {
  const positions: number[] = [];
  for (let i = 0; i < text.length; i++) if (DELIMITERS.includes(text[i]!)) positions.push(i);
  return positions.length === 0 ? 0 : positions[n % positions.length]!;
}

describe('the proxy frames no request that llhttp frames differently', () => {
  let llhttp: Awaited<ReturnType<typeof startLlhttpServer>>;
  beforeAll(async () => {
    llhttp = await startLlhttpServer();
  });
  afterAll(async () => {
    llhttp.server.closeAllConnections();
    await new Promise((resolve) => llhttp.server.close(resolve));
  });

  it('accepts only what llhttp accepts, with the same method, target, headers, body and next request', async () => {
    const tally = { accepted: 0, refused: 0, neutral: 0 };
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...CORPUS), fc.array(mutationArb, { maxLength: 3 }), async (base, mutations) => {
        const bytes = Buffer.from(mutations.reduce(applyMutation, base), 'latin1');
        const proxy = frameLikeProxy(bytes);
        const node = await llhttp.frame(bytes);
        tally.accepted += proxy.messages.length;
        if (proxy.end === 'refused') tally.refused++;
        for (let i = 0; i < proxy.messages.length; i++) {
          if (i >= node.messages.length) {
            // llhttp stopped at a message the proxy accepted: only a refusal that moves no boundary is allowed.
            expect(
              isFramingNeutralRefusal(node.error, proxy, i),
              `llhttp refused message ${i} with ${node.error}`,
            ).toBe(true);
            tally.neutral++;
            return;
          }
          expect(proxy.messages[i]).toEqual(node.messages[i]);
        }
        // Nothing llhttp read as a further request was hidden from the proxy inside a body.
        if (proxy.end === 'clean') {
          expect(node.messages.length).toBe(proxy.messages.length);
          expect(node.error).toBeUndefined();
        }
      }),
      { numRuns: 400, examples: CORPUS.map((base): [string, Mutation[]] => [base, []]) },
    );
    // The run exercised both sides of the rule, not only one.
    expect(tally.accepted).toBeGreaterThan(100);
    expect(tally.refused).toBeGreaterThan(100);
  });
});
