// Loaded with `node --import` into children of `authsome run` (SPEC §7): routes Node's built-in fetch through
// HTTPS_PROXY on runtimes that ignore it. It must never print, throw, or do anything when no proxy is set.

const PROXY_VARS = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'];

/**
 * True when this process needs the undici dispatcher: a proxy variable is set and the runtime does not
 * already honour it (Node ≥ 24 does, when NODE_USE_ENV_PROXY or --use-env-proxy is on).
 */
export function shouldInstallEnvProxy(env: NodeJS.ProcessEnv, nodeVersion: string, execArgv: readonly string[] = []): boolean {
  if (!PROXY_VARS.some((name) => (env[name] ?? '').trim() !== '')) return false;
  const major = Number(nodeVersion.replace(/^v/, '').split('.')[0]);
  const envProxyOn = env.NODE_USE_ENV_PROXY === '1' || execArgv.includes('--use-env-proxy') || (env.NODE_OPTIONS ?? '').includes('--use-env-proxy');
  return !(major >= 24 && envProxyOn);
}

async function installEnvProxy(): Promise<void> {
  if (!shouldInstallEnvProxy(process.env, process.version, process.execArgv)) return;
  // Imported lazily: a child without a proxy variable never pays for loading undici.
  const { EnvHttpProxyAgent, setGlobalDispatcher } = await import('undici');
  // undici's global dispatcher slot is shared with the fetch built into Node, so this reroutes `fetch` itself.
  setGlobalDispatcher(new EnvHttpProxyAgent());
}

try {
  await installEnvProxy();
} catch {
  // A failed preload must not break the agent; its fetch then simply goes direct.
}
