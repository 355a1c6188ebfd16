// `authsome log [-n N]`: the latest audit events, one line each, newest last. `log --verify`: the server checks
// the log's hash chain against the checkpoint in the vault (the CLI cannot read the vault itself).
import { defineCommand } from 'citty';
import type { AuditEntry as Entry } from '../../audit.js';
import type { AuditChainReport } from '../../audit-checkpoint.js';
import { errors } from '../../errors.js';
import { buildTable, getOutput } from '../output.js';
import { escapeTerminalText } from '../terminal-text.js';
import { connect } from './_shared.js';

export default defineCommand({
  meta: { name: 'log', description: 'Show the latest audit events (newest last).' },
  args: {
    lines: { type: 'string', alias: 'n', description: 'How many events (default 20)', valueHint: 'N' },
    verify: {
      type: 'boolean',
      description: 'Check that no entry was edited, removed, moved or cut off (exit 1 if one was)',
    },
  },
  async run({ args }) {
    if (args.verify) return verifyLog();
    const n = args.lines === undefined ? 20 : Number(args.lines);
    if (!Number.isInteger(n) || n < 1)
      throw errors.usage(`Invalid count '${args.lines}'.`, 'Use a whole number, e.g. -n 50.');
    const api = await connect();
    const { entries } = await api.call<{ entries: Entry[] }>('GET', `/audit?limit=${n}`);
    const out = getOutput();
    out.result({ entries }, () => {
      if (entries.length === 0) return 'No audit events yet.';
      const rows = [['Time', 'Event', 'Connection', 'Details']];
      for (const e of entries) {
        const who = e.provider ? `${e.provider}${e.connection ? ` (${e.connection})` : ''}` : '-';
        const request = e.method
          ? `${e.method} ` +
            `${e.host ?? ''}${e.path ?? ''}${e.status !== undefined ? ` → ${e.status}` : ''}` +
            `${e.ms !== undefined ? ` ${e.ms} ms` : ''}`
          : '';
        const details = [request, e.reason ?? ''].filter(Boolean).join('  ');
        // The audit file is only as trustworthy as what wrote to it (hosts and paths come from agents' requests).
        rows.push(
          [e.ts.replace('T', ' ').replace(/\.\d+Z$/, 'Z'), e.event, who, details || '-'].map((cell) =>
            escapeTerminalText(String(cell)),
          ),
        );
      }
      return buildTable(rows);
    });
  },
});

async function verifyLog(): Promise<void> {
  const api = await connect();
  const report = await api.call<AuditChainReport>('GET', '/audit/verify');
  const found = report.verification;
  if (!found.intact) throw errors.auditBroken(found.file, found.line, found.reason);
  const out = getOutput();
  out.result(
    { ...found, checkpoint: report.checkpoint },
    () => `Audit log verified: ${countEntries(found.entries)}, chain intact.`,
  );
  if (found.unchained > 0)
    out.info(`${countEntries(found.unchained)} from before the chain began: unchained (older version).`);
  if (found.torn > 0)
    out.info(`${countEntries(found.torn)} cut short by an interrupted write; the chain still covers them.`);
  if (report.checkpoint === 'unavailable') {
    out.warn(
      'The vault could not be read (locked or damaged), so the log was not compared with its checkpoint; ' +
        "run 'authsome unlock' and verify again.",
    );
  }
}

function countEntries(n: number): string {
  return `${n} ${n === 1 ? 'entry' : 'entries'}`;
}
