// The files through which the CLI finds the running server: server/state.json and server/token.
// Shared by the server (writer) and the client (reader); kept free of heavy imports for CLI start-up time.
import { readFileSync } from 'node:fs';

export interface ServerState {
  pid: number;
  version: string;
  url: string;
  proxy_port: number | null;
  started_at: string;
}

export function loadServerState(path: string): ServerState | undefined {
  try {
    const value = JSON.parse(readFileSync(path, 'utf8')) as Partial<ServerState>;
    if (typeof value.pid !== 'number' || typeof value.url !== 'string' || typeof value.version !== 'string')
      return undefined;
    return value as ServerState;
  } catch {
    return undefined;
  }
}

export function loadServerToken(path: string): string | undefined {
  try {
    const token = readFileSync(path, 'utf8').trim();
    return token === '' ? undefined : token;
  } catch {
    return undefined;
  }
}

/**
 * True when a process with this pid is running (EPERM: it exists but belongs to someone else). A killed
 * server whose parent has not reaped it yet is a zombie: it still answers kill(0) but will never serve again.
 */
export function isPidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  if (process.platform !== 'linux') return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}
