// Composition root: createRuntime builds every service for one AUTHSOME_HOME, starts the web server (and the
// proxy), writes server/state.json + server/token, and returns a handle to stop it all. Nothing else wires.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { access, readdir, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { rootCertificates } from 'node:tls';
import { createAuditLog, type AuditLog } from './audit.js';
import { createAuditCheckpointer } from './audit-checkpoint.js';
import { ensurePrivateDir, writeFileAtomic } from './atomic-file.js';
import { createConnectionService, type ConnectionService } from './connections/service.js';
import { createOAuthLoginService } from './oauth/oauth-login.js';
import { createTokenRefresher } from './oauth/refresh.js';
import { createTokenRevoker } from './oauth/revoke.js';
import type { FetchLike } from './oauth/token-client.js';
import { errors } from './errors.js';
import {
  buildHomePaths,
  displayPath,
  LOOPBACK_HOST,
  loadPackageVersion,
  packagePaths,
  type HomePaths,
} from './paths.js';
import { createProviderRegistry, type ProviderRegistry } from './providers/registry.js';
import type { ServerDeps, ServerInfo } from './server/deps.js';
import type { WebOptions } from './server/web-state.js';
import { buildAllowedHosts } from './server/page-host.js';
import { acquireInstanceLock } from './server/instance-lock.js';
import type { ServerState } from './server-state.js';
import { createVault, type Vault, type VaultOptions } from './vault/vault.js';
import { createCaProvider } from './proxy/ca-provider.js';
import { createCredentialPeek, createCredentialRefresher, createCredentialSource } from './proxy/credential-source.js';
import { createProxyServer, parseResolveMap } from './proxy/proxy-server.js';
import { createRunService, type RunService } from './runs/run-service.js';
import { createRunSessionRegistry } from './proxy/run-sessions.js';

export interface RuntimeOptions {
  home: string;
  /** 0 = ephemeral. */
  port: number;
  host?: string;
  proxyPort?: number;
  /** Lock a passphrase vault after this long without use. */
  lockAfterMs?: number;
  /** Unlocks a passphrase vault at start (AUTHSOME_PASSPHRASE, read by the CLI, never by the core). */
  passphrase?: string;
  kdf?: VaultOptions['kdf'];
  /** AUTHSOME_PROXY_RESOLVE: `host:port=addr:port,…` for every upstream connection the proxy makes. */
  proxyResolve?: string;
  /** PEM certificates trusted for upstream TLS on top of the system roots (and NODE_EXTRA_CA_CERTS). */
  upstreamCaCerts?: string[];
  /** The wait between device-code polls (tests pass a fast one instead of RFC 8628's 5-second pauses). */
  deviceSleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Lifetimes of one-time URLs, login sessions and browser sessions (tests shorten them). */
  web?: WebOptions;
  /** Called when a client asks the server to stop (daemon stop); the default just closes. */
  onShutdownRequested?: () => void;
  log?: (line: string) => void;
}

export interface Runtime {
  url: string;
  port: number;
  proxyPort: number | null;
  paths: HomePaths;
  token: string;
  vault: Vault;
  registry: ProviderRegistry;
  connections: ConnectionService;
  audit: AuditLog;
  runs: RunService;
  close(): Promise<void>;
}

export async function createRuntime(options: RuntimeOptions): Promise<Runtime> {
  const paths = buildHomePaths(options.home);
  const host = options.host ?? LOOPBACK_HOST;
  const log = options.log ?? (() => {});
  for (const dir of [paths.home, paths.providers, paths.server, paths.ca]) await ensurePrivateDir(dir);

  const expectedUrl = buildUrl(host, options.port === 0 ? 0 : options.port);
  const lock = await acquireInstanceLock(paths.lock, paths.state, expectedUrl);
  const cleanups: (() => Promise<void> | void)[] = [() => lock.release()];
  const cleanUp = async () => {
    for (const fn of cleanups.reverse()) await fn();
  };

  try {
    const version = loadPackageVersion();
    const vault = createVault({ paths, kdf: options.kdf });
    // Looked for before open(), which writes master.key: a new vault among an earlier one's files is said aloud.
    const earlier = await findEarlierState(paths);
    const opening = vault.open();
    // The web app and its Node adapter load while the vault's key is derived (argon2id, ~400 ms in libuv's
    // threadpool): a cold start costs the longer of the two instead of their sum. The no-op catch only keeps a
    // failed load from being reported as unhandled when the vault fails first; it is awaited before the app is made.
    const webModules = Promise.all([import('./server/app.js'), import('@hono/node-server')]);
    webModules.catch(() => undefined);
    const { created } = await opening;
    if (created && earlier.length > 0) {
      log(
        `Warning: No vault found at ${paths.vault}; creating a new, empty one (state from an earlier vault ` +
          `exists in ${paths.home}: ${earlier.join(', ')}).`,
      );
    }
    // A damaged vault that a person has restored (cp vault.json.bak vault.json) is read again before the next
    // request or proxied call that needs it, so the hint that told them to do it works without a restart.
    const reopenVault = () =>
      vault.reopenIfChanged().catch((err: Error) => log(`Could not read the vault again: ${err.message}`));
    if (options.passphrase && vault.status().state === 'locked') {
      try {
        await vault.unlock(options.passphrase);
      } catch (err) {
        log(`Warning: AUTHSOME_PASSPHRASE did not unlock the vault: ${(err as Error).message}`);
      }
    }
    const audit = createAuditLog(paths.audit);
    cleanups.push(() => audit.close());
    // Cleanups run in reverse: the checkpointer closes the log and saves its end after everything that records has
    // stopped.
    const auditChain = createAuditCheckpointer({ audit, path: paths.audit, store: vault, log });
    cleanups.push(() => auditChain.close());
    const registry = createProviderRegistry({
      bundledDir: packagePaths.providers,
      customDir: paths.providers,
      displayPath,
    });
    const oauthFetch = buildOAuthFetch(options.upstreamCaCerts);
    const refresher = createTokenRefresher({ vault, registry, audit, fetch: oauthFetch });
    const connections = createConnectionService({
      vault,
      registry,
      audit,
      refreshBeforeUse: refresher.refreshIfDue,
      refreshRejected: refresher.refreshRejected,
      revokeRemotely: createTokenRevoker({ vault, registry, fetch: oauthFetch }),
    });
    const oauth = createOAuthLoginService({
      connections,
      registry,
      fetch: oauthFetch,
      ...(options.deviceSleep ? { sleep: options.deviceSleep } : {}),
    });

    // The proxy listens on loopback whatever --host says: its URL is handed to local children only.
    // Run trust files outlive no run: those of a server that crashed are stale (no session survives a restart).
    const runCaDir = join(paths.ca, 'runs');
    await rm(runCaDir, { recursive: true, force: true });
    let runs: RunService | undefined;
    let webPort: number | undefined;
    const sessions = createRunSessionRegistry({
      onEnd: (session, reason) => {
        if (reason === 'pid_gone')
          audit.record('run_end', { run: session.id, program: session.program, reason: 'its process is gone' });
        void runs
          ?.releaseRun(session.id)
          .catch((err: Error) => log(`Could not remove a run's CA files: ${err.message}`));
      },
    });
    cleanups.push(() => sessions.close());
    const ca = createCaProvider({ vault, certPath: paths.caCert, bundlePath: paths.caBundle });
    const proxy = await createProxyServer({
      host: LOOPBACK_HOST,
      port: options.proxyPort ?? 0,
      ca: ca.authority,
      selectAuthority: (session) => runs?.authorityFor(session.id),
      serverPort: () => webPort,
      sessions,
      resolveCredential: buildReopeningSource(reopenVault, createCredentialSource(connections)),
      peekCredential: createCredentialPeek(connections),
      refreshCredential: createCredentialRefresher(connections),
      audit,
      resolveMap: parseResolveMap(options.proxyResolve),
      upstreamCaCerts: options.upstreamCaCerts,
    }).catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'EADDRINUSE' ? errors.portInUse(LOOPBACK_HOST, options.proxyPort ?? 0) : err;
    });
    cleanups.push(() => proxy.close());
    runs = createRunService({
      sessions,
      ca,
      audit,
      connections,
      registry,
      proxyPort: () => proxy.port,
      caBundlePath: paths.caBundle,
      runCaDir,
      preloadPath: packagePaths.preload,
    });
    cleanups.push(() => runs!.close());

    const token = randomBytes(32).toString('base64url');
    const startedAt = new Date().toISOString();
    let info: ServerInfo = { url: expectedUrl, port: options.port, proxyPort: proxy.port, pid: process.pid, startedAt };
    let allowedHosts = buildAllowedHosts(options.port, host === LOOPBACK_HOST ? undefined : host);
    let closing: Promise<void> | undefined;

    const deps: ServerDeps = {
      version,
      paths,
      vault,
      registry,
      connections,
      oauth,
      audit,
      auditChain,
      runs,
      info: () => info,
      requestShutdown: () => {
        setImmediate(() => (options.onShutdownRequested ? options.onShutdownRequested() : void runtime.close()));
      },
    };
    const [{ createApp }, { getRequestListener }] = await webModules;
    const app = createApp(deps, { apiToken: token, allowedHosts: () => allowedHosts, web: options.web });
    cleanups.push(() => app.web.close());
    const server = createServer(
      getRequestListener(async (request, env) => {
        await reopenVault();
        return app.fetch(request, env);
      }),
    );
    server.keepAliveTimeout = 5_000;
    const port = await listen(server, host, options.port);
    webPort = port;
    cleanups.push(() => closeServer(server));
    const url = buildUrl(host, port);
    info = { ...info, url, port };
    allowedHosts = buildAllowedHosts(port, host === LOOPBACK_HOST ? undefined : host);

    // Token before state: a client that sees state.json can always read a matching token.
    await writeFileAtomic(paths.token, `${token}\n`);
    const state: ServerState = { pid: process.pid, version, url, proxy_port: info.proxyPort, started_at: startedAt };
    await writeFileAtomic(paths.state, `${JSON.stringify(state, null, 2)}\n`);
    cleanups.push(async () => {
      await rm(paths.state, { force: true });
      await rm(paths.token, { force: true });
    });

    if (options.lockAfterMs && options.lockAfterMs > 0) {
      const every = Math.min(options.lockAfterMs, 5_000);
      const timer = setInterval(() => {
        const status = vault.status();
        if (
          status.mode === 'passphrase' &&
          status.state === 'unlocked' &&
          Date.now() - vault.lastAccessAt() >= options.lockAfterMs!
        ) {
          vault.lock();
          audit.record('lock', { reason: 'idle' });
          log('Locked the vault after the idle timeout.');
        }
      }, every);
      timer.unref();
      cleanups.push(() => clearInterval(timer));
    }

    const runtime: Runtime = {
      url,
      port,
      proxyPort: info.proxyPort,
      paths,
      token,
      vault,
      registry,
      connections,
      audit,
      runs,
      close() {
        closing ??= cleanUp();
        return closing;
      },
    };
    return runtime;
  } catch (err) {
    await cleanUp();
    throw err;
  }
}

/**
 * How the server talks to token endpoints: Node's global fetch (system roots plus NODE_EXTRA_CA_CERTS), or, when
 * extra upstream CAs are given (in-process tests), undici's fetch with an agent that trusts them too.
 */
function buildOAuthFetch(upstreamCaCerts: string[] | undefined): FetchLike {
  if (!upstreamCaCerts || upstreamCaCerts.length === 0) return (url, init) => globalThis.fetch(url, init);
  const ca = [...rootCertificates, ...upstreamCaCerts];
  // undici is loaded on the first call, not with the server: its modules are ~100 ms of the cold start.
  let loaded: Promise<FetchLike> | undefined;
  return async (url, init) => {
    loaded ??= import('undici').then(({ Agent, fetch }) => {
      const dispatcher = new Agent({ connect: { ca } });
      return (u, i) => fetch(u, { ...i, dispatcher });
    });
    return (await loaded)(url, init);
  };
}

function buildReopeningSource<A extends unknown[], R>(
  reopen: () => Promise<void>,
  source: (...args: A) => Promise<R>,
): (...args: A) => Promise<R> {
  return async (...args) => {
    await reopen();
    return source(...args);
  };
}

/** Files an earlier vault leaves behind (server.log is not one: the CLI creates it before the first start). */
async function findEarlierState(paths: HomePaths): Promise<string[]> {
  const found: string[] = [];
  for (const path of [paths.vault, paths.vaultBackup]) {
    if (await isPresent(path)) return [];
  }
  for (const path of [paths.masterKey, paths.caCert, paths.audit, paths.token]) {
    if (await isPresent(path)) found.push(relative(paths.home, path));
  }
  const custom = await readdir(paths.providers).catch(() => [] as string[]);
  if (custom.some((name) => name.endsWith('.json'))) found.push(`${relative(paths.home, paths.providers)}/`);
  return found;
}

async function isPresent(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

function buildUrl(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      if (err.code === 'EADDRINUSE') reject(errors.portInUse(host, port));
      else if (err.code === 'EADDRNOTAVAIL') reject(errors.usage(`Cannot listen on ${host}: no such local address.`));
      else if (err.code === 'EACCES') reject(errors.portNotAllowed(host, port));
      else reject(err);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
