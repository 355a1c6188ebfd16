// The expiry wording the list and the pages share.
import { describe, expect, it } from 'vitest';
import { formatExpiry } from '../../src/expiry.js';

describe('formatExpiry', () => {
  const now = Date.parse('2026-01-01T12:00:00Z');
  it('says how long is left, or how long ago it ended, in the largest unit that fits', () => {
    expect(formatExpiry('2026-01-01T12:42:00Z', now)).toBe('expires in 42m');
    expect(formatExpiry('2026-01-01T11:55:00Z', now)).toBe('expired 5m ago');
    expect(formatExpiry('2026-01-01T12:00:30Z', now)).toBe('expires in 30s');
    expect(formatExpiry('2026-01-01T15:00:00Z', now)).toBe('expires in 3h');
    expect(formatExpiry('2026-01-03T12:00:00Z', now)).toBe('expires in 2d');
    expect(formatExpiry('2026-01-01T12:00:00Z', now)).toBe('expired 0s ago');
  });
});
