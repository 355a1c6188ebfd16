// `authsome passphrase set|remove`: switch the vault between passphrase mode and key-file mode.
import { defineCommand } from 'citty';
import { errors } from '../../errors.js';
import { getOutput } from '../output.js';
import { passphraseStdinArg, readPassphrase } from '../passphrase-input.js';
import { isInteractive } from '../prompt.js';
import { connect } from './_shared.js';

export default defineCommand({
  meta: { name: 'passphrase', description: 'Protect the vault with a passphrase, or go back to the key file.' },
  subCommands: {
    set: defineCommand({
      meta: { name: 'set', description: 'Set (or change) the passphrase; deletes master.key' },
      args: { ...passphraseStdinArg },
      async run({ args }) {
        const fromStdin = args['passphrase-stdin'] === true;
        const api = await connect();
        const passphrase = await readPassphrase({ fromStdin, label: 'New passphrase: ', allowEnv: false });
        if (!fromStdin && isInteractive()) {
          const again = await readPassphrase({ fromStdin: false, label: 'Repeat the passphrase: ', allowEnv: false });
          if (again !== passphrase) {
            throw errors.invalidInput(
              'The two passphrases do not match.',
              "Nothing was changed. Run 'authsome passphrase set' again.",
            );
          }
        }
        await api.call('POST', '/vault/passphrase', { action: 'set', passphrase });
        getOutput().confirm(
          "Passphrase set. The server will need it after a restart: AUTHSOME_PASSPHRASE, 'authsome unlock' " +
            'or the /unlock page.',
          { mode: 'passphrase' },
        );
      },
    }),
    remove: defineCommand({
      meta: { name: 'remove', description: 'Remove the passphrase; the vault is unlocked by a key file again' },
      args: { ...passphraseStdinArg },
      async run({ args }) {
        const api = await connect();
        const passphrase = await readPassphrase({
          fromStdin: args['passphrase-stdin'] === true,
          label: 'Current passphrase: ',
          allowEnv: false,
        });
        await api.call('POST', '/vault/passphrase', { action: 'remove', passphrase });
        getOutput().confirm('Passphrase removed. The vault is unlocked by its key file again.', { mode: 'keyfile' });
      },
    }),
  },
});
