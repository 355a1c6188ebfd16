#!/usr/bin/env node
// The authsome CLI entry: global flags, lazy sub-command loading (so `--help` and `get` stay fast), usage
// errors, and the single place where an AppError becomes `Error:`/`Hint:` and an exit code.
import { renderUsage, runCommand, type ArgsDef, type CommandDef } from 'citty';
import { AppError, errors } from '../errors.js';
import { loadPackageVersion } from '../paths.js';
import { parseGlobalFlags } from './global-flags.js';
import { Output, setOutput } from './output.js';

type Loader = () => Promise<{ default: CommandDef<any> }>;
interface CommandEntry {
  summary: string;
  group: string;
  load: Loader;
  /** The command parses its own arguments (run: the child's command line is not ours to check). */
  passthrough?: boolean;
}

const COMMANDS: Record<string, CommandEntry> = {
  login: { group: 'Credentials', summary: 'Log in to a provider and store the credential in the vault', load: () => import('./commands/login.js') },
  logout: { group: 'Credentials', summary: 'Remove one connection of a provider', load: () => import('./commands/logout.js') },
  revoke: { group: 'Credentials', summary: 'Remove every connection of a provider', load: () => import('./commands/revoke.js') },
  remove: { group: 'Credentials', summary: 'Remove all local state for a provider, custom definition included', load: () => import('./commands/remove.js') },
  get: { group: 'Credentials', summary: 'Show a connection (secrets redacted unless --show-secret)', load: () => import('./commands/get.js') },
  export: { group: 'Credentials', summary: 'Print credentials as env/shell/dotenv/json for eval or a .env file', load: () => import('./commands/export.js') },
  'set-default': { group: 'Credentials', summary: "Choose a provider's default connection", load: () => import('./commands/set-default.js') },
  run: { group: 'Credentials', summary: 'Run a command whose API requests get your credentials through the proxy', load: () => import('./commands/run.js'), passthrough: true },
  list: { group: 'Providers', summary: 'List providers and connections', load: () => import('./commands/list.js') },
  inspect: { group: 'Providers', summary: 'Print the effective provider definition as JSON', load: () => import('./commands/inspect.js') },
  register: { group: 'Providers', summary: 'Add or replace a custom provider definition from a JSON file', load: () => import('./commands/register.js') },
  serve: { group: 'Server', summary: 'Run the authsome server in the foreground', load: () => import('./commands/serve.js') },
  daemon: { group: 'Server', summary: 'Start, stop, restart the background server; status; logs', load: () => import('./commands/daemon.js') },
  ui: { group: 'Server', summary: 'Open the web dashboard, signed in (--no-browser prints its one-time URL)', load: () => import('./commands/ui.js') },
  unlock: { group: 'Vault', summary: 'Unlock a passphrase-protected vault', load: () => import('./commands/unlock.js') },
  lock: { group: 'Vault', summary: 'Lock the vault (drop its key from memory)', load: () => import('./commands/lock.js') },
  passphrase: { group: 'Vault', summary: 'Set or remove the vault passphrase', load: () => import('./commands/passphrase.js') },
  whoami: { group: 'Diagnostics', summary: 'Show version, home, vault mode, server and connection count', load: () => import('./commands/whoami.js') },
  doctor: { group: 'Diagnostics', summary: 'Check permissions, vault, server and provider files', load: () => import('./commands/doctor.js') },
  log: { group: 'Diagnostics', summary: 'Show the latest audit events', load: () => import('./commands/log.js') },
};

function renderRootHelp(version: string): string {
  const groups = new Map<string, string[]>();
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  for (const [name, entry] of Object.entries(COMMANDS)) {
    const lines = groups.get(entry.group) ?? [];
    lines.push(`  ${name.padEnd(width)}  ${entry.summary}`);
    groups.set(entry.group, lines);
  }
  const sections = [...groups].map(([group, lines]) => `${group}:\n${lines.join('\n')}`);
  return [
    `authsome ${version}: a local credential broker for AI agents`,
    '',
    'Usage: authsome <command> [options]',
    '',
    ...sections.flatMap((s) => [s, '']),
    'Global options:',
    '  --json         Machine output: one JSON object with "v": 1',
    '  --quiet, -q    No informational lines (data is still printed)',
    '  --no-color     No colours (also NO_COLOR)',
    '  -v, --version  Print the version',
    '  -h, --help     Show help for authsome or a command',
    '',
    "Run 'authsome <command> --help' for a command's options. Home: $AUTHSOME_HOME (default ~/.authsome).",
  ].join('\n');
}

/** Examples shown under a command's --help. */
const EXAMPLES: Record<string, string[]> = {
  login: ['authsome login openai', 'authsome login openai --connection team', 'pass show openai | authsome login openai --stdin', 'authsome login openai --force'],
  run: ['authsome run -- python my_agent.py', 'authsome run --only openai,anthropic -- node agent.mjs', 'authsome run --connection openai=team -- ./agent.sh'],
  export: ['eval "$(authsome export openai --format shell)"', 'authsome export openai --connection personal --format dotenv >> .env', 'authsome export --format json'],
  get: ['authsome get openai', 'authsome get openai --field status', 'authsome get openai --connection team --field api_key --show-secret'],
  inspect: ['authsome inspect openai > ~/.authsome/providers/openai.json'],
  register: ['authsome register ./acme.json', 'authsome register ./acme.json --force'],
  'passphrase set': ['authsome passphrase set', 'printf %s "$PASS" | authsome passphrase set --passphrase-stdin'],
};

/**
 * citty's usage text, tidied: no colour unless stdout is a terminal, no line for the positive form of a
 * default-on flag (its --no- form is the one that does something), `run`'s child command shown, examples added.
 */
function formatUsage(text: string, path: string, color: boolean): string {
  let out = text
    .split('\n')
    .filter((line) => !/--[a-z-]+(\u001b\[[0-9;]*m)?\s+(\u001b\[[0-9;]*m)?\(Default: true\)/.test(line))
    .map((line) => line.replace(/\s+$/, ''))
    .join('\n');
  out = out.replace(/\n+$/, '');
  if (path === 'run') out = out.replace(/authsome run \[OPTIONS\]\s*/, 'authsome run [OPTIONS] -- <command> [args…] ');
  const examples = EXAMPLES[path];
  if (examples) out += `\n\nEXAMPLES\n\n${examples.map((e) => `  $ ${e}`).join('\n')}`;
  return color ? out : out.replace(/\u001b\[[0-9;]*m/g, '');
}

/** Rejects unknown options and surplus positionals, which citty would silently ignore. */
async function checkArgs(cmd: CommandDef<any>, argv: string[], path: string): Promise<void> {
  const defs = (typeof cmd.args === 'function' ? await cmd.args() : await cmd.args) as ArgsDef | undefined;
  const valueFlags = new Set<string>();
  const known = new Set<string>();
  let positionals = 0;
  for (const [name, def] of Object.entries(defs ?? {})) {
    if (def.type === 'positional') {
      positionals++;
      continue;
    }
    const kebab = name.replace(/[A-Z]/g, (m) => `-${m.toLowerCase()}`);
    const aliases = ([] as string[]).concat((def as { alias?: string | string[] }).alias ?? []);
    const forms = [`--${name}`, `--${kebab}`, ...aliases.map((a) => (a.length === 1 ? `-${a}` : `--${a}`))];
    if (def.type === 'boolean') forms.push(`--no-${kebab}`);
    for (const f of forms) {
      known.add(f);
      if (def.type === 'string' || def.type === 'enum') valueFlags.add(f);
    }
  }
  let seenPositionals = 0;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') break;
    if (arg.startsWith('-') && arg !== '-') {
      const flag = arg.includes('=') ? arg.slice(0, arg.indexOf('=')) : arg;
      if (!known.has(flag)) throw errors.usage(`Unknown option '${flag}'.`, `Run 'authsome ${path} --help' to see the options.`);
      if (valueFlags.has(flag) && !arg.includes('=')) {
        if (i + 1 >= argv.length) throw errors.usage(`Option '${flag}' needs a value.`, `Run 'authsome ${path} --help'.`);
        i++;
      }
      continue;
    }
    seenPositionals++;
    if (seenPositionals > positionals && !cmd.subCommands) {
      throw errors.usage(`Unexpected argument '${arg}'.`, `Run 'authsome ${path} --help' to see the usage.`);
    }
  }
}

async function resolveSubcommand(cmd: CommandDef<any>, argv: string[]): Promise<{ cmd: CommandDef<any>; argv: string[]; name?: string }> {
  const subs = typeof cmd.subCommands === 'function' ? await cmd.subCommands() : await cmd.subCommands;
  if (!subs) return { cmd, argv };
  const index = argv.findIndex((a) => !a.startsWith('-'));
  const name = index === -1 ? undefined : argv[index];
  if (!name) return { cmd, argv };
  const sub = subs[name];
  if (!sub) throw errors.usage(`Unknown command '${name}'.`, `Choose one of: ${Object.keys(subs).join(', ')}.`);
  const resolved = (typeof sub === 'function' ? await sub() : await sub) as CommandDef<any>;
  return { cmd: resolved, argv: argv.slice(index + 1), name };
}

export async function main(argv: string[]): Promise<number> {
  const flags = parseGlobalFlags(argv);
  const noColor = flags.noColor || (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '');
  const out = new Output({ json: flags.json, quiet: flags.quiet, color: !noColor });
  setOutput(out);
  const version = loadPackageVersion();
  try {
    const [name, ...rest] = flags.rest;
    if (flags.version && (!name || !flags.help)) {
      out.result({ version }, () => version);
      return 0;
    }
    if (!name || name === 'help') {
      if (!name && !flags.help) {
        process.stderr.write(`${renderRootHelp(version)}\n`);
        return 2;
      }
      const target = rest[0] && COMMANDS[rest[0]] ? rest[0] : undefined;
      if (!target) {
        process.stdout.write(`${renderRootHelp(version)}\n`);
        return 0;
      }
      flags.help = true;
      return main([target, '--help']);
    }
    const entry = COMMANDS[name];
    if (!entry) {
      const close = Object.keys(COMMANDS).find((c) => c.startsWith(name.slice(0, 3)));
      throw errors.usage(`Unknown command '${name}'.`, close ? `Did you mean '${close}'? Run 'authsome --help' for all commands.` : "Run 'authsome --help' for all commands.");
    }
    const cmd = (await entry.load()).default;
    const sub = await resolveSubcommand(cmd, rest);
    if (flags.help) {
      const usage = await renderUsage(sub.cmd, sub.name ? cmd : ({ meta: { name: 'authsome' } } as CommandDef<any>));
      process.stdout.write(`${formatUsage(usage, sub.name ? `${name} ${sub.name}` : name, !noColor && process.stdout.isTTY === true)}\n`);
      return 0;
    }
    if (!entry.passthrough) await checkArgs(sub.cmd, sub.argv, sub.name ? `${name} ${sub.name}` : name);
    if (cmd.subCommands && !sub.name) {
      const names = Object.keys((typeof cmd.subCommands === 'function' ? await cmd.subCommands() : await cmd.subCommands) ?? {});
      throw errors.usage(`'authsome ${name}' needs a sub-command: ${names.join(', ')}.`, `Run 'authsome ${name} --help'.`);
    }
    await runCommand(sub.cmd, { rawArgs: sub.argv });
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (err) {
    if (err instanceof AppError) return out.fail(err);
    if (err instanceof Error && err.name === 'CLIError') {
      return out.fail(errors.usage(err.message.replace(/\u001b\[[0-9;]*m/g, ''), `Run 'authsome ${flags.rest[0] ?? ''} --help' to see the usage.`));
    }
    const detail = err instanceof Error ? err.message : String(err);
    if (process.env.AUTHSOME_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    return out.fail(new AppError('INTERNAL', `Unexpected failure: ${detail}`, 'Set AUTHSOME_DEBUG=1 for details, and see \'authsome daemon logs\'.'));
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`Error: ${(err as Error).message}\n`);
    process.exitCode = 1;
  },
);
