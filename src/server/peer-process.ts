// Who is on the other end of an API connection, as far as it matters for secrets: a process of a live
// `authsome run` (the socket's owner, found through Linux /proc, or one of its ancestors is the run's pid), the
// server itself (the run's proxy relaying an agent's request), someone else, or nobody we can see. Read-only;
// it never signals or touches another process.
import { readdir, readFile, readlink } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';
import type { AuditLog } from '../audit.js';
import type { ServerDeps } from './deps.js';
import { errors, type SecretAction } from '../errors.js';

export type PeerVerdict =
  /** A holder of the socket descends from the run whose `run` pid this is. */
  | { from: 'run'; pid: number }
  /** The server's own proxy holds the socket: only a run's child can have asked it to connect here. */
  | { from: 'proxy' }
  | { from: 'elsewhere' }
  /** No process holding the socket could be read (it hid its file descriptors, or this is not Linux). */
  | { from: 'unknown' };

export interface PeerQuery {
  /** The client's port, as the server's socket sees it (remotePort). */
  peerPort: number;
  /** The server's listening port (localPort). */
  serverPort: number;
  runPids: readonly number[];
  serverPid: number;
  procRoot?: string;
}

export async function classifyPeer(query: PeerQuery): Promise<PeerVerdict> {
  const proc = query.procRoot ?? '/proc';
  const inodes = await findClientInodes(proc, query.peerPort, query.serverPort);
  if (inodes.size === 0) return { from: 'unknown' };
  const pids = (await readdir(proc).catch(() => [] as string[])).filter((name) => /^\d+$/.test(name)).map(Number);
  const owners = (
    await Promise.all(pids.map(async (pid) => ((await holdsSocket(proc, pid, inodes)) ? pid : undefined)))
  ).filter((pid): pid is number => pid !== undefined);
  if (owners.length === 0) return { from: 'unknown' };
  if (owners.includes(query.serverPid)) return { from: 'proxy' };
  const runs = new Set(query.runPids);
  // Every holder counts: a socket inherited across fork() is as much the child's as the parent's.
  for (const owner of owners) {
    const run = await findRunAncestor(proc, owner, runs);
    if (run !== undefined) return { from: 'run', pid: run };
  }
  return { from: 'elsewhere' };
}

/**
 * The inodes of client-side sockets from `peerPort` to `serverPort`. Both ends are on this machine, so the port pair
 * names the connection; a second row with the same pair (another loopback address) can only make the check stricter.
 */
async function findClientInodes(proc: string, peerPort: number, serverPort: number): Promise<Set<string>> {
  const found = new Set<string>();
  for (const table of ['tcp', 'tcp6']) {
    const text = await readFile(`${proc}/net/${table}`, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const local = parsePort(fields[1]);
      const remote = parsePort(fields[2]);
      const inode = fields[9];
      if (local === peerPort && remote === serverPort && inode !== undefined && inode !== '0') found.add(inode);
    }
  }
  return found;
}

/** `0100007F:1F40` → 8000 (the port is big-endian hex after the colon). */
function parsePort(field: string | undefined): number | undefined {
  const hex = field?.split(':')[1];
  return hex === undefined ? undefined : Number.parseInt(hex, 16);
}

async function holdsSocket(proc: string, pid: number, inodes: Set<string>): Promise<boolean> {
  const fds = await readdir(`${proc}/${pid}/fd`).catch(() => [] as string[]);
  for (const fd of fds) {
    const target = await readlink(`${proc}/${pid}/fd/${fd}`).catch(() => '');
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    if (inode !== undefined && inodes.has(inode)) return true;
  }
  return false;
}

/** The first of `pid` and its ancestors (ppid chain) that is a run's pid. */
async function findRunAncestor(proc: string, pid: number, runs: Set<number>): Promise<number | undefined> {
  const seen = new Set<number>();
  let current: number | undefined = pid;
  while (current !== undefined && current > 1 && !seen.has(current)) {
    if (runs.has(current)) return current;
    seen.add(current);
    current = await readParentPid(proc, current);
  }
  return undefined;
}

/** /proc/<pid>/stat is `pid (comm) state ppid …`; comm may hold spaces and parentheses, so read after the last ')'. */
async function readParentPid(proc: string, pid: number): Promise<number | undefined> {
  const stat = await readFile(`${proc}/${pid}/stat`, 'utf8').catch(() => undefined);
  if (stat === undefined) return undefined;
  const ppid = Number(
    stat
      .slice(stat.lastIndexOf(')') + 1)
      .trim()
      .split(/\s+/)[1],
  );
  return Number.isInteger(ppid) ? ppid : undefined;
}

/**
 * Refuses `action` (reveal, export, a browser sign-in link) when the request's peer is a live run's process, its proxy,
 * or, while a run is live, a process that cannot be seen; audits the refusal as `denied`. Only Linux can name a
 * socket's owner: elsewhere (and with no run live) the request goes on.
 */
export async function refuseSecretsToRuns(input: {
  runs: { id: string; pid: number }[];
  socket: { remotePort?: number; localPort?: number } | undefined;
  action: SecretAction;
  provider?: string;
  audit: AuditLog;
}): Promise<void> {
  if (input.runs.length === 0 || process.platform !== 'linux') return;
  const verdict = await classifyRequestPeer(input);
  if (verdict.from === 'elsewhere') return;
  const run = verdict.from === 'run' ? input.runs.find((r) => r.pid === verdict.pid)?.id : undefined;
  const why = {
    run: 'from a process of the run',
    proxy: "through the run's proxy",
    unknown: 'from a process that could not be identified',
  }[verdict.from];
  input.audit.record('denied', {
    ...(input.provider ? { provider: input.provider } : {}),
    ...(run ? { run } : {}),
    reason: `${input.action} ${why}`,
  });
  throw verdict.from === 'unknown'
    ? errors.secretsRefusedToUnknownPeer(input.action)
    : errors.secretsRefusedToRun(input.action);
}

function classifyRequestPeer(input: {
  runs: { id: string; pid: number }[];
  socket: { remotePort?: number; localPort?: number } | undefined;
}): Promise<PeerVerdict> {
  const { remotePort, localPort } = input.socket ?? {};
  if (remotePort === undefined || localPort === undefined) return Promise.resolve({ from: 'unknown' });
  return classifyPeer({
    peerPort: remotePort,
    serverPort: localPort,
    runPids: input.runs.map((r) => r.pid),
    serverPid: process.pid,
  });
}

/** The live run the request's peer is a process of, when Linux can tell; undefined otherwise. */
export async function findPeerRun(input: {
  runs: { id: string; pid: number }[];
  socket: { remotePort?: number; localPort?: number } | undefined;
}): Promise<string | undefined> {
  if (input.runs.length === 0 || process.platform !== 'linux') return undefined;
  const verdict = await classifyRequestPeer(input);
  return verdict.from === 'run' ? input.runs.find((r) => r.pid === verdict.pid)?.id : undefined;
}

/** The live runs and the request's socket, as refuseSecretsToRuns takes them (node-server puts the request in env). */
export function describePeer(
  c: Context,
  deps: Pick<ServerDeps, 'runs' | 'audit'>,
): Pick<Parameters<typeof refuseSecretsToRuns>[0], 'runs' | 'socket' | 'audit'> {
  return {
    runs: deps.runs.listLivePids(),
    socket: (c.env as { incoming?: IncomingMessage } | undefined)?.incoming?.socket,
    audit: deps.audit,
  };
}
