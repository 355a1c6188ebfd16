// A real OAuth 2.0 authorization server for tests: `oidc-provider` 8.x in-process over HTTPS with the test CA,
// with its development login and consent pages, counting the token requests it answers (by grant type).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Provider from 'oidc-provider';
import { createRuntime, type Runtime } from '../../src/runtime.js';
import type { TestCa } from './test-ca.js';

export interface TestAuthServerOptions {
  ca: TestCa;
  /** Access-token lifetime in seconds (short ones make the proxy refresh). Default 1 h. */
  accessTokenTtl?: number;
  /** Extra clients (a public PKCE client `authsome-public` and a confidential `authsome-confidential` exist). */
  clients?: Record<string, unknown>[];
  /** Rotate refresh tokens on every use (oidc-provider's default is to rotate only for public clients). */
  rotateRefreshToken?: boolean;
}

export interface TestAuthServer {
  /** https://localhost:<port> */
  issuer: string;
  port: number;
  provider: Provider;
  /** Token endpoint requests answered so far, by grant_type. */
  tokenRequests: Record<string, number>;
  /** Every request's path (no query), in order: a test can see which endpoints were called. */
  paths: string[];
  /** Every code, access token and refresh token the server issued (opaque values), for canary searches. */
  issued: string[];
  /**
   * Token-endpoint requests go to `handler` first (a server down, HTML, slow_down…); it returns false to let
   * oidc-provider answer instead. It must not read the body when it returns false.
   */
  overrideToken(handler: ((req: IncomingMessage, res: ServerResponse) => boolean) | undefined): void;
  /** The same for the device authorization endpoint (/device/auth): a provider's odd or hostile device answer. */
  overrideDeviceAuthorization(handler: ((req: IncomingMessage, res: ServerResponse) => boolean) | undefined): void;
  close(): Promise<void>;
}

export const PUBLIC_CLIENT_ID = 'authsome-public';
export const CONFIDENTIAL_CLIENT_ID = 'authsome-confidential';
export const CONFIDENTIAL_CLIENT_SECRET = 'confidential-client-secret-0123456789';
/** The one redirect URI authsome uses; the port is ignored for loopback URIs of native clients (RFC 8252 §7.3). */
export const LOOPBACK_REDIRECT = 'http://127.0.0.1/auth/callback';

export async function startTestAuthServer(options: TestAuthServerOptions): Promise<TestAuthServer> {
  const tokenRequests: Record<string, number> = {};
  const paths: string[] = [];
  const issued: string[] = [];
  let tokenOverride: ((req: IncomingMessage, res: ServerResponse) => boolean) | undefined;
  let deviceOverride: ((req: IncomingMessage, res: ServerResponse) => boolean) | undefined;
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end();
  const server = https.createServer({ cert: options.ca.cert, key: options.ca.key }, (req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const issuer = `https://localhost:${port}`;

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: PUBLIC_CLIENT_ID,
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        redirect_uris: [LOOPBACK_REDIRECT],
        grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
        response_types: ['code'],
      },
      {
        client_id: CONFIDENTIAL_CLIENT_ID,
        client_secret: CONFIDENTIAL_CLIENT_SECRET,
        application_type: 'native',
        token_endpoint_auth_method: 'client_secret_post',
        redirect_uris: [LOOPBACK_REDIRECT],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
      },
      ...(options.clients ?? []),
    ] as never,
    pkce: { required: () => true, methods: ['S256'] },
    scopes: ['openid', 'offline_access', 'repo', 'read:user'],
    features: {
      devInteractions: { enabled: true },
      revocation: { enabled: true },
      deviceFlow: { enabled: true },
      registration: { enabled: true },
    },
    ttl: { AccessToken: options.accessTokenTtl ?? 3600 },
    // Every code grant gets a refresh token (as GitHub and most APIs do), not only those asking offline_access.
    issueRefreshToken: () => true,
    rotateRefreshToken: () => options.rotateRefreshToken ?? true,
    cookies: { keys: ['authsome-test-cookie-key'] },
    findAccount: (_ctx: unknown, sub: string) => ({ accountId: sub, claims: () => ({ sub }) }),
  } as never);
  // Opaque artefacts are their jti: the value a client holds.
  for (const event of ['authorization_code.saved', 'access_token.saved', 'refresh_token.saved']) {
    provider.on(event, (token: { jti: string }) => issued.push(token.jti));
  }
  provider.on('server_error', (_ctx: unknown, err: Error) => console.error('oidc-provider server_error', err));
  // Counted after oidc-provider parsed the body (reading it here would take it away from the provider).
  provider.use(
    async (ctx: { path: string; oidc?: { params?: { grant_type?: string } } }, next: () => Promise<void>) => {
      await next();
      if (ctx.path !== '/token') return;
      const grant = ctx.oidc?.params?.grant_type ?? 'unknown';
      tokenRequests[grant] = (tokenRequests[grant] ?? 0) + 1;
    },
  );
  const callback = provider.callback();
  handler = (req, res) => {
    const path = (req.url ?? '').split('?')[0]!;
    paths.push(path);
    if (path === '/token' && tokenOverride?.(req, res)) return;
    if (path === '/device/auth' && deviceOverride?.(req, res)) return;
    callback(req, res);
  };
  return {
    issuer,
    port,
    provider,
    tokenRequests,
    paths,
    issued,
    overrideToken(next) {
      tokenOverride = next;
    },
    overrideDeviceAuthorization(next) {
      deviceOverride = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A custom provider definition pointing at the test authorization server. */
export function buildOAuthDefinition(
  server: TestAuthServer,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  const { oauth, ...rest } = overrides;
  return {
    schema_version: 1,
    name: 'testoauth',
    display_name: 'Test OAuth',
    auth_type: 'oauth2',
    flow: 'pkce',
    api_url: 'api.testoauth.example',
    oauth: {
      authorization_url: `${server.issuer}/auth`,
      token_url: `${server.issuer}/token`,
      revocation_url: `${server.issuer}/token/revocation`,
      device_authorization_url: `${server.issuer}/device/auth`,
      scopes: ['openid', 'offline_access'],
      ...(oauth as Record<string, unknown> | undefined),
    },
    ...rest,
  };
}

/**
 * A refresh token the authorization server really issued (a grant for alice on the public client, as after a login).
 */
export async function mintRefreshToken(auth: TestAuthServer): Promise<string> {
  const provider = auth.provider as unknown as Record<string, any>;
  const grant = new provider.Grant({ accountId: 'alice', clientId: PUBLIC_CLIENT_ID });
  grant.addOIDCScope('openid offline_access');
  const grantId = await grant.save();
  const client = await provider.Client.find(PUBLIC_CLIENT_ID);
  const token = new provider.RefreshToken({
    accountId: 'alice',
    client,
    grantId,
    scope: 'openid offline_access',
    gty: 'authorization_code',
  });
  return token.save();
}

/** A runtime of its own for OAuth proxy tests: a fresh home with `auth`'s provider and public client stored. */
export interface OAuthRuntime {
  rt: Runtime;
  /** Closes the runtime and removes its home. */
  close(): Promise<void>;
}

/** The runtime's proxy sends `apiHost` to the local upstream on `upstreamPort`, trusting the test CA. */
export async function startOAuthRuntime(input: {
  auth: TestAuthServer;
  caCert: string;
  apiHost: string;
  upstreamPort: number;
}): Promise<OAuthRuntime> {
  const root = mkdtempSync(join(tmpdir(), 'authsome-oauth-'));
  const home = join(root, 'home');
  mkdirSync(join(home, 'providers'), { recursive: true, mode: 0o700 });
  writeFileSync(join(home, 'providers', 'testoauth.json'), JSON.stringify(buildOAuthDefinition(input.auth)), {
    mode: 0o600,
  });
  const rt = await createRuntime({
    home,
    port: 0,
    kdf: { memory_kib: 1024, iterations: 1 },
    upstreamCaCerts: [input.caCert],
    proxyResolve: `${input.apiHost}:443=127.0.0.1:${input.upstreamPort}`,
  });
  await rt.connections.saveOAuthClient('testoauth', { client_id: PUBLIC_CLIENT_ID });
  return {
    rt,
    async close() {
      await rt.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
