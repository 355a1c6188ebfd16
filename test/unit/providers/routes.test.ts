// Route matching: host and port, path prefixes on segment boundaries, priorities, ties, OAuth endpoints.
import { describe, expect, it } from 'vitest';
import { buildRouteTable, matchRoute, shouldIntercept, type ScopeEntry } from '../../../src/providers/routes.js';
import { parseProviderDefinition } from '../../../src/providers/schema.js';

function entry(name: string, raw: Record<string, unknown>, connection = 'default'): ScopeEntry {
  const definition = parseProviderDefinition(
    { schema_version: 1, name, display_name: name, auth_type: 'api_key', ...raw },
    { path: `${name}.json` },
  );
  return { provider: name, connection, definition };
}

const kindOf = (m: ReturnType<typeof matchRoute>) =>
  m.kind === 'inject'
    ? `inject:${m.entry.provider}`
    : m.kind === 'none'
      ? `none:${m.reason}`
      : `ambiguous:${m.candidates.map((c) => c.provider).join('+')}`;

describe('route table', () => {
  const openai = entry('openai', { api_url: 'api.openai.com' });
  const openrouter = entry('openrouter', { api_url: 'https://openrouter.ai/api' });
  const google = entry('google', { api_url: 'regex:.*\\.googleapis\\.com' });
  const gemini = entry('gemini', { api_url: 'generativelanguage.googleapis.com' });
  const local = entry('local', { api_url: 'https://localhost:8443/v1' });
  const table = buildRouteTable([openai, openrouter, google, gemini, local]);

  it('matches a host case-insensitively on port 443 only when no port is given', () => {
    expect(kindOf(matchRoute(table, 'api.openai.com', 443, '/v1/models'))).toBe('inject:openai');
    expect(kindOf(matchRoute(table, 'API.OpenAI.com', 443, '/v1/models'))).toBe('inject:openai');
    expect(kindOf(matchRoute(table, 'api.openai.com.', 443, '/'))).toBe('inject:openai');
    expect(kindOf(matchRoute(table, 'api.openai.com', 8443, '/v1/models'))).toBe('none:no_route');
    expect(kindOf(matchRoute(table, 'evil-api.openai.com', 443, '/'))).toBe('none:no_route');
    expect(kindOf(matchRoute(table, 'api.openai.com.evil.test', 443, '/'))).toBe('none:no_route');
  });

  it('honours an explicit port', () => {
    expect(kindOf(matchRoute(table, 'localhost', 8443, '/v1/x'))).toBe('inject:local');
    expect(kindOf(matchRoute(table, 'localhost', 443, '/v1/x'))).toBe('none:no_route');
    expect(shouldIntercept(table, 'localhost', 8443)).toBe(true);
    expect(shouldIntercept(table, 'localhost', 443)).toBe(false);
  });

  it('matches a path prefix on a segment boundary, ignoring the query', () => {
    expect(kindOf(matchRoute(table, 'openrouter.ai', 443, '/api'))).toBe('inject:openrouter');
    expect(kindOf(matchRoute(table, 'openrouter.ai', 443, '/api/v1/chat?x=/apix'))).toBe('inject:openrouter');
    expect(kindOf(matchRoute(table, 'openrouter.ai', 443, '/api?x=1'))).toBe('inject:openrouter');
    expect(kindOf(matchRoute(table, 'openrouter.ai', 443, '/apix'))).toBe('none:no_route');
    expect(kindOf(matchRoute(table, 'openrouter.ai', 443, '/'))).toBe('none:no_route');
    // The host still needs interception: some paths on it match.
    expect(shouldIntercept(table, 'openrouter.ai', 443)).toBe(true);
  });

  it('full-matches regex hosts case-insensitively, and an exact host beats a regex', () => {
    expect(kindOf(matchRoute(table, 'storage.GOOGLEAPIS.com', 443, '/b'))).toBe('inject:google');
    expect(kindOf(matchRoute(table, 'generativelanguage.googleapis.com', 443, '/v1beta/models'))).toBe('inject:gemini');
  });

  it('lets the longest path prefix win', () => {
    const broad = entry('broad', { api_url: 'api.multi.test' });
    const narrow = entry('narrow', { api_url: 'https://api.multi.test/v2/special' });
    const t = buildRouteTable([broad, narrow]);
    expect(kindOf(matchRoute(t, 'api.multi.test', 443, '/v2/special/x'))).toBe('inject:narrow');
    expect(kindOf(matchRoute(t, 'api.multi.test', 443, '/v2/specialist'))).toBe('inject:broad');
    expect(kindOf(matchRoute(t, 'api.multi.test', 443, '/v1'))).toBe('inject:broad');
  });

  it('reports a tie between different scope entries as ambiguous, naming both', () => {
    const pat = entry('github-pat', { api_url: 'api.github.com' });
    const app = entry('github', {
      auth_type: 'oauth2',
      flow: 'pkce',
      api_url: 'api.github.com',
      oauth: {
        authorization_url: '{base_url}/login/oauth/authorize',
        token_url: '{base_url}/login/oauth/access_token',
        base_url: 'https://github.com',
      },
    });
    const m = matchRoute(buildRouteTable([pat, app]), 'api.github.com', 443, '/user');
    expect(kindOf(m)).toBe('ambiguous:github-pat+github');
    // Two regexes that both match are a tie as well.
    const r1 = entry('r1', { api_url: 'regex:.*\\.tie\\.test' });
    const r2 = entry('r2', { api_url: 'regex:api\\..*' });
    expect(kindOf(matchRoute(buildRouteTable([r1, r2]), 'api.tie.test', 443, '/'))).toBe('ambiguous:r1+r2');
  });

  it('does not call one entry with two matching matchers ambiguous', () => {
    const hf = entry('huggingface', {
      api_url: ['regex:^(api-inference|router)\\.huggingface\\.co$', 'router.huggingface.co', 'huggingface.co'],
    });
    expect(kindOf(matchRoute(buildRouteTable([hf]), 'router.huggingface.co', 443, '/v1'))).toBe('inject:huggingface');
  });

  it('never injects into the provider’s own OAuth endpoints ({base_url} expanded)', () => {
    const hubspot = entry('hubspot', {
      auth_type: 'oauth2',
      flow: 'pkce',
      api_url: 'api.hubapi.com',
      oauth: {
        authorization_url: 'https://app.hubspot.com/oauth/authorize',
        token_url: 'https://api.hubapi.com/oauth/v1/token',
        revocation_url: 'https://api.hubapi.com/oauth/v1/refresh-tokens',
      },
    });
    const ghe = entry('ghe', {
      auth_type: 'oauth2',
      flow: 'pkce',
      api_url: 'git.corp.test',
      oauth: {
        authorization_url: '{base_url}/login/oauth/authorize',
        token_url: '{base_url}/login/oauth/access_token',
        base_url: 'https://git.corp.test/',
      },
    });
    const t = buildRouteTable([hubspot, ghe]);
    expect(kindOf(matchRoute(t, 'api.hubapi.com', 443, '/oauth/v1/token'))).toBe('none:oauth_endpoint');
    expect(kindOf(matchRoute(t, 'api.hubapi.com', 443, '/oauth/v1/token/'))).toBe('none:oauth_endpoint');
    expect(kindOf(matchRoute(t, 'api.hubapi.com', 443, '/oauth/v1/refresh-tokens/abc123'))).toBe('none:oauth_endpoint');
    expect(kindOf(matchRoute(t, 'api.hubapi.com', 443, '/oauth/v1/tokenx'))).toBe('inject:hubspot');
    expect(kindOf(matchRoute(t, 'api.hubapi.com', 443, '/crm/v3/objects'))).toBe('inject:hubspot');
    expect(kindOf(matchRoute(t, 'git.corp.test', 443, '/login/oauth/access_token'))).toBe('none:oauth_endpoint');
    expect(kindOf(matchRoute(t, 'git.corp.test', 443, '/api/v3/user'))).toBe('inject:ghe');
    // A connection's own base URL replaces the definition's.
    const custom = { ...ghe, baseUrl: 'https://git.corp.test/enterprise' };
    const t2 = buildRouteTable([custom]);
    expect(kindOf(matchRoute(t2, 'git.corp.test', 443, '/enterprise/login/oauth/access_token'))).toBe(
      'none:oauth_endpoint',
    );
    expect(kindOf(matchRoute(t2, 'git.corp.test', 443, '/login/oauth/access_token'))).toBe('inject:ghe');
  });

  it('decides CONNECT interception by host and port only', () => {
    expect(shouldIntercept(table, 'api.openai.com', 443)).toBe(true);
    expect(shouldIntercept(table, 'example.com', 443)).toBe(false);
    expect(shouldIntercept(table, '127.0.0.1', 443)).toBe(false);
    expect(shouldIntercept(buildRouteTable([]), 'api.openai.com', 443)).toBe(false);
  });

  it('memoizes per host and returns the same preallocated result on a hit', () => {
    const t = buildRouteTable([openai]);
    const a = matchRoute(t, 'api.openai.com', 443, '/v1/a');
    const b = matchRoute(t, 'api.openai.com', 443, '/v1/b');
    expect(a).toBe(b);
    expect(t.views.size).toBe(1);
    for (let i = 0; i < 5000; i++) matchRoute(t, `h${i}.test`, 443, '/');
    expect(t.views.size).toBeLessThanOrEqual(4096);
  });
});
