// Terminal input: a masked prompt that echoes nothing, and reading one line from a
// non-terminal stdin. Ctrl-C or Ctrl-D at the prompt cancels (exit 2), leaving the terminal as it was.
import { errors } from '../errors.js';
import { escapeTerminalText } from './terminal-text.js';

export function isInteractive(): boolean {
  return process.stdin.isTTY === true;
}

/** Asks on stderr with echo off; returns what was typed (paste included), without the line ending. */
export function promptSecret(label: string): Promise<string> {
  return new Promise((resolve, reject) => {
    // Echo goes off before the label is shown: a key pasted the moment the prompt appears is never echoed.
    readMaskedLine({
      onLine: (value) => {
        process.stderr.write('\n');
        resolve(value);
      },
      onCancel: () => {
        process.stderr.write('\n');
        reject(errors.cancelled());
      },
    });
    // The label may name a custom provider (its display_name): shown, never acted on by the terminal.
    process.stderr.write(escapeTerminalText(label));
  });
}

export interface MaskedLineReader {
  /** Stops reading and gives the terminal back as it was (idempotent). */
  stop(): void;
}

/**
 * Reads one line from the terminal with echo off: nothing typed or pasted ever reaches the screen. Enter ends the
 * line (not inside a bracketed paste), Ctrl-C (and Ctrl-D on an empty line) cancels, Backspace and Ctrl-U edit.
 * In raw mode Ctrl-C raises no SIGINT, so the caller's onCancel is the only way out.
 */
export function readMaskedLine(handlers: { onLine(value: string): void; onCancel(): void }): MaskedLineReader {
  const input = process.stdin;
  let value = '';
  let inPaste = false;
  let stopped = false;
  const wasRaw = input.isRaw;
  input.setRawMode(true);
  input.resume();
  input.setEncoding('utf8');

  const stop = () => {
    if (stopped) return;
    stopped = true;
    input.off('data', onData);
    input.setRawMode(wasRaw);
    input.pause();
  };

  const onData = (chunk: string) => {
    // Bracketed-paste markers wrap pasted text in some terminals; they are not part of the key.
    const text = chunk.replace(/\u001b\[20[01]~/g, (m) => {
      inPaste = m === '\u001b[200~';
      return '';
    });
    for (const ch of text) {
      if (ch === '\r' || ch === '\n') {
        if (inPaste) continue;
        stop();
        return handlers.onLine(value);
      }
      if (ch === '\u0003' || (ch === '\u0004' && value === '')) {
        stop();
        return handlers.onCancel();
      }
      if (ch === '\u0004') {
        stop();
        return handlers.onLine(value);
      }
      if (ch === '\u007f' || ch === '\b') {
        value = [...value].slice(0, -1).join('');
        continue;
      }
      if (ch === '\u0015') {
        value = '';
        continue;
      }
      if (ch === '\u001b') continue;
      value += ch;
    }
  };
  input.on('data', onData);
  return { stop };
}

/** Reads the first line of stdin (for --stdin, pipes and files). Resolves '' at end of input. */
export function readStdinLine(): Promise<string> {
  const input = process.stdin;
  return new Promise((resolve, reject) => {
    let buffer = '';
    const done = (line: string) => {
      input.off('data', onData);
      input.off('end', onEnd);
      input.off('error', onError);
      input.pause();
      resolve(line.replace(/\r$/, ''));
    };
    const onData = (chunk: Buffer | string) => {
      buffer += chunk.toString();
      const nl = buffer.indexOf('\n');
      if (nl !== -1) done(buffer.slice(0, nl));
    };
    const onEnd = () => done(buffer);
    const onError = (err: Error) => reject(err);
    input.on('data', onData);
    input.once('end', onEnd);
    input.once('error', onError);
    input.resume();
  });
}

/** Asks a yes/no question on stderr and reads the answer (echoed) from the terminal; only 'y' or 'yes' agree. */
export async function promptConfirm(question: string): Promise<boolean> {
  process.stderr.write(`${question} [y/N] `);
  const answer = (await readStdinLine()).trim().toLowerCase();
  return answer === 'y' || answer === 'yes';
}
