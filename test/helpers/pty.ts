// Runs the built CLI inside a real pseudo-terminal (util-linux `script`): our pipe is the terminal's keyboard and
// screen, so prompts, echo and Ctrl-C behave as they do for a person.
import { spawn } from 'node:child_process';
import { buildTestEnv, cliPath } from './cli.js';

export interface PtySession {
  output: () => string;
  waitFor: (text: string | RegExp, count?: number) => Promise<void>;
  type: (text: string) => void;
  exit: Promise<number>;
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Runs the CLI inside a pseudo-terminal; our pipe is the terminal's keyboard and screen. */
export function runInPty(home: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}): PtySession {
  // `exec`: script runs the line with $SHELL -c, or /bin/sh (dash) where SHELL is unset, as under CI. dash would
  // stay as the terminal's session leader and die of Ctrl-C itself, and script would report its 130.
  const command = `exec ${[process.execPath, cliPath, ...args].map(shellQuote).join(' ')}`;
  const child = spawn('script', ['-q', '-e', '-c', command, '/dev/null'], {
    env: buildTestEnv(home, extraEnv),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const count = (text: string | RegExp) =>
    typeof text === 'string' ? out.split(text).length - 1 : (out.match(new RegExp(text.source, 'g')) ?? []).length;
  return {
    output: () => out,
    async waitFor(text, n = 1) {
      for (let i = 0; i < 600 && count(text) < n; i++) await new Promise((r) => setTimeout(r, 25));
      if (count(text) < n) throw new Error(`timed out waiting for ${String(text)} (×${n}); screen so far:\n${out}`);
    },
    type: (text) => child.stdin.write(text),
    exit: new Promise((resolve) => child.on('close', (code) => resolve(code ?? 1))),
  };
}
