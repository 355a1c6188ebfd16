// The response side's states without a socket: a real response tracker and decoder, the agent's side a stream, and
// the interception around it a record of what it was asked. A held 401 passed on or retried, a decoded answer that
// keeps the answers after it waiting, a secret masked and audited once, an answer that cannot be scanned refused.
import { PassThrough } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAuditLog, type AuditEntry, type AuditLog } from '../../../src/audit.js';
import type { CredentialHeader } from '../../../src/providers/headers.js';
import type { ScopeEntry } from '../../../src/providers/routes.js';
import { parseProviderDefinition } from '../../../src/providers/schema.js';
import { parseRequestHead } from '../../../src/proxy/http1-framing.js';
import { type Exchange, type RelayLease, ResponseRelay } from '../../../src/proxy/response-relay.js';
import { createResponseTracker } from '../../../src/proxy/response-tracker.js';
import { createRunSessionRegistry } from '../../../src/proxy/run-sessions.js';
import { makeTempDir, type TempDir } from '../../helpers/temp-dir.js';

const SECRET = 'sk-relay-test-0123456789abcdef';
const FRESH = 'sk-relay-fresh-0123456789abcdef';
const oauth: ScopeEntry = {
  provider: 'api',
  connection: 'default',
  definition: parseProviderDefinition(
    {
      schema_version: 1,
      name: 'api',
      display_name: 'api',
      auth_type: 'oauth2',
      flow: 'pkce',
      oauth: { authorization_url: 'https://api.test/a', token_url: 'https://api.test/t' },
      api_url: 'https://api.test',
    },
    { path: 'api.json' },
  ),
};
const bearer = (secret: string): CredentialHeader => ({ name: 'Authorization', value: `Bearer ${secret}`, secret });
const registry = createRunSessionRegistry();
afterAll(() => registry.close());

describe('ResponseRelay', () => {
  let dir: TempDir;
  let audit: AuditLog;
  let entries: AuditEntry[];

  beforeAll(async () => {
    dir = await makeTempDir('relay');
  });
  afterAll(() => dir.cleanup());
  afterEach(() => audit.close());

  /** A relay on a fresh connection with `SECRET` injected; `refresh` answers its refresh requests. */
  const makeRig = (refresh?: (entry: ScopeEntry) => Promise<CredentialHeader | undefined>) => {
    audit = createAuditLog(`${dir.path}/audit-${Math.random()}.log`);
    entries = [];
    audit.subscribe((entry) => entries.push(entry));
    const session = registry.create({ scope: [oauth] });
    const agent = new PassThrough();
    const received: Buffer[] = [];
    agent.on('data', (chunk: Buffer) => received.push(chunk));
    const exchanges: Exchange[] = [];
    const calls: string[] = [];
    const pauses = new Set<string>();
    const state = { closed: false };
    const lease: RelayLease = {
      tracker: createResponseTracker({
        peekRequest: () => exchanges[0],
        onResponse: (head, text) => relay.onResponseHead(lease, head, text),
        onResponseEnd: () => relay.onResponseEnd(),
        stopAfterResponse: () => relay.stopAfterResponse(),
      }),
      reusable: true,
      relay: (chunk) => agent.write(chunk),
      pauseReading: (reason) => pauses.add(reason),
      resumeReading: (reason) => pauses.delete(reason),
    };
    const relay: ResponseRelay = new ResponseRelay({
      client: agent,
      host: 'api.test',
      session,
      audit,
      ...(refresh === undefined ? {} : { refreshCredential: refresh }),
      exchanges,
      relayHost: {
        isClosed: () => state.closed,
        currentLease: () => lease,
        close: () => calls.push('close'),
        finish: () => calls.push('finish'),
        refuseAnswer: (cause) => calls.push(`refuse ${cause}`),
        onAnswer: (_, exchange, status) => calls.push(`answer ${exchange.path} ${status}`),
        onProgress: () => calls.push('progress'),
        holdRequests: () => calls.push('hold requests'),
        resumeRequests: () => calls.push('resume requests'),
        drainRequests: () => calls.push('drain requests'),
        retryRequest: (exchange, credential) =>
          calls.push(`retry ${exchange.path} ${credential.secret === FRESH ? 'fresh' : 'stale'}`),
      },
    });
    relay.watchForSecret(SECRET);
    const send = (path: string, retry = false): void => {
      const head = parseRequestHead(`GET ${path} HTTP/1.1\r\nHost: api.test`);
      exchanges.push({
        method: 'GET',
        path,
        plan: { event: 'inject', run: session.id, provider: 'api', connection: 'default' },
        started: performance.now(),
        upgrade: false,
        responded: false,
        replay: undefined,
        closeAfter: false,
        ...(retry ? { retry: { entry: oauth, head, credential: bearer(SECRET) } } : {}),
      });
    };
    const text = () => Buffer.concat(received).toString('latin1');
    return { relay, lease, session, calls, pauses, state, send, text };
  };

  const unauthorized = Buffer.from('HTTP/1.1 401 Unauthorized\r\nContent-Length: 5\r\n\r\nnope!', 'latin1');

  it('passes a held 401 on as it came when no refreshed token is had, then lets the requests go on', async () => {
    const rig = makeRig(async () => undefined);
    rig.send('/me', true);
    rig.relay.onData(rig.lease, unauthorized);
    expect(rig.text()).toBe('');
    await expect.poll(() => rig.text()).toBe(unauthorized.toString('latin1'));
    expect(rig.calls).toEqual([
      'hold requests',
      'hold requests',
      'answer /me 401',
      'resume requests',
      'progress',
      'drain requests',
    ]);
    await audit.flush();
    expect(entries).toMatchObject([{ event: 'inject', path: '/me', status: 401 }]);
  });

  it('sends the request once more with a refreshed token; the 401 never reaches the agent', async () => {
    const asked: string[] = [];
    const rig = makeRig(async (entry) => {
      asked.push(entry.provider);
      return bearer(FRESH);
    });
    rig.send('/me', true);
    rig.relay.onData(rig.lease, unauthorized);
    await expect.poll(() => rig.calls).toEqual(['hold requests', 'hold requests', 'retry /me fresh']);
    expect(asked).toEqual(['api']);
    expect(rig.text()).toBe('');
  });

  it('relays a 401 at once to a request that may not go again', () => {
    const rig = makeRig(async () => bearer(FRESH));
    rig.send('/me');
    rig.relay.onData(rig.lease, unauthorized);
    expect(rig.text()).toBe(unauthorized.toString('latin1'));
    expect(rig.calls).toEqual(['answer /me 401', 'progress']);
  });

  it('keeps the answers after a decoded one waiting until all of it is out, then relays them in order', async () => {
    const rig = makeRig();
    rig.send('/zipped');
    rig.send('/next');
    const body = gzipSync(Buffer.from('{"hello":"world"}'));
    const zipped = Buffer.concat([
      Buffer.from(`HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: ${body.length}\r\n\r\n`, 'latin1'),
      body,
    ]);
    const next = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', 'latin1');
    rig.relay.onData(rig.lease, Buffer.concat([zipped, next.subarray(0, 10)]));
    rig.relay.onData(rig.lease, next.subarray(10));
    expect(rig.relay.decodingAnswer).toBe(true);
    expect(rig.pauses.has('order')).toBe(true);
    expect(rig.text()).not.toContain('HTTP/1.1 200 OK\r\nContent-Length: 2');

    await expect.poll(() => rig.text().endsWith(next.toString('latin1'))).toBe(true);
    expect(rig.text()).toBe(
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n11\r\n{"hello":"world"}\r\n0\r\n\r\n' +
        next.toString('latin1'),
    );
    expect(rig.relay.decodingAnswer).toBe(false);
    expect(rig.pauses.size).toBe(0);
    // The rest of the first chunk (half a head) is read first, then the second chunk.
    expect(rig.calls).toEqual(['answer /zipped 200', 'progress', 'answer /next 200', 'progress']);
  });

  it('masks a secret the upstream echoes back, and audits and counts it once for the answer', async () => {
    const rig = makeRig();
    rig.send('/echo');
    const echoed = `{"token":"${SECRET}","again":"${SECRET}"}`;
    const answer = `HTTP/1.1 200 OK\r\nContent-Length: ${echoed.length}\r\n\r\n${echoed}`;
    // Split inside the secret: the scanner holds its first bytes back until it can tell.
    const at = answer.indexOf(SECRET) + 5;
    rig.relay.onData(rig.lease, Buffer.from(answer.slice(0, at), 'latin1'));
    rig.relay.onData(rig.lease, Buffer.from(answer.slice(at), 'latin1'));
    expect(rig.text()).not.toContain(SECRET);
    expect(rig.text()).not.toContain(SECRET.slice(0, 12));
    expect(rig.text().length).toBe(answer.length);
    expect(rig.session.stats.get('api')).toMatchObject({ scrubbed: 1 });
    await audit.flush();
    expect(entries.map((e) => e.event)).toEqual(['inject', 'secret_in_response']);
    expect(JSON.stringify(entries)).not.toContain(SECRET);
  });

  it('refuses an answer it cannot decode before any of it reaches the agent, audited as not scannable', async () => {
    const rig = makeRig();
    rig.send('/zstd');
    rig.relay.onData(
      rig.lease,
      Buffer.from('HTTP/1.1 200 OK\r\nContent-Encoding: zstd\r\nContent-Length: 3\r\n\r\nabc'),
    );
    expect(rig.calls).toEqual(['answer /zstd 200', 'refuse unsupported']);
    expect(rig.text()).toBe('');
    await audit.flush();
    expect(entries).toMatchObject([{ event: 'inject', path: '/zstd', status: 502 }]);
  });
});
