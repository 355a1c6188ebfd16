// What a request head becomes before anything is sent: a proxy answer, a relay without a credential, a refusal by
// the run's rules, or an injection. Pure, so each rule is checked here without a socket.
import { afterAll, describe, expect, it } from 'vitest';
import type { ScopeEntry } from '../../../src/providers/routes.js';
import { parseProviderDefinition } from '../../../src/providers/schema.js';
import { parseRequestHead } from '../../../src/proxy/http1-framing.js';
import { isReplayable, isRetryableAfterRefresh, planRequest } from '../../../src/proxy/request-plan.js';
import { createRunSessionRegistry, type RequestPolicy } from '../../../src/proxy/run-sessions.js';
import { createRunPolicy } from '../../../src/runs/policy.js';

function entry(name: string, apiUrl: string): ScopeEntry {
  const definition = parseProviderDefinition(
    { schema_version: 1, name, display_name: name, auth_type: 'api_key', api_url: apiUrl },
    { path: `${name}.json` },
  );
  return { provider: name, connection: 'default', definition };
}

const api = entry('api', 'https://api.example.com/api');
const twin = entry('twin', 'https://twin.example.com');
const twinAgain = entry('twin-again', 'https://twin.example.com');
const registry = createRunSessionRegistry();
const session = (policy?: RequestPolicy) => registry.create({ scope: [api, twin, twinAgain], policy });
const tunnel = { host: 'api.example.com', port: 443 };
afterAll(() => registry.close());

describe('planRequest', () => {
  it('injects the matched route, audited as inject for its provider and connection', () => {
    const s = session();
    const plan = planRequest('GET /api/v1/things?x=1 HTTP/1.1\r\nHost: api.example.com', tunnel, s, true);
    expect(plan).toMatchObject({
      kind: 'inject',
      path: '/api/v1/things?x=1',
      entry: api,
      audit: { event: 'inject', run: s.id, provider: 'api', connection: 'default' },
    });
    expect(plan.kind === 'inject' && plan.head.method).toBe('GET');
  });

  it('relays a request no route claims, and one two routes claim alike, without a credential', () => {
    const s = session();
    expect(planRequest('GET /other HTTP/1.1\r\nHost: api.example.com', tunnel, s, true)).toMatchObject({
      kind: 'relay',
      path: '/other',
      audit: { event: 'no_match', run: s.id, reason: 'no_route' },
    });
    const tie = planRequest('GET / HTTP/1.1', { host: 'twin.example.com', port: 443 }, s, true);
    expect(tie).toMatchObject({ kind: 'relay', audit: { event: 'ambiguous', run: s.id } });
    expect(tie.kind === 'relay' && tie.audit.reason).toMatch(/twin/);
  });

  it("denies what the run's rules refuse, before any credential, without counting it (the caller does)", () => {
    const s = session(createRunPolicy({ readOnly: true }));
    const plan = planRequest('POST /api/v1/things HTTP/1.1\r\nContent-Length: 0', tunnel, s, true);
    expect(plan).toMatchObject({ kind: 'deny', entry: api, path: '/api/v1/things' });
    expect(plan.kind === 'deny' && plan.reason).toMatch(/^read-only: no rule of this run allows POST/);
    expect(plan.kind === 'deny' && plan.error.code).toBe('FORBIDDEN');
    expect(s.stats.size).toBe(0);
    expect(planRequest('GET /api/v1/things HTTP/1.1', tunnel, s, true).kind).toBe('inject');
  });

  it('refuses a head that does not parse with 400, ahead of everything else', () => {
    const plan = planRequest('GET /api HTTP/1.1\r\nHost: a\r\nHost: b', tunnel, session(), false);
    expect(plan).toMatchObject({ kind: 'refuse', answer: 'badRequest', error: { code: 'INVALID_INPUT' } });
    expect(plan.kind === 'refuse' && plan.error.message).toMatch(/^The request could not be parsed/);
  });

  it('refuses any request of a run that has ended with 407', () => {
    expect(planRequest('GET /api HTTP/1.1', tunnel, session(), false)).toMatchObject({
      kind: 'refuse',
      answer: 'proxyAuthRequired',
      error: { code: 'UNAUTHORIZED' },
    });
  });

  it('refuses a Host that names another host than the tunnel', () => {
    const plan = planRequest('GET /api HTTP/1.1\r\nHost: evil.example', tunnel, session(), true);
    expect(plan).toMatchObject({ kind: 'refuse', answer: 'badRequest' });
    expect(plan.kind === 'refuse' && plan.error.message).toMatch(/^The request was refused: /);
  });

  it('refuses a path a lenient server would read as one outside the matched route', () => {
    const plan = planRequest('GET /api/..%2fother HTTP/1.1', tunnel, session(), true);
    expect(plan).toMatchObject({ kind: 'refuse', answer: 'badRequest' });
    expect(plan.kind === 'refuse' && plan.error.message).toMatch(/reads differently once encoded slashes/);
    // Where both readings land on the same route, the request goes.
    expect(planRequest('GET /api/x/..%2fother HTTP/1.1', tunnel, session(), true).kind).toBe('inject');
  });
});

describe('replay and retry eligibility', () => {
  const head = (text: string) => parseRequestHead(text);
  const oauth: ScopeEntry = { ...api, definition: { ...api.definition, auth_type: 'oauth2' } };

  it('replays idempotent requests without a body or an upgrade only', () => {
    expect(isReplayable(head('GET / HTTP/1.1'))).toBe(true);
    expect(isReplayable(head('DELETE /x HTTP/1.1'))).toBe(true);
    expect(isReplayable(head('POST /x HTTP/1.1'))).toBe(false);
    expect(isReplayable(head('PUT /x HTTP/1.1\r\nContent-Length: 2'))).toBe(false);
    expect(isReplayable(head('GET / HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: websocket'))).toBe(false);
  });

  it('retries after a refresh only an OAuth credential on a replayable request', () => {
    expect(isRetryableAfterRefresh(head('GET / HTTP/1.1'), oauth)).toBe(true);
    expect(isRetryableAfterRefresh(head('GET / HTTP/1.1'), api)).toBe(false);
    expect(isRetryableAfterRefresh(head('GET / HTTP/1.1'), undefined)).toBe(false);
    expect(isRetryableAfterRefresh(head('POST / HTTP/1.1'), oauth)).toBe(false);
  });
});
