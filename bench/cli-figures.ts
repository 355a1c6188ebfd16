// The non-proxy figures of `authsome get <p> --field status` against a running server beside `node -e 0`,
// the server's cold start to a healthy /health (vault unlock included), and the argon2id unlock alone.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildKdfParams, deriveKey } from '../src/vault/kdf.js';

export interface FigureRow {
  figure: string;
  direct: string;
  proxy: string;
  ratio: string;
  target: string;
  pass: boolean | undefined;
}

const cli = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function health(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(`${url}/health`, { agent: false, timeout: 500 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/** Spawns `authsome serve` and resolves with the milliseconds until /health answers. */
async function timeColdStart(env: NodeJS.ProcessEnv, home: string): Promise<number> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [cli, 'serve'], { env, stdio: 'ignore' });
  let ms = Number.NaN;
  for (let i = 0; i < 2_000; i++) {
    try {
      const state = JSON.parse(readFileSync(join(home, 'server', 'state.json'), 'utf8')) as {
        pid: number;
        url: string;
      };
      if (state.pid === child.pid && (await health(state.url))) {
        ms = performance.now() - t0;
        break;
      }
    } catch {
      // not written yet
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  return ms;
}

function timeCommand(args: string[], env: NodeJS.ProcessEnv, input?: string): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { env, input, stdio: ['pipe', 'ignore', 'ignore'] });
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}`);
  return performance.now() - t0;
}

export async function measureCliFigures(quick: boolean): Promise<FigureRow[]> {
  const root = mkdtempSync(join(tmpdir(), 'authsome-bench-cli-'));
  const home = join(root, 'home');
  const env: NodeJS.ProcessEnv = { ...process.env, AUTHSOME_HOME: home, AUTHSOME_PORT: '0', NO_COLOR: '1' };
  for (const name of ['AUTHSOME_PASSPHRASE', 'AUTHSOME_NO_AUTOSTART', 'DISPLAY', 'WAYLAND_DISPLAY', 'BROWSER'])
    delete env[name];
  const rows: FigureRow[] = [];
  try {
    // The first start creates the vault; the measured ones open and unlock it, as every later start does.
    await timeColdStart(env, home);
    const starts: number[] = [];
    for (let i = 0; i < (quick ? 3 : 7); i++) starts.push(await timeColdStart(env, home));

    timeCommand([cli, 'login', 'openai', '--stdin'], env, 'sk-bench-cli-0123456789abcdefghijklmn\n');
    const baseline: number[] = [];
    const get: number[] = [];
    const runs = quick ? 10 : 30;
    for (let i = 0; i < 3; i++) timeCommand([cli, 'get', 'openai', '--field', 'status'], env);
    for (let i = 0; i < runs; i++) {
      // Interleaved, so a busy moment of the machine costs both sides alike.
      baseline.push(timeCommand(['-e', '0'], env));
      get.push(timeCommand([cli, 'get', 'openai', '--field', 'status'], env));
    }
    spawnSync(process.execPath, [cli, 'daemon', 'stop'], { env, stdio: 'ignore' });

    const derivations: number[] = [];
    for (let i = 0; i < (quick ? 2 : 5); i++) {
      const params = buildKdfParams();
      const t0 = performance.now();
      await deriveKey(Buffer.alloc(32, 7), params);
      derivations.push(performance.now() - t0);
    }

    const b = median(baseline);
    const g = median(get);
    rows.push({
      figure: 'CLI get --field status (server running)',
      direct: `${b.toFixed(1)} ms node -e 0`,
      proxy: `${g.toFixed(1)} ms`,
      ratio: `${(g / b).toFixed(2)}x`,
      target: '<= 2x',
      pass: g / b <= 2,
    });
    const s = median(starts);
    rows.push({
      figure: 'server cold start, vault unlock included',
      direct: '-',
      proxy: `${s.toFixed(0)} ms`,
      ratio: '',
      target: '<= 1000 ms',
      pass: s <= 1000,
    });
    rows.push({
      figure: 'vault unlock: argon2id 64 MiB, t=3, p=1',
      direct: '-',
      proxy: `${median(derivations).toFixed(0)} ms`,
      ratio: '',
      target: 'info',
      pass: undefined,
    });
  } finally {
    spawnSync(process.execPath, [cli, 'daemon', 'stop'], { env, stdio: 'ignore' });
    rmSync(root, { recursive: true, force: true });
  }
  return rows;
}
