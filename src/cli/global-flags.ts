// Global flags: recognised anywhere on the line before `--`, removed before the command parses.

export interface GlobalFlags {
  json: boolean;
  quiet: boolean;
  noColor: boolean;
  version: boolean;
  help: boolean;
  rest: string[];
}

/** `run` options that take a value: the token after them is not the start of the child's command. */
const RUN_VALUE_FLAGS = new Set(['--only', '--connection', '-c', '--allow', '--max-requests', '--policy']);

/**
 * Global flags may appear anywhere before `--`; everything after `--` belongs to the child command. For `run`,
 * the child's command may also start without `--`: from its first word on, nothing is ours (`run python -v x`).
 */
export function parseGlobalFlags(argv: string[]): GlobalFlags {
  const flags: GlobalFlags = { json: false, quiet: false, noColor: false, version: false, help: false, rest: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      flags.rest.push(...argv.slice(i));
      break;
    }
    const isRun = flags.rest[0] === 'run';
    if (isRun && !arg.startsWith('-') && !RUN_VALUE_FLAGS.has(argv[i - 1] ?? '')) {
      flags.rest.push(...argv.slice(i));
      break;
    }
    if (arg === '--json') flags.json = true;
    else if (arg === '--quiet' || arg === '-q') flags.quiet = true;
    else if (arg === '--no-color') flags.noColor = true;
    else if (arg === '--version' || arg === '-v') flags.version = true;
    else if (arg === '--help' || arg === '-h') flags.help = true;
    else flags.rest.push(arg);
  }
  return flags;
}
