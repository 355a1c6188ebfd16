// Bench proxy (its own process), started through the compiled library exactly as the server runs it (plain node on
// dist/, no TypeScript loader): CA with an in-memory key store, a run session, a real audit log, the resolve map.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import inspector from 'node:inspector';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dist = new URL('../dist/', import.meta.url);
const load = (path) => import(new URL(path, dist).href);
const [
  { createAuditLog, buildAuditEntry },
  { parseProviderDefinition },
  { createCertificateAuthority, createRunAuthorityForRoutes },
  { createProxyServer },
  { buildResolveKey },
  { createRunSessionRegistry },
  { buildCertificate, buildAltName },
  { createRunPolicy },
  { createVault },
  { createConnectionService },
  { createCredentialPeek, createCredentialSource },
  { createProviderRegistry },
  { packagePaths },
] = await Promise.all([
  load('audit.js'),
  load('providers/schema.js'),
  load('proxy/ca.js'),
  load('proxy/proxy-server.js'),
  load('proxy/resolve-map.js'),
  load('proxy/run-sessions.js'),
  load('tls/certificates.js'),
  load('runs/policy.js'),
  load('vault/vault.js'),
  load('connections/service.js'),
  load('proxy/credential-source.js'),
  load('providers/registry.js'),
  load('paths.js'),
]);

/** @type {{ upstreamPort: number; upstreamCa: string; proxiedKey: string; benchHosts: number }} */
const config = JSON.parse(process.env.BENCH_PROXY_CONFIG ?? '{}');
const dir = mkdtempSync(join(tmpdir(), 'authsome-bench-'));

const define = (raw) =>
  parseProviderDefinition(
    { schema_version: 1, display_name: String(raw.name), auth_type: 'api_key', ...raw },
    { path: `${String(raw.name)}.json` },
  );
const openai = define({ name: 'openai', api_url: 'api.openai.com' });
const benchHosts = define({ name: 'bench', api_url: 'regex:h\\d+\\.bench\\.test' });

let storedKey;
const ca = await createCertificateAuthority({
  keyStore: { load: async () => storedKey, save: async (pem) => void (storedKey = pem) },
  certPath: join(dir, 'ca', 'ca.pem'),
});
const sessions = createRunSessionRegistry();
const scope = [
  { provider: 'openai', connection: 'default', definition: openai },
  { provider: 'bench', connection: 'default', definition: benchHosts },
];
// The figures are taken with every guardrail on: an allow-list a careful team would write (the bench's requests are
// matched by its last rules, after the others were tried) and the key scrubber on every answer.
const policy = createRunPolicy({
  allow: JSON.parse(readFileSync(new URL('allow-rules.json', import.meta.url), 'utf8')),
});
const session = sessions.create({ pid: process.pid, scope, policy });
// The same proxy code without the guardrails (no allow-list, no scrubbing), on a port of its own: what they cost.
// Diagnostics only: BENCH_BARE_POLICY=1 gives the bare side the allow-list too, BENCH_BARE_SCRUB=1 the scrubber, so
// that the guardrail pairs show what the other one costs alone.
const bareSession = sessions.create({
  pid: process.pid,
  scope,
  ...(process.env.BENCH_BARE_POLICY === '1' ? { policy } : {}),
});
// Diagnostics only (the figures use the real log): BENCH_AUDIT=off swaps in a no-op log, BENCH_AUDIT=batched the
// one-write-per-tick writer proposed for src/audit.ts, to show what the per-line appendFile costs under load.
const realAudit = createAuditLog(join(dir, 'audit.log'));
const audit =
  process.env.BENCH_AUDIT === 'off'
    ? { ...realAudit, record: () => undefined }
    : process.env.BENCH_AUDIT === 'batched'
      ? createBatchedAudit(join(dir, 'audit-batched.log'))
      : realAudit;

function createBatchedAudit(path) {
  let lines = [];
  let scheduled = false;
  let chain = Promise.resolve();
  let handle;
  const writeOut = () => {
    scheduled = false;
    const text = lines.join('');
    lines = [];
    chain = chain.then(async () => {
      handle ??= await open(path, 'a', 0o600);
      await handle.write(text);
    });
  };
  return {
    ...realAudit,
    record(event, fields) {
      lines.push(`${JSON.stringify(buildAuditEntry(event, fields))}\n`);
      if (!scheduled) {
        scheduled = true;
        setImmediate(writeOut);
      }
    },
    flush() {
      if (scheduled) writeOut();
      return chain;
    },
  };
}
// The credentials come the way the server hands them over: from a real vault (keyfile mode, a cheap KDF: only the
// unlock would notice), through the connection service and the server's credential source. BENCH_CREDENTIALS=awaited
// leaves out the at-once path (every request then waits for the async source, as before it existed).
const vault = createVault({
  paths: {
    vault: join(dir, 'vault.json'),
    vaultBackup: join(dir, 'vault.json.bak'),
    masterKey: join(dir, 'master.key'),
  },
  kdf: { memory_kib: 1024, iterations: 1 },
});
await vault.open();
const stamp = new Date().toISOString();
for (const { provider, connection } of scope) {
  await vault.put(`connection:${provider}:${connection}`, {
    provider,
    connection,
    auth_type: 'api_key',
    status: 'connected',
    api_key: config.proxiedKey,
    obtained_at: stamp,
    updated_at: stamp,
  });
}
const connections = createConnectionService({
  vault,
  registry: createProviderRegistry({ bundledDir: packagePaths.providers, customDir: join(dir, 'providers') }),
  audit,
});
const credentialOptions = {
  resolveCredential: createCredentialSource(connections),
  ...(process.env.BENCH_CREDENTIALS === 'awaited' ? {} : { peekCredential: createCredentialPeek(connections) }),
};
const upstream = { host: '127.0.0.1', port: config.upstreamPort };
const resolveMap = new Map([[buildResolveKey('api.openai.com', 443), upstream]]);
for (let i = 0; i < config.benchHosts; i++) resolveMap.set(buildResolveKey(`h${i}.bench.test`, 443), upstream);

// Leaf cost, measured here so the figure comes from the process that serves the leaves (after a warm-up mint).
for (let i = 0; i < 5; i++) ca.getLeafContext(`warmup-${i}.example.test`);
const mintRuns = 50;
const mintStart = performance.now();
for (let i = 0; i < mintRuns; i++) ca.getLeafContext(`mint-${i}.example.test`);
const leafMintMs = (performance.now() - mintStart) / mintRuns;
// The certificate alone (what ca.ts builds and signs per host), without the TLS context OpenSSL makes from it.
const { generateKeyPairSync } = await import('node:crypto');
const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const spkiDer = ec.publicKey.export({ type: 'spki', format: 'der' });
const buildLeaf = (host) =>
  buildCertificate({
    subject: { commonName: host },
    issuer: { organization: 'authsome', commonName: 'authsome leaf issuer' },
    notBefore: new Date(Date.now() - 86_400_000),
    notAfter: new Date(Date.now() + 30 * 86_400_000),
    spkiDer,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', critical: true, digitalSignature: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [buildAltName(host)] },
      { name: 'authorityKeyIdentifier', keyIdentifier: Buffer.from('abcdefghijabcdefghij') },
    ],
    signer: ec.privateKey,
  });
for (let i = 0; i < 20; i++) buildLeaf(`warm-${i}.test`);
const certStart = performance.now();
for (let i = 0; i < 200; i++) buildLeaf(`cert-${i}.test`);
const leafCertMs = (performance.now() - certStart) / 200;

// Like `authsome run` (without --stable-ca): the runs' children trust a CA of their own, constrained to the runs'
// hosts, whose leaves sit directly under it. Both runs share one here, as they share a scope.
const { authority: runCa } = await createRunAuthorityForRoutes(scope.flatMap((e) => e.definition.matchers));
const proxyOptions = {
  ca,
  selectAuthority: () => runCa,
  sessions,
  audit,
  resolveMap,
  upstreamCaCerts: [config.upstreamCa],
  ...credentialOptions,
};
const proxy = await createProxyServer(proxyOptions);
const bareProxy = await createProxyServer({
  ...proxyOptions,
  scrubResponses: process.env.BENCH_BARE_SCRUB === '1',
});

// Memory, sampled every 50 ms: the peak since the last 'peak-reset' (one phase) and over the whole run, with what
// made up the RSS at that moment (V8 heap, Buffers, the rest: OpenSSL, code, stacks).
const sample = () => {
  const m = process.memoryUsage();
  return {
    rss: m.rss,
    heapUsed: m.heapUsed,
    heapTotal: m.heapTotal,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
  };
};
let profiler;
let phasePeak = sample();
let runPeak = phasePeak;
const sampler = setInterval(() => {
  const now = sample();
  if (now.rss > phasePeak.rss) phasePeak = now;
  if (now.rss > runPeak.rss) runPeak = now;
}, 50);
sampler.unref();

process.send?.({
  type: 'ready',
  port: proxy.port,
  token: session.token,
  barePort: bareProxy.port,
  bareToken: bareSession.token,
  caPem: runCa.certPem,
  leafMintMs,
  leafCertMs,
  rss: process.memoryUsage.rss(),
});
process.on('message', (msg) => {
  if (msg.type === 'peak-reset') {
    phasePeak = sample();
    process.send?.({ type: 'peak-reset', rss: phasePeak.rss });
  } else if (msg.type === 'peak') {
    const now = sample();
    if (now.rss > phasePeak.rss) phasePeak = now;
    if (now.rss > runPeak.rss) runPeak = now;
    process.send?.({ type: 'peak', rss: phasePeak.rss, phase: phasePeak, run: runPeak, now });
  } else if (msg.type === 'profile-start') {
    // One phase only (run.ts --profile-phase): the profile holds that phase's work, not start-up or warm-up.
    profiler ??= new inspector.Session();
    profiler.connect();
    if (process.env.BENCH_PROFILE_KIND === 'alloc') {
      // Allocations, collected or not (what the young generation churns through), sampled every 512 bytes.
      profiler.post(
        'HeapProfiler.startSampling',
        { samplingInterval: 512, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true },
        () => process.send?.({ type: 'profile-start' }),
      );
      return;
    }
    profiler.post('Profiler.enable', () =>
      profiler.post('Profiler.setSamplingInterval', { interval: 100 }, () =>
        profiler.post('Profiler.start', () => process.send?.({ type: 'profile-start' })),
      ),
    );
  } else if (msg.type === 'profile-stop') {
    const stop = process.env.BENCH_PROFILE_KIND === 'alloc' ? 'HeapProfiler.stopSampling' : 'Profiler.stop';
    profiler.post(stop, (_err, { profile }) => {
      writeFileSync(msg.path, JSON.stringify(profile));
      profiler.disconnect();
      process.send?.({ type: 'profile-stop', path: msg.path });
    });
  } else if (msg.type === 'cpu') {
    process.send?.({ type: 'cpu', usage: process.cpuUsage() });
  } else if (msg.type === 'exit') {
    void Promise.all([proxy.close(), bareProxy.close()]).then(async () => {
      await audit.flush();
      rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    });
  }
});
