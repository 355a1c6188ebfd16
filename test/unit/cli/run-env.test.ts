// buildRunEnv: a new object with proxy, CA, preload and placeholder variables.
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildRunEnv, PLACEHOLDER } from '../../../src/cli/run-env.js';

const base = {
  proxyUrl: 'http://authsome:tok@127.0.0.1:4321',
  caCertPath: '/home/u/.authsome/ca/ca.pem',
  caBundlePath: '/home/u/.authsome/ca/bundle.pem',
  preloadPath: '/opt/authsome/dist/proxy/preload.js',
  placeholders: ['OPENAI_API_KEY', 'GH_TOKEN'],
};

describe('buildRunEnv', () => {
  it('sets every variable the spec lists', () => {
    const env = buildRunEnv({ ...base, parentEnv: { PATH: '/usr/bin', HOME: '/home/u' } });
    for (const k of ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy']) expect(env[k]).toBe(base.proxyUrl);
    for (const k of ['SSL_CERT_FILE', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'GIT_SSL_CAINFO'])
      expect(env[k]).toBe(base.caBundlePath);
    expect(env.NODE_EXTRA_CA_CERTS).toBe(base.caCertPath);
    expect(env.NODE_USE_ENV_PROXY).toBe('1');
    expect(env.AUTHSOME_RUN).toBe('1');
    expect(env.NO_PROXY).toBe('localhost,127.0.0.1,::1');
    expect(env.no_proxy).toBe(env.NO_PROXY);
    expect(env.NODE_OPTIONS).toBe(`--import ${pathToFileURL(base.preloadPath).href}`);
    expect(env.OPENAI_API_KEY).toBe(PLACEHOLDER);
    expect(env.GH_TOKEN).toBe('authsome-proxy-managed');
    expect(env.PATH).toBe('/usr/bin');
  });

  it('puts each variable’s shaped placeholder when the run service gives one, the bare mark otherwise', () => {
    const env = buildRunEnv({
      ...base,
      parentEnv: {},
      placeholderValues: { OPENAI_API_KEY: 'sk-authsome-proxy-managed-00000000000000' },
    });
    expect(env.OPENAI_API_KEY).toBe('sk-authsome-proxy-managed-00000000000000');
    expect(env.GH_TOKEN).toBe(PLACEHOLDER);
    const bare = buildRunEnv({
      ...base,
      parentEnv: {},
      noPlaceholders: true,
      placeholderValues: { OPENAI_API_KEY: 'sk-authsome-proxy-managed-00000000000000' },
    });
    expect(bare.OPENAI_API_KEY).toBeUndefined();
  });

  it('never mutates the parent and drops undefined values', () => {
    const parentEnv: NodeJS.ProcessEnv = { PATH: '/bin', OPENAI_API_KEY: 'sk-parent', EMPTY: undefined };
    const snapshot = { ...parentEnv };
    const env = buildRunEnv({ ...base, parentEnv });
    expect(parentEnv).toEqual(snapshot);
    expect(env).not.toBe(parentEnv);
    expect('EMPTY' in env).toBe(false);
    expect(env.OPENAI_API_KEY).toBe(PLACEHOLDER);
  });

  it('keeps the parent’s NO_PROXY entries (both spellings) and dedupes', () => {
    const env = buildRunEnv({
      ...base,
      parentEnv: { NO_PROXY: 'corp.test, localhost', no_proxy: 'CORP.test,.internal,127.0.0.1' },
    });
    expect(env.NO_PROXY).toBe('corp.test,localhost,.internal,127.0.0.1,::1');
    expect(env.no_proxy).toBe(env.NO_PROXY);
  });

  it('extends NODE_OPTIONS, keeping the parent’s options, and does not add the preload twice', () => {
    const env = buildRunEnv({ ...base, parentEnv: { NODE_OPTIONS: '--max-old-space-size=4096' } });
    expect(env.NODE_OPTIONS).toBe(`--max-old-space-size=4096 --import ${pathToFileURL(base.preloadPath).href}`);
    const nested = buildRunEnv({ ...base, parentEnv: env });
    expect(nested.NODE_OPTIONS).toBe(env.NODE_OPTIONS);
  });

  it('encodes a preload path with spaces as a file URL, so NODE_OPTIONS does not split it', () => {
    const env = buildRunEnv({ ...base, preloadPath: '/opt/my apps/authsome/preload.js', parentEnv: {} });
    expect(env.NODE_OPTIONS).toBe('--import file:///opt/my%20apps/authsome/preload.js');
  });

  it('--no-placeholders leaves provider variables alone but keeps proxy and CA variables', () => {
    const env = buildRunEnv({ ...base, noPlaceholders: true, parentEnv: { GH_TOKEN: 'parent-value' } });
    expect(env.OPENAI_API_KEY).toBeUndefined();
    expect(env.GH_TOKEN).toBe('parent-value');
    expect(env.HTTPS_PROXY).toBe(base.proxyUrl);
    expect(env.SSL_CERT_FILE).toBe(base.caBundlePath);
  });
});

describe('buildRunEnv withholds what unlocks keys', () => {
  it('never passes AUTHSOME_PASSPHRASE, nor a variable it is told holds a stored secret', () => {
    const env = buildRunEnv({
      ...base,
      parentEnv: {
        PATH: '/usr/bin',
        AUTHSOME_PASSPHRASE: 'hunter22hunter22',
        OLD_KEY: 'sk-real',
        GH_TOKEN: 'ghp_real',
      },
      withhold: ['OLD_KEY', 'GH_TOKEN'],
    });
    expect(env.AUTHSOME_PASSPHRASE).toBeUndefined();
    expect(env.OLD_KEY).toBeUndefined();
    expect(env.GH_TOKEN).toBe(PLACEHOLDER);
    expect(env.PATH).toBe('/usr/bin');
    expect(JSON.stringify(env)).not.toMatch(/hunter22|sk-real|ghp_real/);
  });
});
