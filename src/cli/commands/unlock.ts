// `authsome unlock`: unlocks a passphrase vault in the running server.
import { defineCommand } from 'citty';
import { getOutput } from '../output.js';
import { passphraseStdinArg, readPassphrase } from '../passphrase-input.js';
import { connect } from './_shared.js';

export default defineCommand({
  meta: {
    name: 'unlock',
    description: 'Unlock the vault with its passphrase (masked prompt, --passphrase-stdin or AUTHSOME_PASSPHRASE).',
  },
  args: { ...passphraseStdinArg },
  async run({ args }) {
    const out = getOutput();
    const api = await connect();
    const status = await api.call<{ vault: { mode: string; state: string } }>('GET', '/status');
    if (status.vault.mode === 'keyfile')
      return out.confirm('The vault uses a key file and is always unlocked.', { state: status.vault.state });
    if (status.vault.state === 'unlocked') return out.confirm('The vault is already unlocked.', { state: 'unlocked' });
    const passphrase = await readPassphrase({
      fromStdin: args['passphrase-stdin'] === true,
      label: 'Passphrase: ',
      allowEnv: true,
    });
    await api.call('POST', '/vault/unlock', { passphrase });
    out.confirm('Vault unlocked.', { state: 'unlocked' });
  },
});
