// The only module that reads AUTHSOME_HOME or import.meta.url: every other file receives paths from here.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Package root: src/paths.ts and dist/paths.js both sit one level below it. */
export const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export const packagePaths = {
  root: packageRoot,
  providers: join(packageRoot, 'providers'),
  views: join(packageRoot, 'views'),
  public: join(packageRoot, 'public'),
  cliEntry: join(packageRoot, 'dist', 'cli', 'main.js'),
  /** Loaded into Node children of `authsome run` with --import (routes built-in fetch through the proxy). */
  preload: join(packageRoot, 'dist', 'proxy', 'preload.js'),
  /** Started inside the `run --sandbox` namespace: relays the child's loopback proxy port to the real proxy. */
  sandboxBridge: join(packageRoot, 'dist', 'cli', 'sandbox-bridge.js'),
  packageJson: join(packageRoot, 'package.json'),
};

/**
 * Node flags of the server process (its proxy holds hundreds of TLS connections for hours): a smaller young
 * generation and a 1.3× old-generation growth step keep the bench's peak RSS near 105 MiB instead of ~160 MiB (V8
 * otherwise lets garbage pile up to several times the ~15 MiB that is live). Not `--optimize-for-size`, which did
 * the same for memory but also swaps V8's fast paths for small ones: it cost ~30 µs of CPU per proxied keep-alive
 * request (122 against 91 µs, bench c=10). `npm start` passes the same flags (a test compares).
 */
export const SERVER_NODE_FLAGS = ['--max-semi-space-size=4', '--heap-growing-percent=30'] as const;

let cachedVersion: string | undefined;
export function loadPackageVersion(): string {
  cachedVersion ??= (JSON.parse(readFileSync(packagePaths.packageJson, 'utf8')) as { version: string }).version;
  return cachedVersion;
}

export const DEFAULT_PORT = 7998;
export const LOOPBACK_HOST = '127.0.0.1';

export function resolveHomeDir(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.AUTHSOME_HOME;
  return resolve(fromEnv && fromEnv.trim() !== '' ? fromEnv : join(homedir(), '.authsome'));
}

export interface HomePaths {
  home: string;
  vault: string;
  vaultBackup: string;
  masterKey: string;
  providers: string;
  server: string;
  state: string;
  token: string;
  serverLog: string;
  lock: string;
  ca: string;
  caCert: string;
  caBundle: string;
  audit: string;
}

export function buildHomePaths(home: string): HomePaths {
  const server = join(home, 'server');
  const ca = join(home, 'ca');
  return {
    home,
    vault: join(home, 'vault.json'),
    vaultBackup: join(home, 'vault.json.bak'),
    masterKey: join(home, 'master.key'),
    providers: join(home, 'providers'),
    server,
    state: join(server, 'state.json'),
    token: join(server, 'token'),
    serverLog: join(server, 'server.log'),
    lock: join(server, 'lock'),
    ca,
    caCert: join(ca, 'ca.pem'),
    caBundle: join(ca, 'bundle.pem'),
    audit: join(home, 'audit.log'),
  };
}

/** A path as a person reads it: under the home directory, shown as ~/… */
export function displayPath(path: string): string {
  const home = homedir();
  return home && home !== '/' && path.startsWith(`${home}/`) ? `~${path.slice(home.length)}` : path;
}

/** The configured port: AUTHSOME_PORT (0 = ephemeral) or 7998. */
export function resolvePort(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.AUTHSOME_PORT;
  if (raw === undefined || raw.trim() === '') return DEFAULT_PORT;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`AUTHSOME_PORT must be a port number (0-65535), got '${raw}'`);
  }
  return port;
}
