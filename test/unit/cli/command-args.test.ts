// The CLI's own argument parser and help renderer (citty declares the commands; parsing is ours).
import { describe, expect, it } from 'vitest';
import type { ArgsDef } from 'citty';
import { parseCommandArgs, renderCommandHelp } from '../../../src/cli/command-args.js';
import { measureEditDistance, suggestClosest } from '../../../src/suggest.js';

const defs: ArgsDef = {
  provider: { type: 'positional', description: 'Provider name', required: true },
  extra: { type: 'positional', description: 'Optional', required: false },
  connection: { type: 'string', alias: 'c', description: 'Connection name', valueHint: 'name' },
  'show-secret': { type: 'boolean', description: 'Show secrets' },
  browser: { type: 'boolean', default: true, negativeDescription: 'Never open a browser' },
  format: { type: 'enum', options: ['env', 'json'], default: 'env', description: 'Format' },
};
const parse = (argv: string[]) => parseCommandArgs(defs, argv, 'get');

describe('parseCommandArgs', () => {
  it('reads positionals, options in every spelling, and keeps defaults', () => {
    expect(parse(['openai', '-c', 'team', '--show-secret'])).toMatchObject({
      _: ['openai'],
      provider: 'openai',
      connection: 'team',
      'show-secret': true,
      showSecret: true,
      browser: true,
      format: 'env',
    });
    expect(parse(['--connection=a=b', 'openai', '--no-browser', '--format', 'json', 'x'])).toMatchObject({
      connection: 'a=b',
      browser: false,
      format: 'json',
      extra: 'x',
    });
    expect(parse(['openai', '--', '--not-an-option'])).toMatchObject({ extra: '--not-an-option' });
  });

  it.each([
    [['openai', '--conection', 'x'], "Unknown option '--conection'.", "Did you mean '--connection'?"],
    [['openai', '--zzz'], "Unknown option '--zzz'.", "Run 'authsome get --help'"],
    [['openai', '-c'], "Option '-c' needs a value.", ''],
    [['openai', '--show-secret=yes'], "Option '--show-secret' takes no value.", ''],
    [['openai', '--format', 'xml'], "Option '--format' must be one of: env, json.", ''],
    [['a', 'b', 'c'], "Unexpected argument 'c'.", ''],
    [[], 'Missing argument <provider>.', ''],
  ])('refuses %j', (argv, message, hint) => {
    let caught: { code?: string; message?: string; hint?: string } | undefined;
    try {
      parse(argv);
    } catch (err) {
      caught = err as typeof caught;
    }
    expect(caught).toMatchObject({ code: 'USAGE', message });
    expect(caught?.hint).toContain(hint);
  });
});

describe('renderCommandHelp', () => {
  it('lays out usage, arguments, options (default-on booleans by their --no- form), globals and examples', () => {
    const text = renderCommandHelp({ path: 'get', description: 'Show it.', defs, examples: ['authsome get openai'] });
    expect(text).toBe(
      [
        'authsome get: Show it.',
        '',
        'Usage: authsome get <provider> [extra] [options]',
        '',
        'Arguments:',
        '  <provider>  Provider name',
        '  <extra>     Optional',
        '',
        'Options:',
        '  -c, --connection <name>  Connection name',
        '      --show-secret        Show secrets',
        '      --no-browser         Never open a browser',
        '      --format <value>     Format (default: env)',
        '',
        'Global options:',
        '  --json         Machine output: one JSON object with "v": 1',
        '  --quiet, -q    No informational lines (data is still printed)',
        '  --no-color     No colours (also NO_COLOR)',
        '  -v, --version  Print the version',
        '  -h, --help     Show help for authsome or a command',
        '',
        'Examples:',
        '  $ authsome get openai',
      ].join('\n'),
    );
  });
});

describe('suggestClosest', () => {
  it('finds a typo (swap, drop, extra letter) and nothing for an unrelated word', () => {
    const names = ['login', 'logout', 'list', 'lock', 'log', 'export'];
    expect(suggestClosest('lgoin', names)).toBe('login');
    expect(suggestClosest('exprt', names)).toBe('export');
    expect(suggestClosest('loginn', names)).toBe('login');
    expect(suggestClosest('zebra', names)).toBeUndefined();
    expect(measureEditDistance('ab', 'ba')).toBe(1);
    expect(measureEditDistance('', 'abc')).toBe(3);
  });
});
