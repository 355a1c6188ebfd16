// `authsome lock`: drops the vault key from the server's memory.
import { defineCommand } from 'citty';
import { getOutput } from '../output.js';
import { connect } from './_shared.js';

export default defineCommand({
  meta: { name: 'lock', description: "Lock the vault: the server forgets its key until 'authsome unlock'." },
  async run() {
    const api = await connect();
    await api.call('POST', '/vault/lock', {});
    getOutput().confirm('Vault locked.', { state: 'locked' });
  },
});
