// The interception's upstream slot against a real pool of real TLS connections: waiting at the host's limit with
// the agent paused, a connection handed over after the agent left, the end of a lease (pooled or destroyed), and
// parking between messages.
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createUpstreamLease } from '../../../src/proxy/upstream-lease.js';
import { createUpstreamPool, type UpstreamPool } from '../../../src/proxy/upstream-pool.js';
import { UpstreamSlot } from '../../../src/proxy/upstream-slot.js';
import { createTestCa } from '../../helpers/test-ca.js';

describe('UpstreamSlot', () => {
  let server: tls.Server;
  let port: number;
  let caCert: string;
  const open: tls.TLSSocket[] = [];
  let pool: UpstreamPool | undefined;

  beforeAll(async () => {
    const testCa = createTestCa(['a.test']);
    caCert = testCa.caCert;
    server = tls.createServer({ cert: testCa.cert, key: testCa.key }, (socket) => {
      socket.on('error', () => undefined);
      open.push(socket);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  afterEach(() => pool?.close());
  afterAll(async () => {
    for (const socket of open) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  const connect = (): tls.TLSSocket => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'a.test', ca: caCert });
    socket.on('error', () => undefined);
    open.push(socket);
    return socket;
  };

  const connected = (socket: tls.TLSSocket) =>
    new Promise<void>((resolve) =>
      socket.readyState === 'open' && !socket.connecting && socket.authorized
        ? resolve()
        : socket.once('secureConnect', () => resolve()),
    );

  /** A slot on a pool of at most `max` connections; `state` is what the interception would say. */
  const makeSlot = (max: number) => {
    pool = createUpstreamPool({ connect, keyOf: (host, p) => `${host}:${p}`, maxSocketsPerHost: max });
    const p = pool;
    const client = connect();
    const calls: string[] = [];
    const state = { quiet: true, closed: false };
    const slot = new UpstreamSlot({
      pool: p,
      host: 'a.test',
      port: 443,
      openLease: (pooled) =>
        createUpstreamLease(pooled, {
          client,
          pauseClient: () => undefined,
          resumeClient: () => undefined,
          onData: () => undefined,
          onGone: () => undefined,
          response: { peekRequest: () => undefined, onResponse: () => undefined, onResponseEnd: () => undefined },
          currentBatch: () => undefined,
        }),
      isQuiet: () => state.quiet,
      isClosed: () => state.closed,
      pauseClient: () => calls.push('pause agent'),
      resumeClient: () => calls.push('resume agent'),
      runBatched: (step) => {
        calls.push('batch');
        step();
      },
    });
    return { slot, pool: p, calls, state };
  };

  it('waits at the host limit with the agent paused, then runs the step on the connection handed over', async () => {
    const { slot, pool: p, calls } = makeSlot(1);
    const other = p.acquire('a.test', 443)!;
    await connected(other.socket);
    expect(slot.acquire(() => calls.push('step'))).toBe(false);
    expect(slot.waiting).toBe(true);
    expect(slot.acquire(() => calls.push('second step'))).toBe(false);
    expect(calls).toEqual(['pause agent']);

    p.release(other.socket, true);
    await expect.poll(() => slot.lease?.socket).toBe(other.socket);
    expect(slot.waiting).toBe(false);
    expect(calls).toEqual(['pause agent', 'resume agent', 'batch', 'step']);
  });

  it('gives a connection handed over after the agent left straight back to the pool', async () => {
    const { slot, pool: p, calls, state } = makeSlot(1);
    const other = p.acquire('a.test', 443)!;
    await connected(other.socket);
    expect(slot.acquire(() => calls.push('step'))).toBe(false);
    state.closed = true;
    p.release(other.socket, true);
    await expect.poll(() => p.stats()).toMatchObject({ open: 1, idle: 1, waiting: 0 });
    expect(slot.lease).toBeUndefined();
    expect(calls).toEqual(['pause agent']);
  });

  it('stops waiting when asked: a connection released later goes to no one', () => {
    const { slot, pool: p } = makeSlot(1);
    const other = p.acquire('a.test', 443)!;
    slot.acquire(() => undefined);
    expect(p.stats().waiting).toBe(1);
    slot.stopWaiting();
    expect(slot.waiting).toBe(false);
    expect(p.stats().waiting).toBe(0);
    p.release(other.socket, true);
    expect(slot.lease).toBeUndefined();
  });

  it('ends a lease back into the pool between messages, and destroys one with a message half-way', async () => {
    const { slot, pool: p, state } = makeSlot(2);
    expect(slot.acquire(() => undefined)).toBe(true);
    const first = slot.lease!.socket;
    await connected(first);
    slot.end();
    expect(slot.lease).toBeUndefined();
    expect(first.destroyed).toBe(false);
    expect(p.stats().idle).toBe(1);

    state.quiet = false;
    expect(slot.acquire(() => undefined)).toBe(true);
    const second = slot.lease!.socket;
    expect(second).toBe(first);
    slot.end();
    expect(second.destroyed).toBe(true);
    expect(p.stats().idle).toBe(0);
  });

  it('parks between messages, unparks for the next request, and ends when the pool takes it back', async () => {
    const { slot, pool: p } = makeSlot(1);
    slot.acquire(() => undefined);
    const lease = slot.lease!;
    await connected(lease.socket);
    slot.releaseIfDone();
    expect(lease.parked).toBe(true);
    expect(lease.reused).toBe(true);
    expect(p.stats().parked).toBe(1);

    expect(slot.acquire(() => undefined)).toBe(true);
    expect(lease.parked).toBe(false);
    expect(p.stats().parked).toBe(0);

    slot.releaseIfDone();
    let handed: tls.TLSSocket | undefined;
    p.wait('a.test', 443, (u) => {
      handed = u.socket;
    });
    expect(slot.lease).toBeUndefined();
    await expect.poll(() => handed).toBe(lease.socket);
  });

  it('closes a connection unfit for reuse instead of parking it, and keeps one with a message half-way', () => {
    const { slot, state } = makeSlot(1);
    slot.acquire(() => undefined);
    const lease = slot.lease!;
    state.quiet = false;
    slot.releaseIfDone();
    expect(slot.lease).toBe(lease);
    expect(lease.parked).toBe(false);

    state.quiet = true;
    lease.reusable = false;
    slot.releaseIfDone();
    expect(slot.lease).toBeUndefined();
    expect(lease.socket.destroyed).toBe(true);
  });
});
