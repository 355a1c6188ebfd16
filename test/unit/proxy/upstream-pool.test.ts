// The upstream pool against a real TLS server: reuse, its bounds (sockets and idle sockets per host, idle sockets in
// all, idle timeout), waiting at the limit, separate keys, and a hostile upstream that writes to an idle socket.
import type { Socket } from 'node:net';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createUpstreamPool, type UpstreamPool, type UpstreamPoolOptions } from '../../../src/proxy/upstream-pool.js';
import { createTestCa } from '../../helpers/test-ca.js';

describe('createUpstreamPool', () => {
  let server: tls.Server;
  let port: number;
  let caCert: string;
  const accepted: Socket[] = [];
  let pool: UpstreamPool | undefined;

  beforeAll(async () => {
    const testCa = createTestCa(['a.test', 'b.test']);
    caCert = testCa.caCert;
    server = tls.createServer({ cert: testCa.cert, key: testCa.key }, (socket) => {
      accepted.push(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  afterEach(() => pool?.close());
  afterAll(async () => {
    for (const socket of accepted) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  const make = (opts: Partial<UpstreamPoolOptions> = {}): UpstreamPool => {
    pool = createUpstreamPool({
      connect: (host) => tls.connect({ host: '127.0.0.1', port, servername: host, ca: caCert }),
      keyOf: (host, p) => `${host}:${p}`,
      ...opts,
    });
    return pool;
  };
  const until = async (what: () => boolean): Promise<void> => {
    const deadline = Date.now() + 5000;
    while (!what()) {
      if (Date.now() > deadline) throw new Error('condition not met within 5 s');
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  const connected = (socket: tls.TLSSocket) =>
    new Promise<void>((resolve) =>
      socket.readyState === 'open' && !socket.connecting && socket.authorized
        ? resolve()
        : socket.once('secureConnect', () => resolve()),
    );

  it('hands a released connection to the next request, marked reused', async () => {
    const p = make();
    const first = p.acquire('a.test', 443)!;
    expect(first.reused).toBe(false);
    await connected(first.socket);
    p.release(first.socket, true);
    const second = p.acquire('a.test', 443)!;
    expect(second.socket).toBe(first.socket);
    expect(second.reused).toBe(true);
  });

  it('closes a connection released as not reusable', async () => {
    const p = make();
    const { socket } = p.acquire('a.test', 443)!;
    await connected(socket);
    p.release(socket, false);
    expect(socket.destroyed).toBe(true);
    expect(p.acquire('a.test', 443)!.socket).not.toBe(socket);
  });

  it('never shares between keys', async () => {
    const p = make();
    const a = p.acquire('a.test', 443)!;
    await connected(a.socket);
    p.release(a.socket, true);
    expect(p.acquire('b.test', 443)!.socket).not.toBe(a.socket);
    expect(p.acquire('a.test', 8443)!.socket).not.toBe(a.socket);
  });

  it('stops at the per-host limit and hands the next released connection to the one waiting', async () => {
    const p = make({ maxSocketsPerHost: 2 });
    const one = p.acquire('a.test', 443)!;
    p.acquire('a.test', 443);
    expect(p.acquire('a.test', 443)).toBeUndefined();
    const handed = new Promise<tls.TLSSocket>((resolve) => p.wait('a.test', 443, (u) => resolve(u.socket)));
    // A newcomer does not overtake the one already waiting.
    expect(p.acquire('a.test', 443)).toBeUndefined();
    await connected(one.socket);
    p.release(one.socket, true);
    expect(await handed).toBe(one.socket);
    expect(p.stats()).toMatchObject({ open: 2, waiting: 0 });
  });

  it('opens a new connection for the one waiting when a leased one closes', async () => {
    const p = make({ maxSocketsPerHost: 1 });
    const one = p.acquire('a.test', 443)!;
    const handed = new Promise<tls.TLSSocket>((resolve) => p.wait('a.test', 443, (u) => resolve(u.socket)));
    one.socket.destroy();
    const next = await handed;
    expect(next).not.toBe(one.socket);
    expect(next.destroyed).toBe(false);
  });

  it('keeps at most maxIdlePerHost idle per host and maxIdleTotal in all', async () => {
    const p = make({ maxIdlePerHost: 2, maxIdleTotal: 3 });
    const leased = [1, 2, 3].map(() => p.acquire('a.test', 443)!.socket);
    await Promise.all(leased.map(connected));
    for (const socket of leased) p.release(socket, true);
    expect(leased[2]!.destroyed).toBe(true);
    expect(p.stats().idle).toBe(2);
    const others = [1, 2].map(() => p.acquire('b.test', 443)!.socket);
    await Promise.all(others.map(connected));
    for (const socket of others) p.release(socket, true);
    // The oldest idle connection (a.test's first) made room.
    expect(p.stats().idle).toBe(3);
    expect(leased[0]!.destroyed).toBe(true);
  });

  it('closes a connection idle for longer than the idle timeout', async () => {
    const p = make({ idleTimeoutMs: 30 });
    const { socket } = p.acquire('a.test', 443)!;
    await connected(socket);
    p.release(socket, true);
    await until(() => p.stats().open === 0);
    expect(socket.destroyed).toBe(true);
  });

  it('drops an idle connection the upstream writes to, so no stray byte is read as the next answer', async () => {
    const p = make();
    const before = accepted.length;
    const { socket } = p.acquire('a.test', 443)!;
    await connected(socket);
    await until(() => accepted.length > before);
    p.release(socket, true);
    accepted.at(-1)!.write('HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n');
    await until(() => socket.destroyed);
    expect(p.acquire('a.test', 443)!.socket).not.toBe(socket);
  });

  it('takes a parked connection back for a request that would otherwise wait at the limit', async () => {
    const p = make({ maxSocketsPerHost: 1 });
    const { socket } = p.acquire('a.test', 443)!;
    await connected(socket);
    let reclaimed = 0;
    p.park(socket, () => {
      reclaimed++;
      p.release(socket, true);
    });
    expect(p.stats()).toMatchObject({ open: 1, parked: 1 });
    expect(p.acquire('a.test', 443)).toBeUndefined();
    const handed = await new Promise<tls.TLSSocket>((resolve) => p.wait('a.test', 443, (u) => resolve(u.socket)));
    expect(handed).toBe(socket);
    expect(reclaimed).toBe(1);
    expect(p.stats()).toMatchObject({ parked: 0, waiting: 0 });
  });

  it('refuses to park a connection a request is already waiting for', async () => {
    const p = make({ maxSocketsPerHost: 1 });
    const { socket } = p.acquire('a.test', 443)!;
    p.wait('a.test', 443, () => undefined);
    expect(p.park(socket, () => undefined)).toBe(false);
    expect(p.stats()).toMatchObject({ parked: 0, waiting: 1 });
  });

  it('leaves an unparked connection with its lessee', async () => {
    const p = make({ maxSocketsPerHost: 1 });
    const { socket } = p.acquire('a.test', 443)!;
    p.park(socket, () => expect.unreachable('an unparked connection is not reclaimed'));
    p.unpark(socket);
    p.wait('a.test', 443, () => undefined);
    expect(p.stats()).toMatchObject({ parked: 0, waiting: 1 });
  });

  it('prewarms one connection when none is idle, and none when one is', async () => {
    const p = make();
    p.prewarm('a.test', 443);
    p.prewarm('a.test', 443);
    expect(p.stats()).toMatchObject({ open: 1, idle: 1 });
    const warmed = p.acquire('a.test', 443)!;
    expect(warmed.reused).toBe(false);
    expect(p.stats()).toMatchObject({ open: 1, idle: 0 });
  });
});
