// The response scrubber: a secret echoed back, in any of its forms and split across any chunk boundaries, never
// reaches the agent, and everything else passes unchanged and at the same length.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildScrubNeedles, createScrubber } from '../../../src/proxy/secret-scrubber.js';
import { splitAt } from '../../helpers/bytes.js';

const SECRET = 'sk-proj-REALKEY_0123456789abcdefXYZ/+=.~';

function run(chunks: Buffer[], secret = SECRET): { out: Buffer; found: number; pieces: Buffer[] } {
  const scrubber = createScrubber(buildScrubNeedles(secret));
  const pieces = chunks.map((c) => scrubber.push(c));
  pieces.push(scrubber.end());
  return { out: Buffer.concat(pieces), found: scrubber.found, pieces };
}

/** Every way the secret could be read back out of a response body. */
function leaks(text: string, secret = SECRET): boolean {
  if (text.includes(secret) || text.includes(encodeURIComponent(secret))) return true;
  for (const token of text.match(/[A-Za-z0-9+/_-]{8,}={0,2}/g) ?? []) {
    for (let cut = 0; cut < 4; cut++) {
      const part = token.slice(cut);
      for (const decoded of [Buffer.from(part, 'base64'), Buffer.from(part, 'base64url')])
        if (decoded.toString('latin1').includes(secret)) return true;
    }
  }
  return false;
}

describe('secret scrubber', () => {
  it('overwrites the secret as is, URL-encoded, in base64 and inside a Basic value, at the same length', () => {
    const basic = `Basic ${Buffer.from(`user:${SECRET}`).toString('base64')}`;
    const b64 = Buffer.from(SECRET).toString('base64');
    const body = `{"auth":"Bearer ${SECRET}","url":"/x?k=${encodeURIComponent(SECRET)}","b64":"${b64}","h":"${basic}"}`;
    expect(leaks(body)).toBe(true);
    const { out, found } = run([Buffer.from(body)]);
    expect(out.length).toBe(Buffer.byteLength(body));
    expect(leaks(out.toString('latin1'))).toBe(false);
    expect(found).toBe(4);
    expect(out.toString()).toContain('"auth":"Bearer authsome-scrubbed-authsome-scrubbed-');
  });

  it('passes a stream without the secret through unchanged and unheld, chunk by chunk', () => {
    const chunks = ['data: {"delta":"hel"}\n\n', 'data: {"delta":"lo"}\n\n', 'data: [DONE]\n\n'].map((s) =>
      Buffer.from(s),
    );
    const { pieces, found } = run(chunks);
    expect(found).toBe(0);
    expect(pieces.slice(0, 3).map(String)).toEqual(chunks.map(String));
  });

  it(
    'holds back only the end of a chunk that could begin the secret, ' +
      'and releases it when the next chunk says otherwise',
    () => {
      const scrubber = createScrubber(buildScrubNeedles(SECRET));
      expect(scrubber.push(Buffer.from('abc sk-proj-RE')).toString()).toBe('abc ');
      expect(scrubber.push(Buffer.from('d herring')).toString()).toBe('sk-proj-REd herring');
      expect(scrubber.end().length).toBe(0);
    },
  );

  it('never lets a form of the secret through, whatever the body and however it is split', () => {
    const form = fc.constantFrom(
      SECRET,
      encodeURIComponent(SECRET),
      Buffer.from(SECRET).toString('base64'),
      Buffer.from(SECRET).toString('base64url'),
      Buffer.from(`u:${SECRET}`).toString('base64'),
      Buffer.from(`us:${SECRET}!`).toString('base64'),
      Buffer.from(`usr:${SECRET}?!`).toString('base64url'),
    );
    const filler = fc.string({ maxLength: 40 });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(filler, form), { minLength: 1, maxLength: 4 }),
        filler,
        fc.array(fc.nat(400), { maxLength: 8 }),
        (parts, tail, cuts) => {
          const body = Buffer.from(parts.map(([f, s]) => f + s).join('') + tail, 'latin1');
          const { out } = run(splitAt(body, cuts));
          expect(out.length).toBe(body.length);
          expect(leaks(out.toString('latin1'))).toBe(false);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('changes nothing in a body without the secret, however it is split', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(300), { maxLength: 6 }), (bytes, cuts) => {
        const body = Buffer.from(bytes);
        fc.pre(!leaks(body.toString('latin1')));
        expect(run(splitAt(body, cuts)).out.equals(body)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('finds a secret split by framing bytes between content ranges (chunked), keeping the framing as it was', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 30 }),
        fc.string({ maxLength: 30 }),
        fc.array(fc.integer({ min: 1, max: SECRET.length - 1 }), { maxLength: 4 }),
        (before, after, cuts) => {
          // Content = before + SECRET + after, cut into pieces with a fake chunk-size line between them.
          const content = Buffer.from(before + SECRET + after, 'latin1');
          const points = [...new Set(cuts.map((c) => Buffer.byteLength(before, 'latin1') + c))].sort((a, b) => a - b);
          const pieces: Buffer[] = [];
          let last = 0;
          for (const p of [...points, content.length]) {
            pieces.push(content.subarray(last, p));
            last = p;
          }
          const scrubber = createScrubber(buildScrubNeedles(SECRET));
          const outputs: Buffer[] = [];
          const framing = Buffer.from('\r\n1f\r\n');
          for (const piece of pieces) {
            const chunk = Buffer.concat([piece, framing]);
            outputs.push(scrubber.push(chunk, [[0, piece.length]]));
          }
          outputs.push(scrubber.end());
          const out = Buffer.concat(outputs).toString('latin1');
          expect(out.length).toBe(content.length + pieces.length * framing.length);
          expect(out.split('\r\n1f\r\n').length - 1).toBe(pieces.length);
          expect(leaks(out.split('\r\n1f\r\n').join(''))).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });
  it('reads back-to-back ranges (an answer head, then its identity body) exactly as the whole chunk', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 40 }),
        fc.string({ maxLength: 40 }),
        fc.array(fc.nat(200), { maxLength: 5 }),
        fc.array(fc.integer({ min: 1, max: 60 }), { maxLength: 4 }),
        (before, after, bounds, chunkCuts) => {
          const text = Buffer.from(before + SECRET + after, 'latin1');
          const chunks = splitAt(text, chunkCuts);
          const whole = createScrubber(buildScrubNeedles(SECRET));
          const ranged = createScrubber(buildScrubNeedles(SECRET));
          const a: Buffer[] = [];
          const b: Buffer[] = [];
          for (const chunk of chunks) {
            // Ranges that tile the chunk from 0 to its end, split wherever `bounds` falls inside it.
            const inside = [...new Set(bounds.filter((x) => x > 0 && x < chunk.length))].sort((x, y) => x - y);
            const edges = [0, ...inside, chunk.length];
            const ranges = edges.slice(1).map((end, i): [number, number] => [edges[i]!, end]);
            a.push(whole.push(chunk));
            b.push(ranged.push(chunk, ranges));
          }
          a.push(whole.end());
          b.push(ranged.end());
          expect(Buffer.concat(b).toString('latin1')).toBe(Buffer.concat(a).toString('latin1'));
          expect(b.map((x) => x.length)).toEqual(a.map((x) => x.length));
          expect(ranged.found).toBe(1);
          expect(leaks(Buffer.concat(b).toString('latin1'))).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('reads ranges with a gap between them as content without the gap, even when the last one ends the chunk', () => {
    const framing = '\r\n5\r\n';
    for (let cut = 1; cut < SECRET.length; cut++) {
      const text = `{"k":"${SECRET.slice(0, cut)}${framing}${SECRET.slice(cut)}"}`;
      const chunk = Buffer.from(text, 'latin1');
      const gap = text.indexOf(framing);
      const scrubber = createScrubber(buildScrubNeedles(SECRET));
      const out = Buffer.concat([
        scrubber.push(chunk, [
          [0, gap],
          [gap + framing.length, chunk.length],
        ]),
        scrubber.end(),
      ]).toString('latin1');
      expect(scrubber.found).toBe(1);
      expect(out.length).toBe(text.length);
      expect(out.slice(gap, gap + framing.length)).toBe(framing);
    }
  });

  it('encodes a secret once while it is recent, and still finds it after it has been pushed out', () => {
    const first = buildScrubNeedles(SECRET);
    expect(buildScrubNeedles(SECRET)).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    for (let i = 0; i < 40; i++) buildScrubNeedles(`${SECRET}-other-${i}`);
    const again = buildScrubNeedles(SECRET);
    expect(again).not.toBe(first);
    expect(again.map((n) => n.find.toString('latin1'))).toEqual(first.map((n) => n.find.toString('latin1')));
    const { out, found } = run([Buffer.from(`echo ${SECRET} echo`)]);
    expect(found).toBe(1);
    expect(out.toString()).not.toContain(SECRET);
  });
});
