// `authsome run --sandbox` on Linux: the child runs under bubblewrap with $AUTHSOME_HOME (and the local sockets
// that lead out of a sandbox) hidden behind an empty tmpfs, in its own network namespace whose only way out is the
// run's proxy (a loopback listener inside, bridged over a Unix socket to the real proxy port), and in its own pid
// namespace. It owns the bwrap command line, the per-run directory (CA copies, the socket) and the outer half of the
// bridge; it never sees a secret.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, chmod, copyFile, mkdtemp, readFile, realpath, rm, stat } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { AppError, errors } from '../errors.js';
import { packagePaths } from '../paths.js';
import { relaySockets } from './socket-relay.js';

/** The flags that make the boundary; the probe (doctor, run) checks exactly these, so "available" means "works". */
const NAMESPACE_FLAGS = ['--die-with-parent', '--unshare-net', '--unshare-pid', '--cap-drop', 'ALL'];

const INSTALL_HINT =
  "Install bubblewrap ('sudo apt-get install bubblewrap' on Debian and Ubuntu, 'sudo dnf install " +
  "bubblewrap' on Fedora), or run without --sandbox.";

/** The first executable file called `name` on `path` (a PATH value), or `name` itself when it holds a slash. */
export async function findExecutable(name: string, path: string | undefined): Promise<string | undefined> {
  const candidates = name.includes('/')
    ? [name]
    : (path ?? '')
        .split(delimiter)
        .filter(Boolean)
        .map((dir) => join(dir, name));
  for (const candidate of candidates) {
    if (
      await access(candidate, fsConstants.X_OK).then(
        () => true,
        () => false,
      )
    )
      return candidate;
  }
  return undefined;
}

/**
 * The bwrap program, once it has shown that it can build the namespaces here (a kernel or an AppArmor policy can
 * forbid unprivileged user namespaces even where bwrap is installed). Throws SANDBOX_UNAVAILABLE otherwise.
 */
export async function requireSandbox(env: NodeJS.ProcessEnv): Promise<string> {
  if (process.platform !== 'linux') {
    throw errors.sandboxUnavailable(
      `it is built on Linux namespaces (bubblewrap) and this system is ${process.platform}`,
      'Run without --sandbox, or run the agent on Linux.',
    );
  }
  const bwrap = await findExecutable('bwrap', env.PATH);
  if (bwrap === undefined)
    throw errors.sandboxUnavailable("'bwrap' (package bubblewrap) was not found on PATH", INSTALL_HINT);
  const failure = await new Promise<string | undefined>((resolve) => {
    execFile(
      bwrap,
      [...NAMESPACE_FLAGS, '--bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--', 'true'],
      { timeout: 10_000 },
      (err, _out, stderr) => resolve(err ? (stderr.trim().split('\n')[0] ?? '') || err.message : undefined),
    );
  });
  if (failure !== undefined) {
    throw errors.sandboxUnavailable(
      `${bwrap} could not create its namespaces (${failure})`,
      'Allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, or an AppArmor ' +
        'profile for bwrap on Ubuntu 24.04+), or run without --sandbox.',
    );
  }
  return bwrap;
}

/**
 * Local Unix sockets that would let the child act outside the sandbox: the user's systemd and session bus
 * (`systemd-run --user` starts a process outside it), tmux and screen (type into the person's own shell), X11
 * (synthetic key presses), docker and podman (a container can mount the home). The network namespace does not cover
 * Unix sockets on the filesystem, so these are hidden like the home. Only paths that exist are listed (bwrap would
 * create a missing mount point on the real filesystem).
 */
export async function findHiddenPaths(
  env: NodeJS.ProcessEnv,
  home: string,
  keep: readonly string[],
): Promise<{ dirs: string[]; files: string[] }> {
  const uid = process.getuid?.() ?? 0;
  const candidates = [
    env.XDG_RUNTIME_DIR || `/run/user/${uid}`,
    join(env.TMUX_TMPDIR || '/tmp', `tmux-${uid}`),
    env.SCREENDIR || '/run/screen',
    '/tmp/.X11-unix',
    '/run/docker.sock',
    '/run/containerd',
    '/run/podman',
  ];
  const dirs = [home];
  const files: string[] = [];
  for (const candidate of candidates) {
    const path = await realpath(candidate).catch(() => undefined);
    if (path === undefined || path === '/' || dirs.includes(path) || files.includes(path)) continue;
    // Never hide what the sandbox itself needs (its directory, node, the bridge), which a TMPDIR could put there.
    if (keep.some((needed) => needed === path || needed.startsWith(`${path}/`))) continue;
    const kind = await stat(path).catch(() => undefined);
    if (kind?.isDirectory()) dirs.push(path);
    else if (kind !== undefined) files.push(path);
  }
  return { dirs, files };
}

export interface BubblewrapArgsInput {
  /** $AUTHSOME_HOME and the directories of findHiddenPaths, resolved: each is covered by an empty tmpfs. */
  hiddenDirs: string[];
  /** Sockets and other files of findHiddenPaths: each is covered by /dev/null. */
  hiddenFiles: string[];
  nodePath: string;
  bridgePath: string;
  socketPath: string;
  proxyPort: number;
  command: string[];
}

/**
 * The filesystem stays as it is (the agent needs its project), except the home and the hidden sockets. The child
 * keeps no capability (as root, bwrap would otherwise leave them, and CAP_SYS_ADMIN could unmount the tmpfs). It gets
 * a session of its own, so the terminal it shares with the person is not its controlling terminal and TIOCSTI cannot
 * push keystrokes into the person's shell (CVE-2017-5226). fd 3 tells us the pid of the namespace's init, through
 * which forwarded signals reach the bridge.
 */
export function buildBubblewrapArgs(input: BubblewrapArgsInput): string[] {
  return [
    ...NAMESPACE_FLAGS,
    '--new-session',
    '--bind',
    '/',
    '/',
    '--dev',
    '/dev',
    '--proc',
    '/proc',
    ...input.hiddenDirs.flatMap((dir) => ['--tmpfs', dir]),
    ...input.hiddenFiles.flatMap((file) => ['--ro-bind', '/dev/null', file]),
    '--json-status-fd',
    '3',
    '--',
    input.nodePath,
    input.bridgePath,
    input.socketPath,
    String(input.proxyPort),
    '--',
    ...input.command,
  ];
}

export interface Sandbox {
  /** Copies of the CA files outside the hidden home, for the child's trust variables. */
  caCertPath: string;
  caBundlePath: string;
  /** Starts the command inside the sandbox; `kill` delivers a forwarded signal to it (through the bridge). */
  spawn(command: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; kill(signal: NodeJS.Signals): void };
  close(): Promise<void>;
}

export async function createSandbox(input: {
  bwrap: string;
  home: string;
  env: NodeJS.ProcessEnv;
  proxyUrl: string;
  caCertPath: string;
  caBundlePath: string;
}): Promise<Sandbox> {
  const proxyPort = Number(new URL(input.proxyUrl).port);
  const home = await realpath(input.home);
  // Outside the home (which the child cannot see) and private to us: the socket in it is the child's way out.
  const dir = await mkdtemp(join(tmpdir(), 'authsome-sandbox-'));
  const inside = await realpath(dir);
  if (inside === home || inside.startsWith(`${home}/`)) {
    await rm(dir, { recursive: true, force: true });
    throw errors.sandboxUnavailable(
      `the temporary directory ${dir} is inside ${home}, which the sandbox hides`,
      'Set TMPDIR to a directory outside AUTHSOME_HOME.',
    );
  }
  const hidden = await findHiddenPaths(input.env, home, [inside, process.execPath, packagePaths.sandboxBridge]);
  const caCertPath = join(dir, 'ca.pem');
  const caBundlePath = join(dir, 'bundle.pem');
  const socketPath = join(dir, 'proxy.sock');
  let server: Server | undefined;
  const open = new Set<Socket>();
  try {
    for (const [from, to] of [
      [input.caCertPath, caCertPath],
      [input.caBundlePath, caBundlePath],
    ] as const) {
      await copyFile(from, to);
      await chmod(to, 0o600);
    }
    server = createServer((inner) => {
      open.add(inner);
      inner.once('close', () => open.delete(inner));
      relaySockets(inner, connect(proxyPort, '127.0.0.1'));
    });
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(socketPath, () => resolve());
    });
  } catch (err) {
    server?.close();
    await rm(dir, { recursive: true, force: true });
    throw err instanceof AppError ? err : errors.internal(`Could not prepare the sandbox: ${(err as Error).message}`);
  }

  return {
    caCertPath,
    caBundlePath,
    spawn(command, env) {
      const args = buildBubblewrapArgs({
        hiddenDirs: hidden.dirs,
        hiddenFiles: hidden.files,
        nodePath: process.execPath,
        bridgePath: packagePaths.sandboxBridge,
        socketPath,
        proxyPort,
        command,
      });
      // bwrap itself stays in our process group: it would die of a terminal's Ctrl-C (it has no handler), and its death
      // kills the sandbox with SIGKILL. Started with SIGINT ignored it lives on; `run` forwards the signal to the
      // bridge.
      const child = spawn('/bin/sh', ['-c', 'trap "" INT; exec "$0" "$@"', input.bwrap, ...args], {
        stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
        env,
      });
      let initPid: number | undefined;
      let status = '';
      child.stdio[3]?.on('data', (chunk: Buffer) => {
        status += chunk.toString();
        initPid ??= Number(/"child-pid":\s*(\d+)/.exec(status)?.[1]) || undefined;
      });
      return {
        child,
        kill(signal) {
          const bridge = initPid === undefined ? undefined : findFirstChild(initPid);
          if (bridge === undefined) {
            child.kill(signal);
            return;
          }
          void bridge.then((pid) => {
            try {
              if (pid !== undefined) process.kill(pid, signal);
              else child.kill(signal);
            } catch {
              // Already gone: the exit is on its way.
            }
          });
        },
      };
    },
    async close() {
      const closed = new Promise<void>((resolve) => server!.close(() => resolve()));
      for (const socket of open) socket.destroy();
      await closed;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The bridge is the first process bwrap's init (pid 1 inside) starts; the init itself relays no signal. */
function findFirstChild(pid: number): Promise<number | undefined> {
  return readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').then(
    (text) => Number(text.trim().split(/\s+/)[0]) || undefined,
    () => undefined,
  );
}
