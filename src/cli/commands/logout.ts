// `authsome logout <provider>`: removes one connection (asking first on a terminal).
import { defineCommand } from 'citty';
import {
  confirmDestructive,
  connect,
  connectionArg,
  providerArg,
  reportRemoval,
  yesArg,
  type RemovalReply,
} from './_shared.js';

export default defineCommand({
  meta: { name: 'logout', description: 'Remove one connection of a provider from the vault.' },
  args: { ...providerArg, ...connectionArg, ...yesArg },
  async run({ args }) {
    const which = args.connection ? `the '${args.connection}' connection` : 'the default connection';
    await confirmDestructive(`Delete ${which} of ${args.provider} from this machine?`, args.yes);
    const api = await connect();
    const r = await api.call<RemovalReply & { provider: string; connection: string }>('POST', '/logout', {
      provider: args.provider,
      connection: args.connection,
    });
    reportRemoval(r, 1, `Logged out of ${r.provider} (${r.connection}).`, {
      provider: r.provider,
      connection: r.connection,
    });
  },
});
