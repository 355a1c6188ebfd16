// Escaping stored text for the terminal: nothing a terminal acts on survives, what is safe is left alone, and
// the JSON form still parses back to exactly the stored value.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { escapeJsonText, escapeTerminalLines, escapeTerminalText } from '../../../src/cli/terminal-text.js';

// eslint-disable-next-line no-control-regex
const ACTED_ON = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
// eslint-disable-next-line no-control-regex
const ACTED_ON_BUT_NEWLINE =
  /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/** Strings rich in the characters that matter: controls, C1, bidi marks, plus ordinary text and emoji. */
const hostileText = fc.string({
  unit: fc.oneof(
    fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c)),
    fc.integer({ min: 0x7f, max: 0x9f }).map((c) => String.fromCharCode(c)),
    fc.constantFrom('\u061c', '\u200e', '\u200f', '\u2028', '\u2029', '\u202a', '\u202e', '\u2066', '\u2069'),
    fc.constantFrom('a', ' ', '\\', '"', 'é', '漢', '😀', '['),
  ),
});

describe('terminal text', () => {
  it('shows each kind of control as a visible escape', () => {
    expect(escapeTerminalText('\u001b]0;title\u0007')).toBe('\\x1b]0;title\\x07');
    expect(escapeTerminalText('a\u001b[2Jb\rc\nd\te')).toBe('a\\x1b[2Jb\\rc\\nd\\te');
    expect(escapeTerminalText('\u009b31m\u007f')).toBe('\\u009b31m\\x7f');
    expect(escapeTerminalText('\u202egnp.exe\u2066')).toBe('\\u202egnp.exe\\u2066');
    expect(escapeTerminalLines('line one\nline\r two')).toBe('line one\nline\\r two');
  });

  it('leaves printable text alone, non-ASCII included', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (s) => {
        fc.pre(!ACTED_ON.test(s));
        expect(escapeTerminalText(s)).toBe(s);
        expect(escapeTerminalLines(s)).toBe(s);
      }),
    );
  });

  it('never lets a character through that a terminal acts on', () => {
    fc.assert(
      fc.property(hostileText, (s) => {
        expect(escapeTerminalText(s)).not.toMatch(ACTED_ON);
        expect(escapeTerminalLines(s)).not.toMatch(ACTED_ON_BUT_NEWLINE);
        expect(escapeTerminalLines(s).split('\n').length).toBe(s.split('\n').length);
      }),
    );
  });

  it('JSON keeps its value: C1, DEL and bidi controls become \\u escapes that parse back to the same string', () => {
    expect(escapeJsonText(JSON.stringify('\u009b\u202e'))).toBe('"\\u009b\\u202e"');
    fc.assert(
      fc.property(fc.dictionary(hostileText, fc.oneof(hostileText, fc.array(hostileText))), (value) => {
        const json = escapeJsonText(JSON.stringify(value, null, 2));
        expect(json).not.toMatch(ACTED_ON_BUT_NEWLINE);
        expect(JSON.parse(json)).toEqual(value);
      }),
    );
  });
});
