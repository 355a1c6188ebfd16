// Finds a secret in a stream of bytes and overwrites it, for responses that echo the injected credential back to
// the agent. The forms looked for: the secret as is, URL-encoded, and base64 at each of the three alignments it can
// have inside a longer base64 text (a `Basic` value encodes `user:secret`). Every replacement has the length of what
// it replaces, so a response's framing (Content-Length, chunk sizes) stays true. Bytes are held back only while the
// end of a chunk could be the start of a form, so a stream that never carries the secret flows as it came.
// Pure: no I/O, and the needles never leave this module.

export interface ScrubNeedle {
  find: Buffer;
  replace: Buffer;
}

export interface Scrubber {
  /** The bytes that can be passed on now (possibly fewer than came in: a partial match waits for the next chunk). */
  push(chunk: Buffer): Buffer;
  /** What is still held back, at the end of the stream. */
  end(): Buffer;
  /** How many occurrences were overwritten so far. */
  readonly found: number;
}

/** Filler for an overwritten secret: recognisable in a log, never a usable key. */
const MARK = 'authsome-scrubbed-';
const BASE64_FILLER = 'A';

/** The byte forms of `secret` to look for, each with its same-length replacement. Forms shorter than 8 bytes are skipped. */
export function buildScrubNeedles(secret: string): ScrubNeedle[] {
  const raw = Buffer.from(secret, 'utf8');
  const forms = new Map<string, string>();
  const add = (find: string, filler: (n: number) => string) => {
    if (find.length >= 8 && !forms.has(find)) forms.set(find, filler(find.length));
  };
  const marked = (n: number) => MARK.repeat(Math.ceil(n / MARK.length)).slice(0, n);
  add(secret, marked);
  add(encodeURIComponent(secret), marked);
  for (let offset = 0; offset < 3; offset++) {
    // With `offset` unknown bytes before the secret, the characters from `skip` on depend on the secret alone, up to
    // the last complete group of three bytes.
    const encoded = Buffer.concat([Buffer.alloc(offset), raw]).toString('base64').replace(/=+$/, '');
    const skip = offset === 0 ? 0 : offset + 1;
    const whole = Math.floor((offset + raw.length) / 3) * 4;
    for (const core of [encoded.slice(skip, whole), toBase64Url(encoded.slice(skip, whole))]) add(core, (n) => BASE64_FILLER.repeat(n));
  }
  return [...forms].map(([find, replace]) => ({ find: Buffer.from(find, 'latin1'), replace: Buffer.from(replace, 'latin1') }));
}

function toBase64Url(text: string): string {
  return text.replace(/\+/g, '-').replace(/\//g, '_');
}

export function createScrubber(needles: readonly ScrubNeedle[]): Scrubber {
  const longest = needles.reduce((n, x) => Math.max(n, x.find.length), 0);
  let held: Buffer | undefined;
  let found = 0;

  /** Length of the longest end of `data` that is the start of a needle (those bytes must wait). */
  function measurePartialTail(data: Buffer): number {
    const max = Math.min(longest - 1, data.length);
    for (let k = max; k > 0; k--) {
      const start = data.length - k;
      for (const { find } of needles) {
        if (k < find.length && data[start] === find[0] && data.compare(find, 0, k, start, data.length) === 0) return k;
      }
    }
    return 0;
  }

  return {
    push(chunk) {
      if (needles.length === 0) return chunk;
      const data = held === undefined ? chunk : Buffer.concat([held, chunk]);
      held = undefined;
      let copied = false;
      let out = data;
      for (const { find, replace } of needles) {
        for (let at = out.indexOf(find); at !== -1; at = out.indexOf(find, at + find.length)) {
          if (!copied) {
            // The caller's chunk is not ours to change.
            out = Buffer.from(out);
            copied = true;
          }
          replace.copy(out, at);
          found++;
        }
      }
      const wait = measurePartialTail(out);
      if (wait === 0) return out;
      held = Buffer.from(out.subarray(out.length - wait));
      return out.subarray(0, out.length - wait);
    },
    end() {
      const rest = held ?? Buffer.alloc(0);
      held = undefined;
      return rest;
    },
    get found() {
      return found;
    },
  };
}
