// A run's allow-list: which requests an agent may send with a credential. Rules are `provider:METHOD:/path/glob`
// (`*` is one path segment, `**` any number), `--read-only` allows GET, HEAD and OPTIONS everywhere in scope, and
// `--max-requests N` caps the injected requests per provider. Paths are matched after normalisation, so `/repos/..`
// tricks, `%2e`, encoded letters and `//` cannot slip past a rule. Pure: no I/O, no secret.
import { errors } from '../errors.js';

export interface PolicyInput {
  /** `provider:METHOD:/glob`, METHOD may be `*`. */
  allow?: string[];
  readOnly?: boolean;
  maxRequests?: number;
}

export interface PolicyRule {
  provider: string;
  /** Upper case, or `*`. */
  method: string;
  glob: string;
  pattern: RegExp;
}

export type PolicyDecision = { allowed: true } | { allowed: false; rule: string; reason: string };

export interface RunPolicy {
  readonly rules: readonly PolicyRule[];
  readonly readOnly: boolean;
  readonly maxRequests?: number;
  /** Whether there is anything to enforce (no rules, no read-only, no cap: every request passes untouched). */
  readonly active: boolean;
  /** Decides one request that would get `provider`'s credential, and counts it when allowed. */
  check(provider: string, method: string, path: string): PolicyDecision;
  /** The rules as a person reads them, for `run --verbose` and the audit log. */
  describe(): string[];
}

const READ_ONLY_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const METHOD_RE = /^(\*|[A-Za-z]+)$/;
const PROVIDER_RE = /^[a-z0-9][a-z0-9._-]*$/;

/** Parses `provider:METHOD:/glob`; the glob must start with '/'. Errors say which rule and why. */
export function parseAllowRule(text: string): PolicyRule {
  const first = text.indexOf(':');
  const second = first === -1 ? -1 : text.indexOf(':', first + 1);
  const hint = "Write a rule as provider:METHOD:/path, e.g. --allow 'github:GET:/repos/**' (METHOD may be *).";
  if (first <= 0 || second === -1) throw errors.usage(`Invalid --allow rule '${text}'.`, hint);
  const provider = text.slice(0, first).toLowerCase();
  const method = text.slice(first + 1, second).toUpperCase();
  const glob = text.slice(second + 1);
  if (!PROVIDER_RE.test(provider))
    throw errors.usage(`Invalid --allow rule '${text}': '${provider}' is not a provider name.`, hint);
  if (!METHOD_RE.test(method))
    throw errors.usage(`Invalid --allow rule '${text}': '${method}' is not an HTTP method.`, hint);
  if (!glob.startsWith('/')) throw errors.usage(`Invalid --allow rule '${text}': the path must start with '/'.`, hint);
  return { provider, method, glob, pattern: compileGlob(normalizePolicyPath(glob)) };
}

/** `*` matches within one segment, `**` across segments (also none: `/repos/**` matches `/repos`). */
export function compileGlob(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === '*' && glob[i + 1] === '*') {
      i++;
      // '/**' at a segment boundary also matches nothing at all: /repos/** covers /repos.
      if (source.endsWith('/') && (i + 1 === glob.length || glob[i + 1] === '/')) {
        source = `${source.slice(0, -1)}(?:/.*)?`;
        if (glob[i + 1] === '/') i++;
        if (i + 1 < glob.length) source += '/';
      } else {
        source += '.*';
      }
    } else if (ch === '*') {
      source += '[^/]*';
    } else {
      source += ch.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${source}$`);
}

/**
 * The path a rule is matched against: the query dropped, percent-encoded unreserved characters decoded (RFC 3986
 * §2.3: `%41` is `A`), `//` collapsed, `.`/`..` segments resolved. Encoded slashes stay encoded: `%2F` is not a
 * segment boundary, so it cannot make a path look shorter than the server reads it.
 */
export function normalizePolicyPath(path: string): string {
  // Most paths are already normal (no query, no escape, no empty or dot segment): they are their own result, and the
  // check costs one scan instead of a decode, a split and a join per request.
  if (path.charCodeAt(0) === 0x2f && !NOT_NORMAL.test(path)) return path;
  return normalizeSlowly(path);
}

/** Anything normalisation would change: a query or fragment, an escape, `//`, a `.` or `..` segment. */
const NOT_NORMAL = /[?#%]|\/\/|\/\.\.?(?:\/|$)/;

function normalizeSlowly(path: string): string {
  const q = path.search(/[?#]/);
  let p = q === -1 ? path : path.slice(0, q);
  p = p.replace(/%([0-9A-Fa-f]{2})/g, (m, hex: string) => {
    const c = String.fromCharCode(parseInt(hex, 16));
    return /[A-Za-z0-9\-._~]/.test(c) ? c : m.toUpperCase();
  });
  const out: string[] = [];
  for (const segment of p.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      out.pop();
      continue;
    }
    out.push(segment);
  }
  const trailing = p.length > 1 && p.endsWith('/') ? '/' : '';
  return `/${out.join('/')}${out.length > 0 ? trailing : ''}`;
}

export function createRunPolicy(input: PolicyInput = {}): RunPolicy {
  const rules = (input.allow ?? []).map(parseAllowRule);
  const readOnly = input.readOnly === true;
  const maxRequests = input.maxRequests;
  if (maxRequests !== undefined && (!Number.isInteger(maxRequests) || maxRequests < 1)) {
    throw errors.usage(`--max-requests must be a whole number of at least 1 (got ${maxRequests}).`);
  }
  const counts = new Map<string, number>();
  const restricted = rules.length > 0 || readOnly;
  return {
    rules,
    readOnly,
    maxRequests,
    active: restricted || maxRequests !== undefined,
    check(provider, method, path) {
      const m = method.toUpperCase();
      if (restricted) {
        const normal = normalizePolicyPath(path);
        const readOnlyOk = readOnly && READ_ONLY_METHODS.has(m);
        const matched =
          readOnlyOk ||
          rules.some((r) => r.provider === provider && (r.method === '*' || r.method === m) && r.pattern.test(normal));
        if (!matched) {
          const rule = readOnly && rules.length === 0 ? 'read-only' : 'allow-list';
          return { allowed: false, rule, reason: `no rule of this run allows ${m} ${normal} for ${provider}` };
        }
      }
      if (maxRequests !== undefined) {
        const used = counts.get(provider) ?? 0;
        if (used >= maxRequests)
          return {
            allowed: false,
            rule: 'max-requests',
            reason: `this run's limit of ${maxRequests} requests for ${provider} is reached`,
          };
        counts.set(provider, used + 1);
      }
      return { allowed: true };
    },
    describe() {
      const lines = rules.map((r) => `allow ${r.provider} ${r.method} ${r.glob}`);
      if (readOnly) lines.push('read-only: GET, HEAD and OPTIONS for every provider in scope');
      if (maxRequests !== undefined) lines.push(`at most ${maxRequests} requests per provider`);
      return lines;
    },
  };
}
