// `authsome revoke <provider>`: removes every connection of the provider (asking first on a terminal).
import { defineCommand } from 'citty';
import { getOutput } from '../output.js';
import {
  confirmDestructive,
  connect,
  describeKeyStillValid,
  providerArg,
  yesArg,
  type RemovalInfo,
} from './_shared.js';

export default defineCommand({
  meta: { name: 'revoke', description: 'Remove every connection of a provider (revoking remotely where possible).' },
  args: { ...providerArg, ...yesArg },
  async run({ args }) {
    await confirmDestructive(`Delete every connection of ${args.provider} from this machine?`, args.yes);
    const api = await connect();
    const r = await api.call<{ provider: string; removed: string[]; info: RemovalInfo | null; warnings?: string[] }>(
      'POST',
      '/revoke',
      { provider: args.provider },
    );
    const out = getOutput();
    for (const warning of r.warnings ?? []) out.warn(warning);
    out.confirm(`Revoked all credentials for ${r.provider}.`, { provider: r.provider, removed: r.removed });
    const note = r.info && r.removed.length > 0 && describeKeyStillValid(r.info, r.removed.length > 1);
    if (note) out.info(note);
  },
});
