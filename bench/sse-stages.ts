// Diagnostic (not part of `npm run bench`'s table): where the time to an SSE answer's first event goes when an
// agent opens a new connection for it, direct against through the proxy, sampled in turn on the same processes as
// the bench (upstream-process.ts, proxy-process.mjs on dist/). Also measures what one hop between two idle local
// processes costs on this machine (a loopback write that wakes a sleeping peer, and the reply), since the proxied
// path has four more of them than the direct one (CONNECT, its 200, the request to the upstream and its answer).
// Usage: npm run build && npx tsx bench/sse-stages.ts [pairs]
import { type ChildProcess, fork } from 'node:child_process';
import net, { type AddressInfo } from 'node:net';
import tls from 'node:tls';
import { SERVER_NODE_FLAGS } from '../src/paths.js';
import { createTestCa } from '../test/helpers/test-ca.js';

const PAIRS = Number(process.argv[2] ?? 60);
const PROXIED_KEY = 'sk-bench-proxied-0123456789abcdefghijklmnop';
const DIRECT_KEY = 'sk-bench-direct-00123456789abcdefghijklmnop';
const here = (name: string) => new URL(name, import.meta.url).pathname;

function waitFor<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve) => {
    const onMessage = (msg: { type: string }) => {
      if (msg.type !== type) return;
      child.off('message', onMessage);
      resolve(msg as T);
    };
    child.on('message', onMessage);
  });
}

const median = (values: number[]) => values.slice().sort((a, b) => a - b)[values.length >> 1]!;

/** Round trips to a child process that sleeps between them: one small write each way, 20 ms apart. */
async function measureIdleHop(rounds: number): Promise<{ roundTrip: number; write: number }> {
  const echo = fork(here('sse-stages.ts'), ['--echo'], { execArgv: ['--import', 'tsx'] });
  const { port } = await waitFor<{ port: number }>(echo, 'ready');
  const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
  try {
    await new Promise((resolve) => socket.once('connect', resolve));
    const trips: number[] = [];
    const writes: number[] = [];
    for (let i = 0; i < rounds; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      const t0 = performance.now();
      const answered = new Promise((resolve) => socket.once('data', resolve));
      socket.write('ping\n');
      writes.push(performance.now() - t0);
      await answered;
      trips.push(performance.now() - t0);
    }
    return { roundTrip: median(trips), write: median(writes) };
  } finally {
    socket.destroy();
    echo.kill();
  }
}

if (process.argv.includes('--echo')) {
  const server = net.createServer((s) => {
    s.setNoDelay(true);
    s.on('data', () => s.write('pong\n'));
    s.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1', () => process.send?.({ type: 'ready', port: (server.address() as AddressInfo).port }));
} else {
  await main();
}

async function main(): Promise<void> {
  let proxy: ChildProcess | undefined;
  const ca = createTestCa(['api.openai.com', '*.bench.test']);
  const upstream = fork(here('upstream-process.ts'), [], {
    execArgv: ['--import', 'tsx'],
    env: {
      ...process.env,
      BENCH_UPSTREAM_CONFIG: JSON.stringify({
        cert: ca.cert,
        key: ca.key,
        proxiedKey: PROXIED_KEY,
        directKey: DIRECT_KEY,
      }),
    },
  });
  // A failure below must not leave the helpers running (their IPC channels would keep this process alive too).
  process.on('exit', () => {
    upstream.kill();
    proxy?.kill();
  });
  const { port: upstreamPort } = await waitFor<{ port: number }>(upstream, 'ready');
  proxy = fork(here('proxy-process.mjs'), [], {
    execArgv: [...SERVER_NODE_FLAGS],
    env: {
      ...process.env,
      BENCH_PROXY_CONFIG: JSON.stringify({
        upstreamPort,
        upstreamCa: ca.caCert,
        proxiedKey: PROXIED_KEY,
        benchHosts: 1,
      }),
    },
  });
  const ready = await waitFor<{ port: number; token: string; caPem: string }>(proxy, 'ready');
  const upstreamContext = tls.createSecureContext({ ca: ca.caCert });
  const proxyContext = tls.createSecureContext({ ca: ready.caPem });
  const proxyAuth = `Basic ${Buffer.from(`authsome:${ready.token}`).toString('base64')}`;
  const body = '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}';
  const request = (key: string) =>
    `POST /v1/chat/completions?interval=20 HTTP/1.1\r\nHost: api.openai.com\r\nAuthorization: Bearer ${key}\r\n` +
    `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;

  /** Milliseconds from the start to: TCP connected, CONNECT answered (= TCP direct), TLS up, first event. */
  async function once(proxied: boolean): Promise<number[]> {
    const t0 = performance.now();
    const marks: number[] = [];
    const mark = () => marks.push(performance.now() - t0);
    let socket: tls.TLSSocket;
    if (proxied) {
      const raw = net.connect({ host: '127.0.0.1', port: ready.port, noDelay: true });
      await new Promise((resolve) => raw.once('connect', resolve));
      mark();
      raw.write(
        `CONNECT api.openai.com:443 HTTP/1.1\r\nHost: api.openai.com:443\r\nProxy-Authorization: ${proxyAuth}\r\n\r\n`,
      );
      await new Promise((resolve) => raw.once('data', resolve));
      mark();
      socket = tls.connect({ socket: raw, servername: 'api.openai.com', secureContext: proxyContext });
    } else {
      const opts = { host: '127.0.0.1', port: upstreamPort, servername: 'api.openai.com' };
      socket = tls.connect({ ...opts, secureContext: upstreamContext });
      socket.setNoDelay(true);
      await new Promise((resolve) => socket.once('connect', resolve));
      mark();
      mark();
    }
    await new Promise((resolve) => socket.once('secureConnect', resolve));
    mark();
    socket.write(request(proxied ? 'authsome-proxy-managed' : DIRECT_KEY));
    let seen = '';
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.on('data', (chunk: Buffer) => {
        if (seen === '') mark();
        seen += chunk.toString('latin1');
        // The whole answer, as the bench waits for it: the pooled upstream connection goes back for the next one.
        if (seen.includes('[DONE]') && seen.endsWith('0\r\n\r\n')) resolve();
      });
    });
    socket.destroy();
    return marks;
  }

  const samples: Record<'direct' | 'proxy', number[][]> = { direct: [], proxy: [] };
  for (let i = 0; i < PAIRS + 5; i++) {
    for (const proxied of i % 2 === 0 ? [false, true] : [true, false]) {
      const marks = await once(proxied);
      if (i >= 5) samples[proxied ? 'proxy' : 'direct'].push(marks);
    }
  }
  upstream.kill();
  proxy.kill();
  const hop = await measureIdleHop(100);

  const stages = ['TCP connected', 'CONNECT answered', 'TLS up', 'first event'];
  console.log(`median of ${PAIRS} new-connection SSE requests per side, sampled in turn (ms from the start):`);
  console.log(`${'stage'.padEnd(18)}${'direct'.padStart(9)}${'proxy'.padStart(9)}${'proxy, step'.padStart(13)}`);
  let previous = 0;
  stages.forEach((stage, i) => {
    const direct = median(samples.direct.map((m) => m[i]!));
    const proxied = median(samples.proxy.map((m) => m[i]!));
    const step = `+${(proxied - previous).toFixed(2)}`;
    console.log(
      `${stage.padEnd(18)}${direct.toFixed(2).padStart(9)}${proxied.toFixed(2).padStart(9)}${step.padStart(13)}`,
    );
    previous = proxied;
  });
  const first = (side: 'direct' | 'proxy') => median(samples[side].map((m) => m[3]!));
  console.log(`ratio ${(first('proxy') / first('direct')).toFixed(2)}x`);
  console.log(
    `an idle local round trip on this machine: ${hop.roundTrip.toFixed(3)} ms (the write that wakes the peer ` +
      `alone: ${hop.write.toFixed(3)} ms)`,
  );
  process.exit(0);
}
