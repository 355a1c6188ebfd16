// `authsome login <provider>`: resolves the connection, refuses to overwrite without --force, then collects
// the API key from stdin or a masked prompt (3 attempts) and hands it to the server, which validates it.
import { defineCommand } from 'citty';
import { AppError, errors } from '../../errors.js';
import { chooseKeySource } from '../key-source.js';
import { getOutput } from '../output.js';
import { isInteractive, promptSecret, readStdinLine } from '../prompt.js';
import { connect, connectionArg, providerArg } from './_shared.js';

interface LoginDescription {
  provider: string;
  display_name: string;
  auth_type: 'api_key' | 'oauth2';
  connection: string;
  exists: boolean;
}

interface LoginResult {
  provider: string;
  connection: string;
  stored: boolean;
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
    const query = new URLSearchParams({ provider: args.provider, ...(args.connection ? { connection: args.connection } : {}) });
    const info = await api.call<LoginDescription>('GET', `/login/describe?${query}`);
    const label = `${info.provider} (${info.connection})`;
    if (info.exists && !args.force) {
      out.confirm(`Already logged in to ${label}. Use --force to overwrite.`, { provider: info.provider, connection: info.connection, stored: false });
      return;
    }
    if (info.auth_type === 'oauth2') {
      throw errors.invalidInput(
        `${info.display_name} signs in with OAuth 2.0, which this version of authsome cannot do yet.`,
        'Use an API-key provider for now (for GitHub: github-pat).',
      );
    }
    const source = chooseKeySource({
      stdinFlag: args.stdin === true,
      // The browser form arrives with the web interface; until then a display still means the terminal.
      noBrowser: true,
      stdinIsTTY: isInteractive(),
      env: process.env,
      platform: process.platform,
    });

    const submit = (apiKey: string) =>
      api.call<LoginResult>('POST', '/login/api-key', {
        provider: info.provider,
        connection: info.connection,
        api_key: apiKey,
        force: args.force === true,
      });

    let result: LoginResult | undefined;
    if (source === 'prompt') {
      for (let attempt = 1; attempt <= PROMPT_ATTEMPTS && !result; attempt++) {
        const key = await promptSecret(`${info.display_name} API key: `);
        try {
          result = await submit(key);
        } catch (err) {
          if (!(err instanceof AppError) || err.code !== 'INVALID_KEY' || attempt === PROMPT_ATTEMPTS) throw err;
          process.stderr.write(`${out.paintErr('red', 'Error:')} ${err.message}\n`);
          if (err.hint) process.stderr.write(`${out.paintErr('dim', 'Hint:')} ${err.hint}\n`);
        }
      }
    } else {
      result = await submit(await readStdinLine());
    }
    if (!result!.stored) {
      out.confirm(`Already logged in to ${label}. Use --force to overwrite.`, { provider: info.provider, connection: info.connection, stored: false });
      return;
    }
    out.confirm(`Successfully logged in to ${result!.provider} (${result!.connection}).`, {
      provider: result!.provider,
      connection: result!.connection,
      stored: true,
    });
  },
});
