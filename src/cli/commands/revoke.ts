// `authsome revoke <provider>`: removes every connection of the provider (asking first on a terminal).
import { defineCommand } from 'citty';
import { confirmDestructive, connect, providerArg, reportRemoval, yesArg, type RemovalReply } from './_shared.js';

export default defineCommand({
  meta: { name: 'revoke', description: 'Remove every connection of a provider (revoking remotely where possible).' },
  args: { ...providerArg, ...yesArg },
  async run({ args }) {
    await confirmDestructive(`Delete every connection of ${args.provider} from this machine?`, args.yes);
    const api = await connect();
    const r = await api.call<RemovalReply & { provider: string; removed: string[] }>('POST', '/revoke', {
      provider: args.provider,
    });
    reportRemoval(r, r.removed.length, `Revoked all credentials for ${r.provider}.`, {
      provider: r.provider,
      removed: r.removed,
    });
  },
});
