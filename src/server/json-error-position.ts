// Where JSON text stops being JSON, as a line and column a person can find in the editor. JSON.parse names an
// offset for some errors only ("Unexpected token 'x'" has none), so a small scanner of RFC 8259's grammar finds it;
// the reason is still JSON.parse's own. Pure: no I/O, and iterative, so deeply nested text cannot overflow the stack.

export interface LineColumn {
  /** 1-based. */
  line: number;
  /** 1-based, in characters (code points) from the start of the line. */
  column: number;
}

const WHITESPACE = new Set([' ', '\t', '\n', '\r']);
const SIMPLE_ESCAPES = new Set(['"', '\\', '/', 'b', 'f', 'n', 'r', 't']);
const HEX = /^[0-9A-Fa-f]$/;
const DIGIT = /^[0-9]$/;

/**
 * The line and column of `offset` in `text` (both 1-based). CRLF, a lone CR and LF each end one line, so the
 * answer is the same for the text a browser submits (CRLF) and the text it shows (LF).
 */
export function locateLineColumn(text: string, offset: number): LineColumn {
  const end = Math.max(0, Math.min(offset, text.length));
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < end; i++) {
    const ch = text[i];
    if (ch === '\n' || (ch === '\r' && text[i + 1] !== '\n')) {
      line++;
      lineStart = i + 1;
    }
  }
  // An offset on the '\n' of a CRLF is the line break itself: the column after the line's last character.
  const lineText = text.slice(lineStart, end).replace(/\r$/, '');
  return { line, column: [...lineText].length + 1 };
}

/** The offset (UTF-16 index) of the first character that is not valid JSON there, or undefined for valid JSON. */
export function findJsonErrorOffset(text: string): number | undefined {
  const n = text.length;
  const stack: ('{' | '[')[] = [];
  // value: a value must come; firstValue: a value or ']'; key / firstKey: a string or ('}' when first); colon;
  // after: a value just ended, so ',' or the closer (or the end of the text at the top level).
  let state: 'value' | 'firstValue' | 'key' | 'firstKey' | 'colon' | 'after' = 'value';
  let i = 0;
  for (;;) {
    while (i < n && WHITESPACE.has(text[i]!)) i++;
    if (state === 'after' && stack.length === 0) return i < n ? i : undefined;
    if (i >= n) return n;
    const ch = text[i]!;
    const top = stack[stack.length - 1];
    if (state === 'after') {
      if (ch === ',') state = top === '{' ? 'key' : 'value';
      else if ((ch === '}' && top === '{') || (ch === ']' && top === '[')) stack.pop();
      else return i;
      i++;
      continue;
    }
    if (state === 'colon') {
      if (ch !== ':') return i;
      state = 'value';
      i++;
      continue;
    }
    if ((state === 'firstKey' && ch === '}') || (state === 'firstValue' && ch === ']')) {
      stack.pop();
      state = 'after';
      i++;
      continue;
    }
    if (state === 'key' || state === 'firstKey') {
      if (ch !== '"') return i;
      const end = scanString(text, i);
      if (end < 0) return -end - 1;
      state = 'colon';
      i = end;
      continue;
    }
    if (ch === '{' || ch === '[') {
      stack.push(ch);
      state = ch === '{' ? 'firstKey' : 'firstValue';
      i++;
      continue;
    }
    const end =
      ch === '"' ? scanString(text, i) : ch === '-' || DIGIT.test(ch) ? scanNumber(text, i) : scanLiteral(text, i);
    if (end < 0) return -end - 1;
    state = 'after';
    i = end;
  }
}

/**
 * The reason JSON.parse gives, with where it happened, e.g.
 * `JSON syntax error at line 3, column 14: Unexpected token '}'`.
 */
export function describeJsonError(text: string): string | undefined {
  let reason: string;
  try {
    JSON.parse(text);
    return undefined;
  } catch (err) {
    reason = err instanceof Error ? err.message : String(err);
  }
  // The offset and the echo of the text are replaced by the line and column (the echo can be the whole file).
  reason = reason
    .replace(/, (?:\.\.\.)?".*"(?:\.\.\.)? is not valid JSON$/s, '')
    .replace(/ (?:in JSON )?at position \d+/, '')
    .replace(/ \(line \d+ column \d+\)$/, '');
  const { line, column } = locateLineColumn(text, findJsonErrorOffset(text) ?? text.length);
  return `JSON syntax error at line ${line}, column ${column}: ${reason}`;
}

// The scanners answer the offset just past what they read, or -(offset + 1) of the first character that is wrong.

function scanString(text: string, start: number): number {
  let i = start + 1;
  for (;;) {
    if (i >= text.length) return -(text.length + 1);
    const code = text.charCodeAt(i);
    if (code === 0x22) return i + 1;
    if (code < 0x20) return -(i + 1);
    if (code !== 0x5c) {
      i++;
      continue;
    }
    const escaped = text[i + 1];
    if (escaped === undefined) return -(text.length + 1);
    if (SIMPLE_ESCAPES.has(escaped)) {
      i += 2;
      continue;
    }
    if (escaped !== 'u') return -(i + 2);
    for (let k = 2; k < 6; k++) {
      if (i + k >= text.length) return -(text.length + 1);
      if (!HEX.test(text[i + k]!)) return -(i + k + 1);
    }
    i += 6;
  }
}

function scanNumber(text: string, start: number): number {
  let i = start;
  const digits = () => {
    const from = i;
    while (i < text.length && DIGIT.test(text[i]!)) i++;
    return i > from;
  };
  if (text[i] === '-') i++;
  if (text[i] === '0') i++;
  else if (!digits()) return -(i + 1);
  if (text[i] === '.') {
    i++;
    if (!digits()) return -(i + 1);
  }
  if (text[i] === 'e' || text[i] === 'E') {
    i++;
    if (text[i] === '+' || text[i] === '-') i++;
    if (!digits()) return -(i + 1);
  }
  return i;
}

function scanLiteral(text: string, start: number): number {
  const word = ['true', 'false', 'null'].find((w) => w[0] === text[start]);
  if (!word) return -(start + 1);
  for (let k = 1; k < word.length; k++) if (text[start + k] !== word[k]) return -(start + k + 1);
  return start + word.length;
}
