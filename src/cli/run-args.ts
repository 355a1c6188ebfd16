// Parses `authsome run [--only p1,p2] [--connection p=name …] [--no-placeholders] [--sandbox] [--allow rule …]
// [--read-only] [--max-requests N] [--policy file] [--verbose] [--summary] [--stable-ca] -- <cmd> [args…]` by hand:
// citty keeps only the last of a repeated flag and would eat the child's own flags.
import { errors } from '../errors.js';

export interface RunArgs {
  only?: string[];
  connections: Record<string, string>;
  placeholders: boolean;
  /** Run the command where it cannot read the vault and its only way out is the proxy. */
  sandbox: boolean;
  /** `provider:METHOD:/glob` rules: with any, a request no rule allows is refused (403) and never sent. */
  allow: string[];
  readOnly: boolean;
  maxRequests?: number;
  /** A JSON file with the same settings ({"allow": [...], "read_only": true, "max_requests": N}). */
  policyFile?: string;
  /** Print the run's scope and rules on stderr before the command starts. */
  verbose: boolean;
  /** Print what the run did per provider (injected, denied, scrubbed) when the command ends. */
  summary: boolean;
  /**
   * Trust the stored authsome CA (ca.pem) instead of a CA made for this run alone: for runtimes with their own trust
   * store (Java).
   */
  stableCa: boolean;
  command: string[];
}

const HINT =
  'Usage: authsome run [--only p1,p2] [--connection provider=name] [--no-placeholders] [--sandbox] ' +
  "[--allow 'provider:METHOD:/path'] [--read-only] [--max-requests N] [--policy file] [--verbose] " +
  '[--summary] [--stable-ca] -- <command> [args…]';

export function parseRunArgs(argv: string[]): RunArgs {
  const out: RunArgs = {
    connections: {},
    placeholders: true,
    sandbox: false,
    allow: [],
    readOnly: false,
    verbose: false,
    summary: false,
    stableCa: false,
    command: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      out.command = argv.slice(i + 1);
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      out.command = argv.slice(i);
      break;
    }
    const eq = arg.indexOf('=');
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const takeValue = (): string => {
      if (eq !== -1) return arg.slice(eq + 1);
      const next = argv[++i];
      if (next === undefined || next === '--') throw errors.usage(`Option '${flag}' needs a value.`, HINT);
      return next;
    };
    if (flag === '--only') {
      const names = takeValue()
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      if (names.length === 0) throw errors.usage("'--only' needs at least one provider name.", HINT);
      out.only = [...(out.only ?? []), ...names];
    } else if (flag === '--connection' || flag === '-c') {
      const value = takeValue();
      const sep = value.indexOf('=');
      if (sep <= 0 || sep === value.length - 1) {
        throw errors.usage(
          `Invalid --connection '${value}'.`,
          'Write it as provider=connection, e.g. --connection openai=team.',
        );
      }
      out.connections[value.slice(0, sep)] = value.slice(sep + 1);
    } else if (flag === '--no-placeholders' && eq === -1) {
      out.placeholders = false;
    } else if (flag === '--sandbox' && eq === -1) {
      out.sandbox = true;
    } else if (flag === '--allow') {
      out.allow.push(takeValue());
    } else if (flag === '--read-only' && eq === -1) {
      out.readOnly = true;
    } else if (flag === '--max-requests') {
      const value = takeValue();
      if (!/^[1-9]\d{0,8}$/.test(value))
        throw errors.usage(`Invalid --max-requests '${value}': a whole number of at least 1.`, HINT);
      out.maxRequests = Number(value);
    } else if (flag === '--policy') {
      out.policyFile = takeValue();
    } else if (flag === '--verbose' && eq === -1) {
      out.verbose = true;
    } else if (flag === '--summary' && eq === -1) {
      out.summary = true;
    } else if (flag === '--stable-ca' && eq === -1) {
      out.stableCa = true;
    } else {
      throw errors.usage(`Unknown option '${flag}'.`, `${HINT} (put the command's own options after '--')`);
    }
  }
  if (out.command.length === 0) throw errors.usage('No command to run.', HINT);
  return out;
}
