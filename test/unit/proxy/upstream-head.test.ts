// The request head the proxy sends upstream: bound to the tunnel's authority, dot segments resolved, the
// credential set once. These are the rules that keep a key from following the agent's Host or a `..`.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseRequestHead, type RequestHead } from '../../../src/proxy/http1-framing.js';
import type { CredentialHeader } from '../../../src/providers/headers.js';
import {
  buildAuthority,
  buildUpstreamHead,
  isCloseRequested,
  removeDotSegments,
  resolveTunnelTarget,
  TargetError,
} from '../../../src/proxy/upstream-head.js';

const head = (text: string) => parseRequestHead(text);
const resolve = (text: string, host = 'api.example.com', port = 443) => resolveTunnelTarget(head(text), host, port);

describe('resolveTunnelTarget', () => {
  it('reads every path as the full decoding does (the plain-path shortcut included)', () => {
    const piece = fc.constantFrom(
      '/',
      'v1',
      '.',
      '..',
      '%2e',
      '%2E',
      '%2f',
      '%5C',
      '\\',
      ';x',
      ';',
      'a.b',
      '%41',
      '?q=1',
      '#f',
      '%',
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 10 }), (pieces) => {
        const target = `/${pieces.join('')}`;
        const cut = [target.indexOf('?'), target.indexOf('#')]
          .filter((i) => i !== -1)
          .reduce((a, b) => Math.min(a, b), target.length);
        const raw = target.slice(0, cut);
        const expected = {
          path: `${removeDotSegments(raw.replace(/%2e/gi, '.'))}${target.slice(cut)}`,
          lenientPath: removeDotSegments(
            raw
              .replace(/%2e/gi, '.')
              .replace(/%2f|%5c|\\/gi, '/')
              .replace(/;[^/]*/g, ''),
          ),
        };
        expect(resolve(`GET ${target} HTTP/1.1\r\nHost: api.example.com`)).toEqual(expected);
      }),
      { numRuns: 1000 },
    );
  });

  it('accepts a Host header naming the tunnel, whatever its case, trailing dot or explicit port', () => {
    for (const host of ['api.example.com', 'API.Example.COM', 'api.example.com.', 'api.example.com:443']) {
      expect(resolve(`GET /v1/x HTTP/1.1\r\nHost: ${host}`).path).toBe('/v1/x');
    }
    expect(resolve('GET /v1/x HTTP/1.1\r\nHost: api.example.com:8443', 'api.example.com', 8443).path).toBe('/v1/x');
    expect(resolve('GET /v1/x HTTP/1.1\r\nHost: [::1]:8443', '::1', 8443).path).toBe('/v1/x');
  });

  it('refuses a Host header naming another host or port', () => {
    for (const host of [
      'evil.example',
      'api.example.com.evil.example',
      'api.example.com:444',
      'user@api.example.com',
      'api.example.co',
    ]) {
      expect(() => resolve(`GET /v1/x HTTP/1.1\r\nHost: ${host}`)).toThrow(TargetError);
    }
  });

  it('turns an absolute-form target for the tunnel into origin form, and refuses one for another host', () => {
    expect(resolve('GET https://api.example.com/v1/x?q=1 HTTP/1.1\r\nHost: api.example.com').path).toBe('/v1/x?q=1');
    expect(resolve('GET https://api.example.com HTTP/1.1').path).toBe('/');
    expect(() => resolve('GET https://evil.example/steal HTTP/1.1\r\nHost: api.example.com')).toThrow(/another host/);
    expect(() => resolve('GET https://api.example.com@evil.example/ HTTP/1.1')).toThrow(TargetError);
    expect(() => resolve('GET ftp://api.example.com/ HTTP/1.1')).toThrow(TargetError);
  });

  it('accepts * for OPTIONS only', () => {
    expect(resolve('OPTIONS * HTTP/1.1\r\nHost: api.example.com').path).toBe('*');
    expect(() => resolve('GET * HTTP/1.1\r\nHost: api.example.com')).toThrow(TargetError);
  });

  it('resolves dot segments, plain and percent-encoded, before anything is matched', () => {
    expect(resolve('GET /api/../other HTTP/1.1').path).toBe('/other');
    expect(resolve('GET /api/%2e%2E/other?x=/../ HTTP/1.1').path).toBe('/other?x=/../');
    expect(resolve('GET /api/./v1/. HTTP/1.1').path).toBe('/api/v1/');
  });

  it('gives the lenient reading of encoded slashes, back slashes and ; parameters', () => {
    expect(resolve('GET /api/..%2fother HTTP/1.1')).toEqual({ path: '/api/..%2fother', lenientPath: '/other' });
    expect(resolve('GET /api/..%5Cother HTTP/1.1').lenientPath).toBe('/other');
    expect(resolve('GET /api/..;x=1/other HTTP/1.1').lenientPath).toBe('/other');
    // An encoded slash inside a name (GitLab's project paths) stays as it was sent.
    expect(resolve('GET /api/v4/projects/group%2Fproject HTTP/1.1').path).toBe('/api/v4/projects/group%2Fproject');
  });
});

describe('removeDotSegments (RFC 3986 §5.2.4)', () => {
  it.each([
    ['/a/b/c/./../../g', '/a/g'],
    ['/mid/content=5/../6', '/mid/6'],
    ['/../../x', '/x'],
    ['/a/..', '/'],
    ['/a/.', '/a/'],
    ['/.hidden/..x', '/.hidden/..x'],
    ['', '/'],
    ['/', '/'],
  ])('%s → %s', (input, output) => {
    expect(removeDotSegments(input)).toBe(output);
  });
});

describe('buildUpstreamHead', () => {
  const credential = { name: 'Authorization', value: 'Bearer sk-real', secret: 'sk-real' };

  it('sets Host to the tunnel authority and the credential once, dropping the placeholder and proxy headers', () => {
    const parsed = head(
      'POST /v1/x HTTP/1.1\r\nHOST: api.example.com\r\nauthorization: Bearer ' +
        'authsome-proxy-managed\r\nProxy-Authorization: Basic abc\r\n' +
        'Proxy-Connection: keep-alive\r\nX-Trace: 1\r\nContent-Length: 2',
    );
    expect(buildUpstreamHead(parsed, '/v1/x', 'api.example.com', credential)).toBe(
      'POST /v1/x HTTP/1.1\r\nHost: api.example.com\r\nX-Trace: 1\r\nContent-Length: 2\r\nAccept-Encoding: ' +
        'identity\r\nAuthorization: Bearer sk-real\r\n\r\n',
    );
  });

  it('sends the resolved path, never the agent target', () => {
    const parsed = head('GET https://api.example.com/api/../other HTTP/1.1\r\nHost: api.example.com');
    expect(buildUpstreamHead(parsed, '/other', 'api.example.com:8443')).toBe(
      'GET /other HTTP/1.1\r\nHost: api.example.com:8443\r\n\r\n',
    );
  });

  it(
    'leaves the agent’s Connection and Keep-Alive out (the upstream connection is the pool’s), but not an ' +
      'upgrade’s',
    () => {
      const plain = head(
        'GET /v1/x HTTP/1.1\r\nHost: api.example.com\r\nConnection: close\r\nKeep-Alive: timeout=5\r\nX-Trace: 1',
      );
      expect(buildUpstreamHead(plain, '/v1/x', 'api.example.com')).toBe(
        'GET /v1/x HTTP/1.1\r\nHost: api.example.com\r\nX-Trace: 1\r\n\r\n',
      );
      const upgrade = head('GET /ws HTTP/1.1\r\nHost: api.example.com\r\nConnection: Upgrade\r\nUpgrade: websocket');
      expect(buildUpstreamHead(upgrade, '/ws', 'api.example.com')).toBe(
        'GET /ws HTTP/1.1\r\nHost: api.example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
      );
    },
  );

  it('drops exactly the headers the plain rules drop, for any names, case, upgrade and credential', () => {
    // The rules written plainly, header by header, without the builder's length shortcuts: the reference.
    const placeholder = /authsome[-_]?proxy[-_]?managed/i;
    const reference = (h: RequestHead, path: string, authority: string, cred?: CredentialHeader): string => {
      const credentialName = cred?.name.toLowerCase();
      let out = `${h.method} ${path} ${h.version}\r\nHost: ${authority}\r\n`;
      for (let i = 0; i < h.headers.length; i += 2) {
        const name = h.headers[i]!;
        const lower = name.toLowerCase();
        if (lower === 'host' || lower === credentialName) continue;
        if (lower === 'proxy-authorization' || lower === 'proxy-connection') continue;
        if (!h.upgrade && (lower === 'connection' || lower === 'keep-alive')) continue;
        if (cred !== undefined) {
          if (placeholder.test(h.headers[i + 1]!)) continue;
          if (lower === 'accept-encoding' || lower === 'sec-websocket-extensions') continue;
        }
        out += `${name}: ${h.headers[i + 1]!}\r\n`;
      }
      if (cred !== undefined) out += `Accept-Encoding: identity\r\n${cred.name}: ${cred.value}\r\n`;
      return `${out}\r\n`;
    };
    const anyCase = (word: string) =>
      fc
        .array(fc.boolean(), { minLength: word.length, maxLength: word.length })
        .map((upper) => [...word].map((c, i) => (upper[i] ? c.toUpperCase() : c)).join(''));
    const name = fc.oneof(
      fc
        .constantFrom(
          'host',
          'connection',
          'keep-alive',
          'accept-encoding',
          'proxy-connection',
          'proxy-authorization',
          'sec-websocket-extensions',
          'authorization',
          'x-api-key',
          'user-agent',
          'x-trace',
          'upgrade',
          'hostx',
          'x-api-kez',
        )
        .chain(anyCase),
      fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,25}$/),
    );
    const value = fc.constantFrom(
      'Bearer authsome-proxy-managed',
      'AUTHSOME_PROXY_MANAGED',
      'ghp_authsomeproxymanaged123',
      'gzip, br',
      'permessage-deflate',
      'keep-alive',
      'close',
      'api.example.com',
      'x',
    );
    const credentialOf = fc.option(
      fc.constantFrom('Authorization', 'x-api-key', 'X-Goog-Api-Key', 'Host', 'Keep-Alive').map((n) => ({
        name: n,
        value: 'sk-real',
        secret: 'sk-real',
      })),
      { nil: undefined },
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(name, value), { maxLength: 12 }),
        fc.boolean(),
        credentialOf,
        (fields, upgrade, cred) => {
          const text = `GET /v1/x HTTP/1.1\r\n${fields.map(([n, v]) => `${n}: ${v}`).join('\r\n')}`;
          let parsed: RequestHead;
          try {
            parsed = parseRequestHead(text);
          } catch {
            return; // a head the parser refuses never reaches the builder
          }
          const h = { ...parsed, upgrade };
          expect(buildUpstreamHead(h, '/v1/x', 'api.example.com', cred)).toBe(
            reference(h, '/v1/x', 'api.example.com', cred),
          );
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('knows when the agent asked to close its connection', () => {
    expect(isCloseRequested(head('GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Close'))).toBe(true);
    expect(isCloseRequested(head('GET / HTTP/1.1\r\nHost: a'))).toBe(false);
    expect(isCloseRequested(head('GET / HTTP/1.0\r\nHost: a'))).toBe(true);
    expect(isCloseRequested(head('GET / HTTP/1.0\r\nHost: a\r\nConnection: keep-alive'))).toBe(false);
  });

  it('brackets IPv6 hosts and leaves the default port out', () => {
    expect(buildAuthority('::1', 443)).toBe('[::1]');
    expect(buildAuthority('::1', 8443)).toBe('[::1]:8443');
    expect(buildAuthority('example.com', 80, 80)).toBe('example.com');
  });
});
