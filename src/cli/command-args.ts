// The CLI owns its argument parsing and help text: commands declare their arguments with citty's `defineCommand`
// shape, and this file turns argv into the `args` object (refusing unknown options and surplus words, with a
// "did you mean") and renders `--help` in the same style as the top-level help. citty never parses for us.
import type { ArgDef, ArgsDef } from 'citty';
import { errors } from '../errors.js';
import { suggestClosest } from '../suggest.js';

export type ParsedArgs = Record<string, unknown> & { _: string[] };

interface OptionForm {
  name: string;
  def: ArgDef;
  negated: boolean;
}

/** Every spelling of every option: --name, --kebab-name, aliases, and --no-name for booleans. */
function collectOptionForms(defs: ArgsDef): Map<string, OptionForm> {
  const forms = new Map<string, OptionForm>();
  for (const [name, def] of Object.entries(defs)) {
    if (def.type === 'positional') continue;
    const kebab = toKebab(name);
    const aliases = ([] as string[]).concat((def as { alias?: string | string[] }).alias ?? []);
    for (const form of [`--${name}`, `--${kebab}`, ...aliases.map((a) => (a.length === 1 ? `-${a}` : `--${a}`))])
      forms.set(form, { name, def, negated: false });
    if (def.type === 'boolean') forms.set(`--no-${kebab}`, { name, def, negated: true });
  }
  return forms;
}

/**
 * Parses a command's argv (global flags already removed). Values land under the declared name and its camelCase
 * form; positionals under their names and in `_`. Throws a usage AppError naming the problem and the fix.
 */
export function parseCommandArgs(defs: ArgsDef, argv: readonly string[], path: string): ParsedArgs {
  const forms = collectOptionForms(defs);
  const positionals = Object.entries(defs).filter(([, def]) => def.type === 'positional');
  const out: ParsedArgs = { _: [] };
  const set = (name: string, value: unknown) => {
    out[name] = value;
    out[toCamel(name)] = value;
  };
  for (const [name, def] of Object.entries(defs))
    if (def.type !== 'positional' && def.default !== undefined) set(name, def.default);
  const helpHint = `Run 'authsome ${path} --help' to see the usage.`;
  let onlyPositionals = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!onlyPositionals && arg === '--') {
      onlyPositionals = true;
      continue;
    }
    if (!onlyPositionals && arg.startsWith('-') && arg !== '-') {
      const eq = arg.indexOf('=');
      const flag = eq === -1 ? arg : arg.slice(0, eq);
      const form = forms.get(flag);
      if (form === undefined) {
        const close = suggestClosest(
          flag,
          [...forms.keys()].filter((f) => f.startsWith('--')),
        );
        throw errors.usage(`Unknown option '${flag}'.`, close ? `Did you mean '${close}'? ${helpHint}` : helpHint);
      }
      if (form.def.type === 'boolean') {
        if (eq !== -1) throw errors.usage(`Option '${flag}' takes no value.`, helpHint);
        set(form.name, !form.negated);
        continue;
      }
      let value: string | undefined;
      if (eq !== -1) value = arg.slice(eq + 1);
      else value = argv[++i];
      if (value === undefined) throw errors.usage(`Option '${flag}' needs a value.`, helpHint);
      const choices = (form.def as { options?: string[] }).options;
      if (form.def.type === 'enum' && choices && !choices.includes(value)) {
        throw errors.usage(`Option '${flag}' must be one of: ${choices.join(', ')}.`, helpHint);
      }
      set(form.name, value);
      continue;
    }
    const slot = positionals[out._.length];
    if (slot === undefined) throw errors.usage(`Unexpected argument '${arg}'.`, helpHint);
    out._.push(arg);
    set(slot[0], arg);
  }
  const missing = positionals.find(([name, def]) => def.required !== false && out[name] === undefined);
  if (missing) throw errors.usage(`Missing argument <${missing[0]}>.`, helpHint);
  return out;
}

export interface CommandHelp {
  /** `login`, `daemon start`. */
  path: string;
  description: string;
  defs: ArgsDef;
  /** What follows the options in the usage line (run: its child command). */
  usageTail?: string;
  subCommands?: { name: string; description: string }[];
  examples?: string[];
}

export const GLOBAL_OPTIONS_HELP = [
  'Global options:',
  '  --json         Machine output: one JSON object with "v": 1',
  '  --quiet, -q    No informational lines (data is still printed)',
  '  --no-color     No colours (also NO_COLOR)',
  '  -v, --version  Print the version',
  '  -h, --help     Show help for authsome or a command',
];

/** A command's help, laid out like the top-level help: usage, arguments, options, global options, examples. */
export function renderCommandHelp(help: CommandHelp): string {
  const positionals = Object.entries(help.defs).filter(([, def]) => def.type === 'positional');
  const options = Object.entries(help.defs).filter(([, def]) => def.type !== 'positional');
  const usageWords = [`authsome ${help.path}`];
  if (help.subCommands?.length) usageWords.push('<command>');
  for (const [name, def] of positionals) usageWords.push(def.required === false ? `[${name}]` : `<${name}>`);
  if (options.length > 0) usageWords.push('[options]');
  if (help.usageTail) usageWords.push(help.usageTail);
  const lines = [`authsome ${help.path}: ${help.description}`, '', `Usage: ${usageWords.join(' ')}`, ''];
  if (help.subCommands?.length)
    lines.push('Commands:', ...alignRows(help.subCommands.map((s) => [s.name, s.description])), '');
  if (positionals.length > 0)
    lines.push('Arguments:', ...alignRows(positionals.map(([name, def]) => [`<${name}>`, def.description ?? ''])), '');
  if (options.length > 0)
    lines.push('Options:', ...alignRows(options.map(([name, def]) => describeOption(name, def))), '');
  lines.push(...GLOBAL_OPTIONS_HELP);
  if (help.examples?.length) lines.push('', 'Examples:', ...help.examples.map((e) => `  $ ${e}`));
  return lines.join('\n');
}

function describeOption(name: string, def: ArgDef): [string, string] {
  const kebab = toKebab(name);
  const alias = ([] as string[]).concat((def as { alias?: string | string[] }).alias ?? []).find((a) => a.length === 1);
  const prefix = alias ? `-${alias}, ` : '    ';
  if (def.type === 'boolean') {
    // A default-on flag is documented by the form that changes something: --no-<name>.
    if (def.default === true)
      return [
        `    --no-${kebab}`,
        (def as { negativeDescription?: string }).negativeDescription ?? `Turn off ${kebab}`,
      ];
    return [`${prefix}--${kebab}`, def.description ?? ''];
  }
  const hint = (def as { valueHint?: string }).valueHint ?? 'value';
  const fallback = def.default !== undefined ? ` (default: ${String(def.default)})` : '';
  return [`${prefix}--${kebab} <${hint}>`, `${def.description ?? ''}${fallback}`];
}

function alignRows(rows: [string, string][]): string[] {
  const width = Math.max(...rows.map(([left]) => left.length));
  return rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`.trimEnd());
}

function toKebab(name: string): string {
  return name.replace(/[A-Z]/g, (m) => `-${m.toLowerCase()}`);
}

function toCamel(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}
