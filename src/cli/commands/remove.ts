// `authsome remove <provider>`: revoke, plus delete the custom definition file if there is one.
import { defineCommand } from 'citty';
import { getOutput } from '../output.js';
import { connect, providerArg } from './_shared.js';

export default defineCommand({
  meta: { name: 'remove', description: 'Remove all local state for a provider: its connections and its custom definition.' },
  args: { ...providerArg },
  async run({ args }) {
    const api = await connect();
    const r = await api.call<{ provider: string; removed: string[]; definitionDeleted: boolean }>('POST', '/remove', {
      provider: args.provider,
    });
    getOutput().confirm(`Removed provider ${r.provider}.`, {
      provider: r.provider,
      removed: r.removed,
      definition_deleted: r.definitionDeleted,
    });
  },
});
