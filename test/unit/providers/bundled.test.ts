// Every bundled provider definition (providers/*.json) parses with the real validator and carries the facts
// the catalog promises: names, docs links, key patterns, header shapes and OAuth endpoints.
import { describe, it, expect } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseProviderText, type ProviderDefinition } from '../../../src/providers/schema.js';
import { findFixedSuffix } from '../../../src/tls/name-constraints.js';

const PROVIDERS_DIR = new URL('../../../providers/', import.meta.url);

const OAUTH_NAMES = [
  'atlassian',
  'discord',
  'github',
  'gitlab',
  'google',
  'hubspot',
  'klaviyo-oauth',
  'linear',
  'microsoft',
  'notion',
  'notion_dcr',
  'postiz',
  'slack',
  'x',
];
const API_KEY_NAMES = [
  'ahrefs',
  'apollo',
  'ashby',
  'beehiiv',
  'brevo',
  'buffer',
  'calendly',
  'clearbit',
  'dub',
  'g2',
  'hunter',
  'instantly',
  'intercom',
  'keywords-everywhere',
  'klaviyo',
  'lemlist',
  'livestorm',
  'mailchimp',
  'mention-me',
  'openai',
  'optimizely',
  'postmark',
  'resend',
  'rewardful',
  'savvycal',
  'semrush',
  'sendgrid',
  'tolt',
  'typeform',
  'wistia',
  'zapier',
];
const AI_NAMES = [
  'anthropic',
  'gemini',
  'mistral',
  'groq',
  'openrouter',
  'deepseek',
  'xai',
  'together',
  'fireworks',
  'perplexity',
  'cohere',
  'huggingface',
  'replicate',
  'elevenlabs',
  'stripe',
  'github-pat',
];
const EXPECTED_NAMES = [...OAUTH_NAMES, ...API_KEY_NAMES, ...AI_NAMES];

/** Catalog rows marked "revocation ✓". */
const WITH_REVOCATION = [
  'discord',
  'gitlab',
  'google',
  'hubspot',
  'klaviyo-oauth',
  'linear',
  'notion_dcr',
  'slack',
  'x',
];

function loadAll(): Map<string, ProviderDefinition> {
  const defs = new Map<string, ProviderDefinition>();
  for (const file of readdirSync(PROVIDERS_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()) {
    const url = new URL(file, PROVIDERS_DIR);
    const path = fileURLToPath(url);
    const text = readFileSync(url, 'utf8');
    const def = parseProviderText(text, { path, expectedName: file.slice(0, -'.json'.length) });
    defs.set(def.name, def);
  }
  return defs;
}

const defs = loadAll();
const get = (name: string): ProviderDefinition => {
  const def = defs.get(name);
  if (!def) throw new Error(`provider ${name} not bundled`);
  return def;
};

describe('bundled providers', () => {
  it('ships exactly the 61 catalog providers', () => {
    expect(EXPECTED_NAMES).toHaveLength(61);
    expect(new Set(EXPECTED_NAMES).size).toBe(61);
    expect([...defs.keys()].sort()).toEqual([...EXPECTED_NAMES].sort());
  });

  it('every file is pretty-printed JSON with a trailing newline', () => {
    for (const file of readdirSync(PROVIDERS_DIR).filter((f) => f.endsWith('.json'))) {
      const text = readFileSync(new URL(file, PROVIDERS_DIR), 'utf8');
      expect(text, file).toBe(`${JSON.stringify(JSON.parse(text), null, 2)}\n`);
    }
  });

  it('auth types match the catalog sections', () => {
    for (const name of OAUTH_NAMES) {
      expect(get(name).auth_type, name).toBe('oauth2');
      expect(get(name).oauth, name).toBeDefined();
    }
    for (const name of [...API_KEY_NAMES, ...AI_NAMES]) {
      expect(get(name).auth_type, name).toBe('api_key');
      expect(get(name).flow, name).toBe('api_key');
      expect(get(name).api_key, name).toBeDefined();
    }
  });

  it('every provider has a docs_url, a description and at least one export', () => {
    for (const def of defs.values()) {
      expect(def.docs_url, def.name).toMatch(/^https:\/\//);
      expect(def.description, def.name).toBeTruthy();
      expect(def.description!.trim(), def.name).not.toBe('');
      expect(def.exports.length, def.name).toBeGreaterThan(0);
      expect(Object.keys(def.raw.export as object).length, def.name).toBe(def.exports.length);
    }
  });

  it('only openai and the AI block providers with a catalog pattern carry key_pattern, each with a hint', () => {
    const withPattern = [...defs.values()]
      .filter((d) => d.api_key?.key_pattern !== undefined)
      .map((d) => d.name)
      .sort();
    expect(withPattern).toEqual(
      [
        'anthropic',
        'deepseek',
        'github-pat',
        'groq',
        'huggingface',
        'openai',
        'openrouter',
        'perplexity',
        'replicate',
        'stripe',
        'xai',
      ].sort(),
    );
    for (const name of withPattern) {
      expect(get(name).api_key!.key_pattern_hint, name).toMatch(/ start with '/);
    }
  });

  describe('openai', () => {
    const openai = get('openai');
    it('matches the walkthrough', () => {
      expect(openai.api_url).toBe('api.openai.com');
      expect(openai.api_key).toMatchObject({ header_name: 'Authorization', header_prefix: 'Bearer' });
      expect(openai.api_key!.key_pattern_hint).toBe(
        "OpenAI API keys start with 'sk-' followed by at least 20 letters, digits, '_' or '-'.",
      );
      expect(openai.docs_url).toBe('https://platform.openai.com/api-keys');
      expect(openai.exports).toEqual([{ env: 'OPENAI_API_KEY', source: 'api_key' }]);
    });
    it('key_pattern accepts a real-looking key and rejects short or spaced ones', () => {
      expect(openai.keyPattern!.test('sk-proj-abcdefghijklmnopqrstuvwxyz012345')).toBe(true);
      expect(openai.keyPattern!.test('sk-short')).toBe(false);
      expect(openai.keyPattern!.test('sk-abc defghijklmnopqrstuvwxyz012345')).toBe(false);
    });
  });

  describe('AI-block key patterns', () => {
    const cases: Array<[string, string, string]> = [
      ['anthropic', 'sk-ant-api03-abcdefghijklmnopqrstuvwxyz_0123', 'sk-abcdefghijklmnopqrstuvwxyz0123'],
      ['groq', 'gsk_abcdefghijklmnopqrstuvwxyz0123', 'gsk_abc-defghijklmnopqrstuvwxyz0123'],
      ['openrouter', 'sk-or-v1-0123456789abcdef0123456789abcdef', 'sk-abcdefghijklmnopqrstuvwxyz0123'],
      ['deepseek', 'sk-0123456789abcdef0123456789abcdef', 'sk-proj-abcdefghijklmnopqrstuvwxyz'],
      ['xai', 'xai-abcdefghijklmnopqrstuvwxyz0123', 'xai-short'],
      ['perplexity', 'pplx-abcdefghijklmnopqrstuvwxyz0123', 'pplx abcdefghijklmnopqrstuvwxyz0123'],
      ['huggingface', 'hf_abcdefghijklmnopqrstuvwxyz0123', 'hf-abcdefghijklmnopqrstuvwxyz0123'],
      ['replicate', 'r8_abcdefghijklmnopqrstuvwxyz0123', 'r9_abcdefghijklmnopqrstuvwxyz0123'],
      ['stripe', 'sk_test_51AbCdEfGhIjKlMnOp', 'pk_test_51AbCdEfGhIjKlMnOp'],
      ['github-pat', `ghp_${'a'.repeat(36)}`, `ghp_${'a'.repeat(35)}`],
    ];
    it.each(cases)('%s accepts %s and rejects %s', (name, good, bad) => {
      const pattern = get(name).keyPattern!;
      expect(pattern).toBeDefined();
      expect(pattern.test(good)).toBe(true);
      expect(pattern.test(bad)).toBe(false);
    });
    it('stripe accepts restricted live keys and github-pat accepts fine-grained tokens', () => {
      expect(get('stripe').keyPattern!.test('rk_live_0123456789abc')).toBe(true);
      expect(get('github-pat').keyPattern!.test('github_pat_11ABCDEFG0123456789_abcdefghijklmnop')).toBe(true);
      expect(get('github-pat').keyPattern!.test(`gho_${'a'.repeat(36)}`)).toBe(false);
    });
  });

  it('header shapes follow the catalog', () => {
    expect(get('ashby').api_key).toMatchObject({
      header_name: 'Authorization',
      header_prefix: 'Basic',
      header_format: 'basic',
    });
    expect(get('brevo').api_key).toMatchObject({ header_name: 'api-key', header_prefix: null });
    expect(get('postmark').api_key).toMatchObject({ header_name: 'X-Postmark-Server-Token', header_prefix: null });
    expect(get('anthropic').api_key).toMatchObject({ header_name: 'x-api-key', header_prefix: null });
    expect(get('gemini').api_key).toMatchObject({ header_name: 'x-goog-api-key', header_prefix: null });
    expect(get('elevenlabs').api_key).toMatchObject({ header_name: 'xi-api-key', header_prefix: null });
    expect(get('g2').api_key).toMatchObject({ header_name: 'Authorization', header_prefix: 'Token' });
    expect(get('klaviyo').api_key).toMatchObject({ header_name: 'Authorization', header_prefix: 'Klaviyo-API-Key' });
    // No other provider uses Basic formatting.
    const basic = [...defs.values()].filter((d) => d.api_key?.header_format === 'basic').map((d) => d.name);
    expect(basic).toEqual(['ashby']);
  });

  it('multi-env exports list every catalog name', () => {
    const envs = (name: string) => get(name).exports.map((e) => e.env);
    expect(envs('gemini')).toEqual(['GEMINI_API_KEY', 'GOOGLE_API_KEY']);
    expect(envs('cohere')).toEqual(['COHERE_API_KEY', 'CO_API_KEY']);
    expect(envs('huggingface')).toEqual(['HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN']);
    expect(envs('github-pat')).toEqual(['GITHUB_TOKEN', 'GH_TOKEN']);
    expect(get('github').exports).toEqual([
      { env: 'GITHUB_ACCESS_TOKEN', source: 'access_token' },
      { env: 'GH_TOKEN', source: 'access_token' },
    ]);
  });

  it('api_url matchers: regex, path prefix and host lists', () => {
    const linear = get('linear').matchers[0]!;
    expect(linear.kind).toBe('regex');
    if (linear.kind === 'regex') {
      expect(linear.pattern.test('api.linear.app')).toBe(true);
      expect(linear.pattern.test('api.linear.app.evil.com')).toBe(false);
    }
    const google = get('google').matchers[0]!;
    expect(google.kind === 'regex' && google.pattern.test('www.googleapis.com')).toBe(true);
    expect(get('openrouter').matchers[0]).toMatchObject({ kind: 'host', host: 'openrouter.ai', pathPrefix: '/api' });
    const hf = get('huggingface').matchers;
    expect(hf.map((m) => m.kind)).toEqual(['regex', 'host', 'host']);
    expect(hf[0]!.kind === 'regex' && hf[0]!.pattern.test('router.huggingface.co')).toBe(true);
  });

  it('no regex route can match a host an agent picks in a domain of its own', () => {
    // The credential goes wherever the CONNECT host matches; an agent can name any host and own its certificate.
    const regexRoutes = [...defs.values()]
      .flatMap((d) => d.matchers.map((m) => ({ name: d.name, m })))
      .filter(({ m }) => m.kind === 'regex');
    expect(regexRoutes.map(({ name }) => name).sort()).toEqual(['google', 'huggingface', 'linear']);
    for (const { name, m } of regexRoutes) {
      if (m.kind !== 'regex') continue;
      const suffix = findFixedSuffix(m.source.replace(/^regex:/, ''));
      expect({ name, suffix: suffix !== undefined }).toEqual({ name, suffix: true });
      for (const host of [`${suffix}.attacker.example`, `attacker-${suffix}`, `x${suffix}`, 'attacker.example']) {
        expect({ name, host, matches: m.pattern.test(host) }).toEqual({ name, host, matches: false });
      }
    }
    const google = get('google').matchers[0]!;
    for (const host of ['www.googleapis.com', 'gmail.googleapis.com', 'oauth2.googleapis.com'])
      expect(google.kind === 'regex' && google.pattern.test(host)).toBe(true);
  });

  it('github has a base_url and the device URL', () => {
    const oauth = get('github').oauth!;
    expect(oauth.base_url).toBe('https://github.com');
    expect(oauth.authorization_url).toBe('{base_url}/login/oauth/authorize');
    expect(oauth.token_url).toBe('{base_url}/login/oauth/access_token');
    expect(oauth.device_authorization_url).toBe('{base_url}/login/device/code');
    expect(oauth.scopes).toEqual(['repo', 'read:user']);
  });

  it('device URLs for google and microsoft', () => {
    expect(get('google').oauth!.device_authorization_url).toBe('https://oauth2.googleapis.com/device/code');
    expect(get('microsoft').oauth!.device_authorization_url).toBe(
      'https://login.microsoftonline.com/common/oauth2/v2.0/devicecode',
    );
  });

  it('postiz is a device_code flow with a JSON token request', () => {
    const postiz = get('postiz');
    expect(postiz.flow).toBe('device_code');
    expect(postiz.oauth!.device_token_request).toBe('json');
    expect(postiz.oauth!.device_authorization_url).toBe('https://cli-auth.postiz.com/device/code');
    expect(postiz.oauth!.token_url).toBe('https://cli-auth.postiz.com/device/token');
    // Nobody else polls with JSON.
    const json = [...defs.values()].filter((d) => d.oauth?.device_token_request === 'json').map((d) => d.name);
    expect(json).toEqual(['postiz']);
  });

  it('notion_dcr registers dynamically', () => {
    const dcr = get('notion_dcr');
    expect(dcr.flow).toBe('dcr_pkce');
    expect(dcr.registration).toEqual({ registration_endpoint: 'https://mcp.notion.com/register' });
  });

  it('every provider marked "revocation ✓" has a revocation_url, and no other does', () => {
    for (const name of WITH_REVOCATION) {
      expect(get(name).oauth!.revocation_url, name).toMatch(/^https:\/\//);
    }
    const withRevocation = [...defs.values()]
      .filter((d) => d.oauth?.revocation_url)
      .map((d) => d.name)
      .sort();
    expect(withRevocation).toEqual([...WITH_REVOCATION].sort());
  });

  it('OAuth providers without catalog scopes ship an empty list', () => {
    for (const name of ['notion', 'notion_dcr', 'postiz']) {
      expect(get(name).oauth!.scopes, name).toEqual([]);
      expect((get(name).raw.oauth as Record<string, unknown>).scopes, name).toEqual([]);
    }
  });
});
