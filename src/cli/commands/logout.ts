// `authsome logout <provider>`: removes one connection.
import { defineCommand } from 'citty';
import { getOutput } from '../output.js';
import { connect, connectionArg, providerArg } from './_shared.js';

export default defineCommand({
  meta: { name: 'logout', description: 'Remove one connection of a provider from the vault.' },
  args: { ...providerArg, ...connectionArg },
  async run({ args }) {
    const api = await connect();
    const r = await api.call<{ provider: string; connection: string }>('POST', '/logout', {
      provider: args.provider,
      connection: args.connection,
    });
    getOutput().confirm(`Logged out of ${r.provider} (${r.connection}).`, r as unknown as Record<string, unknown>);
  },
});
