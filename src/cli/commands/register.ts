// `authsome register <file>`: validates a provider definition and installs it as a custom provider.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { defineCommand } from 'citty';
import { errors } from '../../errors.js';
import { getOutput } from '../output.js';
import { connect } from './_shared.js';

export default defineCommand({
  meta: {
    name: 'register',
    description: 'Add a provider from a JSON definition file (copied to $AUTHSOME_HOME/providers/).',
  },
  args: {
    file: { type: 'positional', description: 'Path to the provider JSON file', required: true },
    force: { type: 'boolean', description: 'Replace an existing provider of the same name' },
  },
  async run({ args }) {
    let text: string;
    try {
      text = await readFile(resolve(args.file), 'utf8');
    } catch (err) {
      throw errors.invalidInput(
        `Cannot read ${args.file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}.`,
        'Check the path.',
      );
    }
    const api = await connect();
    const r = await api.call<{ name: string; path: string; replaced: boolean }>('POST', '/providers/register', {
      source_path: args.file,
      text,
      force: args.force === true,
    });
    getOutput().confirm(
      `${r.replaced ? 'Replaced' : 'Registered'} provider ${r.name} (${r.path}).`,
      r as unknown as Record<string, unknown>,
    );
  },
});
