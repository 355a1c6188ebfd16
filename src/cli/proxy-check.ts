// `doctor`'s proxy round trip: a real run session, a throwaway HTTPS server in this process reached through
// the proxy's tunnel, the 407 without the run's secret, and (when a provider is in scope) TLS interception
// with a leaf that verifies against the authsome CA. Nothing leaves this machine.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import { connect as tlsConnect, createServer as createTlsServer } from 'node:tls';
import type { ApiClient } from '../client/api-client.js';
import { buildAltName, buildCertificate } from '../tls/certificates.js';

export interface ProxyCheck {
  name: string;
  verdict: 'ok' | 'warn' | 'fail';
  detail: string;
  hint?: string;
}

interface RunSessionReply {
  id: string;
  proxy_url: string;
  ca_cert_path: string;
  scope: { provider: string; connection: string }[];
}

const TIMEOUT_MS = 5_000;

export async function checkProxyRoundTrip(api: ApiClient): Promise<ProxyCheck[]> {
  const session = await api.call<RunSessionReply>('POST', '/run-sessions', { pid: process.pid, self_test: true });
  const proxy = new URL(session.proxy_url);
  const proxyPort = Number(proxy.port);
  const userPass = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
  const auth = `Basic ${Buffer.from(userPass).toString('base64')}`;
  const checks: ProxyCheck[] = [];
  const upstream = await startThrowawayServer();
  try {
    const refused = await openTunnel(proxyPort, `127.0.0.1:${upstream.port}`, undefined);
    refused.socket.destroy();
    checks.push(
      refused.status === 407
        ? { name: 'Proxy authentication', verdict: 'ok', detail: 'a request without the run secret gets 407' }
        : {
            name: 'Proxy authentication',
            verdict: 'fail',
            detail: `a request without the run secret got ${refused.status}, not 407`,
          },
    );

    const tunnel = await openTunnel(proxyPort, `127.0.0.1:${upstream.port}`, auth);
    if (tunnel.status !== 200) {
      tunnel.socket.destroy();
      checks.push({
        name: 'Proxy round trip',
        verdict: 'fail',
        detail: `CONNECT through the proxy got ${tunnel.status}`,
      });
    } else {
      const body = await fetchOverTls(tunnel.socket, 'localhost', upstream.certPem);
      checks.push(
        body.includes(upstream.marker)
          ? {
              name: 'Proxy round trip',
              verdict: 'ok',
              detail: `127.0.0.1:${proxyPort} tunnelled a request to a local HTTPS server and back`,
            }
          : {
              name: 'Proxy round trip',
              verdict: 'fail',
              detail: 'the tunnelled request came back without the expected answer',
            },
      );
    }

    const intercepted = session.scope[0];
    if (!intercepted) {
      checks.push({
        name: 'TLS interception',
        verdict: 'warn',
        detail: 'not checked: no connection in scope',
        hint: "Log in to a provider ('authsome login openai') and run doctor again.",
      });
    } else {
      const def = await api.call<{ definition: { api_url: string | string[] } }>(
        'GET',
        `/providers/${encodeURIComponent(intercepted.provider)}`,
      );
      const host = pickHost(def.definition.api_url);
      if (!host) {
        checks.push({
          name: 'TLS interception',
          verdict: 'warn',
          detail: `not checked: ${intercepted.provider} only has regex hosts`,
        });
      } else {
        const caPem = await readFile(session.ca_cert_path, 'utf8');
        const t = await openTunnel(proxyPort, `${host}:443`, auth);
        const verified = t.status === 200 ? await handshake(t.socket, host, caPem) : `CONNECT got ${t.status}`;
        checks.push(
          verified === true
            ? {
                name: 'TLS interception',
                verdict: 'ok',
                detail: `${host} is served a leaf certificate signed by the authsome CA (${session.ca_cert_path})`,
              }
            : { name: 'TLS interception', verdict: 'fail', detail: `${host}: ${verified}` },
        );
      }
    }
  } finally {
    upstream.close();
    await api.call('POST', `/run-sessions/${session.id}/end`, {}).catch(() => undefined);
  }
  return checks;
}

function pickHost(apiUrl: string | string[]): string | undefined {
  for (const entry of Array.isArray(apiUrl) ? apiUrl : [apiUrl]) {
    if (entry.startsWith('regex:')) continue;
    try {
      return new URL(/^[a-z]+:\/\//i.test(entry) ? entry : `https://${entry}`).hostname;
    } catch {}
  }
  return undefined;
}

function withTimeout<T>(promise: Promise<T>, socket: Socket, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`${what} timed out`));
    }, TIMEOUT_MS);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

function openTunnel(
  proxyPort: number,
  target: string,
  auth: string | undefined,
): Promise<{ status: number; socket: Socket }> {
  const socket = netConnect(proxyPort, '127.0.0.1');
  const result = new Promise<{ status: number; socket: Socket }>((resolve, reject) => {
    let head = '';
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.off('data', onData);
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
      resolve({ status, socket });
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.write(
        `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n${auth ? `Proxy-Authorization: ${auth}\r\n` : ''}\r\n`,
      );
    });
  });
  return withTimeout(result, socket, 'CONNECT');
}

function fetchOverTls(socket: Socket, servername: string, caPem: string): Promise<string> {
  const tls = tlsConnect({ socket, servername, ca: caPem });
  const result = new Promise<string>((resolve, reject) => {
    let body = '';
    tls.once('secureConnect', () => tls.write(`GET / HTTP/1.1\r\nHost: ${servername}\r\nConnection: close\r\n\r\n`));
    tls.on('data', (d: Buffer) => (body += d.toString()));
    tls.once('end', () => resolve(body));
    tls.once('close', () => resolve(body));
    tls.once('error', reject);
  });
  return withTimeout(result, socket, 'the tunnelled request');
}

function handshake(socket: Socket, servername: string, caPem: string): Promise<true | string> {
  const tls = tlsConnect({ socket, servername, ca: caPem, ALPNProtocols: ['http/1.1'] });
  const result = new Promise<true | string>((resolve) => {
    tls.once('secureConnect', () => {
      tls.destroy();
      resolve(true);
    });
    tls.once('error', (err: Error) => resolve(`the intercepted certificate did not verify (${err.message})`));
  });
  return withTimeout(result, socket, 'the TLS handshake');
}

async function startThrowawayServer(): Promise<{ port: number; certPem: string; marker: string; close(): void }> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const now = Date.now();
  const { pem } = buildCertificate({
    subject: { commonName: 'localhost' },
    issuer: { commonName: 'localhost' },
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 3_600_000),
    spkiDer: publicKey.export({ type: 'spki', format: 'der' }),
    extensions: [{ name: 'subjectAltName', altNames: [buildAltName('localhost')] }],
    signer: privateKey as KeyObject,
  });
  const marker = `authsome-doctor-${now}`;
  const server = createTlsServer(
    { key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, cert: pem },
    (socket) => {
      socket.once('data', () =>
        socket.end(`HTTP/1.1 200 OK\r\nContent-Length: ${marker.length}\r\nConnection: close\r\n\r\n${marker}`),
      );
      socket.on('error', () => socket.destroy());
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, certPem: pem, marker, close: () => server.close() };
}
