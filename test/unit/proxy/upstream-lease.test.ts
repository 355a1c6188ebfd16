// A lease on real TLS sockets: backpressure both ways, and a hand-back that leaves no listener and no pause behind
// (the next lessee of a pooled connection must start with a flowing socket).
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUpstreamLease, type UpstreamLeaseHooks } from '../../../src/proxy/upstream-lease.js';
import { createTestCa } from '../../helpers/test-ca.js';

describe('createUpstreamLease', () => {
  let server: tls.Server;
  let port: number;
  let caCert: string;
  const open: tls.TLSSocket[] = [];

  beforeAll(async () => {
    const testCa = createTestCa(['a.test']);
    caCert = testCa.caCert;
    // The far end never reads: whatever is written to it stays buffered, so writes report a full buffer.
    server = tls.createServer({ cert: testCa.cert, key: testCa.key }, (socket) => {
      socket.pause();
      socket.on('error', () => undefined);
      open.push(socket);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    for (const socket of open) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  const connect = () =>
    new Promise<tls.TLSSocket>((resolve) => {
      const socket = tls.connect({ host: '127.0.0.1', port, servername: 'a.test', ca: caCert }, () => resolve(socket));
      socket.on('error', () => undefined);
      open.push(socket);
    });

  const hooksFor = (client: tls.TLSSocket) => {
    const calls: string[] = [];
    const hooks: UpstreamLeaseHooks = {
      client,
      pauseClient: () => calls.push('pause agent'),
      resumeClient: () => calls.push('resume agent'),
      onData: () => undefined,
      onGone: () => undefined,
      response: { peekRequest: () => undefined, onResponse: () => undefined, onResponseEnd: () => undefined },
      currentBatch: () => undefined,
    };
    return { hooks, calls };
  };

  it('pauses the agent while the upstream buffer is full, and lifts that pause when the lease ends', async () => {
    const [upstream, agent] = await Promise.all([connect(), connect()]);
    const { hooks, calls } = hooksFor(agent);
    const listeners = ['data', 'error', 'close'].map((e) => upstream.listenerCount(e));
    const lease = createUpstreamLease({ socket: upstream, reused: false }, hooks);
    lease.write(Buffer.alloc(1024 * 1024));
    expect(calls).toEqual(['pause agent']);
    lease.detach();
    expect(calls).toEqual(['pause agent', 'resume agent']);
    expect(['data', 'error', 'close'].map((e) => upstream.listenerCount(e))).toEqual(listeners);
    expect(upstream.listenerCount('drain')).toBe(0);
  });

  it('pauses the upstream while the agent buffer is full, and resumes it when the lease ends', async () => {
    const [upstream, agent] = await Promise.all([connect(), connect()]);
    const { hooks } = hooksFor(agent);
    const lease = createUpstreamLease({ socket: upstream, reused: false }, hooks);
    lease.relay(Buffer.alloc(1024 * 1024));
    expect(upstream.isPaused()).toBe(true);
    lease.detach();
    expect(upstream.isPaused()).toBe(false);
    expect(agent.listenerCount('drain')).toBe(0);
  });

  it('holds writes made during a batch and sends them as one write when the batch ends', async () => {
    const [upstream, agent] = await Promise.all([connect(), connect()]);
    const batch: (() => void)[] = [];
    const { hooks } = hooksFor(agent);
    const lease = createUpstreamLease({ socket: upstream, reused: false }, { ...hooks, currentBatch: () => batch });
    const writes: unknown[] = [];
    const write = upstream.write.bind(upstream) as (data: unknown, ...rest: unknown[]) => boolean;
    upstream.write = ((data: unknown, ...rest: unknown[]) => {
      writes.push(Buffer.isBuffer(data) ? data.toString('latin1') : data);
      return write(data, ...rest);
    }) as typeof upstream.write;
    lease.write('GET / HTTP/1.1\r\n');
    lease.write(Buffer.from('Host: a.test\r\n\r\n'));
    expect(writes).toEqual([]);
    expect(batch).toHaveLength(1);
    for (const flush of batch) flush();
    expect(writes).toEqual(['GET / HTTP/1.1\r\nHost: a.test\r\n\r\n']);
    lease.write('next');
    expect(writes).toHaveLength(1);
    lease.detach(); // a lease that ends mid-batch sends what it held first
    expect(writes).toEqual(['GET / HTTP/1.1\r\nHost: a.test\r\n\r\n', 'next']);
    for (const flush of batch) flush();
    expect(writes).toHaveLength(2);
  });
});
