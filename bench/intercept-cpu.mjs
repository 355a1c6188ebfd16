// authsome's own JavaScript per intercepted keep-alive request, with no TLS and no sockets: the compiled interception
// (dist/, as the server runs it) between a fake agent connection and a fake pooled upstream, both in this process. The
// agent sends the bench's `GET /v1/models`, the upstream answers it as node:https does, the loop goes on. What this
// leaves out (TLS records, syscalls, Node's stream plumbing for real sockets) is the same for any proxy; what it
// measures is the part a bare TLS relay does not pay. Diagnostics for tuning, not a figure with a target.
// Usage: npm run build && node --max-semi-space-size=4 bench/intercept-cpu.mjs [requests] [--alloc]
// (--alloc: where the measured requests allocate, collected objects included, to intercept-cpu.heapprofile; for a CPU
// profile run node with --cpu-prof. AUDIT=off swaps the audit log for a no-op, to see what its line per request costs.)
import { EventEmitter } from 'node:events';
import inspector from 'node:inspector/promises';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dist = new URL('../dist/', import.meta.url);
const load = (path) => import(new URL(path, dist).href);
const [
  { createAuditLog },
  { parseProviderDefinition },
  { startInterception },
  { createRunSessionRegistry },
  { createRunPolicy },
  { createUpstreamPool },
] = await Promise.all([
  load('audit.js'),
  load('providers/schema.js'),
  load('proxy/intercept.js'),
  load('proxy/run-sessions.js'),
  load('runs/policy.js'),
  load('proxy/upstream-pool.js'),
]);

const requests = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 200_000);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 10);
const SECRET = 'sk-bench-0123456789abcdefghijklmnopqrstuvwxyz';

/** Just what the interception and the pool touch on a TLSSocket. */
class FakeSocket extends EventEmitter {
  destroyed = false;
  writable = true;
  readableLength = 0;
  written = 0;
  last = undefined;
  write(data) {
    this.written++;
    this.last = data;
    return true;
  }
  pause() {}
  resume() {}
  setTimeout() {}
  setNoDelay() {}
  end() {
    this.destroy();
  }
  destroy() {
    if (this.destroyed) return;
    this.destroyed = true;
    this.writable = false;
    this.emit('close');
  }
}

const define = (raw) =>
  parseProviderDefinition(
    { schema_version: 1, display_name: String(raw.name), auth_type: 'api_key', ...raw },
    { path: `${String(raw.name)}.json` },
  );
const scope = [
  { provider: 'openai', connection: 'default', definition: define({ name: 'openai', api_url: 'api.openai.com' }) },
];
const policy = createRunPolicy({
  allow: JSON.parse(readFileSync(new URL('allow-rules.json', import.meta.url), 'utf8')),
});
const session = createRunSessionRegistry().create({ pid: process.pid, scope, policy });
const dir = mkdtempSync(join(tmpdir(), 'authsome-intercept-cpu-'));
const audit = createAuditLog(join(dir, 'audit.log'));
const upstreams = [];
const pool = createUpstreamPool({
  connect: () => {
    const socket = new FakeSocket();
    upstreams.push(socket);
    return socket;
  },
  keyOf: (host, port) => `${host}:${port}`,
});
const credential = { name: 'Authorization', value: `Bearer ${SECRET}`, secret: SECRET };
const deps = {
  isLive: () => true,
  resolveCredential: async () => credential,
  peekCredential: () => credential,
  audit: process.env.AUDIT === 'off' ? { record() {}, flush: async () => {} } : audit,
  pool,
};

const request = Buffer.from(
  'GET /v1/models HTTP/1.1\r\nHost: api.openai.com\r\nAuthorization: Bearer authsome-proxy-managed\r\n' +
    'User-Agent: authsome-bench\r\n\r\n',
);
const body = JSON.stringify({
  object: 'list',
  data: [
    { id: 'gpt-4o-mini', object: 'model', created: 1721172741, owned_by: 'system' },
    { id: 'gpt-4o', object: 'model', created: 1715367049, owned_by: 'system' },
  ],
});
const answer = Buffer.from(
  'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n' +
    `content-length: ${body.length}\r\nDate: ${new Date().toUTCString()}\r\nConnection: keep-alive\r\n` +
    `Keep-Alive: timeout=60\r\n\r\n${body}`,
);

const clients = [];
for (let i = 0; i < CONNECTIONS; i++) {
  const client = new FakeSocket();
  startInterception(client, { host: 'api.openai.com', port: 443, session }, deps);
  clients.push(client);
}

/** One request on each connection in turn: the agent's bytes in, the head out, the answer in, the answer out. */
function exchange(client) {
  const before = upstreams.length;
  client.emit('data', request);
  // The lease is the upstream that got the head: the newest on the first request, the same one after.
  const upstream = client.upstream ?? upstreams[before] ?? upstreams.at(-1);
  if (typeof upstream.last !== 'string' && !Buffer.isBuffer(upstream.last)) throw new Error('no head went upstream');
  client.upstream = upstream;
  upstream.last = undefined;
  const sent = client.written;
  upstream.emit('data', answer);
  if (client.written !== sent + 1) throw new Error('the answer did not reach the agent');
}

async function runRequests(n) {
  for (let i = 0; i < n; ) {
    for (let j = 0; j < 500 && i < n; j++, i++) exchange(clients[i % CONNECTIONS]);
    // Let the audit log's timer and writes run, as the event loop would between socket reads.
    await new Promise((resolve) => setImmediate(resolve));
  }
}

await runRequests(Math.min(20_000, requests / 5));
const allocations = process.argv.includes('--alloc') ? new inspector.Session() : undefined;
if (allocations !== undefined) {
  allocations.connect();
  await allocations.post('HeapProfiler.startSampling', {
    samplingInterval: 256,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
}
const cpu = process.cpuUsage();
const wall = performance.now();
await runRequests(requests);
const used = process.cpuUsage(cpu);
const ms = performance.now() - wall;
if (allocations !== undefined) {
  const { profile } = await allocations.post('HeapProfiler.stopSampling');
  writeFileSync('intercept-cpu.heapprofile', JSON.stringify(profile));
}
await audit.flush?.();
const perRequest = (used.user + used.system) / requests;
console.log(
  `${requests} requests: ${perRequest.toFixed(2)} µs CPU per request (user ${(used.user / requests).toFixed(2)}, ` +
    `system ${(used.system / requests).toFixed(2)}), ${((ms * 1000) / requests).toFixed(2)} µs wall`,
);
for (const client of clients) client.destroy();
pool.close();
rmSync(dir, { recursive: true, force: true });
