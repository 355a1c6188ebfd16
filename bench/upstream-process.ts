// Bench upstream (its own process): a lean HTTPS stand-in for api.openai.com that counts which credential each
// request carried. It must stay cheap per request, so direct and proxied runs measure the client path, not it.
import https from 'node:https';
import type { AddressInfo } from 'node:net';

interface UpstreamConfig {
  cert: string;
  key: string;
  /** Bearer values: the key the proxy must inject, and the one the direct baseline sends itself. */
  proxiedKey: string;
  directKey: string;
}

const config = JSON.parse(process.env.BENCH_UPSTREAM_CONFIG ?? '{}') as UpstreamConfig;
const proxiedAuth = `Bearer ${config.proxiedKey}`;
const directAuth = `Bearer ${config.directKey}`;
const counts = { proxiedWithCredential: 0, direct: 0, other: 0, connections: 0 };

const MODELS = Buffer.from(
  JSON.stringify({
    object: 'list',
    data: [
      { id: 'gpt-4o-mini', object: 'model', created: 1721172741, owned_by: 'system' },
      { id: 'gpt-4o', object: 'model', created: 1715367049, owned_by: 'system' },
    ],
  }),
);
const MIB = Buffer.alloc(1024 * 1024, 0x61);
const MODELS_HEADERS = { 'content-type': 'application/json', 'content-length': MODELS.length };
const MIB_HEADERS = { 'content-type': 'application/octet-stream', 'content-length': MIB.length };

const server = https.createServer({ cert: config.cert, key: config.key, keepAliveTimeout: 60_000 }, (req, res) => {
  const auth = req.headers.authorization;
  if (auth === proxiedAuth) counts.proxiedWithCredential++;
  else if (auth === directAuth) counts.direct++;
  else counts.other++;
  const url = req.url ?? '/';
  if (url.startsWith('/v1/bytes')) {
    res.writeHead(200, MIB_HEADERS);
    res.end(MIB);
  } else if (url.startsWith('/v1/chat/completions')) {
    req.resume();
    req.once('end', () => streamEvents(res, Number(/interval=(\d+)/.exec(url)?.[1] ?? 20)));
  } else {
    res.writeHead(200, MODELS_HEADERS);
    res.end(MODELS);
  }
});

/** OpenAI-style SSE: six chunks `interval` ms apart, then [DONE]. */
function streamEvents(res: import('node:http').ServerResponse, interval: number): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  let i = 0;
  const tick = (): void => {
    if (res.destroyed) return;
    if (i < 6) {
      res.write(
        'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk",' +
          `"choices":[{"index":0,"delta":{"content":"w${i++}"}}]}\n\n`,
      );
      setTimeout(tick, interval);
    } else {
      res.end('data: [DONE]\n\n');
    }
  };
  tick();
}

server.on('secureConnection', () => counts.connections++);

server.listen(0, '127.0.0.1', () => {
  process.send?.({ type: 'ready', port: (server.address() as AddressInfo).port });
});

process.on('message', (msg: { type: string }) => {
  if (msg.type === 'counts') process.send?.({ type: 'counts', counts });
  if (msg.type === 'cpu') process.send?.({ type: 'cpu', usage: process.cpuUsage() });
  if (msg.type === 'exit') process.exit(0);
});
