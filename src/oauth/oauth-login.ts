// OAuth 2.0 logins over the connection service: the authorization-code flow with PKCE (the client stored once per
// provider, the authorization remembered under its `state`, finished from the provider's answer: state checked once,
// code exchanged, tokens validated, connection stored) and the device flow (polled here until it ends).
// No HTTP server, no printing.
import { errors } from '../errors.js';
import type { ConnectionService, LoginResult, OAuthClient } from '../connections/service.js';
import type { ProviderRegistry } from '../providers/registry.js';
import type { ProviderDefinition } from '../providers/schema.js';
import { discoverRegistrationEndpoint, registerClient } from './dcr.js';
import { pollDeviceToken, requestDeviceAuthorization, sleepWithSignal, type DevicePolling } from './device.js';
import { resolveOAuthEndpoints, type OAuthEndpoints } from './endpoints.js';
import { buildAuthorizationUrl, createPkcePair } from './pkce.js';
import { createPendingAuthorizations, type PendingAuthorization } from './pending-authorizations.js';
import { cleanText, exchangeCode, type FetchLike } from './token-client.js';

export interface StartPkceInput {
  /** dcr_pkce registers a client first (once; again when the redirect URI changed). Default pkce. */
  flow?: 'pkce' | 'dcr_pkce';
  provider: string;
  connection: string;
  force: boolean;
  /** Entered on the form now; without it the stored client is used. */
  client?: OAuthClient;
  /** Requested scopes; the definition's `oauth.scopes` when omitted. */
  scopes?: string[];
  baseUrl?: string;
  redirectUri: string;
  loginSessionId: string;
  expiresAt: number;
}

/** What the provider sent back to the redirect URI (RFC 6749 §4.1.2). */
export interface AuthorizationAnswer {
  code?: string;
  error?: string;
  error_description?: string;
  /** The issuer of the answer (RFC 9207), when the authorization server says. */
  iss?: string;
}

export interface StartDeviceInput {
  provider: string;
  connection: string;
  force: boolean;
  client?: OAuthClient;
  scopes?: string[];
  baseUrl?: string;
  loginSessionId: string;
}

/** What the person needs to approve a device login, and the poll that ends with the stored connection. */
export interface DeviceLogin {
  user_code: string;
  verification_uri: string;
  verification_uri_complete?: string;
  expiresAt: number;
  completion: Promise<LoginResult>;
}

export interface OAuthLoginService {
  /** Requests a device code and starts polling; `forgetSession` stops the poll (Ctrl-C, cancel). */
  startDevice(input: StartDeviceInput): Promise<DeviceLogin>;
  startPkce(input: StartPkceInput): Promise<{ authorizationUrl: string }>;
  /**
   * The pending authorization a `state` names, taken (single use); a state mismatch otherwise, also when it
   * belongs to another login session than `loginSessionId` (when given).
   */
  takeAuthorization(state: string, loginSessionId?: string): PendingAuthorization;
  finishPkce(pending: PendingAuthorization, answer: AuthorizationAnswer): Promise<LoginResult>;
  /** A login session ended without an answer: its authorizations can no longer be finished. */
  forgetSession(loginSessionId: string): void;
}

export interface OAuthLoginDeps {
  connections: ConnectionService;
  registry: ProviderRegistry;
  fetch: FetchLike;
  now?: () => number;
  /** The wait between device-code polls (tests pass a fast one that records the intervals asked for). */
  sleep?: DevicePolling['sleep'];
}

export function createOAuthLoginService(deps: OAuthLoginDeps): OAuthLoginService {
  const pending = createPendingAuthorizations({ now: deps.now });
  const now = deps.now ?? Date.now;
  const devicePolls = new Map<string, AbortController>();

  async function loadOAuthDefinition(provider: string): Promise<ProviderDefinition> {
    const def = (await deps.registry.get(provider)).definition;
    if (def.auth_type !== 'oauth2' || !def.oauth) {
      throw errors.invalidInput(
        `${def.display_name} uses an API key, not OAuth 2.0.`,
        `Run 'authsome login ${def.name}' to store its key.`,
      );
    }
    return def;
  }

  return {
    async startDevice(input) {
      const def = await loadOAuthDefinition(input.provider);
      const endpoints = resolveOAuthEndpoints(def, input.baseUrl);
      if (!endpoints.device_authorization_url) {
        throw errors.usage(
          `${def.display_name} has no device_authorization_url, so the device_code flow cannot be used.`,
          `Run 'authsome login ${def.name}' without --flow.`,
        );
      }
      if (input.client) await deps.connections.saveOAuthClient(def.name, input.client);
      const client = input.client ?? deps.connections.loadOAuthClient(def.name);
      if (!client) throw errors.oauthClientMissing(def.display_name, def.name);
      const scopes = input.scopes ?? def.oauth!.scopes;
      const format = def.oauth!.device_token_request;
      const tokenClient = { fetch: deps.fetch };
      const device = await requestDeviceAuthorization(
        tokenClient,
        { provider: def.name, displayName: def.display_name, tokenUrl: endpoints.device_authorization_url },
        client,
        scopes,
        format,
      );
      devicePolls.get(input.loginSessionId)?.abort();
      const abort = new AbortController();
      devicePolls.set(input.loginSessionId, abort);
      const completion = pollDeviceToken(
        tokenClient,
        { provider: def.name, displayName: def.display_name, tokenUrl: endpoints.token_url },
        client,
        device,
        format,
        { sleep: deps.sleep ?? sleepWithSignal, now, signal: abort.signal },
      )
        .then((tokens) =>
          deps.connections.loginWithTokens({
            provider: def.name,
            connection: input.connection,
            force: input.force,
            tokens,
            requestedScopes: scopes,
            baseUrl: input.baseUrl,
            flow: 'device_code',
          }),
        )
        .finally(() => {
          if (devicePolls.get(input.loginSessionId) === abort) devicePolls.delete(input.loginSessionId);
        });
      return {
        user_code: device.user_code,
        verification_uri: device.verification_uri,
        ...(device.verification_uri_complete ? { verification_uri_complete: device.verification_uri_complete } : {}),
        expiresAt: now() + device.expires_in * 1000,
        completion,
      };
    },

    async startPkce(input) {
      const def = await loadOAuthDefinition(input.provider);
      const endpoints = resolveOAuthEndpoints(def, input.baseUrl);
      if (!endpoints.authorization_url) {
        throw errors.usage(
          `${def.display_name} has no authorization_url, so it cannot sign in through the browser.`,
          `Use --flow device_code.`,
        );
      }
      if (input.client) await deps.connections.saveOAuthClient(def.name, input.client);
      let client = input.client ?? deps.connections.loadOAuthClient(def.name);
      const scopes = input.scopes ?? def.oauth!.scopes;
      // A client entered by hand is kept; one authsome registered is registered again for a new redirect URI.
      const mustRegister =
        !client ||
        (client.registered_redirect_uri !== undefined && client.registered_redirect_uri !== input.redirectUri);
      if (input.flow === 'dcr_pkce' && mustRegister) {
        const ctx = { provider: def.name, displayName: def.display_name };
        const endpoint =
          endpoints.registration_endpoint ??
          (await discoverRegistrationEndpoint({ fetch: deps.fetch }, ctx, endpoints.authorization_url));
        client = {
          ...(await registerClient({ fetch: deps.fetch }, ctx, endpoint, { redirectUri: input.redirectUri, scopes })),
          registered_redirect_uri: input.redirectUri,
        };
        await deps.connections.saveOAuthClient(def.name, client);
      }
      if (!client) throw errors.oauthClientMissing(def.display_name, def.name);
      const pkce = createPkcePair();
      const state = pending.add({
        provider: def.name,
        connection: input.connection,
        force: input.force,
        client: {
          client_id: client.client_id,
          ...(client.client_secret ? { client_secret: client.client_secret } : {}),
        },
        verifier: pkce.verifier,
        redirectUri: input.redirectUri,
        scopes,
        ...(input.baseUrl ? { baseUrl: input.baseUrl } : {}),
        tokenUrl: endpoints.token_url,
        loginSessionId: input.loginSessionId,
        expiresAt: input.expiresAt,
      });
      const authorizationUrl = buildAuthorizationUrl({
        authorizationUrl: endpoints.authorization_url,
        clientId: client.client_id,
        redirectUri: input.redirectUri,
        scopes,
        state,
        challenge: pkce.challenge,
      });
      return { authorizationUrl };
    },

    takeAuthorization(state, loginSessionId) {
      const entry = state ? pending.take(state) : undefined;
      if (!entry || (loginSessionId !== undefined && entry.loginSessionId !== loginSessionId))
        throw errors.oauthStateMismatch();
      return entry;
    },

    async finishPkce(entry, answer) {
      const def = await loadOAuthDefinition(entry.provider);
      // A mix-up (RFC 9700 §4.4): a provider being signed in to sent the browser on to another authorization server,
      // whose code came back under this login's state. Sent to this login's token endpoint, it would be redeemable
      // there by whoever runs it. Servers that say who issued the answer are held to it.
      if (answer.iss !== undefined && !isIssuerOf(resolveOAuthEndpoints(def, entry.baseUrl), answer.iss))
        throw errors.oauthIssuerMismatch(def.display_name, def.name, describeIssuer(answer.iss));
      if (answer.error) {
        const detail = answer.error === 'access_denied' ? undefined : cleanText(answer.error);
        throw errors.oauthDenied(
          def.display_name,
          def.name,
          detail ?? (answer.error_description ? cleanText(answer.error_description) : undefined),
        );
      }
      if (!answer.code)
        throw errors.oauthDenied(def.display_name, def.name, 'the answer carried no authorization code');
      const tokens = await exchangeCode(
        { fetch: deps.fetch },
        { provider: def.name, displayName: def.display_name, tokenUrl: entry.tokenUrl },
        entry.client,
        { code: answer.code, redirectUri: entry.redirectUri, verifier: entry.verifier },
      );
      return deps.connections.loginWithTokens({
        provider: def.name,
        connection: entry.connection,
        force: entry.force,
        tokens,
        requestedScopes: entry.scopes,
        baseUrl: entry.baseUrl,
        flow: 'pkce',
      });
    },

    forgetSession(loginSessionId) {
      pending.dropSession(loginSessionId);
      devicePolls.get(loginSessionId)?.abort();
      devicePolls.delete(loginSessionId);
    },
  };
}

/** The issuer is the authorization server of these endpoints: its origin is theirs (issuers may carry a path). */
function isIssuerOf(endpoints: OAuthEndpoints, issuer: string): boolean {
  const origin = readOrigin(issuer);
  return (
    origin !== undefined &&
    [endpoints.authorization_url, endpoints.token_url].some((url) => url !== undefined && readOrigin(url) === origin)
  );
}

function readOrigin(url: string): string | undefined {
  try {
    const { origin } = new URL(url);
    return origin === 'null' ? undefined : origin;
  } catch {
    return undefined;
  }
}

function describeIssuer(issuer: string): string {
  return cleanText(readOrigin(issuer) ?? issuer);
}
