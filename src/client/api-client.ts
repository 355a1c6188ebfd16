// The CLI's typed door to the server's /api: finds (or auto-starts) the server, sends the bearer token,
// and turns error bodies back into AppErrors so the CLI prints the server's own Error/Hint.
import { errors, parseAppError } from '../errors.js';
import { buildHomePaths, loadPackageVersion, resolveHomeDir, type HomePaths } from '../paths.js';
import { loadServerToken } from '../server-state.js';
import { sendJson } from './http.js';
import { findRecordedServer, startServer, stopServer, type RunningServer } from './server-process.js';

export interface ApiClient {
  readonly paths: HomePaths;
  readonly server: RunningServer;
  call<T>(method: 'GET' | 'POST', path: string, body?: unknown, options?: CallOptions): Promise<T>;
}

export interface CallOptions {
  /** Gives up on the call: it rejects with the catalogue's `Cancelled.` */
  signal?: AbortSignal;
}

export interface ConnectOptions {
  env?: NodeJS.ProcessEnv;
  onProgress?: (message: string) => void;
  onWarning?: (message: string) => void;
}

export async function connectApi(options: ConnectOptions = {}): Promise<ApiClient> {
  const env = options.env ?? process.env;
  const paths = buildHomePaths(resolveHomeDir(env));
  const version = loadPackageVersion();
  const noAutostart = env.AUTHSOME_NO_AUTOSTART === '1' || env.AUTHSOME_NO_AUTOSTART === 'true';

  async function ensureServer(): Promise<RunningServer> {
    // The sandbox lays an empty directory over the home: starting a server there would make a second, empty vault
    // and answer as if nothing were stored.
    if (env.AUTHSOME_SANDBOX === '1') {
      throw errors.serverUnavailable(
        "this command runs inside 'authsome run --sandbox', which hides authsome's home and server from it",
        'Commands in a sandboxed run use credentials through its proxy; ' +
          "run 'authsome' commands from your own terminal.",
      );
    }
    const recorded = findRecordedServer(paths);
    if (recorded && recorded.state.version === version) return recorded;
    if (noAutostart) {
      throw errors.serverUnavailable(
        recorded
          ? `the running server is version ${recorded.state.version}, this CLI is ${version}`
          : 'it is not running and AUTHSOME_NO_AUTOSTART is set',
        "Start it with 'authsome daemon start' (or 'authsome serve'), or unset AUTHSOME_NO_AUTOSTART.",
      );
    }
    if (recorded) {
      options.onProgress?.(`Restarting the authsome server (version ${recorded.state.version} → ${version})…`);
      await stopServer(paths);
    }
    return startServer(paths, version, { env, onProgress: options.onProgress, onWarning: options.onWarning });
  }

  let server = await ensureServer();

  async function send(method: string, path: string, body: unknown, signal?: AbortSignal) {
    const headers = { authorization: `Bearer ${server.token}` };
    try {
      return await sendJson(`${server.state.url}/api${path}`, method, headers, body, undefined, signal);
    } catch (err) {
      if (signal?.aborted) throw errors.cancelled();
      throw err;
    }
  }

  const client: ApiClient = {
    paths,
    get server() {
      return server;
    },
    async call<T>(method: 'GET' | 'POST', path: string, body?: unknown, options: CallOptions = {}): Promise<T> {
      const { signal } = options;
      if (signal?.aborted) throw errors.cancelled();
      let res;
      try {
        res = await send(method, path, body, signal);
      } catch (err) {
        if (signal?.aborted) throw err; // given up on by the caller, not a server that did not answer
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ECONNREFUSED' && code !== 'ECONNRESET' && code !== 'EPIPE') {
          throw errors.serverUnavailable(`${server.state.url} did not answer (${(err as Error).message})`);
        }
        server = await ensureServer();
        res = await send(method, path, body, signal);
      }
      if (res.status === 401) {
        // The server restarted and wrote a new token since we read it.
        const fresh = loadServerToken(paths.token);
        if (fresh && fresh !== server.token) {
          server = { ...server, token: fresh };
          res = await send(method, path, body, signal);
        }
      }
      if (res.status >= 400) {
        const appError = parseAppError(res.body);
        if (appError?.code === 'VAULT_LOCKED' && env.AUTHSOME_PASSPHRASE && path !== '/vault/unlock') {
          await client.call('POST', '/vault/unlock', { passphrase: env.AUTHSOME_PASSPHRASE });
          return client.call<T>(method, path, body, options);
        }
        throw appError ?? errors.internal(`The server answered ${res.status} to ${method} ${path}.`);
      }
      return res.body as T;
    },
  };
  return client;
}
