// The CLI's only way to speak: data to stdout, confirmations to stdout (dropped by --quiet),
// progress/warnings/errors to stderr, one {"v":1,…} object per command in --json mode, and exit codes.
// Messages may carry stored or remote text, so they reach the terminal through terminal-text.ts.
import type { AppError, ErrorCode } from '../errors.js';
import { escapeJsonText, escapeTerminalLines } from './terminal-text.js';

export const EXIT_CODES: Record<ErrorCode, number> = {
  USAGE: 2,
  CANCELLED: 2,
  INVALID_INPUT: 2,
  PAYLOAD_TOO_LARGE: 2,
  INVALID_KEY: 2,
  INVALID_NAME: 2,
  INVALID_PROVIDER_FILE: 2,
  PROVIDER_NOT_FOUND: 4,
  PROVIDER_EXISTS: 7,
  COMMAND_NOT_FOUND: 127,
  COMMAND_NOT_EXECUTABLE: 126,
  SANDBOX_UNAVAILABLE: 1,
  CONNECTION_EXISTS: 7,
  CONNECTION_NOT_FOUND: 3,
  FIELD_NOT_FOUND: 1,
  CREDENTIAL_MISSING: 5,
  CREDENTIAL_EXPIRED: 5,
  WRONG_PASSPHRASE: 2,
  TOO_MANY_ATTEMPTS: 2,
  VAULT_LOCKED: 2,
  VAULT_DAMAGED: 1,
  VAULT_MODE: 1,
  VAULT_WRITE_FAILED: 1,
  AUDIT_BROKEN: 1,
  ALREADY_RUNNING: 1,
  PORT_IN_USE: 1,
  SERVER_UNAVAILABLE: 9,
  UNAUTHORIZED: 1,
  FORBIDDEN: 1,
  NOT_FOUND: 1,
  UPSTREAM: 1,
  OAUTH_FAILED: 2,
  INTERNAL: 1,
};

export interface OutputOptions {
  json: boolean;
  quiet: boolean;
  color: boolean;
}

type Style = 'green' | 'red' | 'yellow' | 'dim' | 'bold' | 'cyan';
const STYLES: Record<Style, [number, number]> = {
  green: [32, 39],
  red: [31, 39],
  yellow: [33, 39],
  dim: [2, 22],
  bold: [1, 22],
  cyan: [36, 39],
};

export class Output {
  readonly json: boolean;
  readonly quiet: boolean;
  private readonly colorOut: boolean;
  private readonly colorErr: boolean;
  private jsonWritten = false;

  constructor(options: OutputOptions) {
    this.json = options.json;
    this.quiet = options.quiet;
    this.colorOut = options.color && process.stdout.isTTY === true;
    this.colorErr = options.color && process.stderr.isTTY === true;
  }

  /** Data for stdout (never dropped by --quiet). In --json mode, call result() instead. */
  data(text: string): void {
    process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  /**
   * One JSON object for --json, or the text form. The text is written as is (it may be data that must
   * round-trip, or carry paint()): the command passes stored or remote values through escapeTerminalText.
   */
  result(json: Record<string, unknown>, text: () => string | undefined): void {
    if (this.json) return this.writeJson(json);
    const out = text();
    if (out !== undefined && out !== '') this.data(out);
  }

  /** A confirmation such as "Successfully logged in to …" (stdout; --quiet drops it). */
  confirm(message: string, fields: Record<string, unknown> = {}): void {
    if (this.json) return this.writeJson({ ok: true, message, ...fields });
    if (!this.quiet) this.data(escapeTerminalLines(message));
  }

  /** Progress and other informational lines (stderr; --quiet drops them). */
  info(message: string): void {
    if (!this.quiet) process.stderr.write(`${escapeTerminalLines(message)}\n`);
  }

  warn(message: string): void {
    process.stderr.write(`${this.paintErr('yellow', 'Warning:')} ${escapeTerminalLines(message)}\n`);
  }

  /** Prints the error and returns the exit code for it. */
  fail(err: AppError): number {
    if (this.json && !this.jsonWritten) {
      this.writeJson({ error: err.code, message: err.message, hint: err.hint ?? null });
    } else {
      this.showError(err);
    }
    return EXIT_CODES[err.code] ?? 1;
  }

  /** `Error:` and `Hint:` on stderr, for an error the command goes on after (fail() is for the last one). */
  showError(err: AppError): void {
    process.stderr.write(`${this.paintErr('red', 'Error:')} ${escapeTerminalLines(err.message)}\n`);
    if (err.hint) process.stderr.write(`${this.paintErr('dim', 'Hint:')} ${escapeTerminalLines(err.hint)}\n`);
  }

  paint(style: Style, text: string): string {
    return this.colorOut ? wrap(style, text) : text;
  }

  paintErr(style: Style, text: string): string {
    return this.colorErr ? wrap(style, text) : text;
  }

  private writeJson(body: Record<string, unknown>): void {
    this.jsonWritten = true;
    process.stdout.write(`${escapeJsonText(JSON.stringify({ v: 1, ...body }))}\n`);
  }
}

function wrap(style: Style, text: string): string {
  const [open, close] = STYLES[style];
  return `\u001b[${open}m${text}\u001b[${close}m`;
}

let current: Output | undefined;

export function setOutput(output: Output): void {
  current = output;
}

export function getOutput(): Output {
  current ??= new Output({ json: false, quiet: false, color: false });
  return current;
}

/** Lays out rows as aligned columns (two spaces apart); the last column is not padded. */
export function buildTable(rows: string[][], visibleWidth: (s: string) => number = (s) => s.length): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, visibleWidth(cell))));
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell + ' '.repeat(widths[i]! - visibleWidth(cell))))
        .join('  '),
    )
    .join('\n');
}

export function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;]*m/g, '');
}
