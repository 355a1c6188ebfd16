// Byte helpers for tests of the proxy's streaming code: cutting a buffer into the pieces a socket might deliver,
// and reading back a chunked body.

/** `data` cut at the given points (taken modulo its length + 1, deduplicated, sorted); empty pieces included. */
export function splitAt(data: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let last = 0;
  for (const p of points) {
    out.push(data.subarray(last, p));
    last = p;
  }
  out.push(data.subarray(last));
  return out;
}

/** The content of a chunked body (`body` starts after the head); throws when it is not complete. */
export function dechunk(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = body.indexOf('\r\n', at);
    if (eol === -1) throw new Error('incomplete chunked body');
    const size = Number.parseInt(body.toString('latin1', at, eol), 16);
    if (size === 0) return Buffer.concat(parts);
    parts.push(body.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}
