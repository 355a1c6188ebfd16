// The preload's decision (importing it here is a no-op: this process has no proxy variables set by the test).
import { describe, expect, it } from 'vitest';
import { readBuiltInProxySupport, shouldInstallEnvProxy, shouldPatchGlobalAgents } from '../../../src/proxy/preload.js';

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

describe('readBuiltInProxySupport: which Node releases honour NODE_USE_ENV_PROXY, and for what', () => {
  it('fetch from 24.0 and 22.21; the http/https agents from 24.5 and 22.21; nothing on 20, 21, 23', () => {
    expect(readBuiltInProxySupport('v20.20.2')).toEqual({ fetch: false, http: false });
    expect(readBuiltInProxySupport('v21.7.3')).toEqual({ fetch: false, http: false });
    expect(readBuiltInProxySupport('v22.20.0')).toEqual({ fetch: false, http: false });
    expect(readBuiltInProxySupport('v22.21.0')).toEqual({ fetch: true, http: true });
    expect(readBuiltInProxySupport('v23.11.1')).toEqual({ fetch: false, http: false });
    expect(readBuiltInProxySupport('v24.0.0')).toEqual({ fetch: true, http: false });
    expect(readBuiltInProxySupport('v24.4.1')).toEqual({ fetch: true, http: false });
    expect(readBuiltInProxySupport('v24.5.0')).toEqual({ fetch: true, http: true });
    expect(readBuiltInProxySupport('v26.1.0')).toEqual({ fetch: true, http: true });
  });
});

describe('shouldPatchGlobalAgents', () => {
  const on = { HTTPS_PROXY: 'http://p:1', NODE_USE_ENV_PROXY: '1' };

  it('does nothing without a proxy variable', () => {
    expect(shouldPatchGlobalAgents({ NODE_USE_ENV_PROXY: '1' }, 'v20.20.2')).toBe(false);
  });

  it('patches where http.request ignores HTTPS_PROXY, including Node 24 before 24.5 (fetch only there)', () => {
    expect(shouldPatchGlobalAgents(on, 'v20.20.2')).toBe(true);
    expect(shouldPatchGlobalAgents(on, 'v22.20.0')).toBe(true);
    expect(shouldPatchGlobalAgents(on, 'v24.4.1')).toBe(true);
    expect(shouldInstallEnvProxy(on, 'v24.4.1')).toBe(false);
  });

  it('steps aside where the runtime routes http/https itself, and not when its switch is off', () => {
    expect(shouldPatchGlobalAgents(on, 'v24.5.0')).toBe(false);
    expect(shouldPatchGlobalAgents(on, 'v22.21.0')).toBe(false);
    expect(shouldPatchGlobalAgents({ HTTPS_PROXY: 'http://p:1' }, 'v24.5.0', ['--use-env-proxy'])).toBe(false);
    expect(shouldPatchGlobalAgents({ HTTPS_PROXY: 'http://p:1' }, 'v24.5.0')).toBe(true);
  });
});
