// Summarises a proxy CPU profile (`npm run bench -- --only=newconn --profile=<dir>`, node --cpu-prof): each sample
// is charged to the first stage found walking up its stack, so the stages add up to the proxy's busy time.
// Usage: tsx bench/profile-summary.ts <file.cpuprofile>
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Stage rules, most specific first: the first frame (from the leaf up) that matches one decides. */
const STAGES: [stage: string, test: (fn: string, url: string) => boolean][] = [
  [
    'certificate lookup',
    (fn, url) => url.includes('/proxy/ca.js') || url.includes('/tls/certificates.js') || fn === 'getLeafContext',
  ],
  ['audit log (entry and file write)', (_, url) => url.endsWith('/audit.js')],
  [
    'routing (match, credential, upstream head)',
    (_, url) => /\/(providers\/routes|proxy\/run-sessions|proxy\/upstream-head|proxy\/credential-source)\.js/.test(url),
  ],
  ['upstream (pool, connect, TLS to the upstream)', (_, url) => /\/proxy\/(upstream|upstream-pool)\.js/.test(url)],
  ['request and response framing', (_, url) => /\/proxy\/(http1-framing|response-tracker)\.js/.test(url)],
  ['relay (intercept: reads and writes both ways)', (_, url) => url.includes('/proxy/intercept.js')],
  ['CONNECT and TLS handshake to the agent', (_, url) => url.includes('/proxy/proxy-server.js')],
  ['node:http (CONNECT parsing, sockets)', (_, url) => /node:_http|node:http/.test(url)],
  [
    'TLS (node:tls, OpenSSL)',
    (fn, url) => /node:_tls|node:tls/.test(url) || /^(onhandshake|oncertcb|onnewsession|loadSession)/.test(fn),
  ],
  ['net and streams', (_, url) => /node:(net|stream|internal\/streams|internal\/stream_base_commons)/.test(url)],
  ['garbage collection', (fn) => fn === '(garbage collector)'],
  ['idle', (fn) => fn === '(idle)'],
  [
    'bench harness (memory sampling, profiler)',
    (_, url) => url.endsWith('proxy-process.mjs') || url === 'node:inspector',
  ],
  ['program (native, not attributed)', (fn) => fn === '(program)'],
];

const path = process.argv[2];
if (path === undefined) throw new Error('usage: tsx bench/profile-summary.ts <file.cpuprofile>');
const profile = JSON.parse(readFileSync(path, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

const stageOf = new Map<number, string>();
function classify(id: number): string {
  const known = stageOf.get(id);
  if (known !== undefined) return known;
  const { functionName, url } = byId.get(id)!.callFrame;
  const rule = STAGES.find(([, test]) => test(functionName, url));
  const up = parent.get(id);
  const stage = rule !== undefined ? rule[0] : up === undefined ? 'other' : classify(up);
  stageOf.set(id, stage);
  return stage;
}

// A stage matched by an ancestor wins over a generic leaf: a net write made by the relay is relay time.
function classifyStack(id: number): string {
  const generic = new Set(['net and streams', 'TLS (node:tls, OpenSSL)', 'program (native, not attributed)', 'other']);
  let first: string | undefined;
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const { functionName, url } = byId.get(at)!.callFrame;
    const rule = STAGES.find(([, test]) => test(functionName, url));
    if (rule === undefined) continue;
    first ??= rule[0];
    if (!generic.has(rule[0])) return rule[0];
  }
  return first ?? classify(id);
}

const totals = new Map<string, number>();
let busy = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const stage = classifyStack(profile.samples[i]!);
  const us = profile.timeDeltas[i] ?? 0;
  totals.set(stage, (totals.get(stage) ?? 0) + us);
  if (stage !== 'idle') busy += us;
}
console.log(`busy ${(busy / 1000).toFixed(0)} ms`);
for (const [stage, us] of [...totals].sort((a, b) => b[1] - a[1])) {
  if (stage === 'idle') continue;
  console.log(
    `${stage.padEnd(48)} ${(us / 1000).toFixed(0).padStart(7)} ms  ${((100 * us) / busy).toFixed(1).padStart(5)} %`,
  );
}
