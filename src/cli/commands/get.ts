// `authsome get <provider>`: the connection record as `key: value` lines, secrets redacted unless
// --show-secret; --field prints one value bare. Stored text is escaped for the terminal, except a revealed
// field, whose bytes must come out exactly as stored.
import { defineCommand } from 'citty';
import { REDACTED } from '../../connections/records.js';
import { errors } from '../../errors.js';
import { getOutput } from '../output.js';
import { escapeTerminalText } from '../terminal-text.js';
import { connect, connectionArg, providerArg } from './_shared.js';

export default defineCommand({
  meta: { name: 'get', description: 'Show a connection. Secrets are shown as ***REDACTED*** unless --show-secret.' },
  args: {
    ...providerArg,
    ...connectionArg,
    field: {
      type: 'string',
      alias: 'f',
      description: 'Print only this field, bare (e.g. status, api_key)',
      valueHint: 'name',
    },
    'show-secret': { type: 'boolean', description: 'Print secret values (api_key, tokens) in clear' },
  },
  async run({ args }) {
    const out = getOutput();
    const reveal = args['show-secret'] === true;
    const api = await connect();
    const { record } = await api.call<{ record: Record<string, unknown> }>('POST', '/get', {
      provider: args.provider,
      connection: args.connection,
      reveal,
    });
    if (reveal) out.warn('Printing a secret in clear: it may stay in your terminal scrollback or logs.');
    if (args.field !== undefined) {
      if (!(args.field in record) || record[args.field] === undefined) throw errors.fieldNotFound(args.field);
      // '***REDACTED***' printed bare would pass for the value in a script: say how to get it instead.
      if (!reveal && record[args.field] === REDACTED) throw errors.secretFieldHidden(String(args.provider), args.field);
      const value = record[args.field];
      out.result({ field: args.field, value }, () =>
        reveal ? formatValue(value) : escapeTerminalText(formatValue(value)),
      );
      return;
    }
    out.result({ record }, () =>
      Object.entries(record)
        .filter(([, v]) => v !== undefined && v !== null)
        .map(([k, v]) => `${escapeTerminalText(k)}: ${escapeTerminalText(formatValue(v))}`)
        .join('\n'),
    );
  },
});

function formatValue(value: unknown): string {
  if (Array.isArray(value)) return value.join(' ');
  if (value !== null && typeof value === 'object') return JSON.stringify(value);
  return String(value);
}
