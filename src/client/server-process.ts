// Finding, starting and stopping the background server for the CLI: state.json + token, a detached
// `authsome serve` with its output in server/server.log, /health polling, one starter at a time.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { type AppError, errors } from '../errors.js';
import { packagePaths, SERVER_NODE_FLAGS, type HomePaths } from '../paths.js';
import { isPidAlive, loadServerState, loadServerToken, type ServerState } from '../server-state.js';
import { sendJson } from './http.js';

export interface RunningServer {
  state: ServerState;
  token: string;
}

const START_TIMEOUT_MS = 10_000;
const SPAWN_LOCK_STALE_MS = 15_000;

/** The recorded server when its process is alive, regardless of version. */
export function findRecordedServer(paths: HomePaths): RunningServer | undefined {
  const state = loadServerState(paths.state);
  if (!state || !isPidAlive(state.pid)) return undefined;
  const token = loadServerToken(paths.token);
  return token ? { state, token } : undefined;
}

export async function checkHealth(url: string, timeoutMs = 1_000): Promise<{ version: string } | undefined> {
  try {
    const res = await sendJson(`${url}/health`, 'GET', {}, undefined, timeoutMs);
    const body = res.body as { status?: string; version?: string } | undefined;
    return res.status === 200 && body?.status === 'ok' ? { version: body.version ?? '' } : undefined;
  } catch {
    return undefined;
  }
}

/** Environment for the detached server: the CLI's, minus what `authsome run` adds for its child. */
function buildServerEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (env.AUTHSOME_RUN !== '1') return env;
  const out = { ...env };
  for (const name of [
    'HTTPS_PROXY',
    'https_proxy',
    'HTTP_PROXY',
    'http_proxy',
    'NODE_OPTIONS',
    'NODE_USE_ENV_PROXY',
    'AUTHSOME_RUN',
  ]) {
    delete out[name];
  }
  return out;
}

export interface StartOptions {
  env: NodeJS.ProcessEnv;
  onProgress?: (message: string) => void;
  /** The server's own `Warning:` lines from its start-up (e.g. a new vault created among an old one's files). */
  onWarning?: (message: string) => void;
}

/** Starts a detached server and waits (≤ 10 s) until /health answers with our version. */
export async function startServer(paths: HomePaths, version: string, options: StartOptions): Promise<RunningServer> {
  mkdirSync(paths.server, { recursive: true, mode: 0o700 });
  const spawnLock = `${paths.server}/spawn.lock`;
  const iStart = takeSpawnLock(spawnLock);
  let childExit: number | null | undefined;
  let logOffset = 0;
  try {
    if (iStart) {
      options.onProgress?.('Starting the authsome server…');
      const logFd = openSync(paths.serverLog, 'a', 0o600);
      try {
        chmodSync(paths.serverLog, 0o600);
        logOffset = statSync(paths.serverLog).size;
        const child = spawn(process.execPath, [...SERVER_NODE_FLAGS, packagePaths.cliEntry, 'serve'], {
          detached: true,
          stdio: ['ignore', logFd, logFd],
          env: buildServerEnv(options.env),
        });
        child.once('exit', (code) => (childExit = code));
        child.unref();
      } finally {
        closeSync(logFd);
      }
    } else {
      options.onProgress?.('Waiting for the authsome server to start…');
    }

    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      const recorded = findRecordedServer(paths);
      if (recorded) {
        const health = await checkHealth(recorded.state.url);
        if (health && health.version === version) {
          if (iStart) for (const warning of readStartWarnings(paths.serverLog, logOffset)) options.onWarning?.(warning);
          return recorded;
        }
      }
      if (childExit !== undefined && childExit !== null && childExit !== 0 && !recorded) {
        // Our server gave up: report its own Error/Hint lines rather than a timeout.
        const failure = readStartFailure(paths.serverLog, logOffset);
        if (failure && !/already running/.test(failure.message)) throw failure;
      }
      await new Promise((r) => setTimeout(r, 40));
    }
    const failure = readStartFailure(paths.serverLog, logOffset);
    throw failure ?? errors.serverUnavailable('it did not start within 10 seconds', "See 'authsome daemon logs'.");
  } finally {
    if (iStart) rmSync(spawnLock, { force: true });
  }
}

function takeSpawnLock(path: string): boolean {
  try {
    writeFileSync(path, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
    return true;
  } catch {
    try {
      if (Date.now() - statSync(path).mtimeMs > SPAWN_LOCK_STALE_MS) {
        rmSync(path, { force: true });
        return takeSpawnLock(path);
      }
    } catch {
      return takeSpawnLock(path);
    }
    return false;
  }
}

/**
 * The warnings the server wrote while starting, which are all in the log once /health answers. What it writes
 * from its "listening on" line on (the vault's state, say) the command reports itself, so that part is left out.
 */
function readStartWarnings(logPath: string, offset: number): string[] {
  let text: string;
  try {
    text = readFileSync(logPath).subarray(offset).toString('utf8');
  } catch {
    return [];
  }
  const lines = text.split('\n');
  const listening = lines.findIndex((l) => /^authsome \S+ listening on /.test(l));
  return lines
    .slice(0, listening === -1 ? lines.length : listening)
    .flatMap((l) => (l.startsWith('Warning: ') ? [l.slice('Warning: '.length)] : []));
}

function readStartFailure(logPath: string, offset: number): AppError | undefined {
  let text: string;
  try {
    text = readFileSync(logPath).subarray(offset).toString('utf8');
  } catch {
    return undefined;
  }
  const lines = text.split('\n');
  const errorIndex = lines.findLastIndex((l) => l.startsWith('Error: '));
  if (errorIndex === -1) return undefined;
  const message = lines[errorIndex]!.slice('Error: '.length);
  const hintLine = lines[errorIndex + 1];
  const hint = hintLine?.startsWith('Hint: ') ? hintLine.slice('Hint: '.length) : "See 'authsome daemon logs'.";
  return errors.serverFailedToStart(message, hint);
}

/** Stops the recorded server (SIGTERM, then waits ≤ 5 s for its pid to go). */
export async function stopServer(paths: HomePaths): Promise<ServerState | undefined> {
  const state = loadServerState(paths.state);
  if (!state || !isPidAlive(state.pid)) return undefined;
  try {
    process.kill(state.pid, 'SIGTERM');
  } catch {
    return undefined;
  }
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline && isPidAlive(state.pid)) await new Promise((r) => setTimeout(r, 40));
  if (isPidAlive(state.pid)) {
    throw errors.internal(`The server (pid ${state.pid}) did not stop within 5 seconds.`);
  }
  return state;
}
