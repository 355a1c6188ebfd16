// The preload's decision (importing it here is a no-op: this process has no proxy variables set by the test).
import { describe, expect, it } from 'vitest';
import { shouldInstallEnvProxy } from '../../../src/proxy/preload.js';

describe('shouldInstallEnvProxy', () => {
  it('does nothing without a proxy variable', () => {
    expect(shouldInstallEnvProxy({}, 'v20.20.2')).toBe(false);
    expect(shouldInstallEnvProxy({ HTTPS_PROXY: ' ' }, 'v20.20.2')).toBe(false);
  });

  it('installs on runtimes that ignore HTTPS_PROXY', () => {
    expect(shouldInstallEnvProxy({ HTTPS_PROXY: 'http://p:1', NODE_USE_ENV_PROXY: '1' }, 'v20.20.2')).toBe(true);
    expect(shouldInstallEnvProxy({ http_proxy: 'http://p:1' }, 'v22.3.0')).toBe(true);
  });

  it('steps aside where the runtime honours the proxy itself', () => {
    expect(shouldInstallEnvProxy({ HTTPS_PROXY: 'http://p:1', NODE_USE_ENV_PROXY: '1' }, 'v24.1.0')).toBe(false);
    expect(shouldInstallEnvProxy({ HTTPS_PROXY: 'http://p:1' }, 'v24.1.0', ['--use-env-proxy'])).toBe(false);
    // Node 24 without the switch still ignores HTTPS_PROXY.
    expect(shouldInstallEnvProxy({ HTTPS_PROXY: 'http://p:1' }, 'v24.1.0')).toBe(true);
  });
});
