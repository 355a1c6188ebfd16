// Export rendering: values are shell-quoted so `eval "$(authsome export …)"` gives back exactly the value and
// never runs anything; checked by evaluating the output in a real /bin/sh.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatVariables, quoteDotenvValue, quoteShellValue, EXPORT_FORMATS } from '../../../src/cli/env-format.js';
import { makeTempDir, type TempDir } from '../../helpers/temp-dir.js';

let tmp: TempDir;
beforeAll(async () => {
  tmp = await makeTempDir('env-format');
});
afterAll(() => tmp.cleanup());

const NASTY: [string, string][] = [
  ['spaces', 'sk live with  two  spaces'],
  ['a single quote', "it's"],
  ['only quotes', `'"'"''`],
  ['double quotes', 'say "hi"'],
  ['command substitution', '$(touch PWNED)'],
  ['a variable', '$HOME and ${PATH}'],
  ['backticks', '`touch PWNED`'],
  ['a newline', 'line1\nline2'],
  ['a trailing newline', 'value\n'],
  ['a carriage return', 'a\r\nb'],
  ['a tab', 'a\tb'],
  ['backslashes', 'C:\\path\\to\\n'],
  ['a glob', '*'],
  ['glob and brackets', 'sk-[a-z]?*'],
  ['the empty string', ''],
  ['unicode', 'pässwörd-🔑-日本'],
  ['a semicolon and pipe', 'a; touch PWNED | cat'],
  ['a leading tilde', '~/secret'],
  ['a leading dash', '-n'],
  ['a hash', '#not-a-comment'],
  ['braces and ampersand', '{a,b} & !x'],
  ['an equals sign', 'a=b=c'],
];

/** Writes `text` to a file, evals it in /bin/sh, and prints each named variable NUL-terminated. */
function evalInShell(text: string, names: string[], shell = '/bin/sh'): string[] {
  const file = join(tmp.path, `vars-${Math.random().toString(36).slice(2)}.sh`);
  writeFileSync(file, text);
  const script = `cd "$2" && eval "$(cat "$1")"; printf '%s\\0' ${names.map((n) => `"$${n}"`).join(' ')}`;
  const out = execFileSync(shell, ['-c', script, 'sh', file, tmp.path], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH },
  });
  return out.split('\0').slice(0, names.length);
}

describe('quoteShellValue', () => {
  it('leaves values made only of [A-Za-z0-9_./:@%+=,-] bare', () => {
    for (const value of ['sk-abc_DEF.123', 'https://api.example.com:443/v1', 'user@host', '50%+1=x,y', 'a/b-c']) {
      expect(quoteShellValue(value)).toBe(value);
    }
  });

  it("single-quotes anything else, escaping single quotes as '\\''", () => {
    expect(quoteShellValue('a b')).toBe("'a b'");
    expect(quoteShellValue("it's")).toBe("'it'\\''s'");
    expect(quoteShellValue('$x')).toBe("'$x'");
    expect(quoteShellValue('~')).toBe("'~'");
    expect(quoteShellValue('')).toBe("''");
    expect(quoteShellValue('é')).toBe("'é'");
  });
});

describe.each(['env', 'shell'] as const)('%s format evaluated by a real shell', (format) => {
  it.each(NASTY)('gives back a value with %s exactly', (_label, value) => {
    const text = formatVariables(format, [{ name: 'SECRET_VALUE', value }]);
    expect(evalInShell(text, ['SECRET_VALUE'])).toEqual([value]);
  });

  it('gives back every value of a multi-line export, and runs nothing', () => {
    const variables = NASTY.map(([, value], i) => ({ name: `V_${i}`, value }));
    const text = formatVariables(format, variables);
    expect(
      evalInShell(
        text,
        variables.map((v) => v.name),
      ),
    ).toEqual(variables.map((v) => v.value));
    expect(existsSync(join(tmp.path, 'PWNED'))).toBe(false);
    expect(readdirSync(tmp.path).filter((n) => !n.startsWith('vars-'))).toEqual([]);
  });

  it('works the same in bash', () => {
    const variables = NASTY.map(([, value], i) => ({ name: `V_${i}`, value }));
    const text = formatVariables(format, variables);
    expect(
      evalInShell(
        text,
        variables.map((v) => v.name),
        '/bin/bash',
      ),
    ).toEqual(variables.map((v) => v.value));
  });
});

describe('line shapes', () => {
  const vars = [
    { name: 'OPENAI_API_KEY', value: 'sk-abc' },
    { name: 'OTHER', value: 'a b' },
  ];

  it('env: NAME=value lines', () => {
    expect(formatVariables('env', vars)).toBe("OPENAI_API_KEY=sk-abc\nOTHER='a b'");
  });

  it('shell: export NAME=value lines, exported to child processes', () => {
    expect(formatVariables('shell', vars)).toBe("export OPENAI_API_KEY=sk-abc\nexport OTHER='a b'");
    const file = join(tmp.path, 'vars-export.sh');
    writeFileSync(file, formatVariables('shell', vars));
    const out = execFileSync('/bin/sh', ['-c', 'eval "$(cat "$1")"; /bin/sh -c \'printf %s "$OTHER"\'', 'sh', file], {
      encoding: 'utf8',
    });
    expect(out).toBe('a b');
  });

  it('nothing to export: empty output in every format but json', () => {
    expect(formatVariables('env', [])).toBe('');
    expect(formatVariables('shell', [])).toBe('');
    expect(formatVariables('dotenv', [])).toBe('');
    expect(JSON.parse(formatVariables('json', []))).toEqual({});
  });

  it('knows exactly the four formats', () => {
    expect(EXPORT_FORMATS).toEqual(['env', 'shell', 'dotenv', 'json']);
  });
});

describe('dotenv', () => {
  it('double-quotes every value and escapes backslash, quote, newline, carriage return and $', () => {
    expect(quoteDotenvValue('plain')).toBe('"plain"');
    expect(quoteDotenvValue('')).toBe('""');
    expect(quoteDotenvValue('a"b')).toBe('"a\\"b"');
    expect(quoteDotenvValue('a\\b')).toBe('"a\\\\b"');
    expect(quoteDotenvValue('a\nb\rc')).toBe('"a\\nb\\rc"');
    expect(quoteDotenvValue('$HOME')).toBe('"\\$HOME"');
    expect(quoteDotenvValue("it's")).toBe('"it\'s"');
    expect(quoteDotenvValue('\\n')).toBe('"\\\\n"');
  });

  it('renders NAME="value" lines that stay one line each', () => {
    const text = formatVariables('dotenv', [
      { name: 'A', value: 'x y' },
      { name: 'B', value: 'multi\nline "quoted" $var' },
    ]);
    expect(text).toBe('A="x y"\nB="multi\\nline \\"quoted\\" \\$var"');
    expect(text.split('\n')).toHaveLength(2);
  });

  it('round-trips through a reader that undoes exactly those escapes', () => {
    const undo = (quoted: string) =>
      quoted.slice(1, -1).replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : c));
    for (const [, value] of NASTY) expect(undo(quoteDotenvValue(value))).toBe(value);
  });
});

describe('json', () => {
  it('is one object { NAME: value } with values untouched', () => {
    const variables = NASTY.map(([, value], i) => ({ name: `V_${i}`, value }));
    const parsed = JSON.parse(formatVariables('json', variables)) as Record<string, string>;
    expect(typeof parsed).toBe('object');
    expect(Array.isArray(parsed)).toBe(false);
    expect(Object.keys(parsed)).toEqual(variables.map((v) => v.name));
    expect(Object.values(parsed)).toEqual(variables.map((v) => v.value));
  });
});
