// `authsome login <provider>`: resolves the connection, refuses to overwrite without --force, then collects
// the API key through the browser form (a login session the server ends when the form is submitted), a masked
// prompt (3 attempts) or stdin, and hands it to the server, which validates it.
import { defineCommand } from 'citty';
import type { ApiClient } from '../../client/api-client.js';
import {
  cancelLogin,
  settleLogin,
  waitForLogin,
  type LoginResult,
  type LoginSessionReply,
} from '../../client/login-session.js';
import { AppError, errors } from '../../errors.js';
import { chooseKeySource, isBrowserAvailable } from '../key-source.js';
import { openBrowser } from '../open-browser.js';
import { getOutput, type Output } from '../output.js';
import { isInteractive, promptSecret, readMaskedLine, readStdinLine, type MaskedLineReader } from '../prompt.js';
import { startWaitIndicator } from '../wait-indicator.js';
import { connect, connectionArg, providerArg } from './_shared.js';

interface LoginDescription {
  provider: string;
  display_name: string;
  auth_type: 'api_key' | 'oauth2';
  connection: string;
  exists: boolean;
}

const PROMPT_ATTEMPTS = 3;

export default defineCommand({
  meta: { name: 'login', description: 'Log in to a provider: the key (or token) goes into the encrypted vault.' },
  args: {
    ...providerArg,
    ...connectionArg,
    force: { type: 'boolean', description: 'Overwrite an existing connection' },
    flow: { type: 'string', description: 'OAuth flow to use (pkce, device_code, dcr_pkce)', valueHint: 'flow' },
    scopes: { type: 'string', description: 'OAuth scopes, comma-separated', valueHint: 'a,b' },
    'base-url': { type: 'string', description: 'Base URL for self-hosted providers ({base_url})', valueHint: 'url' },
    browser: { type: 'boolean', default: true, negativeDescription: 'Never open a browser; use the terminal' },
    stdin: { type: 'boolean', description: 'Read the key from the first line of stdin' },
  },
  async run({ args }) {
    const out = getOutput();
    const api = await connect();
    const query = new URLSearchParams({
      provider: args.provider,
      ...(args.connection ? { connection: args.connection } : {}),
    });
    const info = await api.call<LoginDescription>('GET', `/login/describe?${query}`);
    const label = `${info.provider} (${info.connection})`;
    const oauthFlag =
      args.flow !== undefined
        ? '--flow'
        : args.scopes !== undefined
          ? '--scopes'
          : args['base-url'] !== undefined
            ? '--base-url'
            : undefined;
    if (info.auth_type !== 'oauth2' && oauthFlag) {
      throw errors.usage(
        `${oauthFlag} is for OAuth providers; ${info.display_name} uses an API key.`,
        `Run 'authsome login ${info.provider}' without ${oauthFlag}.`,
      );
    }
    if (info.auth_type === 'oauth2') {
      if (info.exists && !args.force) {
        out.confirm(`Already logged in to ${label}. Use --force to overwrite.`, {
          provider: info.provider,
          connection: info.connection,
          stored: false,
        });
        return;
      }
      const result = await loginWithOAuth(
        api,
        out,
        { noBrowser: args.browser === false, stdin: args.stdin === true },
        {
          provider: info.provider,
          connection: info.connection,
          force: args.force === true,
          ...(args.flow !== undefined ? { flow: args.flow } : {}),
          ...(args.scopes !== undefined
            ? {
                scopes: args.scopes
                  .split(',')
                  .map((s) => s.trim())
                  .filter(Boolean),
              }
            : {}),
          ...(args['base-url'] !== undefined ? { base_url: args['base-url'] } : {}),
        },
      );
      out.confirm(`Successfully logged in to ${result.provider} (${result.connection}).`, {
        provider: result.provider,
        connection: result.connection,
        stored: true,
      });
      return;
    }
    const source = chooseKeySource({
      stdinFlag: args.stdin === true,
      noBrowser: args.browser === false,
      stdinIsTTY: isInteractive(),
      env: process.env,
      platform: process.platform,
    });
    // A key piped in is a key handed over: not storing it is a failure a rotation script must see (exit 7). The
    // browser and the prompt ask before any key is given, so there "already logged in" is a plain answer (exit 0).
    const command =
      'authsome login ' +
      `${info.provider}${args.connection ? ` --connection ${info.connection}` : ''}` +
      `${source === 'stdin' ? ' --stdin' : ''}`;
    const refuseExisting = (keyGiven: boolean): void => {
      if (keyGiven) throw errors.connectionExists(info.provider, info.connection, command);
      out.confirm(`Already logged in to ${label}. Use --force to overwrite.`, {
        provider: info.provider,
        connection: info.connection,
        stored: false,
      });
      // Without --connection the default connection is meant, which need not be called 'default': say which it is.
      if (!args.connection) {
        const which =
          info.connection === 'default' ? '' : `'${info.connection}' is the default connection of ${info.provider}. `;
        out.info(`${which}To add another connection: authsome login ${info.provider} --connection <name>`);
      }
    };
    if (info.exists && !args.force) {
      refuseExisting(source === 'stdin' && (await readStdinLine()).trim() !== '');
      return;
    }

    const submit = (apiKey: string) =>
      api.call<LoginResult>('POST', '/login/api-key', {
        provider: info.provider,
        connection: info.connection,
        api_key: apiKey,
        force: args.force === true,
      });

    let result: LoginResult | undefined;
    if (source === 'browser') {
      result = await loginThroughBrowser(api, out, {
        provider: info.provider,
        connection: info.connection,
        force: args.force === true,
      });
    } else if (source === 'prompt') {
      for (let attempt = 1; attempt <= PROMPT_ATTEMPTS && !result; attempt++) {
        const key = await promptSecret(`${info.display_name} API key: `);
        try {
          result = await submit(key);
        } catch (err) {
          if (!(err instanceof AppError) || err.code !== 'INVALID_KEY' || attempt === PROMPT_ATTEMPTS) throw err;
          out.showError(err);
        }
      }
    } else {
      result = await submit(await readStdinLine());
    }
    if (!result!.stored) {
      refuseExisting(source === 'stdin');
      return;
    }
    out.confirm(`Successfully logged in to ${result!.provider} (${result!.connection}).`, {
      provider: result!.provider,
      connection: result!.connection,
      stored: true,
    });
  },
});

/** An OAuth login: the device flow in the terminal, or the browser (the same login session either way). */
async function loginWithOAuth(
  api: ApiClient,
  out: Output,
  how: { noBrowser: boolean; stdin: boolean },
  input: { provider: string; connection: string; force: boolean; flow?: string; scopes?: string[]; base_url?: string },
): Promise<LoginResult> {
  const session = await api.call<LoginSessionReply>('POST', '/login-sessions', input);
  if (session.flow === 'device_code') return loginWithDeviceCode(api, out, how.noBrowser, session);
  if (how.stdin || how.noBrowser || !isBrowserAvailable(process.env, process.platform))
    return loginHeadless(api, how.stdin, session);
  return loginThroughBrowser(api, out, input, session);
}

/**
 * Headless sign-in (as `gcloud auth login --no-browser` and `rclone authorize` do): print the authorization URL for
 * a browser on any machine, then take the address that browser was redirected to, pasted here (echo off: it
 * carries the code) or on stdin. Its state must be this login's. A browser on this machine finishing the sign-in
 * by itself ends the wait too.
 */
async function loginHeadless(api: ApiClient, stdinFlag: boolean, session: LoginSessionReply): Promise<LoginResult> {
  const interactive = !stdinFlag && isInteractive();
  let clientId: string | undefined;
  // dcr_pkce registers its own client on the server.
  if (!session.has_client && session.flow !== 'dcr_pkce') {
    if (!interactive) {
      throw errors.usage(
        `No OAuth client id for ${session.provider} yet.`,
        `Run 'authsome login ${session.provider}' on a terminal (or with a browser) once to enter it; ` +
          'later logins reuse it.',
      );
    }
    clientId = (await promptVisible(`OAuth client ID for ${session.provider}: `)).trim();
    if (clientId === '')
      throw errors.usage(
        'No client id was entered.',
        `Register an OAuth app with the provider, then run 'authsome login ${session.provider}' again.`,
      );
  }
  let settled = false;
  try {
    const { authorization_url: url } = await api.call<LoginSessionReply & { authorization_url: string }>(
      'POST',
      `/login-sessions/${session.id}/authorize`,
      clientId ? { client_id: clientId } : {},
    );
    process.stderr.write(`Open this URL in a browser (on any machine) and sign in:\n\n  ${url}\n\n`);
    process.stderr.write(
      'Then copy the address the browser ends up on (http://127.0.0.1:…/auth/callback?…; on another ' +
        'machine that page does not load) and paste it here.\n',
    );
    let cancelled!: () => void;
    const interruption = new Promise<'cancelled'>((resolve) => (cancelled = () => resolve('cancelled')));
    const terminal = interactive ? createTerminalKeyQueue(cancelled) : undefined;
    if (interactive) process.stderr.write('Redirected URL: ');
    const pasted = terminal ? terminal.next() : readStdinLine();
    process.on('SIGINT', cancelled);
    const poll = new AbortController();
    try {
      const ended = waitForLogin(api, session, { signal: poll.signal }).then(
        (result) => ({ result }),
        (error: unknown) => ({ error }),
      );
      const first = await Promise.race([
        pasted.then((line) => ({ line })),
        ended,
        interruption.then(() => ({ cancelled: true as const })),
      ]);
      if ('cancelled' in first) throw errors.cancelled();
      if ('result' in first || 'error' in first) {
        settled = true;
        if ('error' in first) throw first.error;
        return first.result;
      }
      if (first.line.trim() === '')
        throw errors.usage(
          'No address was pasted.',
          `Run 'authsome login ${session.provider}' again, and paste the whole address from the browser.`,
        );
      const state = await api.call<LoginSessionReply>('POST', `/login-sessions/${session.id}/redirect`, {
        url: first.line.trim(),
      });
      settled = true;
      return settleLogin(state);
    } finally {
      poll.abort();
      terminal?.stop();
      if (interactive) process.stderr.write('\n');
      // A read of stdin still waiting (the sign-in ended another way) must not keep the process alive.
      else process.stdin.pause();
      process.off('SIGINT', cancelled);
    }
  } finally {
    // A login that did not finish here must not stay open on the server, waiting for an answer.
    if (!settled) await api.call('POST', `/login-sessions/${session.id}/cancel`, {}).catch(() => undefined);
  }
}

/**
 * The device flow (RFC 8628): the server polls the provider; this shows the code and where to enter it (opening
 * verification_uri_complete when a browser is available), then waits for the session to end. Ctrl-C cancels it
 * on the server, which stops polling.
 */
async function loginWithDeviceCode(
  api: ApiClient,
  out: Output,
  noBrowser: boolean,
  started: LoginSessionReply,
): Promise<LoginResult> {
  let session = started;
  if (!session.device) {
    // The first login of this provider: the OAuth app's client id (a public identifier, so it is echoed).
    const clientId = isInteractive()
      ? await promptVisible(`OAuth client ID for ${session.provider}: `)
      : await readStdinLine();
    if (clientId.trim() === '')
      throw errors.usage(
        'No client id was entered.',
        `Register an OAuth app with the provider, then run 'authsome login ${session.provider}' again and ` +
          'enter its client id.',
      );
    session = await api.call<LoginSessionReply>('POST', `/login-sessions/${session.id}/client`, {
      client_id: clientId.trim(),
    });
  }
  if (session.state !== 'pending' || !session.device) return settleLogin(session);
  const device = session.device;
  process.stderr.write(`First copy your one-time code: ${device.user_code}\n`);
  process.stderr.write(
    `Then open ${device.verification_uri} and enter it. Waiting for you to approve (Ctrl-C to cancel)…\n`,
  );
  let removeLauncher = () => {};
  if (!noBrowser && isBrowserAvailable(process.env, process.platform)) {
    let failure: string | undefined;
    ({ failure, removeLauncher } = await openBrowser(device.verification_uri_complete ?? device.verification_uri));
    if (failure) out.warn(`Could not start a browser (${failure}). Open the URL above yourself.`);
  }
  const stop = watchInterruption(api, session.id);
  try {
    return await waitForLogin(api, session, { signal: stop.signal }).catch((err: unknown) => stop.settle(err));
  } finally {
    removeLauncher();
    stop.remove();
  }
}

interface Interruption {
  /** Aborted by Ctrl-C: the wait for the login gives up. */
  signal: AbortSignal;
  /** What Ctrl-C does (also called by the echo-off key reader, which gets Ctrl-C as a key). */
  onSigint(): void;
  interrupted(): Promise<void>;
  /** The wait failed: after a Ctrl-C that is the cancel's answer; otherwise the failure stands. */
  settle(err: unknown): Promise<LoginResult>;
  remove(): void;
}

/**
 * Ctrl-C from here on cancels the session on the server and drops the wait in flight. What the cancel call reports
 * wins: a login completed a moment before the Ctrl-C is a success, not a cancellation. A second Ctrl-C does not
 * wait for the server.
 */
function watchInterruption(api: ApiClient, sessionId: string): Interruption {
  const poll = new AbortController();
  let cancelling: Promise<LoginResult> | undefined;
  let notify!: () => void;
  const interrupted = new Promise<void>((resolve) => (notify = resolve));
  const onSigint = () => {
    if (cancelling) process.exit(2);
    poll.abort();
    cancelling = cancelLogin(api, sessionId);
    notify();
  };
  process.on('SIGINT', onSigint);
  return {
    signal: poll.signal,
    onSigint,
    interrupted: () => interrupted,
    settle: (err) => cancelling ?? Promise.reject(err),
    remove() {
      poll.abort();
      process.off('SIGINT', onSigint);
    },
  };
}

/** One line typed on the terminal, echoed (for identifiers, never for secrets). */
async function promptVisible(label: string): Promise<string> {
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await rl.question(label);
  } finally {
    rl.close();
  }
}

/**
 * The browser path: a login session on the server, its one-time form URL opened (and always
 * printed, for a browser elsewhere), then long-polls until the form is submitted, cancelled or expired.
 * Ctrl-C cancels the session on the server, so the form stops accepting a key.
 */
async function loginThroughBrowser(
  api: ApiClient,
  out: Output,
  input: { provider: string; connection: string; force: boolean },
  started?: LoginSessionReply,
): Promise<LoginResult> {
  const session = started ?? (await api.call<LoginSessionReply>('POST', '/login-sessions', input));
  const oauth = session.oauth === true;
  const stop = watchInterruption(api, session.id);
  let indicator = { stop() {} };
  let failure: string | undefined;
  let removeLauncher = () => {};
  // On a terminal the key may also be typed or pasted here (out of habit): read with echo off, so it is never on
  // screen, and whichever side comes first wins. In raw mode Ctrl-C arrives as a key, not as SIGINT.
  const terminal = process.stdin.isTTY && !oauth ? createTerminalKeyQueue(stop.onSigint) : undefined;
  const showIndicator = () => {
    if (out.quiet || out.json) return;
    const label = terminal
      ? 'Waiting for the browser (or paste the key here and press Enter)…'
      : 'Waiting for the browser…';
    indicator = startWaitIndicator(label, Date.parse(session.expires_at));
  };
  try {
    // Echo goes off before anything is shown: a key pasted out of habit the moment the line appears stays hidden.
    let typed: Promise<{ kind: 'key'; key: string }> | undefined = terminal
      ?.next()
      .then((key) => ({ kind: 'key' as const, key }));
    const waitingFor = oauth ? 'the sign-in to finish' : 'the form to be submitted';
    process.stderr.write(`Opening ${session.url} in your browser. Waiting for ${waitingFor} (Ctrl-C to cancel)…\n`);
    ({ failure, removeLauncher } = await openBrowser(session.url));
    if (failure) out.warn(`Could not start a browser (${failure}). Open the URL above yourself.`);
    showIndicator();
    const ended = waitForLogin(api, session, { signal: stop.signal }).then(
      (result) => ({ kind: 'ended' as const, result }),
      (error: unknown) => ({ kind: 'failed' as const, error }),
    );
    const interrupted = stop.interrupted().then(() => ({ kind: 'interrupted' as const }));
    for (;;) {
      if (terminal) typed ??= terminal.next().then((key) => ({ kind: 'key' as const, key }));
      const event = await Promise.race([ended, interrupted, ...(typed ? [typed] : [])]);
      if (event.kind === 'ended') return event.result;
      if (event.kind !== 'key') return await stop.settle(event.kind === 'failed' ? event.error : undefined);
      typed = undefined;
      let state: LoginSessionReply;
      try {
        state = await api.call<LoginSessionReply>('POST', `/login-sessions/${session.id}/key`, { api_key: event.key });
      } catch (err) {
        if (!(err instanceof AppError) || err.code !== 'INVALID_KEY') throw err;
        indicator.stop();
        out.showError(err);
        showIndicator();
        continue;
      }
      if (state.state === 'pending') continue;
      if (state.state === 'completed') out.info('The key came from this terminal; the browser form is closed now.');
      return settleLogin(state);
    }
  } finally {
    terminal?.stop();
    indicator.stop();
    // The launcher file holds the one-time URL: gone once the CLI stops waiting for it.
    removeLauncher();
    stop.remove();
  }
}

/** Lines typed on the terminal with echo off, one at a time (a refused key re-arms the reader). */
function createTerminalKeyQueue(onCancel: () => void): { next(): Promise<string>; stop(): void } {
  let reader: MaskedLineReader | undefined;
  let stopped = false;
  return {
    next() {
      return new Promise<string>((resolve) => {
        if (stopped) return;
        reader = readMaskedLine({
          onLine: (value) => {
            if (value.trim() === '') {
              // Enter on its own submits nothing: keep waiting for the browser.
              if (!stopped) void this.next().then(resolve);
              return;
            }
            resolve(value);
          },
          onCancel,
        });
      });
    },
    stop() {
      stopped = true;
      reader?.stop();
    },
  };
}
