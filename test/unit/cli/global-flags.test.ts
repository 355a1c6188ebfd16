// Global flags are taken from anywhere on the line before `--`; nothing after `--` is touched.
import { describe, it, expect } from 'vitest';
import { parseGlobalFlags } from '../../../src/cli/global-flags.js';

describe('parseGlobalFlags', () => {
  it('no flags: everything is passed through, all flags false', () => {
    expect(parseGlobalFlags(['get', 'openai', '--field', 'status'])).toEqual({
      json: false,
      quiet: false,
      noColor: false,
      version: false,
      help: false,
      rest: ['get', 'openai', '--field', 'status'],
    });
    expect(parseGlobalFlags([]).rest).toEqual([]);
  });

  it('recognises each flag before the command', () => {
    expect(parseGlobalFlags(['--json', 'list'])).toMatchObject({ json: true, rest: ['list'] });
    expect(parseGlobalFlags(['--quiet', 'list'])).toMatchObject({ quiet: true, rest: ['list'] });
    expect(parseGlobalFlags(['--no-color', 'list'])).toMatchObject({ noColor: true, rest: ['list'] });
    expect(parseGlobalFlags(['--version'])).toMatchObject({ version: true, rest: [] });
    expect(parseGlobalFlags(['-v'])).toMatchObject({ version: true, rest: [] });
    expect(parseGlobalFlags(['--help'])).toMatchObject({ help: true, rest: [] });
    expect(parseGlobalFlags(['-h'])).toMatchObject({ help: true, rest: [] });
  });

  it('recognises flags anywhere: between the command, its arguments and its options, keeping their order', () => {
    const flags = parseGlobalFlags([
      'get',
      '--json',
      'openai',
      '--connection',
      'team',
      '--quiet',
      '--field',
      'status',
      '--no-color',
    ]);
    expect(flags).toMatchObject({ json: true, quiet: true, noColor: true, version: false, help: false });
    expect(flags.rest).toEqual(['get', 'openai', '--connection', 'team', '--field', 'status']);
  });

  it('a repeated flag is fine', () => {
    expect(parseGlobalFlags(['--json', 'list', '--json'])).toMatchObject({ json: true, rest: ['list'] });
  });

  it('nothing after -- is touched, flags included, and -- itself is kept', () => {
    const flags = parseGlobalFlags([
      'run',
      '--only',
      'openai',
      '--',
      'python',
      'agent.py',
      '--json',
      '-v',
      '--help',
      '--quiet',
      '--',
    ]);
    expect(flags).toMatchObject({ json: false, quiet: false, version: false, help: false, noColor: false });
    expect(flags.rest).toEqual([
      'run',
      '--only',
      'openai',
      '--',
      'python',
      'agent.py',
      '--json',
      '-v',
      '--help',
      '--quiet',
      '--',
    ]);
  });

  it('flags before -- still count when the child gets the same ones', () => {
    const flags = parseGlobalFlags(['--json', 'run', '--quiet', '--', 'node', '--json']);
    expect(flags).toMatchObject({ json: true, quiet: true });
    expect(flags.rest).toEqual(['run', '--', 'node', '--json']);
  });

  it('-- as the first argument protects everything', () => {
    expect(parseGlobalFlags(['--', '--help'])).toMatchObject({ help: false, rest: ['--', '--help'] });
  });

  it('look-alikes are not global flags', () => {
    const flags = parseGlobalFlags(['--jsonx', '--json=1', '-vv', '--colour', '--no-browser', 'json']);
    expect(flags).toMatchObject({ json: false, version: false, noColor: false });
    expect(flags.rest).toEqual(['--jsonx', '--json=1', '-vv', '--colour', '--no-browser', 'json']);
  });

  it('does not change the array it is given', () => {
    const argv = ['--json', 'list', '--', 'x'];
    parseGlobalFlags(argv);
    expect(argv).toEqual(['--json', 'list', '--', 'x']);
  });
});
