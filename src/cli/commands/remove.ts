// `authsome remove <provider>`: revoke, plus delete the custom definition file if there is one (asking first).
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
    const r = await api.call<{
      provider: string;
      removed: string[];
      definitionDeleted: boolean;
      info: RemovalInfo | null;
      warnings?: string[];
    }>('POST', '/remove', {
      provider: args.provider,
    });
    const out = getOutput();
    for (const warning of r.warnings ?? []) out.warn(warning);
    out.confirm(`Removed provider ${r.provider}.`, {
      provider: r.provider,
      removed: r.removed,
      definition_deleted: r.definitionDeleted,
    });
    const keyNote = r.info && r.removed.length > 0 && describeKeyStillValid(r.info, r.removed.length > 1);
    if (keyNote) out.info(keyNote);
    if (r.info?.bundled)
      out.info(`The bundled definition of ${r.provider} stays: 'authsome login ${r.provider}' connects it again.`);
  },
});
