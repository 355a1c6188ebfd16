// `authsome export [provider]`: credentials as env/shell/dotenv/json on stdout, for eval or a .env file.
import { defineCommand } from 'citty';
import { errors } from '../../errors.js';
import { EXPORT_FORMATS, formatVariables, type ExportFormat } from '../env-format.js';
import { getOutput } from '../output.js';
import { connect, connectionArg } from './_shared.js';

interface ExportedVariable {
  name: string;
  value: string;
  provider: string;
  connection: string;
}

export default defineCommand({
  meta: {
    name: 'export',
    description:
      'Print credentials as environment variables. For your shell and the programs it starts: eval ' +
      '"$(authsome export openai --format shell)". For a .env file: the default env format. Without a ' +
      'provider: every connection.',
  },
  args: {
    provider: {
      type: 'positional',
      description: 'Provider name (omit for every connection of every provider)',
      required: false,
    },
    ...connectionArg,
    format: {
      type: 'string',
      description:
        'shell (export NAME=value: use this with eval), env (NAME=value, .env files), dotenv (NAME="value") or json',
      default: 'env',
      valueHint: 'format',
    },
  },
  async run({ args }) {
    const out = getOutput();
    const format = args.format as ExportFormat;
    if (!EXPORT_FORMATS.includes(format)) {
      throw errors.usage(`Unknown format '${args.format}'.`, `Use one of: ${EXPORT_FORMATS.join(', ')}.`);
    }
    if (args.connection && !args.provider)
      throw errors.usage('--connection needs a provider.', 'Run: authsome export <provider> --connection <name>');
    const api = await connect();
    const { variables } = await api.call<{ variables: ExportedVariable[] }>('POST', '/export', {
      provider: args.provider,
      connection: args.connection,
    });
    if (variables.length === 0)
      out.info('Nothing to export: no connections yet. Run `authsome login <provider>` first.');
    out.result({ variables: Object.fromEntries(variables.map((v) => [v.name, v.value])) }, () =>
      formatVariables(format, variables),
    );
  },
});
