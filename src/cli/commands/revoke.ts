// `authsome revoke <provider>`: removes every connection of the provider.
import { defineCommand } from 'citty';
import { getOutput } from '../output.js';
import { connect, providerArg } from './_shared.js';

export default defineCommand({
  meta: { name: 'revoke', description: 'Remove every connection of a provider (revoking remotely where possible).' },
  args: { ...providerArg },
  async run({ args }) {
    const api = await connect();
    const r = await api.call<{ provider: string; removed: string[] }>('POST', '/revoke', { provider: args.provider });
    getOutput().confirm(`Revoked all credentials for ${r.provider}.`, { provider: r.provider, removed: r.removed });
  },
});
