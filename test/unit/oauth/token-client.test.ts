// The token endpoint's answer, checked field by field (RFC 6749 §5.1, §5.2): what a broken, hostile or merely odd
// provider can send, and what reaches the person (never a token, never raw provider text with control characters).
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isAppError, type AppError } from '../../../src/errors.js';
import { pollDeviceToken, requestDeviceAuthorization } from '../../../src/oauth/device.js';
import { buildAuthorizationUrl, createPkcePair, createState } from '../../../src/oauth/pkce.js';
import { createPendingAuthorizations, type PendingAuthorization } from '../../../src/oauth/pending-authorizations.js';
import { parseTokenResponse, requestToken, type FetchLike } from '../../../src/oauth/token-client.js';

const ctx = { provider: 'testoauth', displayName: 'Test OAuth' };
const TOKEN = 'at-canary-0123456789abcdef';

function refusal(fn: () => unknown): AppError {
  try {
    fn();
  } catch (err) {
    if (isAppError(err)) return err;
    throw err;
  }
  throw new Error('expected an AppError');
}

describe('parseTokenResponse', () => {
  it('accepts a complete answer; expires_in may come as a string; GitHub-style comma scopes are split', () => {
    const set = parseTokenResponse(
      ctx,
      200,
      'application/json',
      JSON.stringify({
        access_token: TOKEN,
        refresh_token: 'rt',
        token_type: 'bearer',
        expires_in: '3600',
        scope: 'repo,read:user',
      }),
    );
    expect(set).toEqual({
      access_token: TOKEN,
      refresh_token: 'rt',
      token_type: 'bearer',
      expires_in: 3600,
      scopes: ['repo', 'read:user'],
    });
  });

  it('an HTML page (a login wall, a proxy error) is named as such, with the status', () => {
    const err = refusal(() => parseTokenResponse(ctx, 502, 'text/html; charset=utf-8', '<html>Bad gateway</html>'));
    expect(err.code).toBe('UPSTREAM');
    expect(err.message).toBe(
      'The token endpoint of Test OAuth gave an answer authsome cannot use: HTTP 502 with an HTML page ' +
        'instead of JSON; nothing was stored.',
    );
    expect(err.hint).toContain('authsome inspect testoauth');
  });

  it('an OAuth error wins even with status 200 (GitHub), and invalid_client says to check the client', () => {
    const err = refusal(() =>
      parseTokenResponse(
        ctx,
        200,
        'application/json',
        JSON.stringify({ error: 'invalid_client', error_description: 'bad\u001b[31m secret' }),
      ),
    );
    expect(err.code).toBe('OAUTH_FAILED');
    expect(err.message).toBe(
      'Test OAuth refused the token request: invalid_client (bad [31m secret); nothing was stored.',
    );
    expect(err.hint).toContain('Check the client id and secret');
  });

  it('no access_token, a non-Bearer token type, a bad expires_in: each refused, the token never echoed', () => {
    for (const [body, detail] of [
      [{ token_type: 'bearer' }, 'the answer has no access_token'],
      [{ access_token: TOKEN, token_type: 'mac' }, "token_type 'mac' is not Bearer"],
      [{ access_token: TOKEN, expires_in: -5 }, 'expires_in is not a positive number of seconds'],
      [{ access_token: TOKEN, refresh_token: 42 }, 'refresh_token is not a string'],
    ] as const) {
      const err = refusal(() => parseTokenResponse(ctx, 200, 'application/json', JSON.stringify(body)));
      expect(err.message).toContain(detail);
      expect(JSON.stringify(err.toJSON())).not.toContain(TOKEN);
    }
  });
});

describe('requestToken', () => {
  it('posts a form with Accept: application/json, the secret in the body, and refuses redirects', async () => {
    const seen: Parameters<FetchLike>[] = [];
    const fetch: FetchLike = async (url, init) => {
      seen.push([url, init]);
      return {
        status: 200,
        headers: { get: () => 'application/json' },
        text: async () => JSON.stringify({ access_token: TOKEN }),
      };
    };
    await requestToken(
      { fetch },
      { ...ctx, tokenUrl: 'https://auth.example/token' },
      { client_id: 'cid', client_secret: 'sec' },
      { grant_type: 'authorization_code', code: 'c' },
    );
    const [url, init] = seen[0]!;
    expect(url).toBe('https://auth.example/token');
    expect(init.headers).toEqual({ 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' });
    expect(init.redirect).toBe('error');
    expect(Object.fromEntries(new URLSearchParams(init.body!))).toEqual({
      grant_type: 'authorization_code',
      code: 'c',
      client_id: 'cid',
      client_secret: 'sec',
    });
  });

  it('a token endpoint that cannot be reached is an UPSTREAM error naming the host and the cause', async () => {
    const fetch: FetchLike = async () => {
      throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
    };
    const err = await requestToken(
      { fetch },
      { ...ctx, tokenUrl: 'https://auth.example:8443/token' },
      { client_id: 'cid' },
      { grant_type: 'x' },
    ).then(
      () => {
        throw new Error('expected a refusal');
      },
      (e: AppError) => e,
    );
    expect(err.code).toBe('UPSTREAM');
    expect(err.message).toBe('Could not reach Test OAuth at auth.example:8443: ECONNREFUSED; nothing was stored.');
  });
});

describe('device flow requests', () => {
  it(
    "device_token_request 'json' sends JSON bodies to both endpoints; pending polls continue until the token " +
      'comes',
    async () => {
      const bodies: { type: string; body: Record<string, string> }[] = [];
      const answers = [
        {
          device_code: 'dc',
          user_code: 'ABCD-EFGH',
          verification_uri: 'https://a.example/device',
          verification_uri_complete: 'javascript:alert(1)',
          expires_in: 600,
          interval: 2,
        },
        { error: 'authorization_pending' },
        { access_token: TOKEN },
      ];
      const fetch: FetchLike = async (_url, init) => {
        bodies.push({ type: init.headers['content-type']!, body: JSON.parse(init.body!) });
        return {
          status: 200,
          headers: { get: () => 'application/json' },
          text: async () => JSON.stringify(answers.shift()),
        };
      };
      const call = { ...ctx, tokenUrl: 'https://a.example/x' };
      const device = await requestDeviceAuthorization({ fetch }, call, { client_id: 'cid' }, ['repo'], 'json');
      // Only an http(s) URL is ever opened in a browser.
      expect(device.verification_uri_complete).toBeUndefined();
      const waits: number[] = [];
      const set = await pollDeviceToken({ fetch }, call, { client_id: 'cid' }, device, 'json', {
        sleep: async (ms) => void waits.push(ms),
        now: () => 0,
        signal: new AbortController().signal,
      });
      expect(set.access_token).toBe(TOKEN);
      expect(waits).toEqual([2000, 2000]);
      expect(bodies.map((b) => b.type)).toEqual(['application/json', 'application/json', 'application/json']);
      expect(bodies[0]!.body).toEqual({ scope: 'repo', client_id: 'cid' });
      expect(bodies[1]!.body).toEqual({
        grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
        device_code: 'dc',
        client_id: 'cid',
      });
    },
  );

  it('our own deadline ends the polling even when the provider keeps saying pending', async () => {
    let t = 0;
    const fetch: FetchLike = async () => ({
      status: 400,
      headers: { get: () => 'application/json' },
      text: async () => JSON.stringify({ error: 'authorization_pending' }),
    });
    const device = {
      device_code: 'dc',
      user_code: 'U',
      verification_uri: 'https://a.example/d',
      expires_in: 12,
      interval: 5,
    };
    const err = await pollDeviceToken(
      { fetch },
      { ...ctx, tokenUrl: 'https://a.example/t' },
      { client_id: 'c' },
      device,
      'oauth2_form',
      {
        sleep: async (ms) => void (t += ms),
        now: () => t,
        signal: new AbortController().signal,
      },
    ).then(
      () => undefined,
      (e: AppError) => e,
    );
    expect(err?.message).toBe('The code for Test OAuth expired before it was entered; nothing was stored.');
  });
});

describe('PKCE and state', () => {
  it('S256: the challenge is the base64url SHA-256 of the verifier; state carries 256 bits', () => {
    const { verifier, challenge } = createPkcePair();
    expect(verifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(challenge).toBe(createHash('sha256').update(verifier).digest('base64url'));
    expect(createState()).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(createState()).not.toBe(createState());
  });

  it('the authorization URL keeps the provider query and sets ours', () => {
    const url = new URL(
      buildAuthorizationUrl({
        authorizationUrl: 'https://a.example/auth?access_type=offline&scope=x',
        clientId: 'c',
        redirectUri: 'http://127.0.0.1:7998/auth/callback',
        scopes: ['a', 'b'],
        state: 's',
        challenge: 'ch',
      }),
    );
    expect(Object.fromEntries(url.searchParams)).toEqual({
      access_type: 'offline',
      scope: 'a b',
      response_type: 'code',
      client_id: 'c',
      redirect_uri: 'http://127.0.0.1:7998/auth/callback',
      state: 's',
      code_challenge: 'ch',
      code_challenge_method: 'S256',
    });
  });

  it('a pending authorization is taken once, and not after its deadline', () => {
    let now = 1_000;
    const pending = createPendingAuthorizations({ now: () => now });
    const entry = { provider: 'p', loginSessionId: 'L', expiresAt: 2_000 } as PendingAuthorization;
    const a = pending.add(entry);
    expect(pending.take(a)).toBe(entry);
    expect(pending.take(a)).toBeUndefined();
    const b = pending.add(entry);
    now = 2_000;
    expect(pending.take(b)).toBeUndefined();
  });
});
