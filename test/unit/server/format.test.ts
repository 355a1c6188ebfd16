// The page formatters: relative times and event times (their Intl formatters are made on first use, so the first
// call of each must work as well as later ones), masking.
import { describe, expect, it } from 'vitest';
import { formatEventTime, formatRelative, maskSecret } from '../../../src/server/format.js';

const NOW = Date.parse('2026-12-02T12:00:00Z');
const at = (secondsFromNow: number) => new Date(NOW + secondsFromNow * 1000).toISOString();

describe('formatRelative', () => {
  it('says how long ago or how far ahead, in the largest unit that fits', () => {
    expect(formatRelative(at(-180), NOW)).toBe('3 minutes ago');
    expect(formatRelative(at(2 * 24 * 3600), NOW)).toBe('in 2 days');
    expect(formatRelative(at(-3 * 3600), NOW)).toBe('3 hours ago');
    expect(formatRelative(at(-400 * 24 * 3600), NOW)).toBe('last year');
    expect(formatRelative(at(-60), NOW)).toBe('1 minute ago');
  });

  it('says "just now" within 45 seconds either way, and gives back what it cannot read', () => {
    expect(formatRelative(at(-44), NOW)).toBe('just now');
    expect(formatRelative(at(30), NOW)).toBe('just now');
    expect(formatRelative('not a date', NOW)).toBe('not a date');
    expect(formatRelative(undefined, NOW)).toBe('');
  });
});

describe('formatEventTime', () => {
  it('shows month, day and the local time to the second, on the first call and after', () => {
    for (const iso of ['2026-11-26T14:05:09Z', '2026-01-03T23:59:59.999Z']) {
      const d = new Date(iso);
      const two = (n: number) => String(n).padStart(2, '0');
      const month = d.toLocaleString('en', { month: 'short' });
      const clock = `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
      expect(formatEventTime(iso)).toBe(`${month} ${d.getDate()}, ${clock}`);
    }
  });

  it('gives back what it cannot read', () => {
    expect(formatEventTime('yesterday')).toBe('yesterday');
  });
});

describe('maskSecret', () => {
  it('keeps enough to tell keys apart and never enough to use one', () => {
    expect(maskSecret('sk-proj-0123456789abcdefWXYZ')).toBe('sk-…WXYZ');
    expect(maskSecret('0123456789abcd')).toBe('…cd');
    expect(maskSecret('short')).toBe('••••••••');
    expect(maskSecret(undefined)).toBe('');
  });
});
