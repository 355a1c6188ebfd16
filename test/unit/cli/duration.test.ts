// Human durations for flags like `serve --lock-after 15m`: units s/m/h (also ms, d), combinations, bare seconds.
import { describe, it, expect } from 'vitest';
import { AppError } from '../../../src/errors.js';
import { parseDuration } from '../../../src/cli/duration.js';

describe('parseDuration accepts', () => {
  it.each<[string, number]>([
    ['90s', 90_000],
    ['15m', 900_000],
    ['2h', 7_200_000],
    ['1h30m', 5_400_000],
    ['1m30s', 90_000],
    ['1h1m1s', 3_661_000],
    ['1d', 86_400_000],
    ['500ms', 500],
    ['1s500ms', 1_500],
    ['45', 45_000],
    ['3600', 3_600_000],
    [' 15m ', 900_000],
  ])('%j → %d ms', (text, ms) => {
    expect(parseDuration(text, '--lock-after')).toBe(ms);
  });
});

describe('parseDuration refuses', () => {
  it.each([
    '',
    '   ',
    'abc',
    '15x',
    '1.5h',
    '-5m',
    '15 m',
    'm',
    '0s',
    '0m0s',
    '15m junk',
    'h1',
    '1h 30m',
    '15M',
    '1e3',
  ])('%j with a usage error naming the flag', (text) => {
    let err: unknown;
    try {
      parseDuration(text, '--lock-after');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('USAGE');
    expect((err as AppError).message).toBe(`Invalid duration '${text}' for --lock-after.`);
    expect((err as AppError).hint).toBe('Use a number with a unit, e.g. 90s, 15m, 2h or 1h30m.');
  });
});
