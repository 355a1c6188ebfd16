// `authsome set-default <provider> <connection>`.
import { defineCommand } from 'citty';
import { getOutput } from '../output.js';
import { connect, providerArg } from './_shared.js';

export default defineCommand({
  meta: { name: 'set-default', description: 'Choose the connection used when --connection is not given.' },
  args: { ...providerArg, connection: { type: 'positional', description: 'Connection name', required: true } },
  async run({ args }) {
    const api = await connect();
    await api.call('POST', '/default', { provider: args.provider, connection: args.connection });
    getOutput().confirm(`Default connection for ${args.provider} is now ${args.connection}.`, {
      provider: args.provider,
      connection: args.connection,
    });
  },
});
