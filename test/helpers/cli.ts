// Spawning the built CLI (dist/cli/main.js) against a temp AUTHSOME_HOME, and stopping the servers it starts.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AUDIT_CHECKPOINT_ID } from '../../src/audit-chain.js';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const cliPath = join(repoRoot, 'dist', 'cli', 'main.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  input?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/** A clean environment: no display, no browser, no inherited authsome settings. */
export function buildTestEnv(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, AUTHSOME_HOME: home, AUTHSOME_PORT: '0', NO_COLOR: '1' };
  for (const name of [
    'DISPLAY',
    'WAYLAND_DISPLAY',
    'BROWSER',
    'AUTHSOME_PASSPHRASE',
    'AUTHSOME_NO_AUTOSTART',
    'AUTHSOME_RUN',
    'HTTPS_PROXY',
    'https_proxy',
    'HTTP_PROXY',
    'http_proxy',
  ]) {
    delete env[name];
  }
  return { ...env, ...extra };
}

export function runCli(home: string, args: string[], options: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], {
      env: buildTestEnv(home, options.env),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    // A command that exits without reading its input closes the pipe first: the write then fails with EPIPE, which is
    // the command's choice, not a test failure (unhandled, it failed whichever test file was running).
    child.stdin.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') reject(err);
    });
    child.stdin.end(options.input ?? '');
  });
}

export function spawnCli(home: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, [cliPath, ...args], { env: buildTestEnv(home, env), stdio: ['pipe', 'pipe', 'pipe'] });
}

export interface TempHome {
  home: string;
  root: string;
  /** Stops any server started for this home and deletes the directory. */
  cleanup(): Promise<void>;
}

export function makeTempHome(prefix = 'authsome-e2e-'): TempHome {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const home = join(root, 'home');
  return {
    home,
    root,
    async cleanup() {
      await stopHomeServer(home);
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/**
 * The vault file as JSON without what a running server rewrites on its own: the audit chain's checkpoint (about once
 * a second after an audit line) and the integrity seal that covers it. Every record a user made is compared.
 */
export function readVaultRecords(home: string): { mode: string; kdf: unknown; key: unknown; records: object } {
  const v = JSON.parse(readFileSync(join(home, 'vault.json'), 'utf8'));
  delete v.records[AUDIT_CHECKPOINT_ID];
  delete v.integrity;
  return v;
}

export function readServerState(home: string): { pid: number; url: string; version: string } | undefined {
  try {
    return JSON.parse(readFileSync(join(home, 'server', 'state.json'), 'utf8'));
  } catch {
    return undefined;
  }
}

export async function stopHomeServer(home: string): Promise<void> {
  const state = readServerState(home);
  if (!state) return;
  try {
    process.kill(state.pid, 'SIGTERM');
  } catch {
    return;
  }
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(state.pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 30));
  }
  try {
    process.kill(state.pid, 'SIGKILL');
  } catch {
    // gone
  }
}

/** Every file under `dir`, recursively. */
export function listFilesRecursive(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...listFilesRecursive(path));
    else out.push(path);
  }
  return out;
}

export const OPENAI_KEY = 'sk-proj-test0123456789abcdefghijklmnopqrstuvwxyz';
