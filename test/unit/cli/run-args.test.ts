import { describe, expect, it } from 'vitest';
import { parseRunArgs } from '../../../src/cli/run-args.js';

describe('parseRunArgs', () => {
  it('takes everything after -- verbatim, child flags included', () => {
    expect(parseRunArgs(['--', 'python', '-c', 'print(1)', '--only', 'x'])).toEqual({
      connections: {},
      placeholders: true,
      sandbox: false,
      command: ['python', '-c', 'print(1)', '--only', 'x'],
    });
  });

  it('starts the command at the first non-option without --', () => {
    expect(parseRunArgs(['node', '--version']).command).toEqual(['node', '--version']);
  });

  it('collects --only lists and repeated --connection pairs', () => {
    const r = parseRunArgs(['--only', 'openai,anthropic', '--only=groq', '--connection', 'openai=team', '-c', 'groq=ci', '--', 'true']);
    expect(r.only).toEqual(['openai', 'anthropic', 'groq']);
    expect(r.connections).toEqual({ openai: 'team', groq: 'ci' });
  });

  it('--no-placeholders turns the placeholders off', () => {
    expect(parseRunArgs(['--no-placeholders', '--', 'env']).placeholders).toBe(false);
  });

  it('--sandbox asks for the sandbox; after -- it belongs to the command', () => {
    expect(parseRunArgs(['--sandbox', '--', 'env']).sandbox).toBe(true);
    expect(parseRunArgs(['--', 'env', '--sandbox'])).toMatchObject({ sandbox: false, command: ['env', '--sandbox'] });
    expect(() => parseRunArgs(['--sandbox=yes', '--', 'env'])).toThrow(/Unknown option '--sandbox'/);
  });

  it.each([
    [[], /No command to run/],
    [['--only', 'openai'], /No command to run/],
    [['--connection', 'openai', '--', 'x'], /Invalid --connection 'openai'/],
    [['--connection', '=x', '--', 'x'], /Invalid --connection/],
    [['--connection'], /needs a value/],
    [['--bogus', '--', 'x'], /Unknown option '--bogus'/],
  ])('%j is a usage error', (argv, message) => {
    expect(() => parseRunArgs(argv as string[])).toThrow(message);
    try {
      parseRunArgs(argv as string[]);
    } catch (err) {
      expect((err as { code: string }).code).toBe('USAGE');
    }
  });
});
