// Finds a secret in a stream of bytes and overwrites it, for responses that echo the injected credential back to
// the agent. The forms looked for: the secret as is, URL-encoded, JSON-escaped, and base64 at each of the three
// alignments it can have inside a longer base64 text (a `Basic` value encodes `user:secret`). Every replacement has
// the length of what it replaces, so a response's framing (Content-Length, chunk sizes) stays true. Bytes are held
// back only while the end of a chunk could be the start of a form, so a stream that never carries the secret flows as
// it came.
// Pure: no I/O, and the needles never leave this module.

export interface ScrubNeedle {
  find: Buffer;
  replace: Buffer;
}

export interface Scrubber {
  /**
   * The bytes that can be passed on now (possibly fewer than came in: a partial match waits for the next chunk).
   * `content` lists the ranges of `chunk` that are content (a chunked body's size lines are not: a secret split by
   * them is still found); without it the whole chunk is content.
   */
  push(chunk: Buffer, content?: readonly (readonly [number, number])[]): Buffer;
  /** What is still held back, at the end of the stream. */
  end(): Buffer;
  /** How many occurrences were overwritten so far. */
  readonly found: number;
}

/** Filler for an overwritten secret: recognisable in a log, never a usable key. */
const MARK = 'authsome-scrubbed-';
const BASE64_FILLER = 'A';

/**
 * The needles of the last few secrets, so that a new agent connection does not encode its key eight ways again (about
 * 20 µs a connection, hot). Bounded; the server holds these secrets in memory anyway, and the oldest goes first.
 */
const recentNeedles = new Map<string, readonly ScrubNeedle[]>();
const RECENT_NEEDLES_MAX = 32;

/**
 * The byte forms of `secret` to look for, each with its same-length replacement. Forms shorter than 8 bytes are
 * skipped. The same secret gives the same (frozen) list while it is among the last few asked for.
 */
export function buildScrubNeedles(secret: string): readonly ScrubNeedle[] {
  const known = recentNeedles.get(secret);
  if (known !== undefined) {
    recentNeedles.delete(secret);
    recentNeedles.set(secret, known);
    return known;
  }
  const needles = Object.freeze(encodeNeedles(secret));
  if (recentNeedles.size >= RECENT_NEEDLES_MAX) recentNeedles.delete(recentNeedles.keys().next().value as string);
  recentNeedles.set(secret, needles);
  return needles;
}

function encodeNeedles(secret: string): ScrubNeedle[] {
  const raw = Buffer.from(secret, 'utf8');
  const forms = new Map<string, string>();
  const add = (find: string, filler: (n: number) => string) => {
    if (find.length >= 8 && !forms.has(find)) forms.set(find, filler(find.length));
  };
  const marked = (n: number) => MARK.repeat(Math.ceil(n / MARK.length)).slice(0, n);
  add(secret, marked);
  add(encodeURIComponent(secret), marked);
  // Inside a JSON string: '"', '\\' and control characters escaped, and '/' as `\/` by PHP's and some Java encoders.
  const json = JSON.stringify(secret).slice(1, -1);
  add(json, marked);
  add(json.replace(/\//g, '\\/'), marked);
  for (let offset = 0; offset < 3; offset++) {
    // With `offset` unknown bytes before the secret, the characters from `skip` on depend on the secret alone, up to
    // the last complete group of three bytes.
    const encoded = Buffer.concat([Buffer.alloc(offset), raw])
      .toString('base64')
      .replace(/=+$/, '');
    const skip = offset === 0 ? 0 : offset + 1;
    const whole = Math.floor((offset + raw.length) / 3) * 4;
    for (const core of [encoded.slice(skip, whole), toBase64Url(encoded.slice(skip, whole))])
      add(core, (n) => BASE64_FILLER.repeat(n));
  }
  return [...forms].map(([find, replace]) => ({
    find: Buffer.from(find, 'latin1'),
    replace: Buffer.from(replace, 'latin1'),
  }));
}

function toBase64Url(text: string): string {
  return text.replace(/\+/g, '-').replace(/\//g, '_');
}

export function createScrubber(needles: readonly ScrubNeedle[]): Scrubber {
  return new NeedleScrubber(needles);
}

const NOTHING_HELD = Buffer.alloc(0);
const NO_RANGES: readonly (readonly [number, number])[] = Object.freeze([]);

/** A class, not an object literal with a getter: one is made per connection and its methods run on every chunk. */
class NeedleScrubber implements Scrubber {
  found = 0;
  private readonly longest: number;
  /** The bytes a needle can start with: a tail position holding any other byte cannot begin a secret. */
  private readonly starts = new Uint8Array(256);
  private held: Buffer | undefined;
  private heldContent: readonly (readonly [number, number])[] = NO_RANGES;

  constructor(private readonly needles: readonly ScrubNeedle[]) {
    this.longest = needles.reduce((n, x) => Math.max(n, x.find.length), 0);
    for (const { find } of needles) if (find.length > 0) this.starts[find[0]!] = 1;
  }

  /** Length of the longest end of `data` that is the start of a needle (those bytes must wait). */
  private measurePartialTail(data: Buffer): number {
    const { needles, starts } = this;
    const max = Math.min(this.longest - 1, data.length);
    for (let k = max; k > 0; k--) {
      const start = data.length - k;
      if (starts[data[start]!] === 0) continue;
      for (const { find } of needles) {
        // The first two bytes are compared here: in a JSON tail most candidates fail on the second, without a call.
        if (
          k < find.length &&
          data[start] === find[0] &&
          (k === 1 || data[start + 1] === find[1]) &&
          data.compare(find, 0, k, start, data.length) === 0
        )
          return k;
      }
    }
    return 0;
  }

  push(chunk: Buffer, content?: readonly (readonly [number, number])[]): Buffer {
    const { needles, held, heldContent } = this;
    if (needles.length === 0) return chunk;
    const base = held?.length ?? 0;
    const raw = held === undefined ? chunk : Buffer.concat([held, chunk]);
    // Nothing held (the usual case): the caller's ranges serve as they are, read only, with no copy per chunk.
    const ranges: readonly (readonly [number, number])[] =
      base === 0
        ? (content ?? [[0, chunk.length]])
        : [...heldContent, ...(content ?? [[0, chunk.length]]).map(([a, b]): [number, number] => [a + base, b + base])];
    this.held = undefined;
    this.heldContent = NO_RANGES;
    // The content as one run of bytes, and where each of its bytes sits in `raw` (the identity when all is content,
    // as for an answer whose head and identity body come as two adjacent ranges).
    const whole = coversAll(ranges, raw.length);
    const text = whole ? raw : Buffer.concat(ranges.map(([a, b]) => raw.subarray(a, b)));
    const at = (i: number): number => {
      if (whole) return i;
      for (const [a, b] of ranges) {
        if (i < b - a) return a + i;
        i -= b - a;
      }
      return raw.length;
    };
    let out = raw;
    let copied = raw !== chunk;
    for (const { find, replace } of needles) {
      for (let i = text.indexOf(find); i !== -1; i = text.indexOf(find, i + find.length)) {
        if (!copied) {
          // The caller's chunk is not ours to change.
          out = Buffer.from(out);
          copied = true;
        }
        for (let j = 0; j < find.length; j++) out[at(i + j)] = replace[j]!;
        this.found++;
      }
    }
    const wait = this.measurePartialTail(text);
    if (wait === 0) return out;
    // Everything from the first byte that might begin a secret waits, framing bytes after it included.
    const cut = at(text.length - wait);
    this.held = Buffer.from(out.subarray(cut));
    this.heldContent = ranges
      .filter(([, b]) => b > cut)
      .map(([a, b]): [number, number] => [Math.max(a, cut) - cut, b - cut]);
    return out.subarray(0, cut);
  }

  end(): Buffer {
    const rest = this.held ?? NOTHING_HELD;
    this.held = undefined;
    this.heldContent = NO_RANGES;
    return rest;
  }
}

/** True when `ranges` run back to back from 0 to `length`: every byte is content. */
function coversAll(ranges: readonly (readonly [number, number])[], length: number): boolean {
  let at = 0;
  for (const [a, b] of ranges) {
    if (a !== at) return false;
    at = b;
  }
  return at === length;
}
