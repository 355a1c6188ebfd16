// The few DER (X.690) encodings an X.509 certificate needs, and a bounds-checked reader for finding an extension in
// a certificate. No dependency: the proxy builds one certificate per new host, and a general ASN.1 library costs the
// server ~10 MiB of memory and ~50 ms of start-up for what fits here.
import { isIP } from 'node:net';

/** One TLV: the tag, then the definite length (short or long form), then the content. */
export function tlv(tag: number, content: Buffer): Buffer {
  const len = content.length;
  if (len < 0x80) return Buffer.concat([Buffer.from([tag, len]), content]);
  const lenBytes: number[] = [];
  for (let n = len; n > 0; n = Math.floor(n / 256)) lenBytes.unshift(n % 256);
  return Buffer.concat([Buffer.from([tag, 0x80 | lenBytes.length, ...lenBytes]), content]);
}

export function sequence(parts: readonly Buffer[]): Buffer {
  return tlv(0x30, Buffer.concat(parts));
}

export function set(parts: readonly Buffer[]): Buffer {
  return tlv(0x31, Buffer.concat(parts));
}

export function objectId(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  if (arcs.length < 2 || arcs.some((a) => !Number.isSafeInteger(a) || a < 0)) throw new Error(`bad OID '${dotted}'`);
  const bytes: number[] = [];
  const pushArc = (arc: number) => {
    const groups = [arc % 128];
    for (let n = Math.floor(arc / 128); n > 0; n = Math.floor(n / 128)) groups.unshift(0x80 | (n % 128));
    bytes.push(...groups);
  };
  pushArc(arcs[0]! * 40 + arcs[1]!);
  for (const arc of arcs.slice(2)) pushArc(arc);
  return tlv(0x06, Buffer.from(bytes));
}

/** A non-negative INTEGER from its big-endian magnitude (a leading zero byte is added when the high bit is set). */
export function unsignedInteger(magnitude: Buffer): Buffer {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const trimmed = magnitude.subarray(start);
  return tlv(0x02, trimmed.length > 0 && trimmed[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
}

export function smallInteger(n: number): Buffer {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`bad integer ${n}`);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return unsignedInteger(Buffer.from(bytes.length > 0 ? bytes : [0]));
}

export const TRUE = Buffer.from([0x01, 0x01, 0xff]);
export const NULL = Buffer.from([0x05, 0x00]);

export function octetString(bytes: Buffer): Buffer {
  return tlv(0x04, bytes);
}

export function bitString(bytes: Buffer, unusedBits = 0): Buffer {
  return tlv(0x03, Buffer.concat([Buffer.from([unusedBits]), bytes]));
}

export function utf8String(text: string): Buffer {
  return tlv(0x0c, Buffer.from(text, 'utf8'));
}

/** RFC 5280 §4.1.2.5: UTCTime (YYMMDDHHMMSSZ) through 2049, GeneralizedTime (YYYYMMDDHHMMSSZ) from 2050. */
export function time(date: Date): Buffer {
  const year = date.getUTCFullYear();
  if (year < 1950 || year > 9999) throw new Error(`date out of range: ${date.toISOString()}`);
  const two = (n: number) => String(n).padStart(2, '0');
  const rest = `${two(date.getUTCMonth() + 1)}${two(date.getUTCDate())}${two(date.getUTCHours())}`;
  const clock = `${rest}${two(date.getUTCMinutes())}${two(date.getUTCSeconds())}Z`;
  return year < 2050
    ? tlv(0x17, Buffer.from(`${two(year % 100)}${clock}`, 'ascii'))
    : tlv(0x18, Buffer.from(`${year}${clock}`, 'ascii'));
}

/** The 4 or 16 octets of an IP address literal (IPv6 with `::` and a trailing dotted IPv4 part included). */
export function ipAddressBytes(ip: string): Buffer {
  const kind = isIP(ip);
  if (kind === 4) return Buffer.from(ip.split('.').map(Number));
  if (kind !== 6) throw new Error(`not an IP address: '${ip}'`);
  let text = ip.replace(/%.*$/, '');
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const v4 = ipAddressBytes(dotted[1]!);
    text = `${text.slice(0, dotted.index)}${v4.readUInt16BE(0).toString(16)}:${v4.readUInt16BE(2).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(Number.parseInt(g, 16), i * 2));
  return out;
}

export interface Element {
  tag: number;
  /** The content, a view into the input. */
  content: Buffer;
  /** Offset just past this element in the buffer it was read from. */
  end: number;
}

/** Reads the TLV at `offset`; throws on a truncated or over-long element, or a length form DER does not allow. */
export function readElement(buf: Buffer, offset: number): Element {
  if (offset + 2 > buf.length) throw new Error('DER: truncated');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new Error('DER: multi-byte tags are not used here');
  let len = buf[offset + 1]!;
  let start = offset + 2;
  if (len & 0x80) {
    const count = len & 0x7f;
    if (count === 0 || count > 4) throw new Error('DER: bad length');
    if (start + count > buf.length) throw new Error('DER: truncated');
    len = 0;
    for (let i = 0; i < count; i++) len = len * 256 + buf[start + i]!;
    start += count;
  }
  const end = start + len;
  if (end > buf.length) throw new Error('DER: truncated');
  return { tag, content: buf.subarray(start, end), end };
}

/** The elements inside a constructed element's content. */
export function readChildren(content: Buffer): Element[] {
  const out: Element[] = [];
  for (let offset = 0; offset < content.length; ) {
    const el = readElement(content, offset);
    out.push(el);
    offset = el.end;
  }
  return out;
}

/**
 * The extnValue (the DER inside the OCTET STRING) of the extension `oid` in a DER certificate, or undefined when the
 * certificate has no such extension. Throws on a certificate whose structure is not a certificate's.
 */
export function findCertificateExtension(certDer: Buffer, oid: string): Buffer | undefined {
  const cert = readElement(certDer, 0);
  const tbs = readChildren(cert.content)[0];
  if (cert.tag !== 0x30 || tbs?.tag !== 0x30) throw new Error('DER: not a certificate');
  const wrapper = readChildren(tbs.content).find((el) => el.tag === 0xa3);
  if (wrapper === undefined) return undefined;
  const wanted = objectId(oid);
  const list = readElement(wrapper.content, 0);
  for (const ext of readChildren(list.content)) {
    const parts = readChildren(ext.content);
    const id = parts[0];
    const value = parts[parts.length - 1];
    if (id === undefined || value?.tag !== 0x04) throw new Error('DER: bad extension');
    if (tlv(id.tag, id.content).equals(wanted)) return value.content;
  }
  return undefined;
}
