// Where a definition stops being JSON, as the editor's line:column: 1-based, CRLF/CR/LF each one line break, and
// the scanner agreeing with JSON.parse on every text (valid or not, and where JSON.parse names a position).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeJsonError, findJsonErrorOffset, locateLineColumn } from '../../../src/server/json-error-position.js';

/** JSON.parse's verdict: undefined when valid, else the offset it names, or 'none' when its message has none. */
function parseVerdict(text: string): number | 'none' | undefined {
  try {
    JSON.parse(text);
    return undefined;
  } catch (err) {
    const at = / at position (\d+)/.exec((err as Error).message);
    return at ? Number(at[1]) : 'none';
  }
}

describe('locateLineColumn', () => {
  it('counts lines and columns from 1', () => {
    const text = '{\n  "a": 1\n  "b": 2\n}';
    expect(locateLineColumn(text, 0)).toEqual({ line: 1, column: 1 });
    expect(locateLineColumn(text, 2)).toEqual({ line: 2, column: 1 });
    expect(locateLineColumn(text, text.indexOf('"b"'))).toEqual({ line: 3, column: 3 });
    expect(locateLineColumn(text, text.length)).toEqual({ line: 4, column: 2 });
  });

  it('reads CRLF and a lone CR as one line break each, as LF', () => {
    const lf = '{\n  "a": 1\n  "b": 2\n}';
    const crlf = lf.replace(/\n/g, '\r\n');
    expect(locateLineColumn(crlf, crlf.indexOf('"b"'))).toEqual({ line: 3, column: 3 });
    expect(locateLineColumn(crlf, crlf.indexOf('}'))).toEqual({ line: 4, column: 1 });
    // The CR and the LF of a line end are both the end of that line, not a column of the next.
    expect(locateLineColumn(crlf, crlf.indexOf('\r'))).toEqual({ line: 1, column: 2 });
    expect(locateLineColumn(crlf, crlf.indexOf('\n'))).toEqual({ line: 1, column: 2 });
    const cr = lf.replace(/\n/g, '\r');
    expect(locateLineColumn(cr, cr.indexOf('"b"'))).toEqual({ line: 3, column: 3 });
  });

  it('counts a character outside the BMP as one column', () => {
    expect(locateLineColumn('{"d": "🔑", x}', '{"d": "🔑", '.length)).toEqual({ line: 1, column: 12 });
  });

  it('gives the same place for a text with CRLF as for the same text with LF', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('a', ' ', '"', '\n', 'é', '🔑'), { maxLength: 40 }),
        fc.nat(),
        (chars, pick) => {
          const lf = chars.join('');
          const offset = pick % (lf.length + 1);
          const crlfOffset = offset + (lf.slice(0, offset).match(/\n/g)?.length ?? 0);
          expect(locateLineColumn(lf.replace(/\n/g, '\r\n'), crlfOffset)).toEqual(locateLineColumn(lf, offset));
        },
      ),
    );
  });
});

describe('findJsonErrorOffset', () => {
  it('finds the first character that is not JSON, where JSON.parse names no position too', () => {
    expect(findJsonErrorOffset('{"a": [1, 2, {"b": null}], "c": "\\u00e9"}')).toBeUndefined();
    expect(findJsonErrorOffset('{"a": x}')).toBe(6);
    expect(findJsonErrorOffset('[1,]')).toBe(3);
    expect(findJsonErrorOffset('{"a":tru}')).toBe(8);
    expect(findJsonErrorOffset('')).toBe(0);
    expect(findJsonErrorOffset('{"a": 1,')).toBe(8);
    expect(findJsonErrorOffset('{"a": 1}}')).toBe(8);
  });

  it('nests deeply without overflowing the stack', () => {
    expect(findJsonErrorOffset('['.repeat(200_000) + ']'.repeat(200_000))).toBeUndefined();
    expect(findJsonErrorOffset(`${'['.repeat(200_000)}}`)).toBe(200_000);
  });

  // Random texts from JSON's own alphabet, and valid JSON with one character changed, removed or inserted.
  const jsonish = fc
    .array(
      fc.constantFrom(
        '{',
        '}',
        '[',
        ']',
        ',',
        ':',
        '"',
        '\\',
        'u',
        'a',
        '0',
        '1',
        '-',
        '.',
        'e',
        '+',
        't',
        'r',
        'n',
        'l',
        ' ',
        '\n',
        '\t',
        '\u0001',
      ),
      { maxLength: 24 },
    )
    .map((a) => a.join(''));
  const mutatedJson = fc
    .tuple(
      fc.json(),
      fc.nat(),
      fc.constantFrom('}', ']', ',', ':', '"', '\\', 'x', '0', '-', '.', 'e', ' ', '\n'),
      fc.constantFrom('replace', 'delete', 'insert'),
    )
    .map(([text, at, ch, how]) => {
      const i = text.length ? at % text.length : 0;
      if (how === 'delete') return text.slice(0, i) + text.slice(i + 1);
      return text.slice(0, i) + ch + text.slice(how === 'replace' ? i + 1 : i);
    });

  it('agrees with JSON.parse: valid exactly when it parses, and at the position it names', () => {
    fc.assert(
      fc.property(fc.oneof(jsonish, mutatedJson, fc.json()), (text) => {
        const verdict = parseVerdict(text);
        const offset = findJsonErrorOffset(text);
        if (verdict === undefined) expect(offset).toBeUndefined();
        else if (verdict === 'none') expect(offset).toBeTypeOf('number');
        else expect(offset).toBe(verdict);
      }),
      { numRuns: 5000 },
    );
  });
});

describe('describeJsonError', () => {
  it('names the line and column and keeps JSON.parse reason, without its offset or echo of the text', () => {
    const text = '{\r\n  "schema_version": 1,\r\n  "name": x\r\n}';
    expect(describeJsonError(text)).toBe("JSON syntax error at line 3, column 11: Unexpected token 'x'");
    expect(describeJsonError('{\n  "a": 1\n  "b": 2\n}')).toBe(
      "JSON syntax error at line 3, column 3: Expected ',' or '}' after property value",
    );
    expect(describeJsonError('')).toBe('JSON syntax error at line 1, column 1: Unexpected end of JSON input');
    expect(describeJsonError('{"a": 1}')).toBeUndefined();
    const long = `{"${'a'.repeat(60)}": x, "${'b'.repeat(60)}": 1}`;
    expect(describeJsonError(long)).toBe("JSON syntax error at line 1, column 66: Unexpected token 'x'");
    expect(describeJsonError('{"a": 1} x')).toBe(
      'JSON syntax error at line 1, column 10: Unexpected non-whitespace character after JSON',
    );
  });

  it('never repeats the text or a raw offset, whatever the text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        const message = describeJsonError(text);
        if (message === undefined) return;
        expect(message).toMatch(/^JSON syntax error at line \d+, column \d+: \S/);
        expect(message).not.toMatch(/is not valid JSON|at position/);
      }),
    );
  });
});
