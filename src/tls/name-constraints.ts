// X.509 name constraints (RFC 5280 §4.2.1.10) for a CA that may only vouch for a run's own hosts: the DNS names in
// scope are permitted subtrees, and every IP address is excluded unless the scope names it. A certificate this CA
// signs for any other name is refused by the client's own verification, so a leaked key is worthless elsewhere.
import { isIP } from 'node:net';

/** The names a run's CA may certify; `unconstrained` lists regex routes that have no fixed suffix to permit. */
export interface ConstraintNames {
  dns: string[];
  ips: string[];
  unconstrained: string[];
}

/** A node-forge extension object carrying the DER value as a binary string (forge passes unknown ids through). */
export interface RawExtension {
  id: string;
  critical: boolean;
  value: string;
}

const NAME_CONSTRAINTS_OID = '2.5.29.30';

/**
 * The longest fixed DNS suffix a host regex ends with, on a label boundary: `.*\.huggingface\.co` → `huggingface.co`,
 * `api\.(eu|us)\.example\.com` → `example.com`. Undefined when the pattern ends in anything but literal labels.
 */
export function findFixedSuffix(pattern: string): string | undefined {
  const source = pattern.replace(/^\^/, '').replace(/\$$/, '');
  // Walk back over literal label characters and escaped dots.
  let i = source.length;
  while (i > 0) {
    if (i >= 2 && source[i - 2] === '\\' && source[i - 1] === '.') i -= 2;
    else if (/[A-Za-z0-9-]/.test(source[i - 1]!) && source[i - 2] !== '\\') i -= 1;
    else break;
  }
  let literal = source.slice(i).replace(/\\\./g, '.');
  // Only whole labels: the part before the first dot may be the tail of a label the regex varies.
  if (i > 0) literal = literal.includes('.') ? literal.slice(literal.indexOf('.') + 1) : '';
  literal = literal.replace(/^\.+/, '');
  return literal.includes('.') ? literal.toLowerCase() : undefined;
}

/** Collects the names of a run's routes: exact hosts as they are, regex hosts by their fixed suffix. */
export function collectConstraintNames(
  matchers: readonly ({ kind: 'host'; host: string } | { kind: 'regex'; source: string })[],
): ConstraintNames {
  const dns = new Set<string>();
  const ips = new Set<string>();
  const unconstrained: string[] = [];
  for (const m of matchers) {
    if (m.kind === 'host') {
      const host = m.host.replace(/^\[|\]$/g, '').toLowerCase();
      if (isIP(host)) ips.add(host);
      else dns.add(host);
    } else {
      const suffix = findFixedSuffix(m.source.replace(/^regex:/, ''));
      if (suffix) dns.add(suffix);
      else unconstrained.push(m.source);
    }
  }
  return { dns: [...dns].sort(), ips: [...ips].sort(), unconstrained };
}

/**
 * The nameConstraints extension: permitted dNSName subtrees for `dns` and iPAddress hosts for `ips`; every other IP
 * address (v4 and v6) excluded, since permitting only DNS names would leave IP names unconstrained.
 */
export function buildNameConstraintsExtension(names: { dns: readonly string[]; ips: readonly string[] }): RawExtension {
  const permitted = [
    ...names.dns.map((d) => der(0x30, der(0x82, Buffer.from(d, 'ascii')))),
    ...names.ips.map((ip) => der(0x30, der(0x87, encodeIpWithMask(ip)))),
  ];
  const excluded = [
    ...(names.ips.some((ip) => isIP(ip) === 4) ? [] : [der(0x30, der(0x87, Buffer.alloc(8)))]),
    ...(names.ips.some((ip) => isIP(ip) === 6) ? [] : [der(0x30, der(0x87, Buffer.alloc(32)))]),
  ];
  const parts: Buffer[] = [];
  if (permitted.length > 0) parts.push(der(0xa0, Buffer.concat(permitted)));
  if (excluded.length > 0) parts.push(der(0xa1, Buffer.concat(excluded)));
  return { id: NAME_CONSTRAINTS_OID, critical: true, value: der(0x30, Buffer.concat(parts)).toString('binary') };
}

/** An iPAddress subtree: the address followed by an all-ones mask (exactly that host). */
function encodeIpWithMask(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.concat([Buffer.from(ip.split('.').map(Number)), Buffer.alloc(4, 0xff)]);
  return Buffer.concat([expandIpv6(ip), Buffer.alloc(16, 0xff)]);
}

function expandIpv6(ip: string): Buffer {
  const [head, tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g || '0', 16), i * 2));
  return out;
}

function der(tag: number, content: Buffer): Buffer {
  const len = content.length;
  if (len < 0x80) return Buffer.concat([Buffer.from([tag, len]), content]);
  const lenBytes: number[] = [];
  for (let n = len; n > 0; n = Math.floor(n / 256)) lenBytes.unshift(n & 0xff);
  return Buffer.concat([Buffer.from([tag, 0x80 | lenBytes.length, ...lenBytes]), content]);
}
