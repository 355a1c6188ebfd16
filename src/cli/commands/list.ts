// `authsome list`: providers and connections as a table, with a header line of totals.
import { formatExpiry } from '../../expiry.js';
import { defineCommand } from 'citty';
import { buildTable, getOutput, stripAnsi } from '../output.js';
import { escapeTerminalText as escapeCell } from '../terminal-text.js';
import { connect } from './_shared.js';
import type { ApiProviderRow } from '../../client/api-types.js';

export default defineCommand({
  meta: { name: 'list', description: 'List providers and their connections.' },
  args: {
    connected: { type: 'boolean', description: 'Only providers with a connection' },
  },
  async run({ args }) {
    const out = getOutput();
    const api = await connect();
    const { providers, warnings } = await api.call<{
      providers: ApiProviderRow[];
      warnings: { path: string; reason: string }[];
    }>('GET', '/providers');
    for (const w of warnings) out.warn(`ignoring ${w.path}: ${w.reason}`);
    const connectedCount = providers.filter((p) => p.connections.some((c) => c.status === 'connected')).length;
    const shown = args.connected ? providers.filter((p) => p.connections.length > 0) : providers;
    const header = `Providers: ${providers.length} total, ${connectedCount} connected`;
    out.result({ total: providers.length, connected: connectedCount, providers: shown, warnings }, () => {
      const statusColor = (s: string) =>
        s === 'connected'
          ? out.paint('green', s)
          : s === 'not_connected'
            ? out.paint('dim', s)
            : out.paint('yellow', escapeCell(s));
      // The Default column says which connection a command without --connection uses.
      // Scopes only once some connection has any (OAuth): an API-key-only list keeps its usual columns.
      const withScopes = shown.some((p) => p.connections.some((c) => c.scopes && c.scopes.length > 0));
      const headers = [
        'Provider',
        'Source',
        'Auth',
        'Connection',
        'Default',
        'Status',
        'Expires',
        ...(withScopes ? ['Scopes'] : []),
      ];
      const rows = [headers.map((h) => out.paint('bold', h))];
      for (const p of shown) {
        // Names and types come from provider files and the vault: escaped before paint() adds our own colours.
        const provider = [escapeCell(p.name), escapeCell(p.source), escapeCell(p.auth_type)];
        if (p.connections.length === 0)
          rows.push([...provider, '-', '-', statusColor('not_connected'), '-', ...(withScopes ? ['-'] : [])]);
        for (const c of p.connections) {
          const expires = c.expires_at ? formatExpiry(c.expires_at) : '-';
          const scopes = c.scopes && c.scopes.length > 0 ? c.scopes.join(' ') : '-';
          rows.push([
            ...provider,
            escapeCell(c.connection),
            c.is_default ? 'yes' : 'no',
            statusColor(c.status),
            escapeCell(expires),
            ...(withScopes ? [escapeCell(scopes)] : []),
          ]);
        }
      }
      return `${header}\n${buildTable(rows, (s) => stripAnsi(s).length)}`;
    });
  },
});
