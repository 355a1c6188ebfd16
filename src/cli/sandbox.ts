// `authsome run --sandbox` on Linux: the child runs under bubblewrap with $AUTHSOME_HOME (and the local sockets
// that lead out of a sandbox) hidden behind an empty tmpfs, in its own network namespace whose only way out is the
// run's proxy (a loopback listener inside, bridged over a Unix socket to the real proxy port), and in its own pid
// namespace. It owns the bwrap command line, the per-run directory (CA copies, the socket) and the outer half of the
// bridge; it never sees a secret. On macOS it starts the child under sandbox-exec with the profile of seatbelt.ts.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, chmod, copyFile, mkdtemp, readFile, realpath, rm, stat } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { AppError, errors } from '../errors.js';
import { packagePaths } from '../paths.js';
import {
  buildSeatbeltArgs,
  buildSeatbeltProfile,
  findSeatbeltHiddenPaths,
  resolvePathForms,
  SANDBOX_EXEC,
} from './seatbelt.js';
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

/** The program that builds the sandbox: bubblewrap on Linux, sandbox-exec (Seatbelt) on macOS. */
export type SandboxTool = { kind: 'bwrap'; path: string } | { kind: 'seatbelt'; path: string };

/**
 * The sandbox program of this system, once it has shown that it works here (a kernel or an AppArmor policy can
 * forbid unprivileged user namespaces even where bwrap is installed). Throws SANDBOX_UNAVAILABLE otherwise.
 */
export async function requireSandbox(
  env: NodeJS.ProcessEnv,
  platform: NodeJS.Platform = process.platform,
): Promise<SandboxTool> {
  if (platform === 'darwin') return { kind: 'seatbelt', path: await requireSeatbelt() };
  if (platform !== 'linux') {
    throw errors.sandboxUnavailable(
      `it is built on Linux namespaces (bubblewrap) or macOS Seatbelt (sandbox-exec), and this system is ${platform}`,
      'Run without --sandbox, or run the agent on Linux or macOS.',
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
  return { kind: 'bwrap', path: bwrap };
}

/**
 * sandbox-exec, once it has applied a profile of the same shape as a run's (so a macOS whose Seatbelt no longer
 * reads one of its rules says so here, not at the run). Apple deprecated the command but still ships it.
 */
export async function requireSeatbelt(program = SANDBOX_EXEC): Promise<string> {
  if (
    !(await access(program, fsConstants.X_OK).then(
      () => true,
      () => false,
    ))
  ) {
    throw errors.sandboxUnavailable(
      `${program} (Seatbelt) was not found`,
      'It ships with macOS: check that /usr/bin is intact, or run without --sandbox.',
    );
  }
  const probe = buildSeatbeltProfile({
    homePaths: ['/nonexistent/authsome-probe'],
    hiddenDirs: ['/nonexistent/authsome-probe-dir'],
    hiddenFiles: ['/nonexistent/authsome-probe.sock'],
    proxyPort: 9,
  });
  const failure = await new Promise<string | undefined>((resolveProbe) => {
    execFile(program, buildSeatbeltArgs(probe, ['/usr/bin/true']), { timeout: 10_000 }, (err, _out, stderr) =>
      resolveProbe(err ? (stderr.trim().split('\n')[0] ?? '') || err.message : undefined),
    );
  });
  if (failure !== undefined) {
    throw errors.sandboxUnavailable(
      `${program} could not apply its profile (${failure})`,
      'Run without --sandbox, and report the macOS version with this message.',
    );
  }
  return program;
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

interface SandboxInput {
  tool: SandboxTool;
  home: string;
  env: NodeJS.ProcessEnv;
  proxyUrl: string;
  caCertPath: string;
  caBundlePath: string;
}

/** A private temporary directory for the run's files, outside every spelling of the home the sandbox hides. */
async function makeRunDirectory(homePaths: readonly string[]): Promise<{ dir: string; inside: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'authsome-sandbox-'));
  const inside = await realpath(dir);
  const home = homePaths.find((path) => inside === path || inside.startsWith(`${path}/`));
  if (home !== undefined) {
    await rm(dir, { recursive: true, force: true });
    throw errors.sandboxUnavailable(
      `the temporary directory ${dir} is inside ${home}, which the sandbox hides`,
      'Set TMPDIR to a directory outside AUTHSOME_HOME.',
    );
  }
  return { dir, inside };
}

/** Removes a run directory whose sandbox could not be prepared; the error to throw for it. */
async function discardRunDirectory(dir: string, err: unknown): Promise<AppError> {
  await rm(dir, { recursive: true, force: true });
  return err instanceof AppError ? err : errors.internal(`Could not prepare the sandbox: ${(err as Error).message}`);
}

/** Copies of the run's CA files in `dir` (0600), which the child can read while the home stays hidden. */
async function copyTrustFiles(
  input: Pick<SandboxInput, 'caCertPath' | 'caBundlePath'>,
  dir: string,
): Promise<{ caCertPath: string; caBundlePath: string }> {
  const caCertPath = join(dir, 'ca.pem');
  const caBundlePath = join(dir, 'bundle.pem');
  for (const [from, to] of [
    [input.caCertPath, caCertPath],
    [input.caBundlePath, caBundlePath],
  ] as const) {
    await copyFile(from, to);
    await chmod(to, 0o600);
  }
  return { caCertPath, caBundlePath };
}

export async function createSandbox(input: SandboxInput): Promise<Sandbox> {
  if (input.tool.kind === 'seatbelt') return createSeatbeltSandbox(input.tool.path, input);
  const proxyPort = Number(new URL(input.proxyUrl).port);
  const home = await realpath(input.home);
  // Outside the home (which the child cannot see) and private to us: the socket in it is the child's way out.
  const { dir, inside } = await makeRunDirectory([home]);
  const hidden = await findHiddenPaths(input.env, home, [inside, process.execPath, packagePaths.sandboxBridge]);
  const socketPath = join(dir, 'proxy.sock');
  let server: Server | undefined;
  let caCertPath: string;
  let caBundlePath: string;
  const open = new Set<Socket>();
  try {
    ({ caCertPath, caBundlePath } = await copyTrustFiles(input, dir));
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
    throw await discardRunDirectory(dir, err);
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
      const child = spawn('/bin/sh', ['-c', 'trap "" INT; exec "$0" "$@"', input.tool.path, ...args], {
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

/**
 * macOS: the profile does what the namespaces and the bridge do on Linux, so the child connects to the real proxy
 * port itself and no socket is needed; the CA copies still live outside the home, which the child cannot read.
 */
async function createSeatbeltSandbox(sandboxExec: string, input: SandboxInput): Promise<Sandbox> {
  const proxyPort = Number(new URL(input.proxyUrl).port);
  const homePaths = (await resolvePathForms(input.home)) ?? [resolve(input.home)];
  const { dir } = await makeRunDirectory(homePaths);
  let profile: string;
  let caCertPath: string;
  let caBundlePath: string;
  try {
    ({ caCertPath, caBundlePath } = await copyTrustFiles(input, dir));
    const hidden = await findSeatbeltHiddenPaths(input.env, process.getuid?.() ?? 0);
    profile = buildSeatbeltProfile({ homePaths, hiddenDirs: hidden.dirs, hiddenFiles: hidden.files, proxyPort });
  } catch (err) {
    throw await discardRunDirectory(dir, err);
  }
  return {
    caCertPath,
    caBundlePath,
    spawn(command, env) {
      // sandbox-exec applies the profile and execs the command, which keeps its pid. Detached, it leads a session of
      // its own as on Linux: the terminal is not its controlling terminal, so TIOCSTI cannot type into the
      // person's shell; the terminal's Ctrl-C reaches `run`, which forwards it.
      const child = spawn(sandboxExec, buildSeatbeltArgs(profile, command), { stdio: 'inherit', env, detached: true });
      return {
        child,
        kill(signal) {
          try {
            child.kill(signal);
          } catch {
            // Already gone: the exit is on its way.
          }
        },
      };
    },
    async close() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}
