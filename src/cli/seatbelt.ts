// `authsome run --sandbox` on macOS: the Seatbelt (SBPL) profile of one run and the sandbox-exec command line that
// applies it, and the local sockets the profile closes. Pure text and paths: it starts nothing and sees no secret.
import { realpath, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { errors } from '../errors.js';

/** Ships with every macOS; never looked up on PATH, where the agent's own tools could stand in for it. */
export const SANDBOX_EXEC = '/usr/bin/sandbox-exec';

/** Where mDNSResponder answers name lookups: the child needs none, the proxy resolves names itself. */
const NAME_SERVICE_SOCKET = '/private/var/run/mDNSResponder';

export interface SeatbeltProfileInput {
  /** $AUTHSOME_HOME as given and resolved (Seatbelt matches the resolved path; both are listed). */
  homePaths: string[];
  /** Directories whose Unix sockets lead out of a sandbox (tmux, docker…): no connection into them. */
  hiddenDirs: string[];
  /** Single sockets of the same kind. */
  hiddenFiles: string[];
  /** The run's proxy on 127.0.0.1: the only TCP port the child may connect to. */
  proxyPort: number;
}

/** A path as an SBPL string literal: backslash and double quote are the two characters its syntax gives meaning. */
export function quoteSbplString(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** Every directory above `path` but the root: renaming one would move the home out from under its rule. */
function listAncestors(path: string): string[] {
  const found: string[] = [];
  for (let dir = dirname(path); dir !== '/' && dir !== '.' && !found.includes(dir); dir = dirname(dir)) found.push(dir);
  return found;
}

/**
 * Starts from `(allow default)` (the agent needs its project and its tools), then takes away, in Seatbelt's order
 * where the last matching rule wins: the home (no read, no write, no listing, no moving it or a parent away), every
 * outbound connection, then gives back Unix sockets on the filesystem except name resolution and the sockets that
 * lead out of a sandbox, and last TCP to the proxy's port on loopback. A program that ignores HTTPS_PROXY gets no
 * network: no other port, no other address, no DNS.
 */
export function buildSeatbeltProfile(input: SeatbeltProfileInput): string {
  const home = [...new Set(input.homePaths)];
  const ancestors = [...new Set(home.flatMap(listAncestors))];
  const dirs = [...new Set(input.hiddenDirs)];
  const files = [...new Set(input.hiddenFiles)];
  const lines = [
    '(version 1)',
    '(allow default)',
    `(deny file-read* file-write* ${home.map((p) => `(subpath ${quoteSbplString(p)})`).join(' ')})`,
  ];
  if (ancestors.length > 0)
    lines.push(`(deny file-write-unlink ${ancestors.map((p) => `(literal ${quoteSbplString(p)})`).join(' ')})`);
  lines.push(
    '(deny network-outbound)',
    '(allow network-outbound (remote unix-socket (path-regex #"^/")))',
    `(deny network-outbound (remote unix-socket (path-literal ${quoteSbplString(NAME_SERVICE_SOCKET)})))`,
    '(deny mach-lookup (global-name "com.apple.dnssd.service"))',
  );
  const hidden = [
    ...dirs.map((p) => `(remote unix-socket (subpath ${quoteSbplString(p)}))`),
    ...files.map((p) => `(remote unix-socket (path-literal ${quoteSbplString(p)}))`),
  ];
  if (hidden.length > 0) lines.push(`(deny network-outbound ${hidden.join(' ')})`);
  if (!Number.isInteger(input.proxyPort) || input.proxyPort < 1 || input.proxyPort > 65535)
    throw errors.internal(`The run's proxy port ${input.proxyPort} is not a TCP port.`);
  lines.push(`(allow network-outbound (remote ip "localhost:${input.proxyPort}"))`);
  return `${lines.join('\n')}\n`;
}

/** sandbox-exec's arguments: the profile inline, then `--` so that no word of the command is read as its option. */
export function buildSeatbeltArgs(profile: string, command: readonly string[]): string[] {
  return ['-p', profile, '--', ...command];
}

/** `path` as given (made absolute) and resolved, when it exists; Seatbelt sees /tmp and /var as /private/…. */
export async function resolvePathForms(path: string): Promise<string[] | undefined> {
  const real = await realpath(path).catch(() => undefined);
  if (real === undefined) return undefined;
  return [...new Set([real, resolve(path)])];
}

/**
 * The macOS places of the sockets that let a child act outside a sandbox: tmux and screen (they type into the
 * person's own shell), X11 (XQuartz's socket, named by DISPLAY), docker and colima (a container can mount the
 * home). Only paths that exist are listed, each in both spellings. The user's launchd is reached through a Mach
 * port, not a path: no rule here covers it.
 */
export async function findSeatbeltHiddenPaths(
  env: NodeJS.ProcessEnv,
  uid: number,
): Promise<{ dirs: string[]; files: string[] }> {
  const userHome = env.HOME || '/nonexistent';
  const candidates = [
    join(env.TMUX_TMPDIR || '/tmp', `tmux-${uid}`),
    ...(env.SCREENDIR ? [env.SCREENDIR] : ['/tmp/.screen', '/tmp/uscreens', '/tmp/screens']),
    '/tmp/.X11-unix',
    ...(env.DISPLAY?.startsWith('/') ? [env.DISPLAY] : []),
    join(userHome, '.docker', 'run'),
    '/var/run/docker.sock',
    join(userHome, '.colima'),
  ];
  const dirs: string[] = [];
  const files: string[] = [];
  for (const candidate of candidates) {
    const forms = await resolvePathForms(candidate);
    if (forms === undefined || forms.includes('/')) continue;
    const kind = await stat(forms[0]!).catch(() => undefined);
    if (kind === undefined) continue;
    const into = kind.isDirectory() ? dirs : files;
    for (const form of forms) if (!into.includes(form)) into.push(form);
  }
  return { dirs, files };
}
