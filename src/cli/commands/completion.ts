// `authsome completion bash|zsh|fish`: prints a completion script for that shell. Command names come from
// `authsome help` when the shell first completes (main.ts keeps the one list); provider names from `authsome
// completion providers`, which reads the definition files only: a TAB never starts the server or opens the vault.
import { readdirSync } from 'node:fs';
import { defineCommand } from 'citty';
import { errors } from '../../errors.js';
import { buildHomePaths, packagePaths, resolveHomeDir } from '../../paths.js';

const SHELLS = ['bash', 'zsh', 'fish'] as const;
type Shell = (typeof SHELLS)[number];

/** Commands whose first argument is a provider name. */
const PROVIDER_COMMANDS = ['login', 'logout', 'revoke', 'remove', 'get', 'export', 'set-default', 'inspect'];
/** Commands with sub-commands, and theirs (kept beside their files: daemon.ts, passphrase.ts). */
const SUBCOMMANDS: Record<string, string[]> = {
  daemon: ['start', 'stop', 'restart', 'status', 'logs'],
  passphrase: ['set', 'remove'],
  completion: [...SHELLS],
};
const LIST_COMMANDS = `authsome help 2>/dev/null | awk '/^  [a-z]/ {print $1}'`;
const LIST_PROVIDERS = 'authsome completion providers 2>/dev/null';

/** Bundled and custom provider names, from the file names alone (a damaged file still completes). */
function listProviderNames(): string[] {
  const names = new Set<string>();
  for (const dir of [packagePaths.providers, buildHomePaths(resolveHomeDir()).providers]) {
    let files: string[] = [];
    try {
      files = readdirSync(dir);
    } catch {
      // No custom providers directory yet.
    }
    for (const f of files) if (f.endsWith('.json')) names.add(f.slice(0, -'.json'.length));
  }
  return [...names].sort();
}

export function buildCompletionScript(shell: Shell): string {
  const subCases = Object.entries(SUBCOMMANDS);
  if (shell === 'bash') {
    return [
      '# authsome completion for bash: source <(authsome completion bash)',
      '_authsome() {',
      '  local cur="${COMP_WORDS[COMP_CWORD]}"',
      '  if [ "$COMP_CWORD" -eq 1 ]; then',
      `    [ -n "$__authsome_commands" ] || __authsome_commands="$(${LIST_COMMANDS})"`,
      '    COMPREPLY=($(compgen -W "$__authsome_commands" -- "$cur"))',
      '  elif [ "$COMP_CWORD" -eq 2 ]; then',
      '    case "${COMP_WORDS[1]}" in',
      `      ${PROVIDER_COMMANDS.join('|')}) COMPREPLY=($(compgen -W "$(${LIST_PROVIDERS})" -- "$cur")) ;;`,
      ...subCases.map(([cmd, subs]) => `      ${cmd}) COMPREPLY=($(compgen -W "${subs.join(' ')}" -- "$cur")) ;;`),
      '    esac',
      '  fi',
      '}',
      'complete -F _authsome authsome',
      '',
    ].join('\n');
  }
  if (shell === 'zsh') {
    return [
      '#compdef authsome',
      '# authsome completion for zsh: source <(authsome completion zsh) after compinit',
      '_authsome() {',
      '  if (( CURRENT == 2 )); then',
      `    compadd -- \${(f)"$(${LIST_COMMANDS})"}`,
      '  elif (( CURRENT == 3 )); then',
      '    case $words[2] in',
      `      ${PROVIDER_COMMANDS.join('|')}) compadd -- \${(f)"$(${LIST_PROVIDERS})"} ;;`,
      ...subCases.map(([cmd, subs]) => `      ${cmd}) compadd -- ${subs.join(' ')} ;;`),
      '    esac',
      '  fi',
      '}',
      'compdef _authsome authsome',
      '',
    ].join('\n');
  }
  return [
    '# authsome completion for fish: authsome completion fish | source',
    'complete -c authsome -f',
    `complete -c authsome -n __fish_use_subcommand -a "(${LIST_COMMANDS.replace(/\$1/, '\\$1')})"`,
    `complete -c authsome -n "__fish_seen_subcommand_from ${PROVIDER_COMMANDS.join(' ')}" -a "(${LIST_PROVIDERS})"`,
    ...subCases.map(
      ([cmd, subs]) => `complete -c authsome -n "__fish_seen_subcommand_from ${cmd}" -a "${subs.join(' ')}"`,
    ),
    '',
  ].join('\n');
}

export default defineCommand({
  meta: {
    name: 'completion',
    description: 'Print a shell completion script: bash, zsh or fish (source <(authsome completion bash))',
  },
  args: {
    shell: { type: 'positional', required: true, description: 'bash, zsh or fish', valueHint: 'shell' },
  },
  run({ args }) {
    const shell = String(args.shell);
    if (shell === 'providers') {
      // Used by the scripts themselves, one name a line.
      process.stdout.write(
        listProviderNames()
          .map((n) => `${n}\n`)
          .join(''),
      );
      return;
    }
    if (!(SHELLS as readonly string[]).includes(shell))
      throw errors.usage(`Unknown shell '${shell}'.`, 'Choose one of: bash, zsh, fish.');
    process.stdout.write(buildCompletionScript(shell as Shell));
  },
});
