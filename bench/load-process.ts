// Bench load generator (its own process): a small HTTP/1.1 client on raw TLS sockets, direct or through the proxy
// (CONNECT with the run's Proxy-Authorization). It runs one phase per IPC command and reports what it measured.
import { appendFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';

interface LoadConfig {
  upstreamPort: number;
  /** The bench floor: a bare TLS relay in front of the upstream (relay-process.ts). */
  relayPort: number;
  proxyPort: number;
  proxyToken: string;
  /** The second proxy, without guardrails, and its run's token. */
  barePort: number;
  bareToken: string;
  authsomeCa: string;
  upstreamCa: string;
  directKey: string;
  placeholder: string;
  benchHosts: number;
}

/**
 * `proxy`: authsome with every guardrail on; `bare`: the same proxy without allow-list or scrubbing (their cost);
 * `relay`: a bare TLS relay that terminates TLS on both sides and does nothing else (the floor for any such proxy).
 */
export type Target = 'direct' | 'proxy' | 'bare' | 'relay';

/** Targets the agent reaches without a proxy in between: it sends its own key, as a direct client does. */
const sendsOwnKey = (target: Target): boolean => target === 'direct' || target === 'relay';

export type PhaseCommand =
  | { phase: 'keepalive'; target: Target; concurrency: number; durationMs: number; warmupMs: number }
  | {
      phase: 'newconn';
      target: Target;
      concurrency: number;
      durationMs: number;
      warmupMs: number;
      distinctHosts: boolean;
    }
  | { phase: 'sse'; target: Target; runs: number; intervalMs: number; versus?: Target; keepAlive?: boolean }
  | { phase: 'mib'; target: Target; runs: number }
  | { phase: 'concurrent'; target: Target; connections: number; requestsEach: number };

export interface PhaseResult {
  requests: number;
  errors: number;
  seconds: number;
  rps: number;
  p50: number;
  p99: number;
  /** sse: median time to first event; mib: median transfer time (ms). */
  median?: number;
  /** sse: every run saw its events in separate reads, as far apart as sent. */
  unbatched?: boolean;
  /** sse with `versus`: the same figures for the other target, sampled in turn with this one. */
  versus?: { median: number; errors: number; unbatched: boolean };
  /** sse with `versus`: the median over the pairs of this side's time less the other's (ms), each pair back to back. */
  pairedDifference?: number;
  /** Requests that went through the proxy and got a 200 (the upstream must count the same with the credential). */
  proxied200: number;
}

const config = JSON.parse(process.env.BENCH_LOAD_CONFIG ?? '{}') as LoadConfig;
const CRLF2 = Buffer.from('\r\n\r\n');
const upstreamContext = tls.createSecureContext({ ca: config.upstreamCa });
const authsomeContext = tls.createSecureContext({ ca: config.authsomeCa });
const basicAuth = (token: string): string => `Basic ${Buffer.from(`authsome:${token}`).toString('base64')}`;
const proxyAuth = basicAuth(config.proxyToken);
const bareAuth = basicAuth(config.bareToken);
let proxied200 = 0;
let hostCounter = 0;

function buildRequest(target: Target, host: string, path: string, extra = ''): Buffer {
  const key = sendsOwnKey(target) ? config.directKey : config.placeholder;
  return Buffer.from(
    `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${key}\r\n` +
      `User-Agent: authsome-bench\r\n${extra}\r\n`,
  );
}

function buildSseRequest(target: Target, intervalMs: number): Buffer {
  const key = sendsOwnKey(target) ? config.directKey : config.placeholder;
  const body = '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}';
  return Buffer.from(
    `POST /v1/chat/completions?interval=${intervalMs} HTTP/1.1\r\nHost: api.openai.com\r\n` +
      `Authorization: Bearer ${key}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
  );
}

/** One TLS connection, direct or tunnelled; answers requests one at a time (no pipelining). */
class Connection {
  private buf: Buffer | undefined;
  private waiter: ((r: { status: number; bytes: number }) => void) | undefined;
  private fail: ((e: Error) => void) | undefined;
  private headEnd = -1;
  private status = 0;
  private length = -1;
  /** Body bytes of the current answer seen so far. */
  private received = 0;
  onRaw: ((chunk: Buffer) => void) | undefined;

  constructor(readonly socket: tls.TLSSocket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.fail?.(err));
    socket.on('close', () => this.fail?.(new Error('connection closed')));
  }

  static async open(target: Target, host: string): Promise<Connection> {
    if (sendsOwnKey(target)) {
      const socket = tls.connect({
        host: '127.0.0.1',
        port: target === 'relay' ? config.relayPort : config.upstreamPort,
        servername: host,
        secureContext: upstreamContext,
      });
      socket.setNoDelay(true); // tls.connect ignores a noDelay option
      await waitSecure(socket);
      return new Connection(socket);
    }
    // BENCH_AA=1 (diagnostics): the guarded proxy's side goes to the bare one too, an A/A run that shows the noise.
    const bare = target === 'bare' || process.env.BENCH_AA === '1';
    const raw = net.connect({ host: '127.0.0.1', port: bare ? config.barePort : config.proxyPort, noDelay: true });
    const auth = bare ? bareAuth : proxyAuth;
    raw.write(`CONNECT ${host}:443 HTTP/1.1\r\nHost: ${host}:443\r\nProxy-Authorization: ${auth}\r\n\r\n`);
    await new Promise<void>((resolve, reject) => {
      let got = Buffer.alloc(0);
      const onData = (chunk: Buffer): void => {
        got = Buffer.concat([got, chunk]);
        const end = got.indexOf(CRLF2);
        if (end === -1) return;
        raw.off('data', onData);
        raw.off('error', reject);
        if (!got.subarray(0, 12).toString().startsWith('HTTP/1.1 200'))
          reject(new Error(`CONNECT refused: ${got.subarray(0, end).toString()}`));
        else resolve();
      };
      raw.on('data', onData);
      raw.once('error', reject);
    });
    const socket = tls.connect({ socket: raw, servername: host, secureContext: authsomeContext });
    await waitSecure(socket);
    return new Connection(socket);
  }

  request(payload: Buffer): Promise<{ status: number; bytes: number }> {
    return new Promise((resolve, reject) => {
      this.waiter = resolve;
      this.fail = reject;
      this.socket.write(payload);
    });
  }

  private onData(chunk: Buffer): void {
    if (this.onRaw) {
      this.onRaw(chunk);
      return;
    }
    // Only the head is kept; the body's bytes are counted, not gathered (gathering them with a concat per chunk cost
    // the generator ~6-15 ms of CPU per MiB, more than the proxy, and more for a proxy that delivers smaller chunks).
    if (this.headEnd === -1) {
      this.buf = this.buf === undefined ? chunk : Buffer.concat([this.buf, chunk]);
      this.headEnd = this.buf.indexOf(CRLF2);
      if (this.headEnd === -1) return;
      const head = this.buf.toString('latin1', 0, this.headEnd);
      this.status = Number(head.slice(9, 12));
      const m = /content-length:\s*(\d+)/i.exec(head);
      this.length = m ? Number(m[1]) : 0;
      this.received = this.buf.length - (this.headEnd + 4);
      this.buf = undefined;
    } else {
      this.received += chunk.length;
    }
    if (this.received < this.length) return;
    const done = { status: this.status, bytes: this.length };
    this.headEnd = -1;
    const waiter = this.waiter;
    this.waiter = undefined;
    this.fail = undefined;
    waiter?.(done);
  }

  close(): void {
    this.fail = undefined;
    this.socket.destroy();
  }
}

function waitSecure(socket: tls.TLSSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('secureConnect', () => {
      socket.off('error', reject);
      resolve();
    });
    socket.once('error', reject);
  });
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))]!;
}

function summarize(
  latencies: number[],
  errors: number,
  seconds: number,
  extra: Partial<PhaseResult> = {},
): PhaseResult {
  const sorted = latencies.slice().sort((a, b) => a - b);
  return {
    requests: latencies.length,
    errors,
    seconds,
    rps: latencies.length / seconds,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    proxied200,
    ...extra,
  };
}

function count(target: Target, status: number): void {
  if (!sendsOwnKey(target) && status === 200) proxied200++;
}

async function runKeepAlive(cmd: Extract<PhaseCommand, { phase: 'keepalive' }>): Promise<PhaseResult> {
  const payload = buildRequest(cmd.target, 'api.openai.com', '/v1/models');
  const conns = await Promise.all(
    Array.from({ length: cmd.concurrency }, () => Connection.open(cmd.target, 'api.openai.com')),
  );
  const latencies: number[] = [];
  let errors = 0;
  const start = performance.now();
  const measureFrom = start + cmd.warmupMs;
  const end = measureFrom + cmd.durationMs;
  await Promise.all(
    conns.map(async (conn) => {
      for (;;) {
        const t0 = performance.now();
        if (t0 >= end) return;
        try {
          const r = await conn.request(payload);
          count(cmd.target, r.status);
          if (r.status !== 200) errors++;
          else if (t0 >= measureFrom) latencies.push(performance.now() - t0);
        } catch {
          errors++;
          return;
        }
      }
    }),
  );
  for (const c of conns) c.close();
  return summarize(latencies, errors, cmd.durationMs / 1000);
}

async function runNewConnection(cmd: Extract<PhaseCommand, { phase: 'newconn' }>): Promise<PhaseResult> {
  const latencies: number[] = [];
  let errors = 0;
  const start = performance.now();
  const measureFrom = start + cmd.warmupMs;
  const end = measureFrom + cmd.durationMs;
  await Promise.all(
    Array.from({ length: cmd.concurrency }, async () => {
      for (;;) {
        const t0 = performance.now();
        if (t0 >= end) return;
        // Same host: what an agent opening fresh connections to its provider costs (the leaf is cached after the
        // first). Distinct hosts: the worst case, a leaf and a TLS context minted for every connection.
        const host = cmd.distinctHosts ? `h${hostCounter++ % config.benchHosts}.bench.test` : 'api.openai.com';
        try {
          const conn = await Connection.open(cmd.target, host);
          const r = await conn.request(buildRequest(cmd.target, host, '/v1/models', 'Connection: close\r\n'));
          conn.close();
          count(cmd.target, r.status);
          if (r.status !== 200) errors++;
          else if (t0 >= measureFrom) latencies.push(performance.now() - t0);
        } catch {
          errors++;
        }
      }
    }),
  );
  return summarize(latencies, errors, cmd.durationMs / 1000);
}

/**
 * One streamed completion: when its first event arrived (ms after `t0`), and whether its events came apart as sent.
 * From connect (no `reused`): what an agent that opens a connection for one streamed completion waits for its first
 * token; on `reused`, from the request's first byte.
 */
async function measureSseOnce(
  target: Target,
  intervalMs: number,
  reused?: Connection,
): Promise<{ first: number; unbatched: boolean }> {
  const t0 = performance.now();
  let conn: Connection | undefined = reused;
  try {
    conn ??= await Connection.open(target, 'api.openai.com');
    const opened = conn;
    const arrivals: number[] = [];
    await new Promise<void>((resolve, reject) => {
      let seen = '';
      opened.onRaw = (chunk) => {
        const text = chunk.toString('latin1');
        const events = text.split('data: ').length - 1;
        for (let e = 0; e < events; e++) arrivals.push(performance.now());
        seen += text;
        if (seen.includes('data: [DONE]') && seen.endsWith('0\r\n\r\n')) {
          opened.socket.off('error', reject);
          opened.socket.off('close', onClose);
          resolve();
        }
      };
      // A connection closed before the answer's end (no error) must not leave the phase waiting forever.
      const onClose = (): void => reject(new Error('connection closed before the answer ended'));
      opened.socket.once('error', reject);
      opened.socket.once('close', onClose);
      opened.socket.write(buildSseRequest(target, intervalMs));
    });
    count(target, 200);
    // Seven events (six chunks and [DONE]) sent intervalMs apart must arrive apart, not together.
    const unbatched = arrivals.length === 7 && arrivals[6]! - arrivals[0]! >= intervalMs * 6 * 0.7;
    return { first: arrivals[0]! - t0, unbatched };
  } finally {
    if (reused === undefined) conn?.close();
  }
}

/**
 * `runs` streamed completions through `target`; with `versus`, as many through that target too, one of each in turn
 * (the order flips every pair), so that both sides of a ratio are sampled under the same load on a shared machine.
 */
async function runSse(cmd: Extract<PhaseCommand, { phase: 'sse' }>): Promise<PhaseResult> {
  const sides = cmd.versus === undefined ? [cmd.target] : [cmd.target, cmd.versus];
  const firsts = sides.map((): number[] => []);
  const errors = sides.map(() => 0);
  const unbatched = sides.map(() => true);
  /** With `versus`: this side's time less the other's, for each pair in which both answered. */
  const differences: number[] = [];
  // keepAlive: one connection per side for all its requests (opened first, a broken one opened again).
  const kept: (Connection | undefined)[] = sides.map(() => undefined);
  for (let i = 0; i < cmd.runs; i++) {
    const pair: (number | undefined)[] = sides.map(() => undefined);
    for (let k = 0; k < sides.length; k++) {
      const side = i % 2 === 0 ? k : sides.length - 1 - k;
      try {
        if (cmd.keepAlive) kept[side] ??= await Connection.open(sides[side]!, 'api.openai.com');
        const one = await measureSseOnce(sides[side]!, cmd.intervalMs, kept[side]);
        firsts[side]!.push(one.first);
        pair[side] = one.first;
        if (!one.unbatched) unbatched[side] = false;
      } catch {
        errors[side]!++;
        kept[side]?.close();
        kept[side] = undefined;
      }
    }
    if (pair.length === 2 && pair[0] !== undefined && pair[1] !== undefined) differences.push(pair[0] - pair[1]);
  }
  for (const conn of kept) conn?.close();
  const medianOf = (list: number[]) =>
    percentile(
      list.slice().sort((a, b) => a - b),
      0.5,
    );
  // Diagnostics: every sample of both sides, one JSON line per phase.
  if (process.env.BENCH_SSE_DUMP) appendFileSync(process.env.BENCH_SSE_DUMP, `${JSON.stringify({ sides, firsts })}\n`);
  return summarize(firsts[0]!, errors[0]!, 1, {
    median: medianOf(firsts[0]!),
    ...(differences.length > 0 ? { pairedDifference: medianOf(differences) } : {}),
    unbatched: unbatched[0]!,
    ...(cmd.versus === undefined
      ? {}
      : { versus: { median: medianOf(firsts[1]!), errors: errors[1]!, unbatched: unbatched[1]! } }),
  });
}

async function runMib(cmd: Extract<PhaseCommand, { phase: 'mib' }>): Promise<PhaseResult> {
  const conn = await Connection.open(cmd.target, 'api.openai.com');
  const payload = buildRequest(cmd.target, 'api.openai.com', '/v1/bytes?n=1048576');
  const times: number[] = [];
  let errors = 0;
  for (let i = 0; i < cmd.runs + 3; i++) {
    const t0 = performance.now();
    const r = await conn.request(payload);
    count(cmd.target, r.status);
    if (r.status !== 200 || r.bytes !== 1024 * 1024) errors++;
    else if (i >= 3) times.push(performance.now() - t0);
  }
  conn.close();
  const sorted = times.slice().sort((a, b) => a - b);
  return summarize(times, errors, 1, { median: percentile(sorted, 0.5) });
}

async function runConcurrent(cmd: Extract<PhaseCommand, { phase: 'concurrent' }>): Promise<PhaseResult> {
  const payload = buildRequest(cmd.target, 'api.openai.com', '/v1/models');
  const latencies: number[] = [];
  let errors = 0;
  const start = performance.now();
  const conns = await Promise.all(
    Array.from({ length: cmd.connections }, () =>
      Connection.open(cmd.target, 'api.openai.com').catch(() => {
        errors++;
        return undefined;
      }),
    ),
  );
  await Promise.all(
    conns.map(async (conn) => {
      if (conn === undefined) return;
      for (let i = 0; i < cmd.requestsEach; i++) {
        const t0 = performance.now();
        try {
          const r = await conn.request(payload);
          count(cmd.target, r.status);
          if (r.status !== 200) errors++;
          else latencies.push(performance.now() - t0);
        } catch {
          errors++;
          return;
        }
      }
    }),
  );
  for (const c of conns) c?.close();
  return summarize(latencies, errors, (performance.now() - start) / 1000);
}

process.on('message', (cmd: PhaseCommand | { phase: 'exit' } | { phase: 'cpu' }) => {
  if (cmd.phase === 'exit') process.exit(0);
  if (cmd.phase === 'cpu') {
    process.send?.({ type: 'cpu', usage: process.cpuUsage() });
    return;
  }
  const run =
    cmd.phase === 'keepalive'
      ? runKeepAlive(cmd)
      : cmd.phase === 'newconn'
        ? runNewConnection(cmd)
        : cmd.phase === 'sse'
          ? runSse(cmd)
          : cmd.phase === 'mib'
            ? runMib(cmd)
            : runConcurrent(cmd);
  run.then(
    (result) => process.send?.({ type: 'result', result }),
    (err: Error) => process.send?.({ type: 'error', message: err.message }),
  );
});
process.send?.({ type: 'ready' });
