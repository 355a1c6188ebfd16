// Builds the environment of a child of `authsome run`. Pure: it returns a new
// object, never mutates the parent's, and never sees a secret (providers get a placeholder, not their key).
import { pathToFileURL } from 'node:url';
import { PLACEHOLDER_MARK } from '../providers/placeholder.js';

/**
 * What a provider env var holds inside `run` when no shaped placeholder is given: the proxy swaps it for the
 * credential.
 */
export const PLACEHOLDER = PLACEHOLDER_MARK;

export interface RunEnvInput {
  parentEnv: NodeJS.ProcessEnv;
  /** http://authsome:<token>@127.0.0.1:<port> */
  proxyUrl: string;
  /** The authsome CA alone (NODE_EXTRA_CA_CERTS adds to Node's roots). */
  caCertPath: string;
  /** System roots + the authsome CA (these variables replace the trust store in most clients). */
  caBundlePath: string;
  /** dist/proxy/preload.js */
  preloadPath: string;
  /** Env var names from the export maps of the providers in scope. */
  placeholders: string[];
  /** The placeholder of each of those names, shaped like the provider's keys; a name missing here gets PLACEHOLDER. */
  placeholderValues?: Record<string, string>;
  noPlaceholders?: boolean;
  /** Inherited variables that must not reach the child (their values are stored secrets). */
  withhold?: readonly string[];
}

/**
 * Never inherited by a child: the vault passphrase unlocks every key. (A variable holding a stored secret is
 * withheld too, by name, through `withhold`.)
 */
export const WITHHELD_VARS = ['AUTHSOME_PASSPHRASE'];

const LOOPBACK_NO_PROXY = ['localhost', '127.0.0.1', '::1'];
const PROXY_VARS = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'];
const BUNDLE_VARS = ['SSL_CERT_FILE', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'GIT_SSL_CAINFO'];

export function buildRunEnv(input: RunEnvInput): Record<string, string> {
  const env: Record<string, string> = {};
  const withheld = new Set([...WITHHELD_VARS, ...(input.withhold ?? [])]);
  for (const [key, value] of Object.entries(input.parentEnv)) {
    if (value !== undefined && !withheld.has(key)) env[key] = value;
  }
  for (const key of PROXY_VARS) env[key] = input.proxyUrl;
  const noProxy = buildNoProxy(input.parentEnv);
  env.NO_PROXY = noProxy;
  env.no_proxy = noProxy;
  for (const key of BUNDLE_VARS) env[key] = input.caBundlePath;
  env.NODE_EXTRA_CA_CERTS = input.caCertPath;
  env.NODE_USE_ENV_PROXY = '1';
  env.NODE_OPTIONS = buildNodeOptions(input.parentEnv.NODE_OPTIONS, input.preloadPath);
  env.AUTHSOME_RUN = '1';
  if (!input.noPlaceholders) {
    for (const name of input.placeholders) env[name] = input.placeholderValues?.[name] ?? PLACEHOLDER;
  }
  return env;
}

/** The parent's entries (both spellings, order kept, duplicates dropped) plus the loopback names. */
function buildNoProxy(parentEnv: NodeJS.ProcessEnv): string {
  const seen = new Set<string>();
  const out: string[] = [];
  const add = (item: string): void => {
    const trimmed = item.trim();
    const key = trimmed.toLowerCase();
    if (trimmed === '' || seen.has(key)) return;
    seen.add(key);
    out.push(trimmed);
  };
  for (const source of [parentEnv.NO_PROXY, parentEnv.no_proxy]) {
    for (const item of (source ?? '').split(',')) add(item);
  }
  for (const item of LOOPBACK_NO_PROXY) add(item);
  return out.join(',');
}

/** Keeps the parent's options and adds the preload once (a nested run must not import it twice). */
function buildNodeOptions(parent: string | undefined, preloadPath: string): string {
  const flag = `--import ${pathToFileURL(preloadPath).href}`;
  const current = (parent ?? '').trim();
  if (current.includes(flag)) return current;
  return current === '' ? flag : `${current} ${flag}`;
}
