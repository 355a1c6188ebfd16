// A run's way out (the proxy) never leads back into the authsome server: a CONNECT or a plain http:// request to its
// web port on loopback, however the host is spelled or resolved, is refused with the proxy's own 403, while other
// loopback services stay reachable.
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../../../src/runtime.js';
import { makeTempDir, type TempDir } from '../../helpers/temp-dir.js';
import { basicAuth, sendConnect } from './harness.js';

/** A port free a moment ago: the runtime's web port must be known before it starts, for the resolve map below. */
async function findFreePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const { port } = probe.address() as AddressInfo;
  await new Promise((r) => probe.close(r));
  return port;
}

describe("the proxy refuses a run's way back to the authsome server", () => {
  let dir: TempDir;
  let rt: Runtime;
  let other: net.Server;
  let auth: string;
  let runId: string;

  beforeAll(async () => {
    dir = await makeTempDir('server-port');
    const port = await findFreePort();
    // A name the proxy cannot judge by its spelling: it resolves to the server's own address.
    rt = await createRuntime({
      home: join(dir.path, 'home'),
      port,
      kdf: { memory_kib: 1024, iterations: 1 },
      proxyResolve: `sneaky.test:8443=127.0.0.1:${port}`,
    });
    const run = await rt.runs.start({ pid: process.pid, program: 'agent' });
    runId = run.id;
    auth = basicAuth(new URL(run.proxyUrl).password);
    other = net.createServer((s) => s.end());
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
  });
  afterAll(async () => {
    other?.close();
    await rt?.runs.end(runId);
    await rt?.close();
    await dir?.cleanup();
  });

  it.each(['127.0.0.1', 'localhost', '[::1]', '2130706433', '0.0.0.0'])(
    'CONNECT %s:<web port> → 403 from the proxy, not a tunnel',
    async (host) => {
      const r = await sendConnect(rt.proxyPort!, `${host}:${rt.port}`, auth);
      r.socket.destroy();
      expect(r.status).toBe(403);
      expect(r.head).toMatch(/^x-authsome-error: 1$/im);
      expect(JSON.parse(r.body)).toMatchObject({
        error: { code: 'forbidden', message: expect.stringContaining('authsome server') },
      });
    },
  );

  it('CONNECT to a name that resolves to the server is refused once the address is known', async () => {
    const r = await sendConnect(rt.proxyPort!, 'sneaky.test:8443', auth);
    r.socket.destroy();
    expect(r.status).toBe(403);
    expect(r.head).toMatch(/^x-authsome-error: 1$/im);
  });

  it('a plain http:// request to the web port → 403 from the proxy', async () => {
    const res = await new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>(
      (resolve, reject) => {
        const req = http.request(
          {
            host: '127.0.0.1',
            port: rt.proxyPort!,
            method: 'GET',
            path: `http://127.0.0.1:${rt.port}/api/status`,
            headers: { 'proxy-authorization': auth },
          },
          (r) => {
            let body = '';
            r.on('data', (d: Buffer) => (body += d));
            r.on('end', () => resolve({ status: r.statusCode!, headers: r.headers, body }));
          },
        );
        req.on('error', reject);
        req.end();
      },
    );
    expect(res.status).toBe(403);
    expect(res.headers['x-authsome-error']).toBe('1');
    expect(JSON.parse(res.body)).toMatchObject({ error: { code: 'forbidden' } });
  });

  it('other loopback ports are still tunnelled', async () => {
    const r = await sendConnect(rt.proxyPort!, `127.0.0.1:${(other.address() as AddressInfo).port}`, auth);
    r.socket.destroy();
    expect(r.status).toBe(200);
  });
});
