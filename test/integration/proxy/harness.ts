// Starts the real proxy stack in-process for integration tests: authsome CA (in-memory key store), run sessions,
// audit log, proxy with a resolve map, and a recording HTTPS upstream standing in for api.openai.com.
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import https from 'node:https';
import net from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import { createAuditLog, type AuditEntry, type AuditLog } from '../../../src/audit.js';
import { packagePaths } from '../../../src/paths.js';
import { buildCredentialHeader, type CredentialHeader } from '../../../src/providers/headers.js';
import type { ScopeEntry } from '../../../src/providers/routes.js';
import { parseProviderDefinition, parseProviderText, type ProviderDefinition } from '../../../src/providers/schema.js';
import { buildCaBundle, createCertificateAuthority, type CertificateAuthority } from '../../../src/proxy/ca.js';
import { createProxyServer, type ProxyServer, type ProxyServerOptions } from '../../../src/proxy/proxy-server.js';
import { buildResolveKey } from '../../../src/proxy/resolve-map.js';
import { createRunSessionRegistry, type RunSession, type RunSessionRegistry } from '../../../src/proxy/run-sessions.js';
import { createTestCa, type TestCa } from '../../helpers/test-ca.js';
import { makeTempDir, type TempDir } from '../../helpers/temp-dir.js';
import { startUpstream, type Upstream, type UpstreamOptions } from '../../helpers/upstream.js';

export const REAL_KEY = 'sk-test-REALKEYdo-not-leak-0123456789abcdef';
export const OTHER_KEY = 'sk-test-OTHERKEY-second-session-9876543210';

export interface Harness {
  dir: TempDir;
  testCa: TestCa;
  upstream: Upstream;
  ca: CertificateAuthority;
  sessions: RunSessionRegistry;
  proxy: ProxyServer;
  audit: AuditLog;
  auditPath: string;
  caCertPath: string;
  caBundlePath: string;
  /** The secret each `provider:connection` resolves to. */
  secrets: Map<string, string>;
  openai: ProviderDefinition;
  createSession(scope: ScopeEntry[]): RunSession;
  proxyUrl(session: RunSession): string;
  readAudit(): Promise<AuditEntry[]>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  /** Extra resolve-map entries (host:port → 127.0.0.1:port). */
  resolve?: Record<string, number>;
  sseIntervalMs?: number;
  upstreamKeepAliveMs?: number;
  upstreamHandler?: UpstreamOptions['handler'];
  resolveCredential?(entry: ScopeEntry): Promise<CredentialHeader>;
  /**
   * How the configured secrets reach the proxy: 'at-once' (default, as the server hands over an API key: the request
   * goes upstream in the turn it arrived in) or 'awaited' (as an OAuth token or a reopened vault: the agent's
   * connection is paused until the credential comes). A custom resolveCredential is always awaited.
   */
  credentials?: 'at-once' | 'awaited';
  /** Limits of the proxy's upstream pool (e.g. a short idle timeout, so a test can wait for every socket to close). */
  pool?: ProxyServerOptions['pool'];
  /** More names the recording upstream answers for (its certificate names them; each resolves to it on 443). */
  upstreamHosts?: string[];
  /** Names that resolve to the recording upstream on 443 without being in its certificate (an attacker's aliases). */
  upstreamAliases?: string[];
}

/** The bundled OpenAI definition (providers/openai.json): the tests run against what ships. */
export function loadOpenAiDefinition(): ProviderDefinition {
  return loadBundledDefinition('openai');
}

/** A definition as it ships (providers/<name>.json). */
export function loadBundledDefinition(name: string): ProviderDefinition {
  const path = join(packagePaths.providers, `${name}.json`);
  return parseProviderText(readFileSync(path, 'utf8'), { path, expectedName: name });
}

export function buildDefinition(raw: Record<string, unknown>): ProviderDefinition {
  return parseProviderDefinition(
    { schema_version: 1, display_name: String(raw.name), ...raw },
    { path: `inline ${String(raw.name)}.json` },
  );
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const dir = await makeTempDir('proxy');
  const extraHosts = opts.upstreamHosts ?? [];
  const testCa = createTestCa(['api.openai.com', 'tunnel.test', 'other.test', 'localhost', '127.0.0.1', ...extraHosts]);
  const upstream = await startUpstream({
    cert: testCa.cert,
    key: testCa.key,
    sseIntervalMs: opts.sseIntervalMs,
    keepAliveTimeoutMs: opts.upstreamKeepAliveMs,
    handler: opts.upstreamHandler,
  });
  let storedKey: string | undefined;
  const ca = await createCertificateAuthority({
    keyStore: { load: async () => storedKey, save: async (pem) => void (storedKey = pem) },
    certPath: join(dir.path, 'ca', 'ca.pem'),
  });
  const caBundlePath = join(dir.path, 'ca', 'bundle.pem');
  await writeFile(caBundlePath, buildCaBundle(ca.certPem), { mode: 0o600 });
  const auditPath = join(dir.path, 'audit.log');
  const audit = createAuditLog(auditPath);
  const sessions = createRunSessionRegistry();
  const secrets = new Map<string, string>();
  const resolveMap = new Map<string, { host: string; port: number }>([
    [buildResolveKey('api.openai.com', 443), { host: '127.0.0.1', port: upstream.port }],
  ]);
  for (const host of [...extraHosts, ...(opts.upstreamAliases ?? [])])
    resolveMap.set(buildResolveKey(host, 443), { host: '127.0.0.1', port: upstream.port });
  for (const [from, port] of Object.entries(opts.resolve ?? {})) {
    const [host, p] = from.split(':');
    resolveMap.set(buildResolveKey(host!, Number(p)), { host: '127.0.0.1', port });
  }
  const proxy = await createProxyServer({
    ca,
    sessions,
    audit,
    resolveMap,
    upstreamCaCerts: [testCa.caCert],
    pool: opts.pool,
    resolveCredential:
      opts.resolveCredential ??
      (async (entry) => {
        const secret = secrets.get(`${entry.provider}:${entry.connection}`);
        if (secret === undefined) throw new Error('no secret configured for this test entry');
        return buildCredentialHeader(entry.definition, secret);
      }),
    ...(opts.resolveCredential === undefined && opts.credentials !== 'awaited'
      ? {
          peekCredential: (entry: ScopeEntry) => {
            const secret = secrets.get(`${entry.provider}:${entry.connection}`);
            return secret === undefined ? undefined : buildCredentialHeader(entry.definition, secret);
          },
        }
      : {}),
  });
  return {
    dir,
    testCa,
    upstream,
    ca,
    sessions,
    proxy,
    audit,
    auditPath,
    caCertPath: ca.certPath,
    caBundlePath,
    secrets,
    openai: loadOpenAiDefinition(),
    createSession: (scope) => sessions.create({ scope }),
    proxyUrl: (session) => `http://authsome:${session.token}@127.0.0.1:${proxy.port}`,
    async readAudit() {
      await audit.flush();
      return audit.readRecent(1000);
    },
    async close() {
      await proxy.close();
      sessions.close();
      await upstream.close();
      await audit.flush();
      await dir.cleanup();
    },
  };
}

export interface ConnectResult {
  status: number;
  head: string;
  body: string;
  socket: net.Socket;
}

/** Sends a raw CONNECT and reads the proxy's answer (and, for an error, its body up to Content-Length). */
export function sendConnect(proxyPort: number, target: string, proxyAuthorization?: string): Promise<ConnectResult> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(proxyPort, '127.0.0.1');
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf('\r\n\r\n');
      if (end === -1) return;
      const head = buffered.subarray(0, end).toString('latin1');
      const status = Number(head.split(' ')[1]);
      const length = Number(/content-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
      const body = buffered.subarray(end + 4);
      if (status === 200 || body.length >= length) {
        socket.off('data', onData);
        resolve({ status, head, body: body.toString('utf8'), socket });
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('connect', () => {
      const auth = proxyAuthorization === undefined ? '' : `Proxy-Authorization: ${proxyAuthorization}\r\n`;
      socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n${auth}\r\n`);
    });
  });
}

export function basicAuth(token: string, user = 'authsome'): string {
  return `Basic ${Buffer.from(`${user}:${token}`).toString('base64')}`;
}

/** CONNECT through the proxy, then TLS to `servername` over the tunnel. */
export async function openTlsThroughProxy(
  proxyPort: number,
  token: string,
  target: string,
  tlsOptions: tls.ConnectionOptions,
): Promise<tls.TLSSocket> {
  const { status, socket } = await sendConnect(proxyPort, target, basicAuth(token));
  if (status !== 200) throw new Error(`CONNECT answered ${status}`);
  return new Promise((resolve, reject) => {
    const tlsSocket = tls.connect({ socket, ...tlsOptions });
    tlsSocket.once('secureConnect', () => resolve(tlsSocket));
    tlsSocket.once('error', reject);
  });
}

/** Minimal HTTP/1.1 exchange on an open socket (content-length responses only). */
export function exchange(
  socket: net.Socket | tls.TLSSocket,
  request: string,
): Promise<{ status: number; head: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf('\r\n\r\n');
      if (end === -1) return;
      const head = buffered.subarray(0, end).toString('latin1');
      const length = Number(/content-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
      const body = buffered.subarray(end + 4);
      if (body.length >= length) {
        socket.off('data', onData);
        resolve({ status: Number(head.split(' ')[1]), head, body: body.subarray(0, length) });
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(request);
  });
}

/** Reads from a socket until `done(received)` holds (or it closes); resolves with everything received. */
export function readUntil(
  socket: net.Socket | tls.TLSSocket,
  done: (received: Buffer) => boolean,
  timeoutMs = 5000,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0);
    const finish = (): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      resolve(received);
    };
    const onData = (chunk: Buffer): void => {
      received = Buffer.concat([received, chunk]);
      if (done(received)) finish();
    };
    const onClose = (): void => finish();
    const timer = setTimeout(() => {
      socket.off('data', onData);
      socket.off('close', onClose);
      reject(new Error(`timed out; received so far: ${JSON.stringify(received.toString('latin1').slice(0, 300))}`));
    }, timeoutMs);
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}

/** An https.Agent whose one connection is a TLS tunnel through the proxy to api.openai.com (WebSocket tests). */
export async function openAgentThroughProxy(h: Harness, session: RunSession): Promise<https.Agent> {
  const tlsSocket = await openTlsThroughProxy(h.proxy.port, session.token, 'api.openai.com:443', {
    servername: 'api.openai.com',
    ca: h.ca.certPem,
  });
  const agent = new https.Agent();
  agent.createConnection = () => tlsSocket;
  return agent;
}
