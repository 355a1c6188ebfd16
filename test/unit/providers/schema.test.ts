// Provider definition parsing: every error names the file and the field; api_url, export and key
// patterns are turned into their parsed forms; unknown fields survive in `raw`.
import { describe, it, expect } from 'vitest';
import { AppError } from '../../../src/errors.js';
import {
  buildEnvPrefix,
  compileKeyPattern,
  parseProviderDefinition,
  parseProviderText,
  type ProviderDefinition,
} from '../../../src/providers/schema.js';

const PATH = '/x/openai.json';

function apiKeyProvider(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schema_version: 1,
    name: 'openai',
    display_name: 'OpenAI',
    auth_type: 'api_key',
    flow: 'api_key',
    api_url: 'api.openai.com',
    api_key: { header_name: 'Authorization', header_prefix: 'Bearer', key_pattern: '^sk-[A-Za-z0-9_-]{20,}$' },
    export: { OPENAI_API_KEY: 'API_TOKEN' },
    ...overrides,
  };
}

function oauthProvider(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schema_version: 1,
    name: 'openai',
    display_name: 'Example OAuth',
    auth_type: 'oauth2',
    flow: 'pkce',
    api_url: 'api.example.com',
    oauth: { authorization_url: 'https://example.com/authorize', token_url: 'https://example.com/token' },
    ...overrides,
  };
}

/** `null`: content that is not from a file yet, so no file name to compare with. */
function parse(value: unknown, expectedName: string | null = 'openai'): ProviderDefinition {
  return parseProviderDefinition(value, { path: PATH, ...(expectedName !== null ? { expectedName } : {}) });
}

function failure(value: unknown, expectedName: string | null = 'openai'): AppError {
  try {
    parse(value, expectedName);
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('INVALID_PROVIDER_FILE');
    return err as AppError;
  }
  throw new Error('expected the definition to be rejected');
}

/** Asserts the whole message: `Provider file <path> is invalid: <field> <problem>.` */
function expectInvalid(value: unknown, field: string, problem?: RegExp | string): AppError {
  const err = failure(value);
  expect(err.message.startsWith(`Provider file ${PATH} is invalid: ${field} `), err.message).toBe(true);
  expect(err.message.endsWith('.')).toBe(true);
  expect(err.detail!.startsWith(`${field} `)).toBe(true);
  if (typeof problem === 'string') expect(err.message).toBe(`Provider file ${PATH} is invalid: ${field} ${problem}.`);
  else if (problem) expect(err.message).toMatch(problem);
  expect(err.hint).toBeTruthy();
  return err;
}

describe('error messages name the file and the field', () => {
  it('an invalid key_pattern: the exact message', () => {
    const value = apiKeyProvider({ api_key: { key_pattern: 'sk-(' } });
    const err = failure(value);
    expect(err.message).toBe(
      `Provider file ${PATH} is invalid: api_key.key_pattern is not a valid regular expression.`,
    );
    expect(err.detail).toBe('api_key.key_pattern is not a valid regular expression');
  });

  it('bad JSON names the file and gives a hint', () => {
    let err: unknown;
    try {
      parseProviderText('{"name": "openai",}', { path: PATH, expectedName: 'openai' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('INVALID_PROVIDER_FILE');
    expect((err as AppError).message).toMatch(
      new RegExp(`^Provider file ${PATH} is invalid: not valid JSON \\(.+\\)\\.$`),
    );
    expect((err as AppError).hint).toMatch(/comma, quote or brace/);
  });

  it('a file that is not an object', () => {
    expectInvalid([], 'the file', 'must contain a JSON object');
    expectInvalid('openai', 'the file', 'must contain a JSON object');
  });

  it('schema_version must be 1', () => {
    expectInvalid(apiKeyProvider({ schema_version: 2 }), 'schema_version', 'must be 1');
    expectInvalid(apiKeyProvider({ schema_version: undefined }), 'schema_version', 'must be 1');
  });

  it('display_name is required and non-empty', () => {
    expectInvalid(apiKeyProvider({ display_name: undefined }), 'display_name', 'is required');
    expectInvalid(apiKeyProvider({ display_name: '  ' }), 'display_name', 'must be a non-empty string');
    expectInvalid(apiKeyProvider({ display_name: 7 }), 'display_name', 'must be a non-empty string');
  });

  it('metadata.description and docs_url are checked', () => {
    expectInvalid(apiKeyProvider({ metadata: { description: 5 } }), 'metadata.description', 'must be a string');
    expectInvalid(apiKeyProvider({ metadata: 'text' }), 'metadata', 'must be an object');
    expectInvalid(apiKeyProvider({ docs_url: 'javascript:alert(1)' }), 'docs_url', 'must be an http(s) URL');
  });
});

describe('name', () => {
  it('must equal the file name', () => {
    const err = failure(apiKeyProvider(), 'other');
    expect(err.message).toBe(`Provider file ${PATH} is invalid: name 'openai' must equal the file name 'other'.`);
  });

  it('must match the name pattern', () => {
    expectInvalid(apiKeyProvider({ name: 'OpenAI' }), 'name', /'OpenAI' must match/);
    expectInvalid(apiKeyProvider({ name: '-openai' }), 'name', /must match/);
    expectInvalid(apiKeyProvider({ name: undefined }), 'name', 'is required');
  });

  it('is not compared when the content is not from a file yet', () => {
    expect(parse(apiKeyProvider({ name: 'my.tool_v2-x' }), null).name).toBe('my.tool_v2-x');
  });
});

describe('auth_type and flow', () => {
  it('auth_type must be api_key or oauth2', () => {
    expectInvalid(apiKeyProvider({ auth_type: 'basic' }), 'auth_type', "must be 'api_key' or 'oauth2'");
    expectInvalid(apiKeyProvider({ auth_type: undefined }), 'auth_type', 'is required');
  });

  it('api_key providers take flow api_key (or none)', () => {
    expect(parse(apiKeyProvider({ flow: undefined })).flow).toBe('api_key');
    expectInvalid(apiKeyProvider({ flow: 'pkce' }), 'flow', "must be one of 'api_key' for auth_type 'api_key'");
  });

  it('oauth2 providers take pkce, device_code or dcr_pkce, and need a flow', () => {
    for (const flow of ['pkce', 'dcr_pkce'] as const) expect(parse(oauthProvider({ flow })).flow).toBe(flow);
    expectInvalid(
      oauthProvider({ flow: 'api_key' }),
      'flow',
      "must be one of 'pkce', 'device_code', 'dcr_pkce' for auth_type 'oauth2'",
    );
    expectInvalid(oauthProvider({ flow: undefined }), 'flow', 'is required');
  });

  it('oauth2 needs an oauth block with the URLs its flow uses', () => {
    expectInvalid(oauthProvider({ oauth: undefined }), 'oauth', "is required for auth_type 'oauth2'");
    expectInvalid(oauthProvider({ oauth: { authorization_url: 'https://e.com/a' } }), 'oauth.token_url', 'is required');
    expectInvalid(oauthProvider({ oauth: { token_url: 'https://e.com/t' } }), 'oauth.authorization_url', 'is required');
    expectInvalid(
      oauthProvider({ flow: 'device_code', oauth: { token_url: 'https://e.com/t' } }),
      'oauth.device_authorization_url',
      'is required',
    );
    const device = parse(
      oauthProvider({
        flow: 'device_code',
        oauth: { token_url: 'https://e.com/t', device_authorization_url: 'https://e.com/d' },
      }),
    );
    expect(device.oauth).toMatchObject({
      device_authorization_url: 'https://e.com/d',
      device_token_request: 'oauth2_form',
      scopes: [],
    });
  });

  it('oauth fields: {base_url} templates, trailing slash stripped, scopes and device_token_request checked', () => {
    const def = parse(
      oauthProvider({
        oauth: {
          authorization_url: '{base_url}/authorize',
          token_url: '{base_url}/token',
          base_url: 'https://gitlab.example.com//',
          scopes: ['read', 'write:all'],
          device_token_request: 'json',
        },
      }),
    );
    expect(def.oauth).toMatchObject({
      base_url: 'https://gitlab.example.com',
      scopes: ['read', 'write:all'],
      device_token_request: 'json',
    });
    expectInvalid(
      oauthProvider({ oauth: { ...(oauthProvider().oauth as object), token_url: 'not a url' } }),
      'oauth.token_url',
      /must be an http\(s\) URL/,
    );
    expectInvalid(
      oauthProvider({ oauth: { ...(oauthProvider().oauth as object), scopes: ['a b'] } }),
      'oauth.scopes',
      /without spaces/,
    );
    expectInvalid(
      oauthProvider({ oauth: { ...(oauthProvider().oauth as object), device_token_request: 'xml' } }),
      'oauth.device_token_request',
      "must be 'oauth2_form' or 'json'",
    );
    expectInvalid(
      oauthProvider({ registration: { registration_endpoint: 'nope' } }),
      'registration.registration_endpoint',
      'must be an http(s) URL',
    );
  });
});

describe('api_url', () => {
  const matchersOf = (apiUrl: unknown) => parse(apiKeyProvider({ api_url: apiUrl })).matchers;

  it('a bare host', () => {
    expect(matchersOf('api.openai.com')).toEqual([
      { kind: 'host', host: 'api.openai.com', pathPrefix: '', source: 'api.openai.com' },
    ]);
  });

  it('a URL with a path prefix (trailing slash dropped), a port, and upper case hosts', () => {
    expect(matchersOf('https://openrouter.ai/api/')).toEqual([
      { kind: 'host', host: 'openrouter.ai', pathPrefix: '/api', source: 'https://openrouter.ai/api/' },
    ]);
    expect(matchersOf('API.Example.COM:8443/v1')[0]).toMatchObject({
      kind: 'host',
      host: 'api.example.com',
      port: 8443,
      pathPrefix: '/v1',
    });
  });

  it('regex: full match against the host, case-insensitive', () => {
    const m = matchersOf('regex:api\\.(eu|us)\\.example\\.com')[0]!;
    expect(m.kind).toBe('regex');
    if (m.kind !== 'regex') throw new Error('expected a regex matcher');
    expect(m.pattern.test('api.eu.example.com')).toBe(true);
    expect(m.pattern.test('API.US.Example.Com')).toBe(true);
    expect(m.pattern.test('api.eu.example.com.evil.net')).toBe(false);
    expect(m.pattern.test('xapi.eu.example.com')).toBe(false);
    const alt = matchersOf('regex:a\\.com|b\\.com')[0]!;
    expect(alt.kind === 'regex' && alt.pattern.test('a.com.evil')).toBe(false);
    expect(alt.kind === 'regex' && alt.pattern.test('b.com')).toBe(true);
  });

  it('a regex cannot break out of the full-match group: the definition is refused', () => {
    const err = failure(apiKeyProvider({ api_url: 'regex:api\\.example\\.com)|(.*' }));
    expect(err.message).toBe(`Provider file ${PATH} is invalid: api_url is not a valid regular expression.`);
  });

  it('a list: one matcher per entry, errors name the index', () => {
    const ms = matchersOf([
      'regex:.*\\.huggingface\\.co',
      'huggingface.co',
      'https://api-inference.huggingface.co/models',
    ]);
    expect(ms.map((m) => m.kind)).toEqual(['regex', 'host', 'host']);
    expect(ms[2]).toMatchObject({ host: 'api-inference.huggingface.co', pathPrefix: '/models' });
    expectInvalid(apiKeyProvider({ api_url: ['a.com', 'regex:('] }), 'api_url[1]', 'is not a valid regular expression');
    expectInvalid(apiKeyProvider({ api_url: ['a.com', 5] }), 'api_url[1]', 'must be a non-empty string');
  });

  it('rejects invalid forms', () => {
    expectInvalid(apiKeyProvider({ api_url: 'regex:(' }), 'api_url', 'is not a valid regular expression');
    expectInvalid(apiKeyProvider({ api_url: 'regex:' }), 'api_url', 'has an empty regular expression');
    expectInvalid(apiKeyProvider({ api_url: [] }), 'api_url', /non-empty list/);
    expectInvalid(apiKeyProvider({ api_url: undefined }), 'api_url', /non-empty list/);
    expectInvalid(apiKeyProvider({ api_url: 'ftp://files.example.com' }), 'api_url', 'must be an https URL or a host');
    expectInvalid(apiKeyProvider({ api_url: 'https://a.com/v1?key=x' }), 'api_url', /query, fragment or credentials/);
    expectInvalid(apiKeyProvider({ api_url: 'https://user:pw@a.com' }), 'api_url', /query, fragment or credentials/);
    expectInvalid(apiKeyProvider({ api_url: 'https://exa mple.com' }), 'api_url', /is not a valid host or URL/);
  });
});

describe('api_key', () => {
  it('defaults: Authorization with a Bearer prefix', () => {
    expect(parse(apiKeyProvider({ api_key: undefined })).api_key).toEqual({
      header_name: 'Authorization',
      header_prefix: 'Bearer',
    });
  });

  it('keeps a null prefix, a custom header and the basic format', () => {
    expect(parse(apiKeyProvider({ api_key: { header_name: 'x-api-key', header_prefix: null } })).api_key).toEqual({
      header_name: 'x-api-key',
      header_prefix: null,
    });
    expect(
      parse(apiKeyProvider({ api_key: { header_prefix: 'Basic', header_format: 'basic' } })).api_key!.header_format,
    ).toBe('basic');
  });

  it('rejects a bad header name, prefix or format', () => {
    expectInvalid(
      apiKeyProvider({ api_key: { header_name: 'Bad Header' } }),
      'api_key.header_name',
      'must be a valid HTTP header name',
    );
    expectInvalid(
      apiKeyProvider({ api_key: { header_prefix: 'Bearer\r\nX-Evil: 1' } }),
      'api_key.header_prefix',
      'must be a string or null',
    );
    expectInvalid(
      apiKeyProvider({ api_key: { header_format: 'digest' } }),
      'api_key.header_format',
      "must be 'basic' when set",
    );
    expectInvalid(apiKeyProvider({ api_key: 'Authorization' }), 'api_key', 'must be an object');
    expectInvalid(
      apiKeyProvider({ api_key: { key_pattern: '' } }),
      'api_key.key_pattern',
      'must be a non-empty string',
    );
    expectInvalid(apiKeyProvider({ api_key: { key_pattern_hint: 3 } }), 'api_key.key_pattern_hint', 'must be a string');
  });

  it('key_pattern is a full match, with or without anchors in the file', () => {
    const unanchored = parse(apiKeyProvider({ api_key: { key_pattern: 'sk-[a-z]+' } })).keyPattern!;
    expect(unanchored.test('sk-abc')).toBe(true);
    expect(unanchored.test('xx sk-abc')).toBe(false);
    expect(unanchored.test('sk-abc!')).toBe(false);
    const alternation = compileKeyPattern('ghp_[a-z]+|pat_[a-z]+');
    expect(alternation.test('pat_abc')).toBe(true);
    expect(alternation.test('ghp_abc junk')).toBe(false);
    expect(alternation.test('junk pat_abc')).toBe(false);
    const anchored = parse(apiKeyProvider()).keyPattern!;
    expect(anchored.test(`sk-${'a'.repeat(20)}`)).toBe(true);
    expect(anchored.test(`sk-${'a'.repeat(19)}`)).toBe(false);
  });

  it('a key_pattern cannot break out of the full-match group: the definition is refused', () => {
    const err = failure(apiKeyProvider({ api_key: { key_pattern: 'sk-[a-z]+)|(.*' } }));
    expect(err.message).toBe(
      `Provider file ${PATH} is invalid: api_key.key_pattern is not a valid regular expression.`,
    );
  });

  it('no key_pattern: no compiled pattern', () => {
    expect(parse(apiKeyProvider({ api_key: {} })).keyPattern).toBeUndefined();
  });
});

describe('export', () => {
  const exportsOf = (exp: unknown, base = apiKeyProvider) => parse(base({ export: exp })).exports;

  it('flat shape: env var name → source', () => {
    expect(exportsOf({ OPENAI_API_KEY: 'API_TOKEN', OPENAI_BASE_URL: 'API_URL', OTHER: 'API_KEY' })).toEqual([
      { env: 'OPENAI_API_KEY', source: 'api_key' },
      { env: 'OPENAI_BASE_URL', source: 'api_url' },
      { env: 'OTHER', source: 'api_key' },
    ]);
    expect(exportsOf({ T: 'ACCESS_TOKEN', R: 'REFRESH_TOKEN', B: 'BASE_URL' }, oauthProvider)).toEqual([
      { env: 'T', source: 'access_token' },
      { env: 'R', source: 'refresh_token' },
      { env: 'B', source: 'base_url' },
    ]);
  });

  it('field shape: {"env": {field: env var name}}', () => {
    expect(exportsOf({ env: { api_key: 'X_KEY' } })).toEqual([{ env: 'X_KEY', source: 'api_key' }]);
    expect(exportsOf({ env: { access_token: 'T', refresh_token: 'R' } }, oauthProvider)).toEqual([
      { env: 'T', source: 'access_token' },
      { env: 'R', source: 'refresh_token' },
    ]);
  });

  it('defaults: <NAME>_API_KEY or <NAME>_ACCESS_TOKEN, non-alphanumerics → _', () => {
    expect(parse(apiKeyProvider({ export: undefined })).exports).toEqual([
      { env: 'OPENAI_API_KEY', source: 'api_key' },
    ]);
    expect(
      parse(apiKeyProvider({ name: 'keywords-everywhere', export: undefined }), 'keywords-everywhere').exports,
    ).toEqual([{ env: 'KEYWORDS_EVERYWHERE_API_KEY', source: 'api_key' }]);
    expect(parse(oauthProvider({ name: 'notion_dcr', export: undefined }), 'notion_dcr').exports).toEqual([
      { env: 'NOTION_DCR_ACCESS_TOKEN', source: 'access_token' },
    ]);
    expect(parse(apiKeyProvider({ name: 'my.tool9', export: null }), 'my.tool9').exports).toEqual([
      { env: 'MY_TOOL9_API_KEY', source: 'api_key' },
    ]);
    expect(buildEnvPrefix('a.b-c_d9')).toBe('A_B_C_D9');
  });

  it('rejects unknown sources, fields and bad variable names, naming the entry', () => {
    expectInvalid(
      apiKeyProvider({ export: { OPENAI_API_KEY: 'PASSWORD' } }),
      'export.OPENAI_API_KEY',
      /must be one of API_TOKEN/,
    );
    expectInvalid(
      apiKeyProvider({ export: { '1BAD': 'API_TOKEN' } }),
      'export.1BAD',
      'is not a valid environment variable name',
    );
    expectInvalid(
      apiKeyProvider({ export: { env: { password: 'X' } } }),
      'export.env.password',
      /is not a known field/,
    );
    expectInvalid(
      apiKeyProvider({ export: { env: { api_key: 'NOT VALID' } } }),
      'export.env.api_key',
      'must be an environment variable name',
    );
    expectInvalid(apiKeyProvider({ export: ['OPENAI_API_KEY'] }), 'export', 'must be an object');
  });
});

describe('raw', () => {
  it('keeps the object exactly as written, unknown fields included', () => {
    const value = apiKeyProvider({
      x_team_note: 'keep me',
      api_key: { header_name: 'Authorization', extra: { nested: [1, 2] } },
      metadata: { description: 'd', icon: 'openai.svg' },
    });
    const copy = structuredClone(value);
    const def = parse(value);
    expect(def.raw).toEqual(copy);
    expect(def.raw.x_team_note).toBe('keep me');
    expect((def.raw.api_key as Record<string, unknown>).extra).toEqual({ nested: [1, 2] });
    expect(def.description).toBe('d');
  });

  it('parseProviderText parses the same as parseProviderDefinition', () => {
    const value = apiKeyProvider({ unknown: true });
    const fromText = parseProviderText(JSON.stringify(value), { path: PATH, expectedName: 'openai' });
    expect(fromText.raw).toEqual(value);
    expect(fromText.matchers).toEqual(parse(value).matchers);
  });
});
