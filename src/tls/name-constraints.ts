// X.509 name constraints (RFC 5280 §4.2.1.10) for a CA that may only vouch for a run's own hosts: the DNS names in
// scope are permitted subtrees, and every IP address is excluded unless the scope names it. A certificate this CA
// signs for any other name is refused by the client's own verification, so a leaked key is worthless elsewhere.
import { isIP } from 'node:net';
import { OID, type RawExtension } from './certificates.js';
import { ipAddressBytes, sequence, tlv } from './der.js';

/** The names a run's CA may certify; `unconstrained` lists regex routes that have no fixed suffix to permit. */
export interface ConstraintNames {
  dns: string[];
  ips: string[];
  unconstrained: string[];
}

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
    ...names.dns.map((d) => sequence([tlv(0x82, Buffer.from(d, 'ascii'))])),
    ...names.ips.map((ip) => sequence([tlv(0x87, encodeIpWithMask(ip))])),
  ];
  const excluded = [
    ...(names.ips.some((ip) => isIP(ip) === 4) ? [] : [sequence([tlv(0x87, Buffer.alloc(8))])]),
    ...(names.ips.some((ip) => isIP(ip) === 6) ? [] : [sequence([tlv(0x87, Buffer.alloc(32))])]),
  ];
  const parts: Buffer[] = [];
  if (permitted.length > 0) parts.push(tlv(0xa0, Buffer.concat(permitted)));
  if (excluded.length > 0) parts.push(tlv(0xa1, Buffer.concat(excluded)));
  return { id: OID.nameConstraints, critical: true, value: sequence(parts) };
}

/** An iPAddress subtree: the address followed by an all-ones mask (exactly that host). */
function encodeIpWithMask(ip: string): Buffer {
  const address = ipAddressBytes(ip);
  return Buffer.concat([address, Buffer.alloc(address.length, 0xff)]);
}
