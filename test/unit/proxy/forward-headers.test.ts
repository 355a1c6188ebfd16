// Header rewriting on the plain-http path: hop-by-hop and proxy headers removed, the agent's own kept in case and
// order.
import { describe, expect, it } from 'vitest';
import { buildForwardRequestHeaders, buildForwardResponseHeaders } from '../../../src/proxy/forward-headers.js';

describe('buildForwardRequestHeaders', () => {
  it('drops proxy and hop-by-hop headers (and those named in Connection), keeping the agent’s own', () => {
    const raw = [
      'Host',
      'api.openai.com',
      'authorization',
      'Bearer authsome-proxy-managed',
      'AUTHORIZATION',
      'Bearer second',
      'Proxy-Authorization',
      'Basic abc',
      'Connection',
      'keep-alive, X-Hop',
      'Keep-Alive',
      'timeout=5',
      'X-Hop',
      'drop me',
      'Proxy-Connection',
      'keep-alive',
      'TE',
      'trailers',
      'Expect',
      '100-continue',
      'X-Custom',
      'Kept',
      'Content-Length',
      '12',
    ];
    const { headers, hasBody } = buildForwardRequestHeaders(raw, { authority: 'api.openai.com' });
    expect(headers).toEqual([
      'Host',
      'api.openai.com',
      'authorization',
      'Bearer authsome-proxy-managed',
      'AUTHORIZATION',
      'Bearer second',
      'X-Custom',
      'Kept',
      'Content-Length',
      '12',
    ]);
    expect(hasBody).toBe(true);
  });

  it('adds Host when missing', () => {
    const { headers, hasBody } = buildForwardRequestHeaders(['authorization', 'Bearer x', 'Content-Length', '0'], {
      authority: 'api.test:8443',
    });
    expect(headers).toEqual(['Host', 'api.test:8443', 'authorization', 'Bearer x', 'Content-Length', '0']);
    expect(hasBody).toBe(false);
  });

  it('treats Transfer-Encoding as a body and keeps it for re-framing', () => {
    const { headers, hasBody } = buildForwardRequestHeaders(['Host', 'h', 'Transfer-Encoding', 'chunked'], {
      authority: 'h',
    });
    expect(hasBody).toBe(true);
    expect(headers).toContain('Transfer-Encoding');
  });

  it('keeps Connection and Upgrade on an upgrade request', () => {
    const raw = [
      'Host',
      'h',
      'Connection',
      'Upgrade',
      'Upgrade',
      'websocket',
      'Sec-WebSocket-Key',
      'k',
      'x-api-key',
      'placeholder',
    ];
    const { headers } = buildForwardRequestHeaders(raw, { authority: 'h', upgrade: true });
    expect(headers).toEqual([
      'Host',
      'h',
      'Connection',
      'Upgrade',
      'Upgrade',
      'websocket',
      'Sec-WebSocket-Key',
      'k',
      'x-api-key',
      'placeholder',
    ]);
  });
});

describe('buildForwardResponseHeaders', () => {
  it('drops hop-by-hop response headers, keeps duplicates like Set-Cookie, and reports a declared length', () => {
    const raw = [
      'Content-Type',
      'application/json',
      'Set-Cookie',
      'a=1',
      'Set-Cookie',
      'b=2',
      'Connection',
      'keep-alive',
      'Keep-Alive',
      'timeout=5',
      'Upgrade',
      'h2c',
      'Content-Length',
      '2',
    ];
    const { headers, hasLength } = buildForwardResponseHeaders(raw);
    expect(headers).toEqual([
      'Content-Type',
      'application/json',
      'Set-Cookie',
      'a=1',
      'Set-Cookie',
      'b=2',
      'Content-Length',
      '2',
    ]);
    expect(hasLength).toBe(true);
  });

  it('reports a streamed body (no Content-Length) so the head is flushed at once', () => {
    const { hasLength, headers } = buildForwardResponseHeaders([
      'Content-Type',
      'text/event-stream',
      'Transfer-Encoding',
      'chunked',
    ]);
    expect(hasLength).toBe(false);
    expect(headers).toEqual(['Content-Type', 'text/event-stream', 'Transfer-Encoding', 'chunked']);
  });
});
