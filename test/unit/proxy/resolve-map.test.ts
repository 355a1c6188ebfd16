// AUTHSOME_PROXY_RESOLVE parsing.
import { describe, expect, it } from 'vitest';
import { buildResolveKey, parseResolveMap } from '../../../src/proxy/resolve-map.js';

describe('parseResolveMap', () => {
  it('is empty for an unset or blank variable', () => {
    expect(parseResolveMap(undefined).size).toBe(0);
    expect(parseResolveMap('  ').size).toBe(0);
  });

  it('parses host:port=addr:port lists, IPv6 included, keyed case-insensitively', () => {
    const map = parseResolveMap('API.openai.com:443=127.0.0.1:8443, [::1]:443=[::1]:9443,,x.test:80=localhost:8080');
    expect([...map.keys()]).toEqual(['api.openai.com:443', '::1:443', 'x.test:80']);
    expect(map.get(buildResolveKey('api.OPENAI.com', 443))).toEqual({ host: '127.0.0.1', port: 8443 });
    expect(map.get(buildResolveKey('[::1]', 443))).toEqual({ host: '::1', port: 9443 });
    expect(map.get('x.test:80')).toEqual({ host: 'localhost', port: 8080 });
  });

  it('refuses malformed entries with a message naming the entry', () => {
    for (const bad of [
      'api.openai.com=127.0.0.1:1',
      'a:443=b',
      'a:443',
      'a:0=b:1',
      'a:443=b:70000',
      '::1:443=b:1',
      'a:x=b:1',
    ]) {
      expect(() => parseResolveMap(bad), bad).toThrow(/AUTHSOME_PROXY_RESOLVE entry/);
    }
  });
});
