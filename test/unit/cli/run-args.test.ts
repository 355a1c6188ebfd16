import { describe, expect, it } from 'vitest';
import { parseRunArgs } from '../../../src/cli/run-args.js';

describe('parseRunArgs', () => {
  it('takes everything after -- verbatim, child flags included', () => {
    expect(parseRunArgs(['--', 'python', '-c', 'print(1)', '--only', 'x'])).toEqual({
      connections: {},
      placeholders: true,
      sandbox: false,
      allow: [],
      readOnly: false,
      verbose: false,
      summary: false,
      stableCa: false,
      command: ['python', '-c', 'print(1)', '--only', 'x'],
    });
  });

  it('--stable-ca asks for the stored CA instead of a CA of the run; it takes no value', () => {
    expect(parseRunArgs(['--stable-ca', '--', 'java', '-jar', 'a.jar'])).toMatchObject({
      stableCa: true,
      command: ['java', '-jar', 'a.jar'],
    });
    expect(() => parseRunArgs(['--stable-ca=yes', 'java'])).toThrow(/Unknown option '--stable-ca'/);
  });

  it('starts the command at the first non-option without --', () => {
    expect(parseRunArgs(['node', '--version']).command).toEqual(['node', '--version']);
  });

  it('collects --only lists and repeated --connection pairs', () => {
    const r = parseRunArgs([
      '--only',
      'openai,anthropic',
      '--only=groq',
      '--connection',
      'openai=team',
      '-c',
      'groq=ci',
      '--',
      'true',
    ]);
    expect(r.only).toEqual(['openai', 'anthropic', 'groq']);
    expect(r.connections).toEqual({ openai: 'team', groq: 'ci' });
  });

  it('collects the guardrails: repeated --allow, --read-only, --max-requests, --policy, --verbose, --summary', () => {
    const r = parseRunArgs([
      '--allow',
      'github:GET:/repos/**',
      '--allow=openai:POST:/v1/chat/completions',
      '--read-only',
      '--max-requests',
      '20',
      '--policy',
      'agent.json',
      '--verbose',
      '--summary',
      'python',
      'a.py',
    ]);
    expect(r).toMatchObject({
      allow: ['github:GET:/repos/**', 'openai:POST:/v1/chat/completions'],
      readOnly: true,
      maxRequests: 20,
      policyFile: 'agent.json',
      verbose: true,
      summary: true,
      command: ['python', 'a.py'],
    });
    expect(() => parseRunArgs(['--max-requests', '0', 'x'])).toThrow(/Invalid --max-requests '0'/);
    expect(() => parseRunArgs(['--max-requests', 'ten', 'x'])).toThrow(/Invalid --max-requests/);
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
