// `authsome whoami`: version, home, vault mode, server URL and the number of connections.
import { defineCommand } from 'citty';
import { getOutput } from '../output.js';
import { escapeTerminalText } from '../terminal-text.js';
import { connect } from './_shared.js';

interface Status {
  version: string;
  home: string;
  url: string;
  pid: number;
  proxy_port: number | null;
  vault: { path: string; mode: string; state: string };
  connections: number | null;
}

/** Why the count is unknown: a damaged vault is not a locked one, and unlocking it would not help. */
function describeUnknownCount(state: string): string {
  return state === 'damaged' ? "unknown (vault damaged; 'authsome doctor' says why)" : `unknown (vault ${state})`;
}

export default defineCommand({
  meta: { name: 'whoami', description: 'Show version, home, vault mode, server URL and connection count.' },
  async run() {
    const api = await connect();
    const s = await api.call<Status>('GET', '/status');
    getOutput().result(s as unknown as Record<string, unknown>, () =>
      [
        `Version:     ${s.version}`,
        `Home:        ${s.home}`,
        `Vault:       ${s.vault.path} (${s.vault.mode}, ${s.vault.state})`,
        `Server:      ${s.url} (pid ${s.pid})`,
        `Proxy:       ${s.proxy_port ? `127.0.0.1:${s.proxy_port}` : 'not started'}`,
        `Connections: ${s.connections ?? describeUnknownCount(s.vault.state)}`,
      ]
        .map(escapeTerminalText)
        .join('\n'),
    );
  },
});
