#!/usr/bin/env node
// The authsome CLI entry: global flags, lazy sub-command loading (so `--help` and `get` stay fast), usage
// errors, and the single place where an AppError becomes `Error:`/`Hint:` and an exit code. Commands are declared
// with citty's defineCommand; parsing and help are ours (command-args.ts), so there is one set of rules.
import type { ArgsDef, CommandDef } from 'citty';
import { AppError, errors } from '../errors.js';
import { loadPackageVersion } from '../paths.js';
import { suggestClosest } from '../suggest.js';
import { GLOBAL_OPTIONS_HELP, parseCommandArgs, renderCommandHelp } from './command-args.js';
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
  login: {
    group: 'Credentials',
    summary: 'Log in to a provider and store the credential in the vault',
    load: () => import('./commands/login.js'),
  },
  logout: {
    group: 'Credentials',
    summary: 'Remove one connection of a provider',
    load: () => import('./commands/logout.js'),
  },
  revoke: {
    group: 'Credentials',
    summary: 'Remove every connection of a provider',
    load: () => import('./commands/revoke.js'),
  },
  remove: {
    group: 'Credentials',
    summary: 'Remove all local state for a provider, custom definition included',
    load: () => import('./commands/remove.js'),
  },
  get: {
    group: 'Credentials',
    summary: 'Show a connection (secrets redacted unless --show-secret)',
    load: () => import('./commands/get.js'),
  },
  export: {
    group: 'Credentials',
    summary: 'Print credentials as env/shell/dotenv/json for eval or a .env file',
    load: () => import('./commands/export.js'),
  },
  'set-default': {
    group: 'Credentials',
    summary: "Choose a provider's default connection",
    load: () => import('./commands/set-default.js'),
  },
  run: {
    group: 'Credentials',
    summary: 'Run a command whose API requests get your credentials through the proxy',
    load: () => import('./commands/run.js'),
    passthrough: true,
  },
  list: { group: 'Providers', summary: 'List providers and connections', load: () => import('./commands/list.js') },
  inspect: {
    group: 'Providers',
    summary: 'Print the effective provider definition as JSON',
    load: () => import('./commands/inspect.js'),
  },
  register: {
    group: 'Providers',
    summary: 'Add or replace a custom provider definition from a JSON file',
    load: () => import('./commands/register.js'),
  },
  serve: {
    group: 'Server',
    summary: 'Run the authsome server in the foreground',
    load: () => import('./commands/serve.js'),
  },
  daemon: {
    group: 'Server',
    summary: 'Start, stop, restart the background server; status; logs',
    load: () => import('./commands/daemon.js'),
  },
  ui: {
    group: 'Server',
    summary: 'Open the web dashboard, signed in (--no-browser prints its one-time URL)',
    load: () => import('./commands/ui.js'),
  },
  unlock: {
    group: 'Vault',
    summary: 'Unlock a passphrase-protected vault',
    load: () => import('./commands/unlock.js'),
  },
  lock: {
    group: 'Vault',
    summary: 'Lock the vault (drop its key from memory)',
    load: () => import('./commands/lock.js'),
  },
  passphrase: {
    group: 'Vault',
    summary: 'Set or remove the vault passphrase',
    load: () => import('./commands/passphrase.js'),
  },
  whoami: {
    group: 'Diagnostics',
    summary: 'Show version, home, vault mode, server and connection count',
    load: () => import('./commands/whoami.js'),
  },
  doctor: {
    group: 'Diagnostics',
    summary: 'Check permissions, vault, server and provider files',
    load: () => import('./commands/doctor.js'),
  },
  log: { group: 'Diagnostics', summary: 'Show the latest audit events', load: () => import('./commands/log.js') },
  mcp: {
    group: 'Server',
    summary: 'Serve the Model Context Protocol on stdio for agents (no key ever leaves)',
    load: () => import('./commands/mcp.js'),
  },
  completion: {
    group: 'Diagnostics',
    summary: 'Print a shell completion script (bash, zsh, fish)',
    load: () => import('./commands/completion.js'),
  },
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
    ...GLOBAL_OPTIONS_HELP,
    '',
    "Run 'authsome <command> --help' for a command's options. Home: $AUTHSOME_HOME (default ~/.authsome).",
  ].join('\n');
}

/** Examples shown under a command's --help. */
const EXAMPLES: Record<string, string[]> = {
  login: [
    'authsome login openai',
    'authsome login openai --connection team',
    'pass show openai | authsome login openai --stdin',
    'authsome login openai --force',
  ],
  run: [
    'authsome run -- python my_agent.py',
    'authsome run --only openai,anthropic -- node agent.mjs',
    'authsome run --connection openai=team -- ./agent.sh',
  ],
  export: [
    'eval "$(authsome export openai --format shell)"',
    'authsome export openai --connection personal --format dotenv >> .env',
    'authsome export --format json',
  ],
  get: [
    'authsome get openai',
    'authsome get openai --field status',
    'authsome get openai --connection team --field api_key --show-secret',
  ],
  inspect: ['authsome inspect openai > ~/.authsome/providers/openai.json'],
  register: ['authsome register ./acme.json', 'authsome register ./acme.json --force'],
  'passphrase set': ['authsome passphrase set', 'printf %s "$PASS" | authsome passphrase set --passphrase-stdin'],
};

async function resolveSubcommand(
  cmd: CommandDef<any>,
  argv: string[],
): Promise<{ cmd: CommandDef<any>; argv: string[]; name?: string }> {
  const subs = typeof cmd.subCommands === 'function' ? await cmd.subCommands() : await cmd.subCommands;
  if (!subs) return { cmd, argv };
  const index = argv.findIndex((a) => !a.startsWith('-'));
  const name = index === -1 ? undefined : argv[index];
  if (!name) return { cmd, argv };
  const sub = subs[name];
  if (!sub) {
    const close = suggestClosest(name, Object.keys(subs));
    throw errors.usage(
      `Unknown command '${name}'.`,
      `${close ? `Did you mean '${close}'? ` : ''}Choose one of: ${Object.keys(subs).join(', ')}.`,
    );
  }
  const resolved = (typeof sub === 'function' ? await sub() : await sub) as CommandDef<any>;
  return { cmd: resolved, argv: argv.slice(index + 1), name };
}

/** A command's sub-commands (daemon start|stop|…), or undefined when it has none. */
async function listSubcommands(cmd: CommandDef<any>): Promise<{ name: string; description: string }[] | undefined> {
  const subs = typeof cmd.subCommands === 'function' ? await cmd.subCommands() : await cmd.subCommands;
  if (!subs) return undefined;
  const out: { name: string; description: string }[] = [];
  for (const [name, sub] of Object.entries(subs)) {
    const resolved = (typeof sub === 'function' ? await sub() : await sub) as CommandDef<any>;
    const meta = (typeof resolved.meta === 'function' ? await resolved.meta() : await resolved.meta) ?? {};
    out.push({ name, description: meta.description ?? '' });
  }
  return out;
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
      const target = rest[0] && COMMANDS[rest[0]] ? rest[0] : undefined;
      if (!target) {
        process.stdout.write(`${renderRootHelp(version)}\n`);
        return 0;
      }
      return main([target, ...rest.slice(1), '--help']);
    }
    const entry = COMMANDS[name];
    if (!entry) {
      const close = suggestClosest(name, Object.keys(COMMANDS));
      throw errors.usage(
        `Unknown command '${name}'.`,
        close
          ? `Did you mean '${close}'? Run 'authsome --help' for all commands.`
          : "Run 'authsome --help' for all commands.",
      );
    }
    const cmd = (await entry.load()).default;
    const sub = await resolveSubcommand(cmd, rest);
    const path = sub.name ? `${name} ${sub.name}` : name;
    const defs = ((typeof sub.cmd.args === 'function' ? await sub.cmd.args() : await sub.cmd.args) ?? {}) as ArgsDef;
    const subs = sub.name ? undefined : await listSubcommands(cmd);
    if (flags.help) {
      const meta = (typeof sub.cmd.meta === 'function' ? await sub.cmd.meta() : await sub.cmd.meta) ?? {};
      const help = renderCommandHelp({
        path,
        description: meta.description ?? '',
        defs,
        usageTail: path === 'run' ? '-- <command> [args…]' : undefined,
        subCommands: subs,
        examples: EXAMPLES[path],
      });
      process.stdout.write(`${help}\n`);
      return 0;
    }
    if (subs)
      throw errors.usage(
        `'authsome ${name}' needs a sub-command: ${subs.map((s) => s.name).join(', ')}.`,
        `Run 'authsome ${name} --help'.`,
      );
    const args = entry.passthrough ? { _: [] } : parseCommandArgs(defs, sub.argv, path);
    // Provider names are lower case by definition: 'OpenAI' means openai.
    if (typeof args.provider === 'string') args.provider = args.provider.toLowerCase();
    await sub.cmd.run?.({ rawArgs: sub.argv, args: args as never, cmd: sub.cmd });
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (err) {
    if (err instanceof AppError) return out.fail(err);
    const detail = err instanceof Error ? err.message : String(err);
    if (process.env.AUTHSOME_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    return out.fail(errors.unexpected(detail));
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
