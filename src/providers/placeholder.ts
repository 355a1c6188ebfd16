// The value a provider's variables hold inside `authsome run`: shaped like the provider's keys (its key_pattern)
// so an SDK that checks a key's prefix or length before sending accepts it, and marked so a person reading a log
// knows it for what it is. Pure; it never sees a secret. The proxy sets the credential header whatever the agent
// sent, so the placeholder never has to be told apart from a key there.

/** The mark every placeholder carries; alone, it is the placeholder of a provider without a key_pattern. */
export const PLACEHOLDER_MARK = 'authsome-proxy-managed';

/** A free-length run is padded to this many characters, so the placeholder looks like a key of the usual size. */
const FREE_RUN_LENGTH = 37;

type Atom =
  | { kind: 'literal'; text: string }
  | { kind: 'class'; allows(c: string): boolean; first: string }
  | { kind: 'group'; branch: Node[] };
interface Node {
  atom: Atom;
  min: number;
  max: number;
}

/**
 * A string `keyPattern` accepts, built from the mark and zeros, or the bare mark when there is no pattern or the
 * pattern uses syntax this reader does not follow (look-arounds, back-references): then the bare mark is what a
 * shape-checking client would reject, which is what happens today, never a wrong placeholder.
 */
export function buildPlaceholder(keyPattern?: RegExp): string {
  if (!keyPattern) return PLACEHOLDER_MARK;
  try {
    const nodes = parseSequence(keyPattern.source, { at: 0 }, '');
    const candidate = generate(nodes, { markUsed: false });
    if (keyPattern.test(candidate) && candidate.includes('authsome')) return candidate;
  } catch {
    // Unsupported syntax: fall through to the bare mark.
  }
  return PLACEHOLDER_MARK;
}

function generate(nodes: Node[], state: { markUsed: boolean }): string {
  let out = '';
  for (const { atom, min, max } of nodes) {
    if (atom.kind === 'literal') out += atom.text.repeat(min);
    else if (atom.kind === 'group') for (let i = 0; i < Math.max(min, 0); i++) out += generate(atom.branch, state);
    else out += fillClass(atom, min, max, state);
  }
  return out;
}

/**
 * The mark (spelt with the characters the class allows) once, in the first class long enough to hold it; zeros after.
 */
function fillClass(
  atom: Extract<Atom, { kind: 'class' }>,
  min: number,
  max: number,
  state: { markUsed: boolean },
): string {
  const pad = atom.allows('0') ? '0' : atom.first;
  let text = '';
  if (!state.markUsed && max >= 16) {
    const mark = [...PLACEHOLDER_MARK]
      .map((c) => (atom.allows(c) ? c : c === '-' && atom.allows('_') ? '_' : ''))
      .join('');
    if (mark.length >= 16) {
      state.markUsed = true;
      text = mark;
      // A free-length run gets a separator before its padding when the class allows one, as in
      // sk-authsome-proxy-managed-000….
      if (max === Infinity && atom.allows('-')) text += '-';
    }
  }
  const target = Math.min(max, Math.max(min, max === Infinity && state.markUsed ? FREE_RUN_LENGTH : min, text.length));
  return (text + pad.repeat(Math.max(0, target - text.length))).slice(0, target);
}

/** Reads a sequence up to `end` (')' inside a group, '' at top level); alternation keeps the first branch. */
function parseSequence(src: string, pos: { at: number }, end: string): Node[] {
  const nodes: Node[] = [];
  while (pos.at < src.length && src[pos.at] !== end) {
    const c = src[pos.at]!;
    if (c === '|') {
      // Another branch: skip it, the first one is enough to build a match.
      skipBranch(src, pos, end);
      continue;
    }
    if (c === '^' || c === '$') {
      pos.at++;
      continue;
    }
    let atom: Atom;
    if (c === '(') {
      pos.at++;
      if (src.startsWith('?:', pos.at)) pos.at += 2;
      else if (src[pos.at] === '?') throw new Error('look-around');
      atom = { kind: 'group', branch: parseSequence(src, pos, ')') };
      pos.at++;
    } else if (c === '[') {
      atom = parseClass(src, pos);
    } else if (c === '\\') {
      const next = src[pos.at + 1] ?? '';
      if (/[A-Za-z0-9]/.test(next)) throw new Error('escape class or back-reference');
      atom = { kind: 'literal', text: next };
      pos.at += 2;
    } else if (c === '.' || c === '*' || c === '+' || c === '?' || c === '{') {
      throw new Error('unsupported');
    } else {
      atom = { kind: 'literal', text: c };
      pos.at++;
    }
    const [min, max] = parseQuantifier(src, pos);
    nodes.push({ atom, min, max });
  }
  return nodes;
}

function skipBranch(src: string, pos: { at: number }, end: string): void {
  let depth = 0;
  pos.at++;
  while (pos.at < src.length) {
    const c = src[pos.at]!;
    if (c === '\\') pos.at += 2;
    else if (c === '[') parseClass(src, pos);
    else if (c === '(') depth++, pos.at++;
    else if (c === ')' && depth > 0) depth--, pos.at++;
    else if (c === end && depth === 0) return;
    else pos.at++;
  }
}

function parseClass(src: string, pos: { at: number }): Atom {
  pos.at++;
  if (src[pos.at] === '^') throw new Error('negated class');
  const ranges: [string, string][] = [];
  while (pos.at < src.length && src[pos.at] !== ']') {
    let from = src[pos.at]!;
    if (from === '\\') {
      from = src[pos.at + 1] ?? '';
      if (/[A-Za-z0-9]/.test(from)) throw new Error('escape class');
      pos.at++;
    }
    pos.at++;
    if (src[pos.at] === '-' && src[pos.at + 1] !== ']' && pos.at + 1 < src.length) {
      const to = src[pos.at + 1]!;
      pos.at += 2;
      ranges.push([from, to]);
    } else {
      ranges.push([from, from]);
    }
  }
  if (src[pos.at] !== ']') throw new Error('unterminated class');
  pos.at++;
  if (ranges.length === 0) throw new Error('empty class');
  return { kind: 'class', allows: (ch) => ranges.some(([a, b]) => ch >= a && ch <= b), first: ranges[0]![0] };
}

function parseQuantifier(src: string, pos: { at: number }): [number, number] {
  const c = src[pos.at];
  if (c === '?') return (pos.at++, [0, 1]);
  if (c === '*') return (pos.at++, [0, Infinity]);
  if (c === '+') return (pos.at++, [1, Infinity]);
  if (c === '{') {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(src.slice(pos.at));
    if (!m) throw new Error('bad quantifier');
    pos.at += m[0].length;
    const min = Number(m[1]);
    return [min, m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3])];
  }
  return [1, 1];
}
