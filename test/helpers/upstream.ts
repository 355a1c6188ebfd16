// A stand-in for a provider API on 127.0.0.1:0 (HTTPS, or plain http) that records what it received, so tests
// assert what really reached the upstream. Endpoints mimic OpenAI's: models, chat (JSON or SSE), bytes, echo,
// a header echo that compresses regardless of Accept-Encoding, WebSocket (an echo, and one that sends the
// Authorization back compressed).
import { createHash } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { WebSocketServer } from 'ws';

export interface RecordedRequest {
  method: string;
  url: string;
  /** Lower-cased names, as node:http gives them. */
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  bodyLength: number;
  bodySha256: string;
  /** Which accepted connection carried it (keep-alive reuse shows as the same id). */
  connectionId: number;
  upgrade: boolean;
  /** Date.now() of each SSE event as it was written (streamed chat completions only). */
  sseSentAt: number[];
}

export interface UpstreamOptions {
  /** PEM; omitted with `plain: true`. */
  cert?: string;
  key?: string;
  plain?: boolean;
  /** Return true when the request was handled; otherwise the built-in endpoints answer. */
  handler?(req: IncomingMessage, res: ServerResponse, body: Buffer): boolean;
  sseIntervalMs?: number;
  /** Keep every request in `requests` (off for the bench, which only counts). */
  record?: boolean;
  onRequest?(req: RecordedRequest): void;
  /** How long the upstream keeps an idle keep-alive connection (default 30 s). */
  keepAliveTimeoutMs?: number;
}

export interface Upstream {
  port: number;
  requests: RecordedRequest[];
  connections(): number;
  /** Connections open right now (a test waits for an idle close on this, not on a timer). */
  openConnections(): number;
  close(): Promise<void>;
}

export const SSE_WORDS = ['Hello', ' from', ' the', ' test', ' upstream'];
const MODELS_BODY = JSON.stringify({
  object: 'list',
  data: [
    { id: 'gpt-4o-mini', object: 'model', created: 1721172741, owned_by: 'system' },
    { id: 'gpt-4o', object: 'model', created: 1715367049, owned_by: 'system' },
  ],
});

/** Deterministic bytes, so a client can check a large body arrived intact without the upstream sending a hash. */
export function buildPatternBytes(n: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + (i >> 8)) & 0xff;
  return out;
}

export async function startUpstream(opts: UpstreamOptions): Promise<Upstream> {
  const requests: RecordedRequest[] = [];
  const socketIds = new WeakMap<Socket, number>();
  let nextConnectionId = 0;
  const sockets = new Set<Socket>();
  const sseInterval = opts.sseIntervalMs ?? 100;
  const record = opts.record ?? true;
  const bytesCache = new Map<number, Buffer>();

  const server = opts.plain
    ? http.createServer()
    : https.createServer({ cert: opts.cert, key: opts.key, ALPNProtocols: ['http/1.1'] });
  server.keepAliveTimeout = opts.keepAliveTimeoutMs ?? 30_000;
  const onConnection = (socket: Socket): void => {
    socketIds.set(socket, ++nextConnectionId);
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  server.on(opts.plain ? 'connection' : 'secureConnection', onConnection);

  function buildRecord(req: IncomingMessage, body: Buffer, upgrade: boolean): RecordedRequest {
    const rec: RecordedRequest = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      bodyLength: body.length,
      bodySha256: createHash('sha256').update(body).digest('hex'),
      connectionId: socketIds.get(req.socket as Socket) ?? 0,
      upgrade,
      sseSentAt: [],
    };
    if (record) requests.push(rec);
    opts.onRequest?.(rec);
    return rec;
  }

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const rec = buildRecord(req, body, false);
      if (opts.handler?.(req, res, body)) return;
      answerBuiltIn(req, res, body, rec);
    });
  });

  function answerBuiltIn(req: IncomingMessage, res: ServerResponse, body: Buffer, rec: RecordedRequest): void {
    const url = new URL(req.url ?? '/', 'https://upstream.test');
    if (url.pathname === '/v1/models') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(MODELS_BODY) });
      res.end(MODELS_BODY);
      return;
    }
    if (url.pathname === '/v1/chat/completions' && req.method === 'POST') {
      let payload: { stream?: boolean; model?: string } = {};
      try {
        payload = JSON.parse(body.toString('utf8')) as typeof payload;
      } catch {
        // An unparsable body gets the non-streaming answer.
      }
      if (payload.stream)
        streamChat(res, payload.model ?? 'gpt-4o-mini', rec, Number(url.searchParams.get('interval') ?? sseInterval));
      else sendJson(res, 200, buildChatCompletion(payload.model ?? 'gpt-4o-mini'));
      return;
    }
    if (url.pathname === '/v1/bytes') {
      const n = Number(url.searchParams.get('n') ?? 1024);
      let bytes = bytesCache.get(n);
      if (bytes === undefined) bytesCache.set(n, (bytes = buildPatternBytes(n)));
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.length });
      res.end(bytes);
      return;
    }
    if (url.pathname === '/v1/echo-headers') {
      // A careless provider: it echoes the request's Authorization and compresses as it likes (?encoding=gzip|br),
      // whatever the client's Accept-Encoding said.
      const text = Buffer.from(JSON.stringify({ authorization: req.headers.authorization ?? '' }));
      const encoding = url.searchParams.get('encoding');
      const out = encoding === 'br' ? brotliCompressSync(text) : encoding === 'gzip' ? gzipSync(text) : text;
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': out.length,
        ...(encoding === 'br' || encoding === 'gzip' ? { 'content-encoding': encoding } : {}),
      });
      res.end(out);
      return;
    }
    if (url.pathname === '/v1/echo') {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
      res.end(body);
      return;
    }
    if (url.pathname.startsWith('/oauth/')) {
      sendJson(res, 200, { access_token: 'upstream-issued-token', token_type: 'Bearer', expires_in: 3600 });
      return;
    }
    sendJson(res, 200, { ok: true, method: req.method, path: url.pathname });
  }

  function streamChat(res: ServerResponse, model: string, rec: RecordedRequest, interval: number): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.flushHeaders();
    const created = Math.floor(Date.now() / 1000);
    const events = SSE_WORDS.map((word, i) => ({
      id: 'chatcmpl-test',
      object: 'chat.completion.chunk',
      created,
      model,
      choices: [
        { index: 0, delta: i === 0 ? { role: 'assistant', content: word } : { content: word }, finish_reason: null },
      ],
    }));
    events.push({
      id: 'chatcmpl-test',
      object: 'chat.completion.chunk',
      created,
      model,
      choices: [{ index: 0, delta: {} as never, finish_reason: 'stop' as never }],
    });
    let i = 0;
    const sendNext = (): void => {
      if (res.destroyed) return;
      if (i < events.length) {
        rec.sseSentAt.push(Date.now());
        res.write(`data: ${JSON.stringify(events[i++])}\n\n`);
        setTimeout(sendNext, interval);
      } else {
        res.end('data: [DONE]\n\n');
      }
    };
    sendNext();
  }

  // WebSocket echo (any path), after recording the upgrade request's headers.
  const wss = new WebSocketServer({ noServer: true });
  // A careless provider's debug socket: it accepts permessage-deflate when offered (compressing every message) and
  // sends the handshake's Authorization as its first message.
  const deflating = new WebSocketServer({ noServer: true, perMessageDeflate: { threshold: 0 } });
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    buildRecord(req, Buffer.alloc(0), true);
    if (req.url?.startsWith('/v1/echo-auth-ws')) {
      deflating.handleUpgrade(req, socket, head, (ws) => {
        ws.send(JSON.stringify({ authorization: req.headers.authorization ?? '' }));
      });
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    requests,
    connections: () => nextConnectionId,
    openConnections: () => sockets.size,
    async close() {
      for (const client of [...wss.clients, ...deflating.clients]) client.terminate();
      wss.close();
      deflating.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      server.closeAllConnections();
      await closed;
    },
  };
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function buildChatCompletion(model: string): unknown {
  return {
    id: 'chatcmpl-test',
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, message: { role: 'assistant', content: SSE_WORDS.join('') }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 5, completion_tokens: 5, total_tokens: 10 },
  };
}
