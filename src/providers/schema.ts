// Parses and validates provider definition files. Pure: no I/O. Every error names the source file
// and the offending field; unknown fields are preserved in `raw` (inspect prints them back) and ignored here.
import { errors } from '../errors.js';

export const PROVIDER_NAME_RE = /^[a-z0-9][a-z0-9._-]*$/;

export type AuthType = 'api_key' | 'oauth2';
export type Flow = 'api_key' | 'pkce' | 'device_code' | 'dcr_pkce';

export interface ApiKeySpec {
  header_name: string;
  /** null or '' → the bare key is sent. */
  header_prefix: string | null;
  header_format?: 'basic';
  key_pattern?: string;
  key_pattern_hint?: string;
}

export interface OAuthSpec {
  authorization_url: string;
  token_url: string;
  revocation_url?: string;
  device_authorization_url?: string;
  device_token_request: 'oauth2_form' | 'json';
  scopes: string[];
  base_url?: string;
}

/** Where credentials are injected: one entry of `api_url`. */
export type ApiUrlMatcher =
  | { kind: 'host'; host: string; port?: number; pathPrefix: string; source: string }
  | { kind: 'regex'; pattern: RegExp; source: string };

/** A credential value a connection can hand to an env var. */
export type ExportSource = 'api_key' | 'access_token' | 'refresh_token' | 'api_url' | 'base_url';

export interface ExportVar {
  env: string;
  source: ExportSource;
}

export interface ProviderDefinition {
  schema_version: 1;
  name: string;
  display_name: string;
  auth_type: AuthType;
  flow: Flow;
  api_url: string | string[];
  api_key?: ApiKeySpec;
  oauth?: OAuthSpec;
  registration?: { registration_endpoint?: string };
  docs_url?: string;
  description?: string;
  /** Parsed forms, derived from the fields above. */
  matchers: ApiUrlMatcher[];
  exports: ExportVar[];
  keyPattern?: RegExp;
  /** The file's object exactly as written, unknown fields included. */
  raw: Record<string, unknown>;
}

const FLAT_EXPORT_SOURCES: Record<string, ExportSource> = {
  API_TOKEN: 'api_key',
  API_KEY: 'api_key',
  ACCESS_TOKEN: 'access_token',
  REFRESH_TOKEN: 'refresh_token',
  API_URL: 'api_url',
  BASE_URL: 'base_url',
};
const FIELD_EXPORT_SOURCES = new Set<ExportSource>(['api_key', 'access_token', 'refresh_token', 'api_url', 'base_url']);
const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const FLOWS_BY_AUTH: Record<AuthType, Flow[]> = {
  api_key: ['api_key'],
  oauth2: ['pkce', 'device_code', 'dcr_pkce'],
};

/** NAME = upper-cased provider name, non-alphanumerics → '_'. */
export function buildEnvPrefix(name: string): string {
  return name.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

/** Full-match, so a pattern without anchors cannot accept a key that merely contains a valid one. */
export function compileKeyPattern(pattern: string): RegExp {
  new RegExp(pattern); // must parse alone, or a stray ')' could close the group below and undo the full match
  return new RegExp(`^(?:${pattern})$`);
}

interface ParseContext {
  path: string;
  /** The name the file must carry (its file name without .json); omitted for content not yet in a file. */
  expectedName?: string;
}

/** Parses JSON text of a provider file. */
export function parseProviderText(text: string, ctx: ParseContext): ProviderDefinition {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw errors.invalidProviderFile(
      ctx.path,
      `not valid JSON (${detail})`,
      'Check the file for a missing comma, quote or brace.',
    );
  }
  return parseProviderDefinition(value, ctx);
}

export function parseProviderDefinition(value: unknown, ctx: ParseContext): ProviderDefinition {
  const fail = (field: string, problem: string): never => {
    throw errors.invalidProviderFile(ctx.path, `${field} ${problem}`);
  };
  if (!isObject(value)) return fail('the file', 'must contain a JSON object');
  const raw = value;

  if (raw.schema_version !== 1) fail('schema_version', 'must be 1');
  const name = requireString(raw, 'name', fail);
  if (!PROVIDER_NAME_RE.test(name)) fail('name', `'${name}' must match ${PROVIDER_NAME_RE.source}`);
  if (ctx.expectedName !== undefined && name !== ctx.expectedName) {
    fail('name', `'${name}' must equal the file name '${ctx.expectedName}'`);
  }
  const displayName = requireString(raw, 'display_name', fail);
  const authType = requireString(raw, 'auth_type', fail);
  if (authType !== 'api_key' && authType !== 'oauth2') fail('auth_type', "must be 'api_key' or 'oauth2'");
  const flow = (
    raw.flow === undefined && authType === 'api_key' ? 'api_key' : requireString(raw, 'flow', fail)
  ) as Flow;
  if (!FLOWS_BY_AUTH[authType as AuthType].includes(flow)) {
    fail(
      'flow',
      `must be one of ${FLOWS_BY_AUTH[authType as AuthType].map((f) => `'${f}'`).join(', ')} for auth_type ` +
        `'${authType}'`,
    );
  }

  const apiUrl = raw.api_url;
  const apiUrlList = typeof apiUrl === 'string' ? [apiUrl] : Array.isArray(apiUrl) ? apiUrl : undefined;
  if (!apiUrlList || apiUrlList.length === 0)
    fail('api_url', 'must be a host, a URL, a regex:<pattern>, or a non-empty list of these');
  const matchers = apiUrlList!.map((entry, i) =>
    parseApiUrl(entry, typeof apiUrl === 'string' ? 'api_url' : `api_url[${i}]`, fail),
  );

  const def: ProviderDefinition = {
    schema_version: 1,
    name,
    display_name: displayName,
    auth_type: authType as AuthType,
    flow,
    api_url: apiUrl as string | string[],
    matchers,
    exports: [],
    raw,
  };

  if (authType === 'api_key') {
    def.api_key = parseApiKeySpec(raw.api_key, fail);
    if (def.api_key.key_pattern !== undefined) def.keyPattern = compileKeyPattern(def.api_key.key_pattern);
  } else {
    if (!isObject(raw.oauth)) fail('oauth', "is required for auth_type 'oauth2'");
    def.oauth = parseOAuthSpec(raw.oauth as Record<string, unknown>, flow, fail);
    if (raw.registration !== undefined) {
      if (!isObject(raw.registration)) fail('registration', 'must be an object');
      const endpoint = (raw.registration as Record<string, unknown>).registration_endpoint;
      if (endpoint !== undefined && !isUrlTemplate(endpoint))
        fail('registration.registration_endpoint', 'must be an http(s) URL');
      def.registration = { registration_endpoint: endpoint as string | undefined };
    }
  }

  def.exports = parseExports(raw.export, name, authType as AuthType, fail);
  if (raw.docs_url !== undefined) {
    if (!isUrlTemplate(raw.docs_url)) fail('docs_url', 'must be an http(s) URL');
    def.docs_url = raw.docs_url as string;
  }
  if (raw.metadata !== undefined) {
    if (!isObject(raw.metadata)) fail('metadata', 'must be an object');
    const description = (raw.metadata as Record<string, unknown>).description;
    if (description !== undefined && typeof description !== 'string') fail('metadata.description', 'must be a string');
    def.description = description as string | undefined;
  }
  return def;
}

type Fail = (field: string, problem: string) => never;

function parseApiUrl(entry: unknown, field: string, fail: Fail): ApiUrlMatcher {
  if (typeof entry !== 'string' || entry.trim() === '') return fail(field, 'must be a non-empty string');
  if (entry.startsWith('regex:')) {
    const source = entry.slice('regex:'.length);
    if (source === '') fail(field, 'has an empty regular expression');
    try {
      // Full match, case-insensitive; anchors inside the pattern are harmless.
      new RegExp(source); // must parse alone, or a stray ')' could close the group below and undo the full match
      return { kind: 'regex', pattern: new RegExp(`^(?:${source})$`, 'i'), source: entry };
    } catch {
      return fail(field, 'is not a valid regular expression');
    }
  }
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(entry) ? entry : `https://${entry}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    return fail(field, `'${entry}' is not a valid host or URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') fail(field, 'must be an https URL or a host');
  if (url.search || url.hash || url.username || url.password)
    fail(field, 'must not contain a query, fragment or credentials');
  const pathPrefix = url.pathname.replace(/\/+$/, '');
  return {
    kind: 'host',
    host: url.hostname.toLowerCase(),
    ...(url.port ? { port: Number(url.port) } : {}),
    pathPrefix,
    source: entry,
  };
}

function parseApiKeySpec(value: unknown, fail: Fail): ApiKeySpec {
  const spec = value === undefined ? {} : value;
  if (!isObject(spec)) return fail('api_key', 'must be an object');
  const headerName = spec.header_name ?? 'Authorization';
  if (typeof headerName !== 'string' || !/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(headerName)) {
    fail('api_key.header_name', 'must be a valid HTTP header name');
  }
  const prefix = spec.header_prefix === undefined ? 'Bearer' : spec.header_prefix;
  if (prefix !== null && (typeof prefix !== 'string' || /[\r\n]/.test(prefix)))
    fail('api_key.header_prefix', 'must be a string or null');
  const out: ApiKeySpec = { header_name: headerName as string, header_prefix: prefix as string | null };
  if (spec.header_format !== undefined) {
    if (spec.header_format !== 'basic') fail('api_key.header_format', "must be 'basic' when set");
    out.header_format = 'basic';
  }
  if (spec.key_pattern !== undefined && spec.key_pattern !== null) {
    if (typeof spec.key_pattern !== 'string' || spec.key_pattern === '')
      fail('api_key.key_pattern', 'must be a non-empty string');
    try {
      compileKeyPattern(spec.key_pattern as string);
    } catch {
      fail('api_key.key_pattern', 'is not a valid regular expression');
    }
    out.key_pattern = spec.key_pattern as string;
  }
  if (spec.key_pattern_hint !== undefined && spec.key_pattern_hint !== null) {
    if (typeof spec.key_pattern_hint !== 'string') fail('api_key.key_pattern_hint', 'must be a string');
    out.key_pattern_hint = spec.key_pattern_hint as string;
  }
  return out;
}

function parseOAuthSpec(spec: Record<string, unknown>, flow: Flow, fail: Fail): OAuthSpec {
  const url = (field: string, required: boolean): string | undefined => {
    const v = spec[field];
    if (v === undefined || v === null) {
      if (required) fail(`oauth.${field}`, 'is required');
      return undefined;
    }
    if (!isUrlTemplate(v)) fail(`oauth.${field}`, 'must be an http(s) URL (it may use {base_url})');
    return v as string;
  };
  const out: OAuthSpec = {
    authorization_url: url('authorization_url', flow !== 'device_code') ?? '',
    token_url: url('token_url', true)!,
    device_token_request: 'oauth2_form',
    scopes: [],
  };
  const revocation = url('revocation_url', false);
  if (revocation) out.revocation_url = revocation;
  const device = url('device_authorization_url', flow === 'device_code');
  if (device) out.device_authorization_url = device;
  const base = url('base_url', false);
  if (base) out.base_url = base.replace(/\/+$/, '');
  if (spec.device_token_request !== undefined) {
    if (spec.device_token_request !== 'oauth2_form' && spec.device_token_request !== 'json') {
      fail('oauth.device_token_request', "must be 'oauth2_form' or 'json'");
    }
    out.device_token_request = spec.device_token_request as 'oauth2_form' | 'json';
  }
  if (spec.scopes !== undefined) {
    if (!Array.isArray(spec.scopes) || !spec.scopes.every((s) => typeof s === 'string' && s !== '' && !/\s/.test(s))) {
      fail('oauth.scopes', 'must be a list of scope strings without spaces');
    }
    out.scopes = spec.scopes as string[];
  }
  return out;
}

function parseExports(value: unknown, name: string, authType: AuthType, fail: Fail): ExportVar[] {
  if (value === undefined || value === null) {
    const prefix = buildEnvPrefix(name);
    return authType === 'api_key'
      ? [{ env: `${prefix}_API_KEY`, source: 'api_key' }]
      : [{ env: `${prefix}_ACCESS_TOKEN`, source: 'access_token' }];
  }
  if (!isObject(value)) return fail('export', 'must be an object');
  const vars: ExportVar[] = [];
  if (isObject(value.env) && Object.keys(value).length === 1) {
    // Field shape: {"env": {"api_key": "OPENAI_API_KEY"}} (field → env var name).
    for (const [field, env] of Object.entries(value.env)) {
      if (!FIELD_EXPORT_SOURCES.has(field as ExportSource)) {
        fail(`export.env.${field}`, `is not a known field (use one of ${[...FIELD_EXPORT_SOURCES].join(', ')})`);
      }
      if (typeof env !== 'string' || !ENV_NAME_RE.test(env))
        fail(`export.env.${field}`, 'must be an environment variable name');
      vars.push({ env: env as string, source: field as ExportSource });
    }
  } else {
    // Flat shape: {"OPENAI_API_KEY": "API_TOKEN"} (env var name → source).
    for (const [env, source] of Object.entries(value)) {
      if (!ENV_NAME_RE.test(env)) fail(`export.${env}`, 'is not a valid environment variable name');
      const mapped = typeof source === 'string' ? FLAT_EXPORT_SOURCES[source] : undefined;
      if (!mapped) fail(`export.${env}`, `must be one of ${Object.keys(FLAT_EXPORT_SOURCES).join(', ')}`);
      vars.push({ env, source: mapped! });
    }
  }
  return vars;
}

function requireString(obj: Record<string, unknown>, field: string, fail: Fail): string {
  const v = obj[field];
  if (v === undefined || v === null) return fail(field, 'is required');
  if (typeof v !== 'string' || v.trim() === '') return fail(field, 'must be a non-empty string');
  return v;
}

function isUrlTemplate(v: unknown): boolean {
  if (typeof v !== 'string') return false;
  const expanded = v.replace(/\{base_url\}/g, 'https://base.invalid');
  try {
    const u = new URL(expanded);
    return u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    return false;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
