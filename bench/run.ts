// `npm run bench`: the proxy figures, each measured through the proxy and directly in the same run.
// Upstream, proxy and load generator are separate processes; phases run one after another (2-core machines).
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { SERVER_NODE_FLAGS } from '../src/paths.js';
import { createTestCa } from '../test/helpers/test-ca.js';
import type { PhaseCommand, PhaseResult, Target } from './load-process.js';
import { measureCliFigures, type FigureRow } from './cli-figures.js';
import { measureGuardrailCost } from './guardrail-cost.js';

const here = (name: string) => fileURLToPath(new URL(name, import.meta.url));
const PROXIED_KEY = 'sk-bench-proxied-0123456789abcdefghijklmnop';
const DIRECT_KEY = 'sk-bench-direct-00123456789abcdefghijklmnop';
const PLACEHOLDER = 'authsome-proxy-managed';
const BENCH_HOSTS = 20_000;
const quick = process.argv.includes('--quick');
/** `--only=keepalive,newconn,…` runs a subset (for tuning); the full run is what counts. */
const only = process.argv
  .find((a) => a.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',');
const wants = (name: string) => only === undefined || only.includes(name);
const PHASE_MS = quick ? 1500 : 4000;
const WARMUP_MS = quick ? 300 : 800;
/** Keep-alive c=10 and c=50 are measured in rounds (see inRounds): this many, each run this long after its warm-up. */
const ROUNDS = 6;
const ROUND_MS = 2500;
const ROUND_WARMUP_MS = 500;

/** Per target, one entry per round: throughput, its ratio to direct in that round, CPU, and the phase's median time. */
type RoundFigures = Record<
  'direct' | 'relay' | 'proxy',
  { rps: number[]; ratios: number[]; cpu: number[]; medians: number[] }
>;

type Row = FigureRow;

/** `--profile=<dir>` writes a CPU profile of the proxy process there (for tuning, not for the figures). */
const profileDir = process.argv.find((a) => a.startsWith('--profile='))?.slice('--profile='.length);
/**
 * `--profile-phase=newconn` profiles the proxy during that phase's proxied run only (bench/PROFILE.md), written to
 * proxy-<phase>.cpuprofile in the current directory; summarise it with bench/profile-summary.ts. With
 * BENCH_PROFILE_KIND=alloc it samples allocations instead (collected ones too), to proxy-<phase>.heapprofile.
 */
const profileArg = process.argv.find((a) => a.startsWith('--profile-phase='))?.slice('--profile-phase='.length);
/** `--profile-phase=keepalive:10` picks the keep-alive run at concurrency 10 (the first one otherwise). */
const [profilePhase, profileConcurrency] = (profileArg ?? '').split(':');
const profileExtension = process.env.BENCH_PROFILE_KIND === 'alloc' ? 'heapprofile' : 'cpuprofile';
/** `--no-warmup`: straight to the phases (with --only, for profiling one). */
const warmup = !process.argv.includes('--no-warmup');

/** Every child started, so a failed run does not leave one behind (holding the terminal's pipes open). */
const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const child of children) if (child.exitCode === null) child.kill();
});

function start(script: string, env: Record<string, string>): ChildProcess {
  // The proxy runs compiled (dist/, plain node) with the server's Node flags, like the real server; the helpers run
  // through tsx.
  const loader = script.endsWith('.mjs') ? [...SERVER_NODE_FLAGS] : ['--import', 'tsx'];
  const profile =
    profileDir !== undefined && script.startsWith('proxy') ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  // BENCH_PROXY_NODE_ARGS / BENCH_RELAY_NODE_ARGS: extra node flags for the proxy or the bare relay only (diagnostics,
  // e.g. --perf-basic-prof, so that `perf record -p` on both names their JavaScript).
  if (script.startsWith('relay') && process.env.BENCH_RELAY_NODE_ARGS)
    profile.push(...process.env.BENCH_RELAY_NODE_ARGS.split(' '));
  if (script.startsWith('proxy') && process.env.BENCH_PROXY_NODE_ARGS)
    profile.push(...process.env.BENCH_PROXY_NODE_ARGS.split(' '));
  const child = fork(here(script), [], {
    execArgv: [...loader, ...profile],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.push(child);
  return child;
}

function waitFor<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`bench child exited (${code}) while waiting for ${type}`));
    const onMessage = (msg: { type: string; message?: string }) => {
      if (msg.type !== 'error' && msg.type !== type) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (msg.type === 'error') reject(new Error(msg.message));
      else resolve(msg as T);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

async function ask<T>(child: ChildProcess, message: object, type: string): Promise<T> {
  const answer = waitFor<T>(child, type);
  child.send(message);
  return answer;
}

/** The middle value (the mean of the two middle ones for an even count). */
function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');

async function main(): Promise<void> {
  const began = performance.now();
  const testCa = createTestCa(['api.openai.com', '*.bench.test']);
  const upstream = start('upstream-process.ts', {
    BENCH_UPSTREAM_CONFIG: JSON.stringify({
      cert: testCa.cert,
      key: testCa.key,
      proxiedKey: PROXIED_KEY,
      directKey: DIRECT_KEY,
    }),
  });
  const { port: upstreamPort } = await waitFor<{ port: number }>(upstream, 'ready');
  const relay = start('relay-process.ts', {
    BENCH_RELAY_CONFIG: JSON.stringify({ cert: testCa.cert, key: testCa.key, upstreamPort, upstreamCa: testCa.caCert }),
  });
  const { port: relayPort } = await waitFor<{ port: number }>(relay, 'ready');
  if (!existsSync(here('../dist/proxy/proxy-server.js')))
    throw new Error("dist/ is missing: run 'npm run bench' (it builds first) or 'npm run build'.");
  const proxy = start('proxy-process.mjs', {
    BENCH_PROXY_CONFIG: JSON.stringify({
      upstreamPort,
      upstreamCa: testCa.caCert,
      proxiedKey: PROXIED_KEY,
      benchHosts: BENCH_HOSTS,
    }),
  });
  const ready = await waitFor<{
    port: number;
    token: string;
    barePort: number;
    bareToken: string;
    caPem: string;
    leafMintMs: number;
    leafCertMs: number;
    rss: number;
  }>(proxy, 'ready');
  const load = start('load-process.ts', {
    BENCH_LOAD_CONFIG: JSON.stringify({
      upstreamPort,
      relayPort,
      proxyPort: ready.port,
      proxyToken: ready.token,
      barePort: ready.barePort,
      bareToken: ready.bareToken,
      authsomeCa: ready.caPem,
      upstreamCa: testCa.caCert,
      directKey: DIRECT_KEY,
      placeholder: PLACEHOLDER,
      benchHosts: BENCH_HOSTS,
    }),
  });
  await waitFor(load, 'ready');

  const loadAvgBefore = os.loadavg()[0]!;
  type Cpu = { usage: NodeJS.CpuUsage };
  const cpuOf = async (child: ChildProcess, message: object) => {
    const { usage } = await ask<Cpu>(child, message, 'cpu');
    return usage;
  };
  // The middle figure is the process between the agent and the upstream: authsome, or the floor relay.
  const cpuAll = async (target: Target) => [
    await cpuOf(load, { phase: 'cpu' }),
    await cpuOf(target === 'relay' ? relay : proxy, { type: 'cpu' }),
    await cpuOf(upstream, { type: 'cpu' }),
  ];
  let profiledOnce = false;
  type Measured = PhaseResult & { proxyCpuPerRequest: number; upstreamConnections: number };
  type Memory = { rss: number; heapUsed: number; heapTotal: number; external: number; arrayBuffers: number };
  type Peaks = { rss: number; phase: Memory; run: Memory };
  const mib = (n: number) => fmt(n / 1048576, 1);
  const phase = async (cmd: PhaseCommand): Promise<Measured> => {
    if (cmd.target === 'proxy') await ask(proxy, { type: 'peak-reset' }, 'peak-reset');
    const before = await cpuAll(cmd.target);
    const connsBefore = (await ask<{ counts: { connections: number } }>(upstream, { type: 'counts' }, 'counts')).counts
      .connections;
    const profiled =
      profilePhase === cmd.phase &&
      cmd.target === 'proxy' &&
      !profiledOnce &&
      (profileConcurrency === undefined || ('concurrency' in cmd && String(cmd.concurrency) === profileConcurrency));
    if (profiled) await ask(proxy, { type: 'profile-start' }, 'profile-start');
    const { result } = await ask<{ result: PhaseResult }>(load, cmd, 'result');
    if (profiled) {
      profiledOnce = true;
      const { path } = await ask<{ path: string }>(
        proxy,
        { type: 'profile-stop', path: `proxy-${cmd.phase}.${profileExtension}` },
        'profile-stop',
      );
      process.stderr.write(`  profile of ${cmd.phase} written to ${path}\n`);
    }
    const after = await cpuAll(cmd.target);
    const conns =
      (await ask<{ counts: { connections: number } }>(upstream, { type: 'counts' }, 'counts')).counts.connections -
      connsBefore;
    // CPU µs per request in each process: robust to other load on the machine, unlike wall-clock figures.
    const requests = Math.max(1, result.requests);
    const perRequest = after.map((v, i) => (v.user + v.system - before[i]!.user - before[i]!.system) / requests);
    const per = perRequest.map((v) => fmt(v, 0));
    // The middle process's share in the kernel (socket writes and the loopback delivery they trigger).
    const middleSystem = fmt((after[1]!.system - before[1]!.system) / requests, 0);
    let memory = '';
    if (cmd.target === 'proxy') {
      // Where the proxy's memory went in this phase: RSS at its peak, and the V8 heap and Buffers within it.
      const { phase: m } = await ask<Peaks>(proxy, { type: 'peak' }, 'peak');
      memory =
        `; proxy peak RSS ${mib(m.rss)} MiB (heap ${mib(m.heapUsed)}/${mib(m.heapTotal)}, ` +
        `external ${mib(m.external)}, buffers ${mib(m.arrayBuffers)})`;
    }
    process.stderr.write(
      `  ${cmd.phase} ${cmd.target}: ${fmt(result.rps)} req/s, p50 ${fmt(result.p50, 3)} ms, ` +
        `errors ${result.errors}; ` +
        `cpu µs/req load ${per[0]} proxy ${per[1]} (system ${middleSystem}) upstream ${per[2]}; ` +
        `upstream TLS connections ${conns}${memory}` +
        (result.versus === undefined
          ? ''
          : `; in turn with ${'versus' in cmd ? cmd.versus : ''}: p50 ${fmt(result.versus.median, 3)} ms, ` +
            `errors ${result.versus.errors}`) +
        '\n',
    );
    return { ...result, proxyCpuPerRequest: perRequest[1]!, upstreamConnections: conns };
  };
  /**
   * Each side twice, alternated (direct, proxy, direct, proxy): a drift in the machine's load (a shared VM) then lands
   * on both sides, and the better run of each counts. Errors add up and SSE batching counts in any run.
   */
  const alternate = async <T extends Target>(make: (t: T) => PhaseCommand, targets: readonly T[]) => {
    const runs = new Map<T, Measured[]>(targets.map((t) => [t, []]));
    for (let i = 0; i < (quick ? 1 : 2); i++) for (const t of targets) runs.get(t)!.push(await phase(make(t)));
    return (t: T): Measured => pickBest(runs.get(t)!);
  };
  const both = async (make: (t: Target) => PhaseCommand): Promise<[Measured, Measured]> => {
    const best = await alternate(make, ['direct', 'proxy']);
    return [best('direct'), best('proxy')];
  };
  /**
   * Throughput against direct in rounds: every target once per round, back to back, the order rotating from round to
   * round, and each round's ratio to direct taken within that round. On a shared 2-core VM the machine's speed drifts
   * by tens of per cent within seconds (a bare relay measured anywhere from 0.39x to 0.69x of direct in single runs of
   * one session), and the better run of each side, taken apart, pairs a lucky direct run with an unlucky proxied one.
   * A ratio within a round cancels most of the drift, and the median (the figure that counts) leaves out a round it
   * disturbed. `best` still gives each target's better run, for the latency rows.
   */
  const inRounds = async (make: (t: Target) => PhaseCommand, targets: readonly Target[]) => {
    const runs = new Map<Target, Measured[]>(targets.map((t) => [t, []]));
    for (let i = 0; i < (quick ? 1 : ROUNDS); i++) {
      for (let k = 0; k < targets.length; k++) {
        const t = targets[(k + i) % targets.length]!;
        runs.get(t)!.push(await phase(make(t)));
      }
    }
    const direct = runs.get('direct')!;
    const figures = Object.fromEntries(
      targets.map((t) => {
        const list = runs.get(t)!;
        return [
          t,
          {
            rps: list.map((m) => m.rps),
            ratios: list.map((m, i) => m.rps / direct[i]!.rps),
            cpu: list.map((m) => m.proxyCpuPerRequest),
            medians: list.map((m) => m.median ?? Number.NaN),
          },
        ];
      }),
    ) as RoundFigures;
    return { best: (t: Target): Measured => pickBest(runs.get(t)!), figures };
  };
  /** A list of ratios as 'lowest-highest'. */
  const spanOf = (ratios: number[]) => `${fmt(Math.min(...ratios), 2)}-${fmt(Math.max(...ratios), 2)}x`;
  const pickBest = (list: Measured[]): Measured => {
    const best = list.reduce((a, b) => {
      if (a.median !== undefined && b.median !== undefined) return b.median < a.median ? b : a;
      return b.rps > a.rps ? b : a;
    });
    const errors = list.reduce((n, r) => n + r.errors, 0);
    const unbatched = list.every((r) => r.unbatched !== false);
    return { ...best, errors, ...(best.unbatched === undefined ? {} : { unbatched }) };
  };

  const rows: Row[] = [];
  /** `min` undefined: an informational row, shown without a verdict. */
  const addRatio = (figure: string, d: number, p: number, unit: string, min: number | undefined, digits = 0) =>
    rows.push({
      figure,
      direct: `${fmt(d, digits)} ${unit}`,
      proxy: `${fmt(p, digits)} ${unit}`,
      ratio: `${fmt(p / d, 2)}x`,
      target: min === undefined ? 'info' : `>= ${min}x`,
      pass: min === undefined ? undefined : p / d >= min,
    });

  /** A throughput measured in rounds: the median of the rounds' ratios to direct counts, their range beside it. */
  const addRoundsRatio = (
    figure: string,
    direct: RoundFigures['direct'],
    proxy: RoundFigures['proxy'],
    min: number,
  ) => {
    const ratio = median(proxy.ratios);
    rows.push({
      figure: `${figure} (median of ${proxy.ratios.length} rounds)`,
      direct: `${fmt(median(direct.rps))} req/s`,
      proxy: `${fmt(median(proxy.rps))} req/s`,
      // Three digits: at two, a median of 0.3996 read '0.40x >= 0.4x FAIL'.
      ratio: `${fmt(ratio, 3)}x`,
      target: `>= ${min}x`,
      pass: ratio >= min,
    });
    addRangeRow(proxy.ratios);
  };
  /** The info row under a figure measured in rounds: the lowest and highest of its rounds' ratios. */
  const addRangeRow = (ratios: number[]) =>
    rows.push({
      figure: "  … the rounds' ratios (lowest-highest)",
      direct: '-',
      proxy: spanOf(ratios),
      ratio: '',
      target: 'info',
      pass: undefined,
    });

  // The server is long-lived: measure it warm. Both paths get the same warm-up, none of it is reported.
  process.stderr.write('authsome bench: warming up…\n');
  for (const target of warmup ? (['direct', 'proxy'] as const) : []) {
    await phase({ phase: 'keepalive', target, concurrency: 10, durationMs: quick ? 1500 : 3000, warmupMs: 0 });
    await phase({ phase: 'mib', target, runs: 3 });
    await phase({ phase: 'sse', target, runs: 2, intervalMs: 5 });
  }
  process.stderr.write('authsome bench: running phases…\n');
  if (wants('keepalive')) {
    const ka: Record<number, [Measured, Measured]> = {};
    // The floor (a bare TLS relay, relay-process.ts) runs beside every level: what any proxy that terminates TLS on
    // both sides pays on this machine, against which authsome's own share can be read.
    const floor: Record<number, Measured> = {};
    /** c=10 and c=50: each round's ratios to direct, and the middle process's CPU per request, per target. */
    const rounds: Record<number, RoundFigures> = {};
    // `--only=keepalive,c1` or `…,c10`: one concurrency (for tuning).
    const levels = only?.includes('c1') ? [1] : only?.includes('c10') ? [10] : [1, 10, 50];
    for (const c of levels) {
      if (c === 1) {
        // Latency: the better of two alternated runs per side (a p50 is steady within a run; its drift is small).
        const best = await alternate(
          (target) => ({ phase: 'keepalive', target, concurrency: c, durationMs: PHASE_MS, warmupMs: WARMUP_MS }),
          ['direct', 'relay', 'proxy'],
        );
        ka[c] = [best('direct'), best('proxy')];
        floor[c] = best('relay');
        continue;
      }
      const measured = await inRounds(
        (target) => ({ phase: 'keepalive', target, concurrency: c, durationMs: ROUND_MS, warmupMs: ROUND_WARMUP_MS }),
        ['direct', 'relay', 'proxy'],
      );
      ka[c] = [measured.best('direct'), measured.best('proxy')];
      floor[c] = measured.best('relay');
      rounds[c] = measured.figures;
    }
    const [d1, p1] = ka[1] ?? [];
    if (d1 !== undefined && p1 !== undefined) {
      rows.push({
        figure: 'keep-alive c=1 throughput',
        direct: `${fmt(d1.rps)} req/s`,
        proxy: `${fmt(p1.rps)} req/s`,
        ratio: `${fmt(p1.rps / d1.rps, 2)}x`,
        target: '-',
        pass: undefined,
      });
      rows.push({
        figure: 'keep-alive c=1 added latency p50',
        direct: `${fmt(d1.p50, 3)} ms`,
        proxy: `${fmt(p1.p50, 3)} ms`,
        ratio: `+${fmt(p1.p50 - d1.p50, 3)} ms`,
        target: '<= +0.15 ms',
        pass: p1.p50 - d1.p50 <= 0.15,
      });
      rows.push({
        figure: '  … a bare TLS relay (the floor)',
        direct: `${fmt(d1.p50, 3)} ms`,
        proxy: `${fmt(floor[1]!.p50, 3)} ms`,
        ratio: `+${fmt(floor[1]!.p50 - d1.p50, 3)} ms`,
        target: 'info',
        pass: undefined,
      });
    }
    for (const c of [10, 50]) {
      const figures = rounds[c];
      if (ka[c] === undefined || figures === undefined) continue;
      const [d, p] = ka[c]!;
      const { direct, relay, proxy } = figures;
      addRoundsRatio(`keep-alive c=${c} throughput`, direct, proxy, 0.4);
      rows.push({
        figure: '  … a bare TLS relay (the floor), median and range',
        direct: `${fmt(median(direct.rps))} req/s`,
        proxy: `${fmt(median(relay.rps))} req/s, ${spanOf(relay.ratios)}`,
        ratio: `${fmt(median(relay.ratios), 2)}x`,
        target: 'info',
        pass: undefined,
      });
      rows.push({
        figure: '  … CPU per request in the middle (relay / authsome, medians)',
        direct: `${fmt(median(relay.cpu))} µs`,
        proxy: `${fmt(median(proxy.cpu))} µs`,
        ratio: `${fmt(median(proxy.cpu) / median(relay.cpu), 2)}x`,
        target: 'info',
        pass: undefined,
      });
      rows.push({
        figure: `keep-alive c=${c} p50 / p99`,
        direct: `${fmt(d.p50, 2)} / ${fmt(d.p99, 2)} ms`,
        proxy: `${fmt(p.p50, 2)} / ${fmt(p.p99, 2)} ms`,
        ratio: '',
        target: '-',
        pass: undefined,
      });
    }
  }

  // Before the new-connection phase, whose thousand host names would otherwise still sit in the proxy's pools.
  if (wants('concurrent')) {
    const dc = await phase({ phase: 'concurrent', target: 'direct', connections: 500, requestsEach: 10 });
    const { now: idle } = await ask<{ now: Memory }>(proxy, { type: 'peak' }, 'peak');
    const idleRss = idle.rss;
    const pc = await phase({ phase: 'concurrent', target: 'proxy', connections: 500, requestsEach: 10 });
    const { rss } = await ask<Peaks>(proxy, { type: 'peak' }, 'peak');
    rows.push({
      figure: '500 concurrent connections: errors',
      direct: String(dc.errors),
      proxy: String(pc.errors),
      ratio: '',
      target: '0 errors',
      pass: pc.errors === 0,
    });
    rows.push({
      figure: '500 concurrent connections: proxy RSS',
      direct: '-',
      proxy: `${fmt(rss / 1048576, 1)} MB (start ${fmt(ready.rss / 1048576, 1)}, before ${fmt(idleRss / 1048576, 1)})`,
      ratio: '',
      target: 'info',
      pass: undefined,
    });
    rows.push({
      figure: '500 concurrent connections: upstream TLS connections',
      direct: String(dc.upstreamConnections),
      proxy: String(pc.upstreamConnections),
      ratio: '',
      target: 'info',
      pass: undefined,
    });
  }

  // What the guardrails cost: the same proxy code with and without the allow-list and the scrubber, in pairs run
  // back to back (the order flips each pair), so that a drift in the machine's load lands on both sides of a pair;
  // the median of the pairs' ratios counts, so one disturbed pair does not decide it. Twenty short pairs (1.5 s each
  // side): identical sides (BENCH_AA=1) gave 0.91-1.01x with four pairs of 4 s, 0.95-1.03x with twelve of 1.5 s, and
  // the cost itself (3-7 % of the proxy's CPU, all the scrubber's) sits close enough to the 10 % line that the
  // median needs the extra pairs. BENCH_PAIRS=n (diagnostics) takes n pairs instead.
  let guardSse: PhaseResult | undefined;
  const pairCount = quick ? 1 : Number(process.env.BENCH_PAIRS ?? 20);
  if (!Number.isInteger(pairCount) || pairCount < 1) throw new Error(`BENCH_PAIRS must be a whole number >= 1`);
  if (wants('guardrails')) {
    const pairs = async (make: (t: Target) => PhaseCommand, metric: (m: Measured) => number) => {
      const bare: number[] = [];
      const guarded: number[] = [];
      const ratios: number[] = [];
      const cpuRatios: number[] = [];
      let last: Measured | undefined;
      // One discarded round first: right after the 500-connection phase the proxy is still collecting that phase's
      // garbage (CPU per request fell from ~180 to ~110 µs over the first pairs), which would land on one side.
      if (!quick) for (const t of ['bare', 'proxy'] as const) await phase(make(t));
      for (let i = 0; i < pairCount; i++) {
        const order = i % 2 === 0 ? (['bare', 'proxy'] as const) : (['proxy', 'bare'] as const);
        const got: Partial<Record<'bare' | 'proxy', Measured>> = {};
        for (const t of order) got[t] = await phase(make(t));
        bare.push(metric(got.bare!));
        guarded.push(metric(got.proxy!));
        ratios.push(metric(got.proxy!) / metric(got.bare!));
        cpuRatios.push(got.proxy!.proxyCpuPerRequest / got.bare!.proxyCpuPerRequest);
        last = got.proxy;
      }
      return {
        bare: median(bare),
        guarded: median(guarded),
        ratio: median(ratios),
        cpuRatio: median(cpuRatios),
        last: last!,
      };
    };
    const ka = await pairs(
      (target) => ({ phase: 'keepalive', target, concurrency: 10, durationMs: 1500, warmupMs: 300 }),
      (m) => m.rps,
    );
    rows.push({
      figure: `guardrails cost: keep-alive c=10 (without / with, ${pairCount} pairs)`,
      direct: `${fmt(ka.bare)} req/s`,
      proxy: `${fmt(ka.guarded)} req/s`,
      ratio: `${fmt(ka.ratio, 2)}x`,
      target: '>= 0.9x',
      pass: ka.ratio >= 0.9,
    });
    // The same pairs seen through the proxy process's CPU per request (user + system), which the load generator and
    // the upstream sharing the two cores move less than they move throughput.
    rows.push({
      figure: '  … proxy CPU per request, with / without (median of the pairs)',
      direct: '-',
      proxy: '',
      ratio: `${fmt(ka.cpuRatio, 2)}x`,
      target: 'info',
      pass: undefined,
    });
    // The steady view of the same cost: the guardrail code's own CPU per request, as a share of the proxy's.
    const cost = measureGuardrailCost(PROXIED_KEY);
    const extra = cost.guarded - cost.bare;
    rows.push({
      figure: '  … their CPU per request, in-process (without / with)',
      direct: `${fmt(cost.bare, 2)} µs`,
      proxy: `${fmt(cost.guarded, 2)} µs`,
      ratio: `${fmt((100 * extra) / ka.last.proxyCpuPerRequest, 1)} %`,
      target: '<= 10 % of proxy',
      pass: extra <= 0.1 * ka.last.proxyCpuPerRequest,
    });
    // Streamed completions through each proxy in turn (200 each) on one kept connection per side: request to first
    // event, without the two TLS handshakes whose noise (±15 % between identical sides, BENCH_AA=1) would hide a cost
    // of a few per cent. The added time is the median of the back-to-back pairs' differences; it is judged against
    // the SSE figure it adds to (first event from connect), once that phase has run.
    guardSse = await phase({
      phase: 'sse',
      target: 'proxy',
      versus: 'bare',
      runs: quick ? 40 : 200,
      intervalMs: 5,
      keepAlive: true,
    });
  }

  let fromConnect: number | undefined;
  if (wants('sse')) {
    // Direct and proxied in turn, 50 each: the figure includes both TLS handshakes, which a busy shared machine
    // slows unevenly over a few seconds; sampled side by side, both sides see the same load.
    const ps = await phase({ phase: 'sse', target: 'proxy', versus: 'direct', runs: quick ? 8 : 50, intervalMs: 20 });
    const ds = ps.versus!;
    rows.push({
      figure: 'SSE first event from connect (median)',
      direct: `${fmt(ds.median!, 2)} ms`,
      proxy: `${fmt(ps.median!, 2)} ms`,
      ratio: `${fmt(ps.median! / ds.median!, 2)}x`,
      target: '<= 1.5x',
      pass: ps.median! / ds.median! <= 1.5 && ps.errors === 0,
    });
    rows.push({
      figure: 'SSE events arrive as sent',
      direct: ds.unbatched ? 'yes' : 'NO',
      proxy: ps.unbatched ? 'yes' : 'NO',
      ratio: '',
      target: 'never batched',
      pass: ps.unbatched === true,
    });
    fromConnect = ps.median;
  }
  if (guardSse !== undefined) {
    const bareSse = guardSse.versus!;
    const added = guardSse.pairedDifference ?? Number.NaN;
    const valid = guardSse.errors === 0 && bareSse.errors === 0;
    rows.push({
      figure: 'guardrails cost: SSE request to first event (without / with)',
      direct: `${fmt(bareSse.median, 3)} ms`,
      proxy: `${fmt(guardSse.median!, 3)} ms`,
      ratio: `${fmt(guardSse.median! / bareSse.median, 2)}x`,
      target: 'info',
      pass: undefined,
    });
    rows.push({
      figure: '  … added to the SSE first event from connect',
      direct: '-',
      proxy: `${added >= 0 ? '+' : ''}${fmt(added, 3)} ms`,
      ratio: fromConnect === undefined ? '' : `${fmt((100 * added) / fromConnect, 1)} %`,
      target: '<= 10 %',
      pass: fromConnect === undefined ? undefined : valid && added <= 0.1 * fromConnect,
    });
  }

  if (wants('mib')) {
    // In rounds, as the throughputs: the better of two runs per side, taken apart, gave 1.32x to 1.94x for the same
    // code within a few hours. Each round's ratio is the proxy's median time over direct's in that round. The bare
    // TLS relay runs in the same rounds: what any proxy that decrypts and re-encrypts the answer pays here.
    const measured = await inRounds(
      (target) => ({ phase: 'mib', target, runs: quick ? 10 : 60 }),
      ['direct', 'relay', 'proxy'],
    );
    const { direct, relay, proxy } = measured.figures;
    const ratiosOf = (side: RoundFigures['proxy']) => side.medians.map((m, i) => m / direct.medians[i]!);
    const ratios = ratiosOf(proxy);
    const ratio = median(ratios);
    rows.push({
      figure: `1 MiB response (median of ${ratios.length} rounds)`,
      direct: `${fmt(median(direct.medians), 2)} ms`,
      proxy: `${fmt(median(proxy.medians), 2)} ms`,
      ratio: `${fmt(ratio, 2)}x`,
      target: '<= 1.5x',
      pass: ratio <= 1.5 && measured.best('proxy').errors === 0,
    });
    addRangeRow(ratios);
    const relayRatios = ratiosOf(relay);
    rows.push({
      figure: '  … a bare TLS relay (the floor), median and range',
      direct: `${fmt(median(direct.medians), 2)} ms`,
      proxy: `${fmt(median(relay.medians), 2)} ms, ${spanOf(relayRatios)}`,
      ratio: `${fmt(median(relayRatios), 2)}x`,
      target: 'info',
      pass: undefined,
    });
    const overRelay = proxy.medians.map((m, i) => m / relay.medians[i]!);
    rows.push({
      figure: "  … authsome's time over the relay's, median of the rounds",
      direct: '-',
      proxy: spanOf(overRelay),
      ratio: `${fmt(median(overRelay), 2)}x`,
      target: 'info',
      pass: undefined,
    });
  }

  if (wants('newconn')) {
    // In rounds, as keep-alive: a run's throughput is CPU-bound on both sides (a handshake per request), and the
    // better run of each side taken apart swung between 0.69x and 0.83x on the same code.
    const measured = await inRounds(
      (target) => ({
        phase: 'newconn',
        target,
        concurrency: 10,
        durationMs: ROUND_MS,
        warmupMs: ROUND_WARMUP_MS,
        distinctHosts: false,
      }),
      ['direct', 'proxy'],
    );
    const dn = measured.best('direct');
    const pn = measured.best('proxy');
    const { direct, proxy } = measured.figures;
    addRoundsRatio('new connection per request c=10', direct, proxy, 0.75);
    rows.push({
      figure: '  … proxy CPU per request (median)',
      direct: '-',
      proxy: `${fmt(median(proxy.cpu))} µs`,
      ratio: '',
      target: 'info',
      pass: undefined,
    });
    rows.push({
      figure: '  … upstream TLS connections per 1 000 requests',
      direct: fmt((dn.upstreamConnections * 1000) / Math.max(1, dn.requests + dn.errors)),
      proxy: fmt((pn.upstreamConnections * 1000) / Math.max(1, pn.requests + pn.errors)),
      ratio: '',
      target: 'info',
      pass: undefined,
    });
    const [dh, ph] = await both((target) => ({
      phase: 'newconn',
      target,
      concurrency: 10,
      durationMs: PHASE_MS,
      warmupMs: WARMUP_MS,
      distinctHosts: true,
    }));
    addRatio('  … a new host every request (leaf minted)', dh.rps, ph.rps, 'req/s', undefined);
  }

  const { counts } = await ask<{ counts: { proxiedWithCredential: number; direct: number; other: number } }>(
    upstream,
    { type: 'counts' },
    'counts',
  );
  const { result: last } = await ask<{ result: PhaseResult }>(
    load,
    { phase: 'mib', target: 'direct', runs: 0 },
    'result',
  );
  const proxied200 = last.proxied200;
  rows.push({
    figure: 'proxied requests with the right credential',
    direct: `${counts.direct} direct`,
    proxy: `${counts.proxiedWithCredential} / ${proxied200}`,
    ratio: '',
    target: 'all, 0 without',
    pass: counts.proxiedWithCredential === proxied200 && counts.other === 0,
  });
  rows.push({
    figure: 'leaf certificate per new host (build + sign)',
    direct: '-',
    proxy: `${fmt(ready.leafCertMs * 1000)} µs`,
    ratio: '',
    target: '< 1 ms',
    pass: ready.leafCertMs < 1,
  });
  rows.push({
    figure: 'leaf certificate + TLS context per new host',
    direct: '-',
    proxy: `${fmt(ready.leafMintMs * 1000)} µs`,
    ratio: '',
    target: 'info',
    pass: undefined,
  });

  // Over everything above, warm-up, 500 concurrent connections and a new host per request included.
  const { run: runPeak } = await ask<Peaks>(proxy, { type: 'peak' }, 'peak');
  rows.push({
    figure: 'proxy peak RSS over the whole run',
    direct: '-',
    proxy: `${mib(runPeak.rss)} MiB (heap ${mib(runPeak.heapUsed)}, buffers ${mib(runPeak.arrayBuffers)})`,
    ratio: '',
    target: '<= 120 MiB',
    pass: runPeak.rss <= 120 * 1048576,
  });

  for (const child of [load, proxy, relay, upstream]) child.send({ type: 'exit', phase: 'exit' });
  if (wants('cli')) {
    process.stderr.write('authsome bench: CLI and cold start…\n');
    rows.push(...(await measureCliFigures(quick)));
  }
  printTable(rows);
  const cpus = os.cpus();
  console.log(
    `\nmachine: ${cpus.length} x ${cpus[0]?.model ?? 'unknown CPU'}, ${fmt(os.totalmem() / 2 ** 30, 1)} GiB, ` +
      `Node ${process.version}, ${os.platform()} ${os.release()}; ` +
      `load average ${fmt(loadAvgBefore, 2)} before, ${fmt(os.loadavg()[0]!, 2)} after; ` +
      `${fmt((performance.now() - began) / 1000, 1)} s${quick ? ' (--quick)' : ''}`,
  );
  console.log(`upstream saw ${counts.other} request(s) without a known credential.`);

  const failed = rows.filter((r) => r.pass === false).length;
  process.exitCode = failed === 0 ? 0 : 1;
}

function printTable(rows: Row[]): void {
  const header = { figure: 'figure', direct: 'direct', proxy: 'proxy', ratio: 'ratio', target: 'target', pass: 'pass' };
  const cells = rows.map((r) => ({ ...r, pass: r.pass === undefined ? '' : r.pass ? 'PASS' : 'FAIL' }));
  const all = [header, ...cells];
  const width = (k: keyof typeof header) => Math.max(...all.map((r) => String(r[k]).length));
  const line = (r: Record<keyof typeof header, string>) =>
    `${r.figure.padEnd(width('figure'))}  ${r.direct.padStart(width('direct'))}  ` +
    `${r.proxy.padStart(width('proxy'))}  ${r.ratio.padStart(width('ratio'))}  ` +
    `${r.target.padEnd(width('target'))}  ${r.pass}`;
  console.log(`\n${line(header)}`);
  console.log('-'.repeat(line(header).length));
  for (const r of cells) console.log(line(r));
}

await main();
