// Terminal input: a masked prompt that echoes nothing (SPEC §5 login/unlock), and reading one line from a
// non-terminal stdin. Ctrl-C or Ctrl-D at the prompt cancels (exit 2), leaving the terminal as it was.
import { errors } from '../errors.js';
import { escapeTerminalText } from './terminal-text.js';

export function isInteractive(): boolean {
  return process.stdin.isTTY === true;
}

/** Asks on stderr with echo off; returns what was typed (paste included), without the line ending. */
export function promptSecret(label: string): Promise<string> {
  const input = process.stdin;
  const out = process.stderr;
  return new Promise((resolve, reject) => {
    let value = '';
    let inPaste = false;
    const wasRaw = input.isRaw;
    // The label may name a custom provider (its display_name): shown, never acted on by the terminal.
    out.write(escapeTerminalText(label));
    input.setRawMode(true);
    input.resume();
    input.setEncoding('utf8');

    const finish = (err?: Error) => {
      input.off('data', onData);
      input.setRawMode(wasRaw);
      input.pause();
      out.write('\n');
      if (err) reject(err);
      else resolve(value);
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
          return finish();
        }
        if (ch === '\u0003') return finish(errors.cancelled());
        if (ch === '\u0004') {
          if (value === '') return finish(errors.cancelled());
          return finish();
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
  });
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
