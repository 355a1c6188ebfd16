// The tools `authsome mcp` offers an agent: what providers exist and which are connected, a provider's definition,
// and a request that the person log in. Every answer is built field by field from replies that hold no secret
// (names, states, dates, variable names, definitions); the login form's one-time URL goes to the browser, never
// into an answer, because whoever holds it can put a key of their choosing into the vault.
import type { ApiClient } from '../client/api-client.js';
import { AppError, errors } from '../errors.js';
import type { ApiProviderRow } from '../client/api-types.js';

export interface McpTool {
  name: string;
  description: string;
  inputSchema: {
    type: 'object';
    properties: Record<string, { type: string; description: string }>;
    required?: string[];
  };
}

export interface ToolReply {
  text: string;
  isError?: boolean;
}

/** What request_login needs from the CLI around it (the browser is the person's, not the agent's). */
export interface McpToolDeps {
  api: ApiClient;
  browserAvailable(): boolean;
  /** Opens the URL for the person; resolves with why it could not, if it could not. */
  openForPerson(url: string): Promise<string | undefined>;
}

export const MCP_TOOLS: McpTool[] = [
  {
    name: 'list_providers',
    description:
      'List the providers authsome knows and which are connected: connection names, status, expiry, and ' +
      'the environment variables `authsome run` sets for them (placeholders; the proxy adds the real ' +
      'credential). Never returns a key.',
    inputSchema: {
      type: 'object',
      properties: {
        connected_only: {
          type: 'boolean',
          description: 'Only providers with a connection (default: all, unconnected ones by name only)',
        },
      },
    },
  },
  {
    name: 'inspect_provider',
    description:
      "A provider's definition: API hosts the proxy adds credentials for, header shape, key format, " +
      'exported variable names, docs link.',
    inputSchema: {
      type: 'object',
      properties: { provider: { type: 'string', description: 'Provider name, e.g. openai' } },
      required: ['provider'],
    },
  },
  {
    name: 'request_login',
    description:
      "Ask the person to log in to a provider: opens authsome's login form in their browser. The key goes " +
      'from them to authsome; you never see or send it. Call list_providers afterwards to see when it is ' +
      'connected.',
    inputSchema: {
      type: 'object',
      properties: {
        provider: { type: 'string', description: 'Provider name, e.g. openai' },
        connection: { type: 'string', description: "Connection name (default: the provider's default connection)" },
      },
      required: ['provider'],
    },
  },
];

interface ProviderDetail {
  name: string;
  source: string;
  definition: { export?: Record<string, unknown> | unknown[] } & Record<string, unknown>;
}

export async function callMcpTool(deps: McpToolDeps, name: string, input: Record<string, unknown>): Promise<ToolReply> {
  try {
    if (name === 'list_providers')
      return { text: JSON.stringify(await listProviders(deps.api, input.connected_only === true), null, 2) };
    if (name === 'inspect_provider')
      return { text: JSON.stringify(await inspectProvider(deps.api, readName(input.provider, 'provider')), null, 2) };
    if (name === 'request_login')
      return { text: await requestLogin(deps, readName(input.provider, 'provider'), input.connection) };
    return {
      text: `Error: No tool named '${name}'.\nHint: Use one of: ${MCP_TOOLS.map((t) => t.name).join(', ')}.`,
      isError: true,
    };
  } catch (err) {
    // The catalogue's messages name providers, connections and files, never a secret.
    if (err instanceof AppError)
      return { text: `Error: ${err.message}${err.hint ? `\nHint: ${err.hint}` : ''}`, isError: true };
    return { text: 'Error: authsome could not answer.\nHint: Run `authsome doctor` in a terminal.', isError: true };
  }
}

function readName(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.trim() === '')
    throw errors.invalidInput(`'${field}' must be a provider name.`, 'See list_providers for the names.');
  return value.trim().toLowerCase();
}

/** The variable names a run sets for a provider: the keys of its export map (both spellings the schema allows). */
function readExportNames(definition: ProviderDetail['definition']): string[] {
  const exp = definition.export;
  if (Array.isArray(exp))
    return exp.flatMap((e) =>
      e && typeof e === 'object' && typeof (e as { env?: unknown }).env === 'string'
        ? [(e as { env: string }).env]
        : [],
    );
  return exp && typeof exp === 'object' ? Object.keys(exp) : [];
}

async function listProviders(api: ApiClient, connectedOnly: boolean) {
  const { providers } = await api.call<{ providers: ApiProviderRow[] }>('GET', '/providers');
  const connected = providers.filter((p) => p.connections.length > 0);
  const described = await Promise.all(
    connected.map(async (p) => {
      const detail = await api.call<ProviderDetail>('GET', `/providers/${encodeURIComponent(p.name)}`);
      return {
        name: p.name,
        auth_type: p.auth_type,
        source: p.source,
        connections: p.connections.map((c) => ({
          connection: c.connection,
          status: c.status,
          is_default: c.is_default,
          expires_at: c.expires_at ?? null,
        })),
        run_env: readExportNames(detail.definition),
      };
    }),
  );
  return {
    connected: described,
    ...(connectedOnly ? {} : { not_connected: providers.filter((p) => p.connections.length === 0).map((p) => p.name) }),
    note:
      'Under `authsome run` the variables in run_env hold a placeholder; requests to the provider get the ' +
      'real credential from the proxy.',
  };
}

async function inspectProvider(api: ApiClient, provider: string) {
  const r = await api.call<ProviderDetail>('GET', `/providers/${encodeURIComponent(provider)}`);
  return { name: r.name, source: r.source, definition: r.definition };
}

async function requestLogin(deps: McpToolDeps, provider: string, rawConnection: unknown): Promise<string> {
  const connection =
    typeof rawConnection === 'string' && rawConnection.trim() !== '' ? rawConnection.trim() : undefined;
  const query = new URLSearchParams({ provider, ...(connection ? { connection } : {}) });
  const info = await deps.api.call<{
    provider: string;
    display_name: string;
    auth_type: string;
    connection: string;
    exists: boolean;
  }>('GET', `/login/describe?${query}`);
  const command = `authsome login ${info.provider}${connection ? ` --connection ${info.connection}` : ''}`;
  if (info.exists)
    return (
      `${info.display_name} (${info.connection}) is already connected. To replace its key, the person runs ` +
      `'${command} --force'.`
    );
  // An OAuth sign-in may need the person's terminal (a device code, a pasted redirect): they start it there.
  if (info.auth_type !== 'api_key')
    return `${info.display_name} signs in with OAuth 2.0. Ask the person to run '${command}' in a terminal.`;
  if (!deps.browserAvailable())
    return `No browser is available here. Ask the person to run '${command}' in a terminal.`;
  const session = await deps.api.call<{ url: string; expires_at: string }>('POST', '/login-sessions', {
    provider: info.provider,
    connection: info.connection,
    force: false,
  });
  const failure = await deps.openForPerson(session.url);
  if (failure) return `Could not open a browser (${failure}). Ask the person to run '${command}' in a terminal.`;
  return (
    `The login form for ${info.display_name} (${info.connection}) is open in the person's browser until ` +
    `${session.expires_at}. Ask them to paste the key there; then call list_providers to see the connection.`
  );
}
