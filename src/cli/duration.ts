// Parses human durations for flags such as `serve --lock-after 15m`: 90s, 15m, 2h, 1h30m, or bare seconds.
import { errors } from '../errors.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDuration(text: string, flag: string): number {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed) && Number(trimmed) > 0) return Number(trimmed) * 1_000;
  const re = /(\d+)(ms|s|m|h|d)/gy;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(trimmed); m; m = re.exec(trimmed)) {
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    consumed = re.lastIndex;
  }
  if (consumed !== trimmed.length || trimmed === '' || total <= 0) {
    throw errors.usage(
      `Invalid duration '${text}' for ${flag}.`,
      'Use a number with a unit, e.g. 90s, 15m, 2h or 1h30m.',
    );
  }
  return total;
}
