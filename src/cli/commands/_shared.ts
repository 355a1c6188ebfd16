// Argument presets shared by the commands, and the one-liners every command uses to reach the server.
import { connectApi, type ApiClient } from '../../client/api-client.js';
import { getOutput } from '../output.js';

export const providerArg = {
  provider: { type: 'positional', description: 'Provider name (see `authsome list`)', required: true },
} as const;

export const connectionArg = {
  connection: {
    type: 'string',
    alias: 'c',
    description: "Connection name (default: the provider's default connection)",
    valueHint: 'name',
  },
} as const;

/** Connects to the running server, starting it in the background when needed (progress on stderr). */
export function connect(): Promise<ApiClient> {
  const out = getOutput();
  return connectApi({ onProgress: (m) => out.info(m) });
}
