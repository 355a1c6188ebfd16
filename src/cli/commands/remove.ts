// `authsome remove <provider>`: revoke, plus delete the custom definition file if there is one (asking first).
import { defineCommand } from 'citty';
import { getOutput } from '../output.js';
import { confirmDestructive, connect, providerArg, reportRemoval, yesArg, type RemovalReply } from './_shared.js';

export default defineCommand({
  meta: {
    name: 'remove',
    description: 'Remove all local state for a provider: its connections and its custom definition.',
  },
  args: { ...providerArg, ...yesArg },
  async run({ args }) {
    await confirmDestructive(
      `Delete every connection of ${args.provider} and its custom definition, if any?`,
      args.yes,
    );
    const api = await connect();
    const r = await api.call<RemovalReply & { provider: string; removed: string[]; definitionDeleted: boolean }>(
      'POST',
      '/remove',
      { provider: args.provider },
    );
    reportRemoval(r, r.removed.length, `Removed provider ${r.provider}.`, {
      provider: r.provider,
      removed: r.removed,
      definition_deleted: r.definitionDeleted,
    });
    if (r.info?.bundled)
      getOutput().info(
        `The bundled definition of ${r.provider} stays: 'authsome login ${r.provider}' connects it again.`,
      );
  },
});
