// Loaded with `node --import` into children of `authsome run`: routes Node's built-in fetch and the global agents of
// `http`/`https` through HTTPS_PROXY on runtimes that ignore it. It must never print, throw, or do anything when no
// proxy is set, and never touches a request whose caller chose its own agent.
import type { ClientRequest } from 'node:http';

const PROXY_VARS = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'];

/** What this Node release can route by itself once NODE_USE_ENV_PROXY=1 (or --use-env-proxy) is on. */
export interface BuiltInProxySupport {
  fetch: boolean;
  http: boolean;
}

/**
 * NODE_USE_ENV_PROXY reached `fetch` in Node 24.0.0 and the `http`/`https` global agents in 24.5.0; both came to
 * the 22.x line together in 22.21.0. Node 20, 21, 23 and older 22s ignore HTTPS_PROXY everywhere.
 */
export function readBuiltInProxySupport(nodeVersion: string): BuiltInProxySupport {
  const [major = 0, minor = 0] = nodeVersion.replace(/^v/, '').split('.').map(Number);
  if (major === 22) return { fetch: minor >= 21, http: minor >= 21 };
  if (major === 24) return { fetch: true, http: minor >= 5 };
  return { fetch: major > 24, http: major > 24 };
}

function hasProxyVariable(env: NodeJS.ProcessEnv): boolean {
  return PROXY_VARS.some((name) => (env[name] ?? '').trim() !== '');
}

function isEnvProxyOn(env: NodeJS.ProcessEnv, execArgv: readonly string[]): boolean {
  return (
    env.NODE_USE_ENV_PROXY === '1' ||
    execArgv.includes('--use-env-proxy') ||
    (env.NODE_OPTIONS ?? '').includes('--use-env-proxy')
  );
}

/** True when `fetch` needs the undici dispatcher: a proxy variable is set and the runtime does not honour it. */
export function shouldInstallEnvProxy(
  env: NodeJS.ProcessEnv,
  nodeVersion: string,
  execArgv: readonly string[] = [],
): boolean {
  if (!hasProxyVariable(env)) return false;
  return !(readBuiltInProxySupport(nodeVersion).fetch && isEnvProxyOn(env, execArgv));
}

/** True when the `http`/`https` global agents need replacing: same rule, with the later release line for http. */
export function shouldPatchGlobalAgents(
  env: NodeJS.ProcessEnv,
  nodeVersion: string,
  execArgv: readonly string[] = [],
): boolean {
  if (!hasProxyVariable(env)) return false;
  return !(readBuiltInProxySupport(nodeVersion).http && isEnvProxyOn(env, execArgv));
}

async function installEnvProxy(): Promise<void> {
  if (!shouldInstallEnvProxy(process.env, process.version, process.execArgv)) return;
  // Imported lazily: a child without a proxy variable never pays for loading undici.
  const { EnvHttpProxyAgent, setGlobalDispatcher } = await import('undici');
  // undici's global dispatcher slot is shared with the fetch built into Node, so this reroutes `fetch` itself.
  setGlobalDispatcher(new EnvHttpProxyAgent());
}

/**
 * Replaces `http.globalAgent` and `https.globalAgent` with one agent that picks, per request, a direct connection
 * (NO_PROXY) or the proxy: CONNECT for https (the run's credentials ride in the proxy URL's user info, which
 * https-proxy-agent sends as Proxy-Authorization), absolute-form for plain http. Only requests that name no agent
 * reach the global ones, so a client that brings its own agent is left exactly as it was.
 *
 * Why these packages: https-proxy-agent/http-proxy-agent (TooTallNate/proxy-agents) are the tunnels axios, the
 * AWS and Google SDKs use, and agent-base lets one agent hand a request to another; proxy-from-env is the NO_PROXY
 * reading axios uses. `proxy-agent` bundles the same pieces but drags in PAC scripts (a JS engine) and SOCKS, which
 * a preload loaded into every Node child cannot afford; `global-agent` also overrides agents the caller chose.
 */
async function patchGlobalAgents(): Promise<void> {
  if (!shouldPatchGlobalAgents(process.env, process.version, process.execArgv)) return;
  const [http, https, { Agent }, { HttpsProxyAgent }, { HttpProxyAgent }, { getProxyForUrl }] = await Promise.all([
    import('node:http'),
    import('node:https'),
    import('agent-base'),
    import('https-proxy-agent'),
    import('http-proxy-agent'),
    import('proxy-from-env'),
  ]);
  const direct = { http: http.default.globalAgent, https: https.default.globalAgent };
  const viaProxy = new Map<string, InstanceType<typeof Agent>>();

  class EnvProxyAgent extends Agent {
    connect(req: ClientRequest, opts: { secureEndpoint: boolean }) {
      const scheme = opts.secureEndpoint ? 'https' : 'http';
      const proxy = getProxyForUrl(new URL(req.path, `${scheme}://${String(req.getHeader('host') ?? req.host)}`));
      if (proxy === '') return opts.secureEndpoint ? direct.https : direct.http;
      const key = `${scheme} ${proxy}`;
      let agent = viaProxy.get(key);
      if (!agent) {
        agent = opts.secureEndpoint
          ? new HttpsProxyAgent(proxy, { keepAlive: true })
          : new HttpProxyAgent(proxy, { keepAlive: true });
        viaProxy.set(key, agent);
      }
      return agent;
    }
  }

  http.default.globalAgent = new EnvProxyAgent({ keepAlive: true });
  https.default.globalAgent = new EnvProxyAgent({ keepAlive: true });
}

try {
  await installEnvProxy();
} catch {
  // A failed preload must not break the agent; its fetch then simply goes direct.
}
try {
  await patchGlobalAgents();
} catch {
  // Same rule: without the patch, http.request goes direct (and the provider answers 401 to the placeholder).
}
