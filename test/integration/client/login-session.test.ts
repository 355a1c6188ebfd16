// The CLI's wait for a login session against a real server on 127.0.0.1:0: the long-poll asked again while the
// server says "pending", woken by the end it waits for, mapped to a result or the catalogue's error; given up on by
// an AbortSignal or at the session's deadline. The server reports each parked poll, so nothing here waits on time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectApi, type ApiClient } from '../../../src/client/api-client.js';
import { cancelLogin, waitForLogin, type LoginSessionReply } from '../../../src/client/login-session.js';
import { createRuntime, type Runtime } from '../../../src/runtime.js';
import { rejected } from '../../helpers/app-errors.js';
import { makeTempDir, type TempDir } from '../../helpers/temp-dir.js';

const GOOD_KEY = 'sk-loginwait0123456789abcdefghijkl';

describe('waiting for a login session', () => {
  let dir: TempDir;
  let rt: Runtime;
  let api: ApiClient;
  const parked: string[] = [];
  const parks = (id: string) => parked.filter((p) => p === id).length;
  let connections = 0;

  beforeAll(async () => {
    dir = await makeTempDir('login-wait');
    rt = await createRuntime({
      home: dir.path,
      port: 0,
      kdf: { memory_kib: 1024, iterations: 1 },
      web: { onLoginParked: (id) => parked.push(id) },
    });
    api = await connectApi({ env: { AUTHSOME_HOME: dir.path, AUTHSOME_NO_AUTOSTART: '1' } });
  });
  afterAll(async () => {
    await rt.close();
    await dir.cleanup();
  });

  /** A new pending login session for openai, on a connection of its own. */
  const startLogin = () =>
    api.call<LoginSessionReply>('POST', '/login-sessions', { provider: 'openai', connection: `c${++connections}` });
  /** The state now (the read itself parks for 0 ms). */
  const readState = async (id: string) => (await api.call<LoginSessionReply>('GET', `/login-sessions/${id}`)).state;

  it('asks again while the server answers "pending", and a login completed meanwhile is the result', async () => {
    const session = await startLogin();
    const wait = waitForLogin(api, session, { pollWaitMs: 100 });
    // Two parks: the first call's wait ran out with "pending", and the wait asked again.
    await expect.poll(() => parks(session.id)).toBeGreaterThanOrEqual(2);
    await api.call('POST', `/login-sessions/${session.id}/key`, { api_key: GOOD_KEY });
    expect(await wait).toEqual({ provider: 'openai', connection: session.connection, stored: true });
  });

  it("a login cancelled elsewhere (the form's Cancel) ends the wait with the browser-cancel error", async () => {
    const session = await startLogin();
    const wait = waitForLogin(api, session);
    await expect.poll(() => parks(session.id)).toBe(1);
    await api.call('POST', `/login-sessions/${session.id}/cancel`, {});
    const err = await rejected(wait);
    expect([err.code, err.message, err.hint]).toEqual([
      'CANCELLED',
      'The login was cancelled in the browser.',
      "Run 'authsome login openai' to start again.",
    ]);
  });

  it('an AbortSignal gives up the parked call at once with Cancelled., and the session stays pending', async () => {
    const session = await startLogin();
    const stop = new AbortController();
    const wait = waitForLogin(api, session, { signal: stop.signal });
    await expect.poll(() => parks(session.id)).toBe(1);
    const abortedAt = Date.now();
    stop.abort();
    const err = await rejected(wait);
    expect([err.code, err.message]).toEqual(['CANCELLED', 'Cancelled.']);
    // Not the 20 s the parked call would have waited for.
    expect(Date.now() - abortedAt).toBeLessThan(5_000);
    // Already aborted: no call at all.
    await rejected(waitForLogin(api, session, { signal: stop.signal }));
    expect(parks(session.id)).toBe(1);
    expect(await readState(session.id)).toBe('pending');
  });

  it("past the session's deadline (injected clock) the wait stops asking with the timed-out error", async () => {
    const session = await startLogin();
    let offset = 0;
    const wait = waitForLogin(api, session, { pollWaitMs: 100, now: () => Date.now() + offset });
    await expect.poll(() => parks(session.id)).toBe(1);
    offset = Date.parse(session.expires_at) - Date.now() + 60_000;
    const err = await rejected(wait);
    expect([err.code, err.message]).toEqual(['CANCELLED', 'The login form was not submitted in time.']);
    expect(parks(session.id)).toBe(1);
    expect(await readState(session.id)).toBe('pending');
  });

  it('a session the server does not know is its error, not an endless wait', async () => {
    const unknown = { id: 'unknown', provider: 'openai', expires_at: new Date(Date.now() + 60_000).toJSON() };
    expect((await rejected(waitForLogin(api, unknown))).code).toBe('NOT_FOUND');
  });

  it('cancelLogin: a pending login is cancelled on the server; one completed just before is the result', async () => {
    const pending = await startLogin();
    const err = await rejected(cancelLogin(api, pending.id));
    expect([err.code, err.message]).toEqual(['CANCELLED', 'Cancelled.']);
    expect(await readState(pending.id)).toBe('cancelled');

    const done = await startLogin();
    await api.call('POST', `/login-sessions/${done.id}/key`, { api_key: GOOD_KEY });
    expect(await cancelLogin(api, done.id)).toEqual({ provider: 'openai', connection: done.connection, stored: true });
    expect(await readState(done.id)).toBe('completed');
  });
});
