// `authsome logout <provider>`: removes one connection (asking first on a terminal).
import { defineCommand } from 'citty';
import { getOutput } from '../output.js';
import {
  confirmDestructive,
  connect,
  connectionArg,
  describeKeyStillValid,
  providerArg,
  yesArg,
  type RemovalInfo,
} from './_shared.js';

export default defineCommand({
  meta: { name: 'logout', description: 'Remove one connection of a provider from the vault.' },
  args: { ...providerArg, ...connectionArg, ...yesArg },
  async run({ args }) {
    const which = args.connection ? `the '${args.connection}' connection` : 'the default connection';
    await confirmDestructive(`Delete ${which} of ${args.provider} from this machine?`, args.yes);
    const api = await connect();
    const r = await api.call<{ provider: string; connection: string; info: RemovalInfo | null; warnings?: string[] }>(
      'POST',
      '/logout',
      {
        provider: args.provider,
        connection: args.connection,
      },
    );
    const out = getOutput();
    for (const warning of r.warnings ?? []) out.warn(warning);
    out.confirm(`Logged out of ${r.provider} (${r.connection}).`, { provider: r.provider, connection: r.connection });
    const note = r.info && describeKeyStillValid(r.info, false);
    if (note) out.info(note);
  },
});
